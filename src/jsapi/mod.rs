//! `dd.config` for H5 micro-apps: the JSAPI ticket and the signature over the page URL.
//!
//! A page that calls a privileged JSAPI (a contact picker, a scan, anything beyond
//! `getAuthCode`) first runs `dd.config({agentId, corpId, timeStamp, nonceStr, signature,
//! jsApiList})`, with values signed on the server. The route `GET /auth/dingtalk/jsapi?url=`
//! ([`crate::web`]) answers them:
//!
//! - the ticket comes from `GET {oapi}/get_jsapi_ticket` (with [`TokenApi::Oapi`]) or
//!   `POST {api}/v1.0/oauth2/jsapiTickets` (with [`TokenApi::V1`]), signed for with the app's
//!   own token, and is cached like the token: one fetch in flight, refreshed shortly before
//!   expiry, and shared across instances on Redis ([`crate::store::redis`]), since a second
//!   fetch can replace the ticket the other instances sign with;
//! - the signature is `hex_lower(SHA-256("jsapi_ticket=..&noncestr=..&timestamp=..&url=.."))`
//!   ([`JsapiSignMethod::Sha1`] for the older documentation) over the page URL without its
//!   `#fragment` and with its query percent-decoded.
//!
//! Configure it with [`ConfigBuilder::agent_id`](crate::ConfigBuilder::agent_id),
//! [`corp_id`](crate::ConfigBuilder::corp_id) and
//! [`jsapi_sign_method`](crate::ConfigBuilder::jsapi_sign_method).
//!
//! [`TokenApi::Oapi`]: crate::dingtalk::TokenApi::Oapi
//! [`TokenApi::V1`]: crate::dingtalk::TokenApi::V1

mod sign;

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::clock::Clock;
use crate::dingtalk::token::lifetime;
use crate::dingtalk::transport::parse_payload;
use crate::dingtalk::{DingTalkClient, FetchedToken, TokenApi, TokenFetcher, TokenSource};
use crate::error::Error;
use crate::secret::AccessToken;
use crate::BoxFuture;

pub use sign::JsapiSignMethod;
pub(crate) use sign::{normalize_url, sign};

/// The `dd.config` settings of a login, and its ticket cache.
pub(crate) struct Jsapi {
    pub(crate) agent_id: Option<String>,
    pub(crate) corp_id: Option<String>,
    pub(crate) method: JsapiSignMethod,
    /// The ticket cache. It holds the ticket in the same redacted wrapper as a token: both
    /// are secrets fetched, cached and shared the same way.
    pub(crate) tickets: Arc<dyn TokenSource>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Jsapi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jsapi")
            .field("agent_id", &self.agent_id)
            .field("corp_id", &self.corp_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Fetches a JSAPI ticket with the app's token, from the endpoint that matches the token's.
pub(crate) struct TicketFetcher {
    client: DingTalkClient,
    api: TokenApi,
}

impl TicketFetcher {
    pub(crate) fn new(client: DingTalkClient, api: TokenApi) -> Self {
        Self { client, api }
    }
}

/// `get_jsapi_ticket`'s `{ticket, expires_in}`.
#[serde_with::serde_as]
#[derive(Deserialize)]
struct OapiTicket {
    ticket: String,
    #[serde_as(as = "Option<serde_with::PickFirst<(_, serde_with::DisplayFromStr)>>")]
    #[serde(default)]
    expires_in: Option<i64>,
}

/// `jsapiTickets`' `{jsapiTicket, expireIn}`.
#[serde_with::serde_as]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Ticket {
    jsapi_ticket: String,
    #[serde_as(as = "Option<serde_with::PickFirst<(_, serde_with::DisplayFromStr)>>")]
    #[serde(default)]
    expire_in: Option<i64>,
}

impl TokenFetcher for TicketFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, Error>> {
        Box::pin(async move {
            let (ticket, expires_in) = match self.api {
                TokenApi::Oapi => {
                    let value = self
                        .client
                        .get_oapi("jsapi_ticket", "/get_jsapi_ticket")
                        .await?;
                    let t: OapiTicket = parse_payload("jsapi_ticket", &value)?;
                    (t.ticket, t.expires_in)
                }
                TokenApi::V1 => {
                    let value = self
                        .client
                        .post_api("jsapi_ticket", "/v1.0/oauth2/jsapiTickets", &json!({}))
                        .await?;
                    let t: V1Ticket = parse_payload("jsapi_ticket", &value)?;
                    (t.jsapi_ticket, t.expire_in)
                }
            };
            tracing::info!(api = ?self.api, "fetched a JSAPI ticket");
            Ok(FetchedToken {
                token: AccessToken::new(ticket),
                expires_in: lifetime(expires_in),
            })
        })
    }
}
