//! DingTalk's open API (OAPI): the access-token cache, the HTTP transport with its retry
//! policy, the errcode classification and the lenient wire types.

mod client;
#[cfg(feature = "directory")]
pub(crate) mod corp_token;
pub(crate) mod errcode;
pub(crate) mod lookup;
mod retry;
pub(crate) mod token;
pub(crate) mod transport;
pub(crate) mod wire;

pub use client::{DingTalkClient, MobileLookup};
#[cfg(feature = "directory")]
#[cfg_attr(docsrs, doc(cfg(feature = "directory")))]
pub use corp_token::{CorpTokenFetcher, CorpTokenFetcherBuilder, SuiteTicket, SuiteTicketSource};
pub use retry::RetryPolicy;
pub(crate) use token::AppTokenFetcher;
pub use token::{AccessTokenCache, FetchedToken, TokenApi, TokenFetcher, TokenSource};
pub use wire::DingTalkUser;

/// DingTalk's new-style API host (the default).
pub(crate) const API_CHINA: &str = "https://api.dingtalk.com";
/// DingTalk's web login page host (the default).
pub(crate) const LOGIN_CHINA: &str = "https://login.dingtalk.com";
/// DingTalk's OAPI host for mainland China (the default).
pub(crate) const OAPI_CHINA: &str = "https://oapi.dingtalk.com";
/// DingTalk's international OAPI host, as in DingTalk's own examples.
pub(crate) const OAPI_INTERNATIONAL: &str = "https://oapi.dingtalk.io";
