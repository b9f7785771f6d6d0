//! A third-party enterprise (ISV) suite and `POST /service/get_corp_token` as the fake answers
//! it.

use serde_json::{json, Map};

use super::oapi::{self, Params, Reply};
use super::state::State;
use crate::dingtalk::corp_token::signature;
use crate::secret::AppSecret;

const TIMESTAMP_MALFORMED: (i64, &str) = (853001, "timestamp参数格式不正确");
const TIMESTAMP_OUT_OF_RANGE: (i64, &str) = (853002, "签名时间戳参数超时");
const UNKNOWN_ACCESS_KEY: (i64, &str) = (853003, "accessKey参数不合法");
const SIGNATURE_MISMATCH: (i64, &str) = (853004, "signature参数不正确");
const SUITE_TICKET_REFUSED: (i64, &str) = (853005, "suiteTicket参数不合法");
const UNAUTHORIZED_CORP: (i64, &str) = (400002, "无效的参数: auth_corpid 未授权该应用");

/// How far `timestamp` may be from the fake's clock: one minute, as DingTalk allows.
const TIMESTAMP_TOLERANCE_MS: i64 = 60_000;

/// The fake's ISV suite: what `get_corp_token` checks a request against.
///
/// The fake models one organisation, so the corp token it hands out is the same access token
/// `gettoken` does, usable with `getuserinfo` and `getbymobile`.
///
/// ```
/// use dingtalk_login::testing::FakeSuite;
///
/// let suite = FakeSuite::default();
/// assert_eq!(suite.suite_key, "fake-suite-key");
/// assert_eq!(suite.authorized_corps, vec!["ding-fake-corp".to_owned()]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSuite {
    /// The suite key: the `accessKey` accepted (853003 otherwise).
    pub suite_key: String,
    /// The suite secret the `signature` is checked with (853004 otherwise).
    pub suite_secret: String,
    /// The latest suite ticket "pushed": the only `suiteTicket` accepted (853005 otherwise).
    pub suite_ticket: String,
    /// The organisations that installed the suite: the `auth_corpid`s accepted (400002
    /// otherwise).
    pub authorized_corps: Vec<String>,
}

impl Default for FakeSuite {
    fn default() -> Self {
        Self {
            suite_key: "fake-suite-key".into(),
            suite_secret: "fake-suite-secret".into(),
            suite_ticket: "fake-suite-ticket".into(),
            authorized_corps: vec!["ding-fake-corp".into()],
        }
    }
}

/// `POST /service/get_corp_token?accessKey=..&timestamp=..&suiteTicket=..&signature=..` with
/// `{"auth_corpid": ..}`.
///
/// The checks come in DingTalk's order: the timestamp's shape (853001) and age (853002), the
/// access key (853003), the signature over the ticket *as sent* (853004), and only then
/// whether that ticket is the current one (853005).
pub(super) fn get_corp_token(state: &mut State, params: &Params) -> Reply {
    let suite = state.suite.clone();
    let Some(timestamp) = params.text("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return oapi::error(TIMESTAMP_MALFORMED);
    };
    let now_ms = i64::try_from(state.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    if (now_ms - timestamp).abs() > TIMESTAMP_TOLERANCE_MS {
        return oapi::error(TIMESTAMP_OUT_OF_RANGE);
    }
    if params.text("accessKey").as_deref() != Some(suite.suite_key.as_str()) {
        return oapi::error(UNKNOWN_ACCESS_KEY);
    }
    let ticket = params.text("suiteTicket").unwrap_or_default();
    let expected = signature(&AppSecret::new(suite.suite_secret), timestamp, &ticket);
    if params.text("signature").as_deref() != Some(expected.as_str()) {
        return oapi::error(SIGNATURE_MISMATCH);
    }
    if ticket != suite.suite_ticket {
        return oapi::error(SUITE_TICKET_REFUSED);
    }
    let corp = params.text("auth_corpid").unwrap_or_default();
    if !suite.authorized_corps.contains(&corp) {
        return oapi::error(UNAUTHORIZED_CORP);
    }
    let (token, expires_in) = state.issue_token();
    oapi::success(Map::from_iter([
        ("access_token".to_owned(), json!(token)),
        ("expires_in".to_owned(), json!(expires_in)),
    ]))
}
