//! The access token of a third-party enterprise (ISV) app: the *corp token* of one authorising
//! organisation, fetched with the suite's key, secret and the latest suite ticket.
//!
//! `POST {oapi}/service/get_corp_token?accessKey=<suiteKey>&timestamp=<ms>&suiteTicket=..&signature=..`
//! with `{"auth_corpid": ..}`, where `signature` is
//! Base64(HMAC-SHA256(suiteSecret, timestamp + "\n" + suiteTicket)), URL-encoded once (by the
//! query encoding; see [`signature`]).
//!
//! DingTalk pushes the suite ticket to the ISV's callback about every 20 minutes; the app hands
//! it over through a [`SuiteTicketSource`] — a [`SuiteTicket`] its callback handler updates, a
//! closure, or its own type reading a shared store.
//!
//! Plug the fetcher into the login through an [`AccessTokenCache`](super::AccessTokenCache):
//!
//! ```
//! use std::sync::Arc;
//! use dingtalk_login::clock::SystemClock;
//! use dingtalk_login::dingtalk::{CorpTokenFetcher, SuiteTicket};
//! use dingtalk_login::dingtalk::AccessTokenCache;
//! use dingtalk_login::DingTalkLogin;
//!
//! let ticket = SuiteTicket::new(); // the callback handler calls `ticket.set(..)`
//! let fetcher = CorpTokenFetcher::builder("suite-key", "suite-secret", "ding-corp-id", ticket.clone())
//!     .build()
//!     .unwrap();
//! let login = DingTalkLogin::builder()
//!     .token_source(Arc::new(AccessTokenCache::new(fetcher, Arc::new(SystemClock))))
//!     .session_secret("a session key of at least 32 bytes!")
//!     .build()
//!     .unwrap();
//! # let _ = login;
//! ```
//!
//! # Errors of `get_corp_token`
//!
//! | errcode | meaning | error |
//! |---|---|---|
//! | 853001 | `timestamp` is not a millisecond Unix time | 502 `upstream_error` |
//! | 853002 | `timestamp` is more than a minute away from DingTalk's clock: fix the host's clock | 502 `upstream_error` |
//! | 853003 | `accessKey` is not a known suite key | 502 `upstream_error` |
//! | 853004 | `signature` does not match: a wrong suite secret (or a ticket mangled on the way) | 502 `upstream_error` |
//! | 853005 | the suite ticket is refused: not the latest DingTalk pushed, or expired | 502 `upstream_error` |
//! | — | no suite ticket yet (DingTalk has not pushed one since start-up) | 503 `not_configured`, no call made |
//!
//! Each refusal's [`UpstreamDetail::errmsg`](crate::error::UpstreamDetail::errmsg) says which of these it was, for the logs.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::clock::{Clock, SystemClock};
use crate::config::parse_base_url;
use crate::dingtalk::retry::RetryPolicy;
use crate::dingtalk::token::{lifetime, FetchedToken, TokenFetcher};
use crate::dingtalk::transport::{judge_oapi, parse_payload, Transport};
use crate::dingtalk::wire::GetTokenResult;
use crate::dingtalk::OAPI_CHINA;
use crate::error::{ConfigError, Error};
use crate::secret::{AccessToken, AppSecret};
use crate::BoxFuture;

const API: &str = "corp_token";

/// `timestamp` is not a millisecond Unix time.
pub(crate) const TIMESTAMP_MALFORMED: i64 = 853001;
/// `timestamp` differs from DingTalk's clock by more than a minute.
pub(crate) const TIMESTAMP_OUT_OF_RANGE: i64 = 853002;
/// `accessKey` is not a known suite key.
pub(crate) const UNKNOWN_ACCESS_KEY: i64 = 853003;
/// `signature` does not match the one DingTalk computes.
pub(crate) const SIGNATURE_MISMATCH: i64 = 853004;
/// The suite ticket is refused (not the latest pushed, or expired).
pub(crate) const SUITE_TICKET_REFUSED: i64 = 853005;

/// What each 853xxx errcode means, for the error's detail.
fn explain(errcode: i64) -> Option<&'static str> {
    Some(match errcode {
        TIMESTAMP_MALFORMED => "timestamp is not a millisecond Unix time",
        TIMESTAMP_OUT_OF_RANGE => {
            "timestamp is more than a minute away from DingTalk's clock; check the host's clock"
        }
        UNKNOWN_ACCESS_KEY => "accessKey is not a known suite key",
        SIGNATURE_MISMATCH => "signature mismatch; check the suite secret",
        SUITE_TICKET_REFUSED => {
            "the suite ticket was refused (not the latest DingTalk pushed, or expired)"
        }
        _ => return None,
    })
}

/// Where the latest suite ticket comes from.
///
/// `Ok(None)` means DingTalk has not pushed one yet: the fetch fails with
/// [`Error::NotConfigured`] without calling DingTalk. Implemented by [`SuiteTicket`] and by
/// closures `Fn() -> Option<String>`:
///
/// ```
/// use dingtalk_login::dingtalk::SuiteTicketSource;
///
/// fn takes(_: impl SuiteTicketSource) {}
/// takes(|| std::env::var("SUITE_TICKET").ok());
/// ```
pub trait SuiteTicketSource: Send + Sync + 'static {
    /// The latest ticket, if there is one.
    fn suite_ticket(&self) -> BoxFuture<'_, Result<Option<String>, Error>>;
}

impl<F> SuiteTicketSource for F
where
    F: Fn() -> Option<String> + Send + Sync + 'static,
{
    fn suite_ticket(&self) -> BoxFuture<'_, Result<Option<String>, Error>> {
        Box::pin(std::future::ready(Ok(self())))
    }
}

/// The latest suite ticket, held in memory: the app's callback handler [`set`](Self::set)s each
/// ticket DingTalk pushes. Clones share the ticket.
///
/// ```
/// use dingtalk_login::dingtalk::SuiteTicket;
///
/// let ticket = SuiteTicket::new();
/// assert_eq!(ticket.get(), None);
/// ticket.clone().set("pushed-ticket");
/// assert_eq!(ticket.get().as_deref(), Some("pushed-ticket"));
/// assert_eq!(format!("{ticket:?}"), "SuiteTicket(<redacted>)");
/// ```
#[derive(Clone, Default)]
pub struct SuiteTicket {
    latest: Arc<RwLock<Option<String>>>,
}

impl SuiteTicket {
    /// No ticket yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the ticket with the one DingTalk just pushed.
    pub fn set(&self, ticket: impl Into<String>) {
        *self.latest.write().unwrap_or_else(|p| p.into_inner()) = Some(ticket.into());
    }

    /// The latest ticket.
    pub fn get(&self) -> Option<String> {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl fmt::Debug for SuiteTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuiteTicket(<redacted>)")
    }
}

impl SuiteTicketSource for SuiteTicket {
    fn suite_ticket(&self) -> BoxFuture<'_, Result<Option<String>, Error>> {
        Box::pin(std::future::ready(Ok(self.get())))
    }
}

/// The `signature` of a `get_corp_token` call: Base64 (standard alphabet, padded) of
/// HMAC-SHA256(suite secret, `"{timestamp_ms}\n{suite_ticket}"`).
///
/// This is the value *before* URL encoding: it goes into the query as it is, and the query
/// encoding turns `+`, `/` and `=` into `%2B`, `%2F` and `%3D` exactly once. Encoding it here
/// as well would send `%252B` and be refused with 853004.
pub(crate) fn signature(suite_secret: &AppSecret, timestamp_ms: i64, suite_ticket: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(suite_secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(format!("{timestamp_ms}\n{suite_ticket}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Fetches an authorising organisation's corp token with the suite's credentials.
///
/// A [`TokenFetcher`]: wrap it in an [`AccessTokenCache`](super::AccessTokenCache) and give
/// that to [`ConfigBuilder::token_source`](crate::config::ConfigBuilder::token_source) (see the
/// module docs of `dingtalk`).
pub struct CorpTokenFetcher {
    transport: Transport,
    url: String,
    suite_key: String,
    suite_secret: AppSecret,
    auth_corpid: String,
    tickets: Arc<dyn SuiteTicketSource>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CorpTokenFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorpTokenFetcher")
            .field("url", &self.url)
            .field("suite_key", &self.suite_key)
            .field("suite_secret", &self.suite_secret)
            .field("auth_corpid", &self.auth_corpid)
            .finish_non_exhaustive()
    }
}

impl CorpTokenFetcher {
    /// Starts a fetcher for the suite `suite_key`/`suite_secret` and the organisation
    /// `auth_corpid`, reading tickets from `tickets`.
    pub fn builder(
        suite_key: impl Into<String>,
        suite_secret: impl Into<AppSecret>,
        auth_corpid: impl Into<String>,
        tickets: impl SuiteTicketSource,
    ) -> CorpTokenFetcherBuilder {
        CorpTokenFetcherBuilder {
            oapi_url: OAPI_CHINA.to_owned(),
            suite_key: suite_key.into(),
            suite_secret: suite_secret.into(),
            auth_corpid: auth_corpid.into(),
            tickets: Arc::new(tickets),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The organisation whose token this fetches.
    pub fn auth_corpid(&self) -> &str {
        &self.auth_corpid
    }

    async fn fetch_token(&self) -> Result<FetchedToken, Error> {
        let ticket = self
            .tickets
            .suite_ticket()
            .await?
            .filter(|t| !t.is_empty())
            .ok_or(Error::NotConfigured(
                "the ISV suite ticket (DingTalk has not pushed one yet)",
            ))?;
        let body = json!({ "auth_corpid": self.auth_corpid });
        let build = |http: &reqwest::Client| {
            // Per attempt: DingTalk refuses a timestamp more than a minute old (853002).
            let now = self.clock.now();
            let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
            let signature = signature(&self.suite_secret, ms, &ticket);
            http.post(&self.url)
                .query(&[
                    ("accessKey", self.suite_key.as_str()),
                    ("timestamp", &ms.to_string()),
                    ("suiteTicket", &ticket),
                    ("signature", &signature),
                ])
                .json(&body)
        };
        let value =
            self.transport
                .call(API, build, judge_oapi)
                .await
                .map_err(|e| match Error::from(e) {
                    Error::UpstreamError(mut d) => {
                        if let Some(why) = d.errcode.and_then(explain) {
                            d.errmsg = Some(match d.errmsg.take() {
                                Some(said) => format!("{why} (DingTalk: {said})"),
                                None => why.to_owned(),
                            });
                        }
                        Error::UpstreamError(d)
                    }
                    e => e,
                })?;
        let result: GetTokenResult = parse_payload(API, &value)?;
        Ok(FetchedToken {
            token: AccessToken::new(result.access_token),
            expires_in: lifetime(result.expires_in),
        })
    }
}

impl TokenFetcher for CorpTokenFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, Error>> {
        Box::pin(self.fetch_token())
    }
}

/// Configures a [`CorpTokenFetcher`]. Start with [`CorpTokenFetcher::builder`].
#[must_use]
pub struct CorpTokenFetcherBuilder {
    oapi_url: String,
    suite_key: String,
    suite_secret: AppSecret,
    auth_corpid: String,
    tickets: Arc<dyn SuiteTicketSource>,
    timeout: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CorpTokenFetcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorpTokenFetcherBuilder")
            .field("oapi_url", &self.oapi_url)
            .field("suite_key", &self.suite_key)
            .field("suite_secret", &self.suite_secret)
            .field("auth_corpid", &self.auth_corpid)
            .finish_non_exhaustive()
    }
}

impl CorpTokenFetcherBuilder {
    /// The OAPI base URL. Default `https://oapi.dingtalk.com`.
    pub fn oapi_url(mut self, url: impl Into<String>) -> Self {
        self.oapi_url = url.into();
        self
    }

    /// The timeout of one call. Default 5 s.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How transient failures are retried. Default [`RetryPolicy::default`].
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The clock `timestamp` is read from. Default the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates the settings and builds the fetcher.
    ///
    /// # Errors
    /// [`ConfigError`] for an empty suite key, suite secret or corp id, a URL that is not
    /// http(s), or a zero timeout.
    pub fn build(self) -> Result<CorpTokenFetcher, ConfigError> {
        if self.suite_key.is_empty() {
            return Err(ConfigError::Missing("suite_key"));
        }
        if self.suite_secret.expose().is_empty() {
            return Err(ConfigError::Missing("suite_secret"));
        }
        if self.auth_corpid.is_empty() {
            return Err(ConfigError::Missing("auth_corpid"));
        }
        let oapi = parse_base_url("oapi_url", &self.oapi_url)?;
        Ok(CorpTokenFetcher {
            transport: Transport::new(self.timeout, self.retry)?,
            url: format!("{oapi}/service/get_corp_token"),
            suite_key: self.suite_key,
            suite_secret: self.suite_secret,
            auth_corpid: self.auth_corpid,
            tickets: self.tickets,
            clock: self.clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn hmac_sha256(secret: &str, s: &[u8]) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(s);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn corp_token_signature_matches_an_independent_computation() {
        let by_hand = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256("suite-secret", b"1700000000000\nticket-abc"));
        let ours = signature(
            &AppSecret::new("suite-secret"),
            1_700_000_000_000,
            "ticket-abc",
        );
        assert_eq!(ours, by_hand);
        // Python: base64.b64encode(hmac.new(b"suite-secret", b"1700000000000\nticket-abc", sha256))
        assert_eq!(ours, "pwIgLhVPY+L2+FIZbnM9m5JKkHPZm6ycnzwzaq6iuPQ=");
    }

    #[test]
    fn the_signature_is_url_encoded_exactly_once_in_the_query() {
        let sig = signature(
            &AppSecret::new("suite-secret"),
            1_700_000_000_000,
            "ticket-abc",
        );
        assert!(sig.contains('+') && sig.ends_with('='), "{sig}");
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:9/service/get_corp_token")
            .query(&[("signature", sig.as_str())])
            .build()
            .unwrap();
        assert_eq!(
            request.url().query(),
            Some("signature=pwIgLhVPY%2BL2%2BFIZbnM9m5JKkHPZm6ycnzwzaq6iuPQ%3D")
        );
    }

    #[test]
    fn every_documented_errcode_is_explained() {
        for code in 853001..=853005 {
            assert!(explain(code).is_some(), "{code}");
        }
        assert!(explain(853006).is_none());
    }
}
