//! The OAPI client: `getuserinfo`, `getbymobile` and the app's own OAPI and new-style API
//! calls, each with the app's access token and the shared transport.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::code::AuthCode;
use crate::dingtalk::errcode;
use crate::dingtalk::lookup::{self, AdminCache, LiveUser};
use crate::dingtalk::token::TokenSource;
use crate::dingtalk::transport::{
    judge_api, judge_oapi, parse_payload, CallError, Transport, Verdict,
};
use crate::dingtalk::wire::{list_or_json_string, DingTalkUser};
use crate::error::{Error, UpstreamDetail};
use crate::secret::{AccessToken, AppSecret};

/// A client for DingTalk's OAPI calls that need an access token.
///
/// Every call shares the token source, the transport's retry policy and one errcode
/// classification: a refused token is dropped (if still cached), refetched and the call
/// retried once; errcode -1 and HTTP 5xx are retried with backoff; rate limits, timeouts and
/// refusals are not.
///
/// Built by [`crate::config::ConfigBuilder::build`]; reach it with
/// [`crate::DingTalkLogin::client`].
#[derive(Clone)]
pub struct DingTalkClient {
    transport: Transport,
    oapi: Arc<str>,
    api: Arc<str>,
    tokens: Arc<dyn TokenSource>,
    /// `listadmin`'s answer, shared by every clone (see [`lookup`]).
    admins: Arc<AdminCache>,
}

impl fmt::Debug for DingTalkClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DingTalkClient")
            .field("oapi", &self.oapi)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

/// What `getbymobile` found.
///
/// ```
/// use dingtalk_login::dingtalk::MobileLookup;
///
/// // DingTalk may send the list as a JSON-encoded string; an array works too.
/// let a: MobileLookup = serde_json::from_str(
///     r#"{"userid":"zhangsan","exclusive_account_userid_list":"[\"zxxxx\",\"lixxxi\"]"}"#,
/// ).unwrap();
/// assert_eq!(a.exclusive_account_userid_list, vec!["zxxxx", "lixxxi"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileLookup {
    /// The user's id (may be absent when only exclusive accounts matched).
    #[serde(default)]
    pub userid: Option<String>,
    /// Exclusive (企业账号) user ids created by this organisation.
    #[serde(default, deserialize_with = "list_or_json_string")]
    pub exclusive_account_userid_list: Vec<String>,
}

impl DingTalkClient {
    pub(crate) fn new(
        transport: Transport,
        oapi: &str,
        api: &str,
        tokens: Arc<dyn TokenSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            transport,
            oapi: Arc::from(oapi),
            api: Arc::from(api),
            tokens,
            admins: Arc::new(AdminCache::new(clock)),
        }
    }

    /// The token source this client uses.
    pub fn tokens(&self) -> &Arc<dyn TokenSource> {
        &self.tokens
    }

    /// Exchanges a login code for the user: `POST /topapi/v2/user/getuserinfo`.
    ///
    /// This only asks DingTalk; [`crate::DingTalkLogin::login`] adds the replay guard and the
    /// session.
    ///
    /// # Errors
    /// [`Error::CodeRejected`] for 40078 (unknown, expired or used code); the upstream errors
    /// of [`crate::Error`] otherwise.
    pub async fn get_user_info(&self, code: &AuthCode) -> Result<DingTalkUser, Error> {
        let body = json!({ "code": code.as_str() });
        let value = self
            .post_oapi("getuserinfo", "/topapi/v2/user/getuserinfo", &body)
            .await
            .map_err(|e| match e {
                Error::UpstreamError(d) if d.errcode == Some(errcode::CODE_REJECTED) => {
                    Error::CodeRejected(d)
                }
                e => e,
            })?;
        parse_payload("getuserinfo", result(&value))
    }

    /// Finds a user by mobile number: `POST /topapi/v2/user/getbymobile`.
    ///
    /// The number is checked locally first (an optional `+`, then 5–20 digits or hyphens);
    /// a malformed one costs no upstream call.
    ///
    /// # Errors
    /// [`Error::InvalidMobile`] for a malformed number, 40104 or 400002;
    /// [`Error::UserNotFound`] for 60121; the upstream errors of [`crate::Error`] otherwise.
    pub async fn get_by_mobile(
        &self,
        mobile: &str,
        support_exclusive_account_search: bool,
    ) -> Result<MobileLookup, Error> {
        if !is_valid_mobile(mobile) {
            return Err(Error::InvalidMobile(None));
        }
        let body = json!({
            "mobile": mobile,
            "support_exclusive_account_search": support_exclusive_account_search,
        });
        let value = self
            .post_oapi("getbymobile", "/topapi/v2/user/getbymobile", &body)
            .await
            .map_err(|e| match e {
                Error::UpstreamError(d) => match d.errcode {
                    Some(errcode::NO_SUCH_USER) => Error::UserNotFound(d),
                    Some(errcode::INVALID_MOBILE | errcode::INVALID_PARAMETER) => {
                        Error::InvalidMobile(Some(d))
                    }
                    _ => Error::UpstreamError(d),
                },
                e => e,
            })?;
        parse_payload("getbymobile", result(&value))
    }

    /// The user's current admin level and name, asked of DingTalk now (see [`lookup`]):
    /// `listadmin` (cached, at most a minute old, one call in flight) names the admins; for
    /// anyone else `user/get`'s `boss` gives 100 or 0; `user/get`'s `name` is the name.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when DingTalk does not know the user (60121; an empty userid is
    /// refused the same way without a call); the upstream errors of [`crate::Error`] (502,
    /// 503, 504) when either call fails. A failure is never turned into level 0.
    pub(crate) async fn lookup_user(&self, userid: &str) -> Result<LiveUser, Error> {
        if userid.is_empty() || userid.len() > 256 {
            let mut detail = UpstreamDetail::api("user_get");
            detail.errmsg = Some("no such userid (not asked)".into());
            return Err(Error::UserNotFound(Box::new(detail)));
        }
        let admins = self
            .admins
            .get_or_fetch(|| async {
                let url = format!("{}/topapi/user/listadmin", self.oapi);
                let value = self
                    .with_token("listadmin", judge_oapi, |http, token| {
                        http.post(&url).query(&[("access_token", token.expose())])
                    })
                    .await?;
                lookup::admin_list(&value).map_err(|e| {
                    let mut detail = UpstreamDetail::api("listadmin");
                    detail.errmsg = Some(format!("unexpected answer: {e}"));
                    Error::UpstreamError(Box::new(detail))
                })
            })
            .await?;
        let body = json!({ "userid": userid, "language": "zh_CN" });
        let value = self
            .post_oapi("user_get", "/topapi/v2/user/get", &body)
            .await
            .map_err(|e| match e {
                Error::UpstreamError(d) if d.errcode == Some(errcode::NO_SUCH_USER) => {
                    Error::UserNotFound(d)
                }
                e => e,
            })?;
        let user = parse_payload("user_get", result(&value))?;
        Ok(lookup::live_user(userid, &admins, user))
    }

    /// POSTs `body` as JSON to `{oapi}{path}?access_token=..` and returns the whole answer once
    /// its errcode is 0, with the token, retry and errcode handling of every OAPI call.
    ///
    /// Use it for OAPI endpoints this crate has no typed method for. Errcodes other than the
    /// token, busy and rate-limit ones come back as [`Error::UpstreamError`] with the errcode in
    /// its detail.
    ///
    /// `api` names the call in errors, traces and (feature `metrics`) the `api` label of the
    /// upstream metrics: keep it a fixed name, never built from user input.
    pub async fn post_oapi(
        &self,
        api: &'static str,
        path: &str,
        body: &Value,
    ) -> Result<Value, Error> {
        let url = format!("{}{}", self.oapi, path);
        self.with_token(api, judge_oapi, |http, token| {
            http.post(&url)
                .query(&[("access_token", token.expose())])
                .json(body)
        })
        .await
    }

    /// GETs `{oapi}{path}?access_token=..` with the token, retry and errcode handling of
    /// [`post_oapi`](Self::post_oapi).
    pub(crate) async fn get_oapi(&self, api: &'static str, path: &str) -> Result<Value, Error> {
        let url = format!("{}{}", self.oapi, path);
        self.with_token(api, judge_oapi, |http, token| {
            http.get(&url).query(&[("access_token", token.expose())])
        })
        .await
    }

    /// POSTs `body` as JSON to the new-style API, `{api}{path}`, with the app token in the
    /// `x-acs-dingtalk-access-token` header: `InvalidAuthentication` drops the token (if still
    /// cached), refetches it and retries once.
    pub(crate) async fn post_api(
        &self,
        api: &'static str,
        path: &str,
        body: &Value,
    ) -> Result<Value, Error> {
        let url = format!("{}{}", self.api, path);
        self.with_token(api, judge_api, |http, token| {
            http.post(&url)
                .header(API_TOKEN_HEADER, token.expose())
                .json(body)
        })
        .await
    }

    /// Exchanges a web (QR) login's `authCode` for the user's own access token:
    /// `POST {api}/v1.0/oauth2/userAccessToken` with the app's credentials and the code in a
    /// JSON body (no app token is involved).
    ///
    /// `invalidClientIdOrSecret` is [`Error::UpstreamError`] (the app is misconfigured); any
    /// other refusal with a 4xx status but 429 is [`Error::CodeRejected`].
    pub(crate) async fn user_access_token(
        &self,
        client_id: &str,
        client_secret: &AppSecret,
        code: &AuthCode,
    ) -> Result<UserToken, Error> {
        let url = format!("{}/v1.0/oauth2/userAccessToken", self.api);
        let body = json!({
            "clientId": client_id,
            "clientSecret": client_secret.expose(),
            "code": code.as_str(),
            "grantType": "authorization_code",
        });
        let value = self
            .call_api("user_access_token", |http| http.post(&url).json(&body))
            .await
            .map_err(|e| match e {
                Error::UpstreamError(d)
                    if d.http_status
                        .is_some_and(|s| (400..500).contains(&s) && s != 429)
                        && d.sub_code.as_deref() != Some(INVALID_CLIENT) =>
                {
                    Error::CodeRejected(d)
                }
                e => e,
            })?;
        let answer: UserTokenAnswer = parse_payload("user_access_token", &value)?;
        Ok(UserToken {
            token: AccessToken::new(answer.access_token),
        })
    }

    /// Who a user token belongs to: `GET {api}/v1.0/contact/users/me` with the user's token
    /// in `x-acs-dingtalk-access-token`.
    pub(crate) async fn users_me(&self, user: &UserToken) -> Result<Me, Error> {
        let url = format!("{}/v1.0/contact/users/me", self.api);
        let value = self
            .call_api("users_me", |http| {
                http.get(&url).header(API_TOKEN_HEADER, user.token.expose())
            })
            .await?;
        parse_payload("users_me", &value)
    }

    /// The organisation's view of a DingTalk account: `POST {oapi}/topapi/user/getbyunionid`
    /// with `{"unionid"}`. Only an employee (`contact_type` 0) is a member; an external contact
    /// (1) or an account the organisation does not know (60121) is [`Error::NotAMember`].
    pub(crate) async fn get_by_unionid(&self, unionid: &str) -> Result<String, Error> {
        let body = json!({ "unionid": unionid });
        let value = self
            .post_oapi("getbyunionid", "/topapi/user/getbyunionid", &body)
            .await
            .map_err(|e| match e {
                Error::UpstreamError(d) if d.errcode == Some(errcode::NO_SUCH_USER) => {
                    Error::NotAMember(d)
                }
                e => e,
            })?;
        let found: ByUnionId = parse_payload("getbyunionid", result(&value))?;
        if found.contact_type != 0 {
            let mut detail = UpstreamDetail::api("getbyunionid");
            detail.errmsg = Some(format!(
                "contact_type {} (not an employee)",
                found.contact_type
            ));
            return Err(Error::NotAMember(Box::new(detail)));
        }
        Ok(found.userid)
    }

    /// One new-style API call made without the app token (the caller puts whatever
    /// credentials the endpoint takes into the request), judged like every new-style call.
    async fn call_api(
        &self,
        api: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Value, Error> {
        Ok(self.transport.call(api, build, judge_api).await?)
    }

    /// One call with the app token; a refused token is dropped (if still cached), refetched
    /// and the call retried once.
    async fn with_token(
        &self,
        api: &'static str,
        judge: fn(&'static str, Value) -> Verdict,
        build: impl Fn(&reqwest::Client, &AccessToken) -> reqwest::RequestBuilder,
    ) -> Result<Value, Error> {
        let token = self.tokens.token().await?;
        let build = &build;
        let send = |token: AccessToken| move |http: &reqwest::Client| build(http, &token);
        match self.transport.call(api, send(token.clone()), judge).await {
            Err(CallError::TokenInvalid(detail)) => {
                tracing::info!(api, detail = %detail, "access token refused; refetching once");
                self.tokens.invalidate(&token).await;
                let fresh = self.tokens.token().await?;
                Ok(self.transport.call(api, send(fresh), judge).await?)
            }
            other => Ok(other?),
        }
    }
}

/// The new-style API's code for a wrong app key or secret.
const INVALID_CLIENT: &str = "invalidClientIdOrSecret";

/// A user's own access token from a web login. Its `Debug` is redacted.
#[derive(Debug)]
pub(crate) struct UserToken {
    token: AccessToken,
}

/// `userAccessToken`'s answer (`refreshToken`, `expireIn` and `corpId` are not needed).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserTokenAnswer {
    access_token: String,
}

/// `users/me`'s answer: who logged in on DingTalk's web login page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Me {
    /// The DingTalk nickname: the name when the organisation has none.
    #[serde(default)]
    pub nick: String,
    /// The account's id across DingTalk.
    pub union_id: String,
}

/// `getbyunionid`'s `result`; `contact_type` may arrive as a string.
#[serde_with::serde_as]
#[derive(Deserialize)]
struct ByUnionId {
    userid: String,
    #[serde_as(as = "serde_with::PickFirst<(_, serde_with::DisplayFromStr)>")]
    #[serde(default)]
    contact_type: i64,
}

/// The header the new-style API takes the access token in.
pub(crate) const API_TOKEN_HEADER: &str = "x-acs-dingtalk-access-token";

fn result(value: &Value) -> &Value {
    value.get("result").unwrap_or(&Value::Null)
}

/// An optional `+`, then 5 to 20 digits or hyphens, at least one of them a digit.
pub(crate) fn is_valid_mobile(mobile: &str) -> bool {
    let rest = mobile.strip_prefix('+').unwrap_or(mobile);
    (5..=20).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && rest.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_valid_mobile;

    #[test]
    fn mobile_shape() {
        for ok in ["13800138000", "+86-138-0013-8000", "12345"] {
            assert!(is_valid_mobile(ok), "{ok}");
        }
        for bad in [
            "",
            "1234",
            "+",
            "138 0013 8000",
            "abc12345",
            "++8613800138000",
            "-----",
            "123456789012345678901",
        ] {
            assert!(!is_valid_mobile(bad), "{bad}");
        }
    }
}
