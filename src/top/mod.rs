//! The TOP router (淘宝开放平台, `https://eco.taobao.com/router/rest`): request signing and a
//! client for `alibaba.dc.uc.inner.user.by.account.get`.
//!
//! Every TOP call is one form POST to the gateway with the public parameters `method`,
//! `app_key`, `timestamp` (`yyyy-MM-dd HH:mm:ss` in GMT+8, whatever the host's zone),
//! `format=json`, `v=2.0`, `sign_method` and `sign`, plus the API's own parameters. The
//! signature is upper-case hex over the parameters sorted by name and concatenated
//! `k1v1k2v2…` (empty values skipped).
//!
//! The answer is `{"<method_with_underscores>_response": {...}}` or
//! `{"error_response": {code, msg, sub_code, sub_msg}}`. [`TopClient`] maps the latter onto
//! [`crate::Error`]:
//!
//! | answer | error |
//! |---|---|
//! | `sub_code` starting with `isp.` (the platform failed) | retried, then 503 `upstream_unavailable` ([`Unavailable::Platform`](crate::error::Unavailable::Platform)) |
//! | `sub_code` saying the account does not exist (see [`TopClient::user_by_account`]) | 404 `user_not_found` |
//! | any other `error_response` (a bad signature, a wrong app key, a missing permission, ...) | 502 `upstream_error` |
//! | an XML (or any non-JSON) answer | 502 `upstream_error`, the detail saying what arrived |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use dingtalk_login::top::{AccountQuery, SignMethod, TopClient};
//!
//! let top = TopClient::builder("12345678", "top-app-secret")
//!     .sign_method(SignMethod::HmacSha256)
//!     .build()?;
//! let user = top
//!     .user_by_account(&AccountQuery::by_account_id("01234").org_code("ding123abc"))
//!     .await?;
//! println!("{:?} is in departments {:?}", user.account_name, user.dept_id_list);
//! # Ok(()) }
//! ```

mod account;
mod client;
mod sign;

pub use account::{AccountQuery, AccountUser};
pub use client::{TopClient, TopClientBuilder};
pub use sign::SignMethod;
#[allow(unused_imports)]
pub(crate) use sign::{sign, string_to_sign, timestamp, GMT8};
// What the fake TOP router needs besides.
#[cfg(feature = "testing")]
pub(crate) use {account::USER_BY_ACCOUNT, sign::parse_timestamp};

/// TOP's production gateway, the default router URL.
pub(crate) const DEFAULT_GATEWAY: &str = "https://eco.taobao.com/router/rest";
