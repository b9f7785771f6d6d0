//! The TOP router (`POST /router/rest`) as the fake answers it: the app's credentials, the
//! accounts `alibaba.dc.uc.inner.user.by.account.get` finds, signature and timestamp checks,
//! and TOP's JSON and XML envelopes.

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::oapi::{Params, Reply};
use super::state::{request_id, State};
use crate::secret::AppSecret;
use crate::top::{parse_timestamp, sign, SignMethod, USER_BY_ACCOUNT};

/// The wrapper of the one method the fake serves.
const RESPONSE_KEY: &str = "alibaba_dc_uc_inner_user_by_account_get_response";

/// How far `timestamp` may be from the fake's clock, as TOP allows: ten minutes.
const TIMESTAMP_TOLERANCE: time::Duration = time::Duration::minutes(10);

/// An account `alibaba.dc.uc.inner.user.by.account.get` finds on the fake TOP router.
///
/// It is found by `account_id` (or by `user_id` when the request has no `account_id`) within
/// its `namespace` (requests default to `dd`) and, when the request gives one, its `org_code`.
/// An account not found answers TOP's `error_response` with `sub_code`
/// `isv.account-not-exist`. The fields are the `data` object of the answer; `None` ones are
/// left out.
///
/// ```
/// use dingtalk_login::testing::FakeAccount;
///
/// let a = FakeAccount::new("01234", "张三").user_id(1).departments(vec![1, 2, 3]);
/// assert_eq!(a.namespace, "dd");
/// assert_eq!(a.org_code, "ding123abc");
/// assert_eq!(FakeAccount::seed_example().account_id, "01234");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAccount {
    /// `account_id`.
    pub account_id: String,
    /// `org_code`. Default `ding123abc`.
    pub org_code: String,
    /// `namespace`. Default `dd`.
    pub namespace: String,
    /// `id`: the user's numeric id, also found by `user_id`.
    pub id: Option<i64>,
    /// `account_name`.
    pub account_name: String,
    /// `nick_name`.
    pub nick_name: Option<String>,
    /// `full_name`.
    pub full_name: Option<String>,
    /// `type`. Default `C`.
    pub user_type: Option<String>,
    /// `dept_id_list`.
    pub dept_id_list: Vec<i64>,
    /// `avatar`.
    pub avatar: Option<String>,
    /// `tenant_id`.
    pub tenant_id: Option<i64>,
    /// `status`. Default `CREATED`.
    pub status: Option<String>,
    /// `extra`, sent as given (DingTalk's documentation shows the string `"{}"`).
    pub extra: Option<Value>,
}

impl FakeAccount {
    /// An account in the organisation `ding123abc`, namespace `dd`, type `C`, status
    /// `CREATED`, named `account_name`, with no departments and no numeric id.
    pub fn new(account_id: impl Into<String>, account_name: impl Into<String>) -> Self {
        Self {
            account_id: account_id.into(),
            org_code: "ding123abc".into(),
            namespace: "dd".into(),
            id: None,
            account_name: account_name.into(),
            nick_name: None,
            full_name: None,
            user_type: Some("C".into()),
            dept_id_list: Vec::new(),
            avatar: None,
            tenant_id: None,
            status: Some("CREATED".into()),
            extra: None,
        }
    }

    /// The account of the API document's example answer: `01234`, 张三, departments 1, 2, 3.
    pub fn seed_example() -> Self {
        Self {
            id: Some(1),
            nick_name: Some("张三".into()),
            full_name: Some("张三".into()),
            dept_id_list: vec![1, 2, 3],
            avatar: Some(
                "https://static-legacy.dingtalk.com/media/lALPD1lNOrGC6yjM4czh_225_225.png".into(),
            ),
            tenant_id: Some(1),
            extra: Some(json!("{}")),
            ..Self::new("01234", "张三")
        }
    }

    /// Sets the numeric `id` the account is also found by (`user_id`).
    pub fn user_id(mut self, id: i64) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets `org_code`.
    pub fn org_code(mut self, org_code: impl Into<String>) -> Self {
        self.org_code = org_code.into();
        self
    }

    /// Sets `namespace`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets `dept_id_list`.
    pub fn departments(mut self, ids: Vec<i64>) -> Self {
        self.dept_id_list = ids;
        self
    }

    fn data(&self) -> Value {
        let mut data = Map::new();
        data.insert("account_id".into(), json!(self.account_id));
        data.insert("org_code".into(), json!(self.org_code));
        data.insert("namespace".into(), json!(self.namespace));
        data.insert("account_name".into(), json!(self.account_name));
        data.insert("dept_id_list".into(), json!(self.dept_id_list));
        let optional = [
            ("id", self.id.map(|v| json!(v))),
            ("nick_name", self.nick_name.as_ref().map(|v| json!(v))),
            ("full_name", self.full_name.as_ref().map(|v| json!(v))),
            ("type", self.user_type.as_ref().map(|v| json!(v))),
            ("avatar", self.avatar.as_ref().map(|v| json!(v))),
            ("tenant_id", self.tenant_id.map(|v| json!(v))),
            ("status", self.status.as_ref().map(|v| json!(v))),
            ("extra", self.extra.clone()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                data.insert(key.into(), value);
            }
        }
        Value::Object(data)
    }
}

/// The fake TOP app and its accounts.
#[derive(Debug)]
pub(super) struct FakeTop {
    pub(super) app_key: String,
    pub(super) app_secret: String,
    pub(super) accounts: Vec<FakeAccount>,
}

impl FakeTop {
    /// Adds an account, replacing one with the same `account_id` and `namespace`.
    pub(super) fn add_account(&mut self, account: FakeAccount) {
        self.accounts
            .retain(|a| !(a.account_id == account.account_id && a.namespace == account.namespace));
        self.accounts.push(account);
    }
}

/// TOP's `error_response`, as JSON.
pub(super) fn error_response(code: i64, msg: &str, sub: Option<(&str, &str)>) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), json!(code));
    error.insert("msg".into(), json!(msg));
    if let Some((sub_code, sub_msg)) = sub {
        error.insert("sub_code".into(), json!(sub_code));
        error.insert("sub_msg".into(), json!(sub_msg));
    }
    error.insert("request_id".into(), json!(request_id()));
    json!({ "error_response": error })
}

/// A successful answer whose `result.success` is `false`, as the dc.uc service reports a
/// lookup it could not serve.
pub(super) fn result_failed() -> Value {
    json!({ RESPONSE_KEY: {
        "result": {
            "code": "USER_NOT_FOUND",
            "success": false,
            "has_error": true,
            "message": "用户不存在",
            "msg_info": "用户不存在",
            "msg_code": "USER_NOT_FOUND",
        },
        "request_id": request_id(),
    }})
}

/// The API document's XML `error_response` example.
pub(super) const XML_ERROR_EXAMPLE: &str = "<error_response>\n    <code>50</code>\n    <msg>Remote service error</msg>\n    <sub_code>isv.invalid-parameter</sub_code>\n    <sub_msg>非法参数</sub_msg>\n</error_response>";

/// `POST /router/rest`: checks the public parameters and the signature, then serves
/// `alibaba.dc.uc.inner.user.by.account.get`.
pub(super) fn router(state: &mut State, params: &Params) -> Reply {
    // TOP answers in the requested format; XML is its default.
    let format = params.text("format").unwrap_or_else(|| "xml".into());
    let as_xml = format != "json";
    let reply = |value: Value| envelope(value, as_xml);
    let fail = |code: i64, msg: &str| reply(error_response(code, msg, None));

    let Some(method) = params.text("method") else {
        return fail(21, "Missing Method");
    };
    let Some(app_key) = params.text("app_key") else {
        return fail(28, "Missing App Key");
    };
    let top = &state.top;
    if app_key != top.app_key {
        let sub = Some(("isv.appkey-not-exists", "app key 不存在"));
        return reply(error_response(29, "Invalid App Key", sub));
    }
    let Some(timestamp) = params.text("timestamp") else {
        return fail(30, "Missing Timestamp");
    };
    let now = state.now();
    match parse_timestamp(&timestamp) {
        Some(at) if (now - at).abs() <= TIMESTAMP_TOLERANCE => {}
        _ => return fail(31, "Invalid Timestamp"),
    }
    if params.text("v").as_deref() != Some("2.0") {
        return fail(33, "Invalid Version");
    }
    if !matches!(format.as_str(), "json" | "xml") {
        return fail(23, "Invalid Format");
    }
    let Some(signature) = params.text("sign") else {
        return fail(24, "Missing Signature");
    };
    // TOP's default sign_method is md5.
    let method_name = params.text("sign_method").unwrap_or_else(|| "md5".into());
    let Ok(sign_method) = method_name.parse::<SignMethod>() else {
        return fail(25, "Invalid signature");
    };
    let pairs = params.pairs();
    let expected = sign(
        sign_method,
        &AppSecret::new(top.app_secret.clone()),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if !signature.eq_ignore_ascii_case(&expected) {
        return fail(25, "Invalid signature");
    }
    if method != USER_BY_ACCOUNT {
        return fail(22, "Invalid Method");
    }
    reply(user_by_account(top, params))
}

fn user_by_account(top: &FakeTop, params: &Params) -> Value {
    let account_id = params.text("account_id");
    let user_id = params.text("user_id");
    if account_id.is_none() && user_id.is_none() {
        let sub = Some(("isv.missing-parameter", "account_id 或 user_id 必须有一个"));
        return error_response(40, "Missing required arguments", sub);
    }
    let namespace = params.text("namespace").unwrap_or_else(|| "dd".into());
    let org_code = params.text("org_code");
    let found = top.accounts.iter().find(|a| {
        let id_matches = match &account_id {
            Some(id) => &a.account_id == id,
            None => a.id.map(|id| id.to_string()) == user_id,
        };
        id_matches && a.namespace == namespace && org_code.as_ref().is_none_or(|o| &a.org_code == o)
    });
    match found {
        Some(account) => json!({ RESPONSE_KEY: {
            "result": {
                "code": "SUCCESS",
                "data": account.data(),
                "success": true,
                "has_error": false,
                "message": "success",
                "msg_info": "",
                "msg_code": "",
            },
            "request_id": request_id(),
        }}),
        None => {
            let sub = Some(("isv.account-not-exist", "账号不存在"));
            error_response(15, "Remote service error", sub)
        }
    }
}

/// TOP answers with HTTP 200 whatever happened.
fn envelope(value: Value, as_xml: bool) -> Reply {
    if as_xml {
        Reply::Xml {
            status: StatusCode::OK,
            body: to_xml(&value),
        }
    } else {
        Reply::Json {
            status: StatusCode::OK,
            body: value,
        }
    }
}

/// Renders a TOP answer as TOP's XML: each key an element, list items as `<number>`,
/// `<string>` or `<item>` elements.
fn to_xml(value: &Value) -> String {
    let mut out = String::new();
    if let Value::Object(fields) = value {
        for (name, value) in fields {
            element(&mut out, name, value);
        }
    }
    out
}

fn element(out: &mut String, name: &str, value: &Value) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        Value::Object(fields) => {
            for (child, value) in fields {
                element(out, child, value);
            }
        }
        Value::Array(items) => {
            for item in items {
                let name = match item {
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    _ => "item",
                };
                element(out, name, item);
            }
        }
        Value::String(s) => escape(out, s),
        Value::Null => {}
        other => escape(out, &other.to_string()),
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_renders_the_envelope() {
        // Keys in sorted order, so the result does not depend on serde_json's map order.
        let xml = to_xml(&json!({"error_response": {"code": 25, "list": [1, "x"], "msg": "a<b"}}));
        assert_eq!(
            xml,
            "<error_response><code>25</code><list><number>1</number><string>x</string></list><msg>a&lt;b</msg></error_response>"
        );
    }
}
