//! The employee-info service (`POST /api/v1/getUser`) as the fake answers it.

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::oapi::{Params, Reply};
use super::state::request_id;

const INVALID_CORP_ID: (i64, &str) = (40013, "invalid corpid");
const MISSING_USERID: (i64, &str) = (41009, "missing userid");
const NO_SUCH_USER: (i64, &str) = (60111, "userid not found");

/// An employee of the fake employee-info service: the JSON fields `getUser` answers with.
///
/// Kept as JSON (not as the client's typed profile) so the fake answers what the service's
/// document shows, whatever the client makes of it. [`FakeEmployee::seed_example`] is the
/// document's example answer, field for field.
///
/// ```
/// use dingtalk_login::testing::FakeEmployee;
/// use serde_json::json;
///
/// let e = FakeEmployee::new("lisi", "李四").departments(vec![3]).field("position", json!("PM"));
/// assert_eq!(e.userid(), "lisi");
/// assert_eq!(e.fields["department"], json!([3]));
/// assert_eq!(FakeEmployee::seed_example().fields["gender"], json!("1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FakeEmployee {
    /// The profile's fields (without `errcode`/`errmsg`); `userid` among them.
    pub fields: Map<String, Value>,
}

impl FakeEmployee {
    /// An employee with `userid`, `name`, `gender` 0, status 1 and no departments.
    pub fn new(userid: impl Into<String>, name: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert("userid".into(), json!(userid.into()));
        fields.insert("name".into(), json!(name.into()));
        fields.insert("department".into(), json!([]));
        fields.insert("order".into(), json!([]));
        fields.insert("gender".into(), json!(0));
        fields.insert("status".into(), json!(1));
        Self { fields }
    }

    /// The service document's example answer: `zhangsan`, every documented field, `gender`
    /// as the string `"1"`.
    pub fn seed_example() -> Self {
        let example = json!({
            "userid": "zhangsan",
            "name": "张三",
            "department": [1, 2],
            "order": [1, 2],
            "position": "后台工程师",
            "mobile": "13800000000",
            "gender": "1",
            "email": "zhangsan@gzdev.com",
            "biz_mail": "zhangsan@qyycs2.wecom.work",
            "is_leader_in_dept": [1, 0],
            "direct_leader": ["lisi", "wangwu"],
            "avatar": "http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/0",
            "thumb_avatar": "http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/100",
            "telephone": "020-123456",
            "alias": "jackzhang",
            "address": "广州市海珠区新港中路",
            "open_userid": "xxxxxx",
            "main_department": 1,
            "extattr": {"attrs": [
                {"type": 0, "name": "文本名称", "text": {"value": "文本"}},
                {"type": 1, "name": "网页名称", "web": {"url": "http://www.test.com", "title": "标题"}}
            ]},
            "status": 1,
            "qr_code": "https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=xxx",
            "external_position": "产品经理",
            "external_profile": {
                "external_corp_name": "企业简称",
                "wechat_channels": {"nickname": "视频号名称", "status": 1},
                "external_attr": [
                    {"type": 0, "name": "文本名称", "text": {"value": "文本"}},
                    {"type": 1, "name": "网页名称", "web": {"url": "http://www.test.com", "title": "标题"}},
                    {"type": 2, "name": "测试app", "miniprogram": {
                        "appid": "wx8bd80126147dFAKE", "pagepath": "/index", "title": "my miniprogram"
                    }}
                ]
            }
        });
        let Value::Object(fields) = example else {
            unreachable!("the example is an object")
        };
        Self { fields }
    }

    /// The `userid` field.
    pub fn userid(&self) -> &str {
        self.fields
            .get("userid")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Sets `department` (and `order`, all zeros, to match).
    pub fn departments(mut self, ids: Vec<i64>) -> Self {
        self.fields
            .insert("order".into(), json!(vec![0; ids.len()]));
        self.fields.insert("department".into(), json!(ids));
        self
    }

    /// Sets any field.
    pub fn field(mut self, name: impl Into<String>, value: Value) -> Self {
        self.fields.insert(name.into(), value);
        self
    }
}

/// The fake employee-info service's organisation and employees.
#[derive(Debug)]
pub(super) struct FakeEmployees {
    pub(super) corp_id: String,
    pub(super) employees: BTreeMap<String, FakeEmployee>,
}

impl FakeEmployees {
    pub(super) fn add(&mut self, employee: FakeEmployee) {
        self.employees
            .insert(employee.userid().to_owned(), employee);
    }
}

/// An error answer; like the real service it still carries the profile's (empty) arrays, so a
/// client must look at `errcode` before reading the profile.
fn error((errcode, errmsg): (i64, &str)) -> Reply {
    Reply::Json {
        status: StatusCode::OK,
        body: json!({
            "errcode": errcode,
            "errmsg": errmsg,
            "department": [],
            "order": [],
            "is_leader_in_dept": [],
            "direct_leader": [],
            "request_id": request_id(),
        }),
    }
}

/// `POST /api/v1/getUser` with `{"corpId": .., "userId"|"userid": ..}`.
pub(super) fn get_user(directory: &FakeEmployees, params: &Params) -> Reply {
    let corp_id = params.text("corpId").or_else(|| params.text("corpid"));
    if corp_id.as_deref() != Some(directory.corp_id.as_str()) {
        return error(INVALID_CORP_ID);
    }
    let Some(userid) = params.text("userId").or_else(|| params.text("userid")) else {
        return error(MISSING_USERID);
    };
    // "不区分大小写": userids are case-insensitive.
    let found = directory
        .employees
        .values()
        .find(|e| e.userid().eq_ignore_ascii_case(&userid));
    let Some(employee) = found else {
        return error(NO_SUCH_USER);
    };
    let mut body = employee.fields.clone();
    body.insert("errcode".into(), json!(0));
    body.insert("errmsg".into(), json!("ok"));
    Reply::Json {
        status: StatusCode::OK,
        body: Value::Object(body),
    }
}
