//! DingTalk's open API (OAPI): the access-token cache, the HTTP transport with its retry
//! policy, the errcode classification and the lenient wire types.

mod client;
pub mod corp_token;
pub mod errcode;
mod retry;
pub mod token;
pub(crate) mod transport;
pub mod wire;

pub use client::{DingTalkClient, MobileLookup};
pub use corp_token::{CorpTokenFetcher, SuiteTicket, SuiteTicketSource};
pub use retry::RetryPolicy;
pub use token::{AccessTokenCache, AppTokenFetcher, FetchedToken, TokenFetcher, TokenSource};
pub use wire::DingTalkUser;

/// DingTalk's OAPI host for mainland China (the default).
pub const OAPI_CHINA: &str = "https://oapi.dingtalk.com";
/// DingTalk's international OAPI host, as in DingTalk's own examples.
pub const OAPI_INTERNATIONAL: &str = "https://oapi.dingtalk.io";
