//! An in-process fake DingTalk server, for tests and demos (cargo feature `testing`).
//!
//! [`FakeDingTalk`] listens on `127.0.0.1` and a free port and answers DingTalk's login
//! endpoints the way DingTalk does:
//!
//! | endpoint | answers |
//! | --- | --- |
//! | `GET /gettoken?appkey=..&appsecret=..` | the app's access token; 40089 for wrong credentials |
//! | `POST /topapi/v2/user/getuserinfo?access_token=..` | the user a login code belongs to; 40078 for an unknown, used or expired code |
//! | `POST /topapi/v2/user/getbymobile?access_token=..` | a user's `userid` by mobile; 60121 for nobody, 40104 for a malformed number |
//! | `POST /service/get_corp_token?accessKey=..&timestamp=..&suiteTicket=..&signature=..` | an ISV corp token for an authorised `auth_corpid` ([`FakeSuite`]); 853001–853005 for a bad timestamp, key, signature or ticket |
//! | `POST /router/rest` (the TOP router, [`FakeDingTalk::top_gateway_url`]) | `alibaba.dc.uc.inner.user.by.account.get` for the [`FakeAccount`]s, signed with `md5`, `hmac` or `hmac-sha256`; TOP's `error_response` (code 25 for a wrong `sign`, `isv.account-not-exist` for an unknown account), XML for `format=xml` |
//! | `POST /v1.0/oauth2/accessToken` (`{"appKey","appSecret"}`) | `{accessToken, expireIn}`: the same token `gettoken` hands out; HTTP 400 `invalidClientIdOrSecret` for wrong credentials |
//! | `GET /get_jsapi_ticket?access_token=..` | `{ticket, expires_in}`: a new JSAPI ticket, replacing the previous one |
//! | `POST /v1.0/oauth2/jsapiTickets` (token in `x-acs-dingtalk-access-token`) | `{jsapiTicket, expireIn}`, replacing the previous ticket; HTTP 401 `InvalidAuthentication` for a refused token |
//! | `GET /oauth2/auth?redirect_uri=..&response_type=code&client_id=..&scope=..&state=..` | DingTalk's web login page (HTML) listing everyone who can sign in; `&pick=<userid>` redirects to `redirect_uri?authCode=..&state=..`, `&decline=1` to `redirect_uri?error=access_denied&state=..` |
//! | `POST /v1.0/oauth2/userAccessToken` (JSON `{"clientId","clientSecret","code","grantType"}`) | `{accessToken, refreshToken, expireIn, corpId}` for a web authCode (five minutes, single use); HTTP 400 `invalidCode`, `invalidClientIdOrSecret`, or `invalidParameter` for a body that is not JSON |
//! | `GET /v1.0/contact/users/me` (user token in `x-acs-dingtalk-access-token`) | `{nick, unionId, openId, avatarUrl, mobile, email, stateCode}`; HTTP 401 `InvalidAuthentication` |
//! | `POST /topapi/user/getbyunionid?access_token=..` | `result: {contact_type, userid}`: 0 for an employee, 1 for an external contact; 60121 for an account the organisation does not know |
//! | `POST /topapi/user/listadmin?access_token=..` (no body) | `result: [{userid, sys_level}]`: the super admins (1) and sub admins (2) |
//! | `POST /topapi/v2/user/get?access_token=..` with `{"userid"}` | `result: {userid, unionid, name, boss, admin, active, ..}`; 60121 for nobody |
//! | `POST /api/v1/getUser` (the employee-info service) | a [`FakeEmployee`]'s profile by `corpId` and `userId` (or `userid`); 60111 for nobody |
//!
//! Its semantics are DingTalk's: login codes are single use and live five minutes; there is
//! one access token at a time, handed to every caller and renewed by each `gettoken` within
//! its life; an expired token answers 42001 and an unknown or invalidated one 40014; every
//! answer carries a `request_id` (`requestid` on the new-style API, whose errors are an HTTP
//! error status with `{code, message, requestid}`). Request bodies may be JSON or a form, as in DingTalk's own
//! curl examples. Anything else answers HTTP 404.
//!
//! A test can also misbehave on purpose: [`FakeDingTalk::expire_token`] and
//! [`FakeDingTalk::invalidate_token`], [`FakeDingTalk::fail_next`] with a [`Failure`] (busy,
//! HTTP 500, gateway flow control, any errcode, TOP's `error_response` or
//! `result.success == false`, an XML answer, a new-style API error, a delay, a dropped
//! connection), and
//! [`Quirks`] for the stringly-typed JSON real DingTalk sends. [`FakeDingTalk::set_level`] and
//! [`FakeDingTalk::remove_user`] change the organisation while a test runs (a promotion, a
//! demotion, an employee who leaves). [`FakeDingTalk::calls`]
//! counts requests per [`Endpoint`]. Code and token lifetimes follow the
//! [`Clock`](crate::clock::Clock) given to the builder, so a
//! [`ManualClock`](crate::clock::ManualClock) can expire them without waiting.
//!
//! The server runs on the current Tokio runtime and stops when its handle is dropped.
//!
//! # Example
//!
//! ```
//! use dingtalk_login::testing::{Endpoint, FakeDingTalk, FakeUser};
//! use serde_json::{json, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), reqwest::Error> {
//! let fake = FakeDingTalk::builder()
//!     .user(FakeUser::new("u-1", "Zhang San").super_admin())
//!     .start()
//!     .await;
//! // What DingTalk's JSAPI would give the browser after a silent login.
//! let code = fake.mint_code("u-1");
//!
//! // Point the code under test at `fake.url()` instead of https://oapi.dingtalk.com.
//! let http = reqwest::Client::new();
//! let token: Value = http
//!     .get(format!("{}/gettoken", fake.url()))
//!     .query(&[("appkey", fake.app_key()), ("appsecret", fake.app_secret())])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let access_token = token["access_token"].as_str().unwrap();
//!
//! let user: Value = http
//!     .post(format!("{}/topapi/v2/user/getuserinfo", fake.url()))
//!     .query(&[("access_token", access_token)])
//!     .json(&json!({ "code": code }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(user["errcode"], 0);
//! assert_eq!(user["result"]["userid"], "u-1");
//! assert_eq!(user["result"]["sys_level"], 1);
//! assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
//! # Ok(())
//! # }
//! ```

mod contact;
mod employee;
mod endpoint;
mod failure;
mod fake;
mod isv;
mod jsapi;
mod oapi;
mod quirks;
mod state;
mod top;
mod users;
mod weblogin;

pub use employee::FakeEmployee;
pub use endpoint::Endpoint;
pub use failure::Failure;
pub use fake::{FakeDingTalk, FakeDingTalkBuilder};
pub use isv::FakeSuite;
pub use quirks::Quirks;
pub use top::FakeAccount;
pub use users::FakeUser;

/// Signs a session for `user` with `login`'s key, as a login would, without asking DingTalk:
/// for tests and benchmarks that need many valid tokens.
///
/// ```
/// use dingtalk_login::dingtalk::DingTalkUser;
/// use dingtalk_login::guard::SysLevel;
/// use dingtalk_login::DingTalkLogin;
///
/// let login = DingTalkLogin::builder()
///     .app_key("k")
///     .app_secret("s")
///     .session_secret("a session key of at least 32 bytes!")
///     .build()
///     .unwrap();
/// let user = DingTalkUser::new("u1", "Li", SysLevel::SubAdmin);
/// let token = dingtalk_login::testing::mint_session(&login, &user);
/// assert_eq!(login.verify(&token).unwrap().sub, "u1");
/// ```
pub fn mint_session(login: &crate::DingTalkLogin, user: &crate::dingtalk::DingTalkUser) -> String {
    login
        .sessions()
        .issue(user, serde_json::Map::new())
        .expect("a key that passed build() signs")
        .0
}

/// Signs `claims` exactly as given, with `login`'s key: for tests of expired, foreign or
/// otherwise unusual sessions.
///
/// # Errors
/// [`Error::Internal`](crate::Error::Internal) if signing fails (it does not with a key that
/// passed `build()`).
pub fn sign_claims(
    login: &crate::DingTalkLogin,
    claims: &crate::session::Claims,
) -> Result<String, crate::Error> {
    login.sessions().sign(claims)
}
