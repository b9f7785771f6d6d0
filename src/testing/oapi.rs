//! DingTalk's OAPI (`oapi.dingtalk.com`) endpoints as the fake answers them: the request
//! parameters, the `errcode` answers, and the handlers for `gettoken`, `getuserinfo` and
//! `getbymobile`.

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::state::{request_id, State, TokenRejection};
use super::users::FakeUser;

// The errcodes and errmsgs DingTalk answers with.
const INVALID_TOKEN: (i64, &str) = (40014, "不合法的access_token");
const TOKEN_EXPIRED: (i64, &str) = (42001, "access_token超时");
const BAD_APP_CREDENTIALS: (i64, &str) = (40089, "不合法的appKey或appSecret");
const UNKNOWN_CODE: (i64, &str) = (40078, "不存在的临时授权码");
const INVALID_PARAMETER: (i64, &str) = (400002, "无效的参数");
const INVALID_MOBILE: (i64, &str) = (40104, "无效的手机号");
const NO_SUCH_USER: (i64, &str) = (60121, "找不到该用户");
pub(super) const BUSY: (i64, &str) = (-1, "系统繁忙");

/// An answer, before it becomes an HTTP response.
#[derive(Debug)]
pub(super) enum Reply {
    /// `application/json; charset=utf-8`; the quirks are applied to `body` when it is sent.
    Json { status: StatusCode, body: Value },
    /// `text/plain; charset=utf-8`.
    Text {
        status: StatusCode,
        body: &'static str,
    },
    /// `text/xml; charset=utf-8`, as the TOP router answers `format=xml`.
    Xml { status: StatusCode, body: String },
    /// `text/html; charset=utf-8`: the web login page.
    Html { status: StatusCode, body: String },
    /// 302 to `location`: the web login page sending the browser back.
    Redirect { location: String },
}

/// An OAPI error answer: HTTP 200 with `errcode`, `errmsg` and `request_id`.
pub(super) fn error((errcode, errmsg): (i64, &str)) -> Reply {
    Reply::Json {
        status: StatusCode::OK,
        body: json!({ "errcode": errcode, "errmsg": errmsg, "request_id": request_id() }),
    }
}

/// A successful OAPI answer: `errcode` 0, `errmsg` "ok", `request_id`, and `fields`.
pub(super) fn success(fields: Map<String, Value>) -> Reply {
    let mut body = fields;
    body.insert("errcode".into(), json!(0));
    body.insert("errmsg".into(), json!("ok"));
    body.insert("request_id".into(), json!(request_id()));
    Reply::Json {
        status: StatusCode::OK,
        body: Value::Object(body),
    }
}

fn success_with_result(result: Map<String, Value>) -> Reply {
    success(Map::from_iter([(
        "result".to_owned(),
        Value::Object(result),
    )]))
}

/// The parameters of a request: the query string and the body (JSON object or form), as one
/// map. DingTalk takes `access_token` from either, as its own curl examples send it in the
/// form body; where both carry a name, the query string wins.
#[derive(Debug, Default)]
pub(super) struct Params(Map<String, Value>);

impl Params {
    /// Reads the parameters. A body that is neither a JSON object nor a form counts as empty,
    /// so its parameters are missing (errcode 400002), as with DingTalk.
    pub(super) fn parse(query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Self {
        let is_form = content_type
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("x-www-form-urlencoded"));
        let mut params = if is_form {
            form(body)
        } else {
            serde_json::from_slice::<Map<String, Value>>(body).unwrap_or_default()
        };
        params.extend(form(query.unwrap_or_default().as_bytes()));
        Self(params)
    }

    /// Every parameter with a string (or number) value, as `(name, value)` pairs: what a
    /// signature is computed over.
    pub(super) fn pairs(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                _ => None,
            })
            .collect()
    }

    /// A parameter given as a non-empty string (or a number, which DingTalk also accepts).
    pub(super) fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A boolean parameter: JSON `true` or the string `"true"` (as a form sends it).
    fn flag(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

fn form(bytes: &[u8]) -> Map<String, Value> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// `GET /gettoken?appkey=..&appsecret=..`
pub(super) fn gettoken(state: &mut State, params: &Params) -> Reply {
    let key = params.text("appkey");
    let secret = params.text("appsecret");
    if !state.credentials_match(key.as_deref(), secret.as_deref()) {
        return error(BAD_APP_CREDENTIALS);
    }
    let (token, expires_in) = state.issue_token();
    success(Map::from_iter([
        ("access_token".to_owned(), json!(token)),
        ("expires_in".to_owned(), json!(expires_in)),
    ]))
}

/// `POST /topapi/v2/user/getuserinfo?access_token=..` with `{"code":".."}`
pub(super) fn getuserinfo(state: &mut State, params: &Params) -> Reply {
    if let Err(refused) = authorize(state, params) {
        return refused;
    }
    let Some(code) = params.text("code") else {
        return error(INVALID_PARAMETER);
    };
    match state.redeem_code(&code) {
        Some(user) => success_with_result(userinfo(&user)),
        None => error(UNKNOWN_CODE),
    }
}

/// `POST /topapi/v2/user/getbymobile?access_token=..` with
/// `{"mobile":"..","support_exclusive_account_search":true}`
pub(super) fn getbymobile(state: &mut State, params: &Params) -> Reply {
    if let Err(refused) = authorize(state, params) {
        return refused;
    }
    let Some(mobile) = params.text("mobile") else {
        return error(INVALID_PARAMETER);
    };
    if !looks_like_mobile(&mobile) {
        return error(INVALID_MOBILE);
    }
    let Some(user) = state.user_by_mobile(&mobile) else {
        return error(NO_SUCH_USER);
    };
    let mut result = Map::from_iter([("userid".to_owned(), json!(user.userid))]);
    if params.flag("support_exclusive_account_search") {
        result.insert(
            "exclusive_account_userid_list".to_owned(),
            json!(user.exclusive_account_userid_list),
        );
    }
    success_with_result(result)
}

/// Checks the request's `access_token`; the error answer if it is refused.
pub(super) fn authorize(state: &State, params: &Params) -> Result<(), Reply> {
    let token = params.text("access_token");
    state
        .check_token(token.as_deref())
        .map_err(|rejection| match rejection {
            TokenRejection::Invalid => error(INVALID_TOKEN),
            TokenRejection::Expired => error(TOKEN_EXPIRED),
        })
}

/// `getuserinfo`'s `result`, leaving out the optional fields the user does not have.
fn userinfo(user: &FakeUser) -> Map<String, Value> {
    let mut result = Map::new();
    result.insert("userid".into(), json!(user.userid));
    result.insert("name".into(), json!(user.name));
    let optional = [
        ("unionid", &user.unionid),
        ("associated_unionid", &user.associated_unionid),
        ("device_id", &user.device_id),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            result.insert(key.into(), json!(value));
        }
    }
    result.insert("sys".into(), json!(user.sys));
    result.insert("sys_level".into(), json!(user.sys_level));
    result
}

/// Digits, optionally after a leading `+`, with hyphens allowed (`+86-13800000000`).
fn looks_like_mobile(mobile: &str) -> bool {
    let digits = mobile.strip_prefix('+').unwrap_or(mobile);
    digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '-')
}
