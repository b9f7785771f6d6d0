//! The app's DingTalk `access_token`: fetched once, shared, refreshed ahead of expiry, and
//! replaced when DingTalk says it is no longer valid.
//!
//! [`TokenSource`] is what the client asks for a token; [`AccessTokenCache`] is the in-process
//! implementation over any [`TokenFetcher`] (the internal app's `gettoken` here, the ISV corp
//! token elsewhere). A cluster-wide cache implements [`TokenSource`] itself.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Expiring, ExpiringCache};
use crate::clock::Clock;
use crate::dingtalk::transport::{judge_api, judge_oapi, parse_payload, Transport};
use crate::dingtalk::wire::GetTokenResult;
use crate::error::Error;
use crate::secret::{AccessToken, AppSecret};
use crate::BoxFuture;

/// DingTalk's documented token life, used when `expires_in` is absent or not positive.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(7200);

/// Where the client gets its access token.
///
/// Implementations must hand out one token to many concurrent callers and fetch a new one at
/// most once at a time.
pub trait TokenSource: Send + Sync + 'static {
    /// A token that is valid now.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, Error>>;

    /// DingTalk refused `failed` (40001, 40014, 42001, 33001): forget it, but only if the
    /// cache still holds that very token — another caller may already have replaced it.
    fn invalidate<'a>(&'a self, failed: &'a AccessToken) -> BoxFuture<'a, ()>;
}

/// A freshly fetched token and how long DingTalk says it lives.
#[derive(Debug, Clone)]
pub struct FetchedToken {
    /// The token.
    pub token: AccessToken,
    /// Its lifetime from now.
    pub expires_in: Duration,
}

/// Fetches a new token from upstream (no caching).
pub trait TokenFetcher: Send + Sync + 'static {
    /// One fetch.
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, Error>>;
}

// So a boxed fetcher (what `ConfigBuilder::token_cache` hands out) fits every cache.
impl<T: TokenFetcher + ?Sized> TokenFetcher for Box<T> {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, Error>> {
        (**self).fetch()
    }
}

/// `GET {oapi}/gettoken?appkey=..&appsecret=..` for an internal app.
#[derive(Debug, Clone)]
pub struct AppTokenFetcher {
    transport: Transport,
    url: String,
    app_key: String,
    app_secret: AppSecret,
}

impl AppTokenFetcher {
    pub(crate) fn new(
        transport: Transport,
        oapi: &str,
        app_key: String,
        app_secret: AppSecret,
    ) -> Self {
        Self {
            transport,
            url: format!("{oapi}/gettoken"),
            app_key,
            app_secret,
        }
    }
}

impl TokenFetcher for AppTokenFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, Error>> {
        Box::pin(async move {
            let value = self
                .transport
                .call(
                    "gettoken",
                    |http| {
                        http.get(&self.url).query(&[
                            ("appkey", self.app_key.as_str()),
                            ("appsecret", self.app_secret.expose()),
                        ])
                    },
                    judge_oapi,
                )
                .await?;
            let result: GetTokenResult = parse_payload("gettoken", &value)?;
            Ok(FetchedToken {
                token: AccessToken::new(result.access_token),
                expires_in: lifetime(result.expires_in),
            })
        })
    }
}

/// Which DingTalk endpoint the app's own access token comes from.
///
/// Both give the same kind of token: it is valid as `?access_token=` on OAPI calls and as the
/// `x-acs-dingtalk-access-token` header on new-style API calls.
///
/// ```
/// use dingtalk_login::dingtalk::TokenApi;
///
/// assert_eq!(TokenApi::default(), TokenApi::Oapi);
/// assert_eq!("v1".parse::<TokenApi>(), Ok(TokenApi::V1));
/// let login = dingtalk_login::DingTalkLogin::builder()
///     .app_key("k")
///     .app_secret("s")
///     .session_secret("a session key of at least 32 bytes!")
///     .token_api(TokenApi::V1)
///     .build();
/// assert!(login.is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenApi {
    /// `GET {oapi}/gettoken?appkey=..&appsecret=..` (the default).
    #[default]
    Oapi,
    /// `POST {api}/v1.0/oauth2/accessToken` with `{"appKey","appSecret"}`; no `gettoken` call
    /// is made at all.
    V1,
}

impl std::str::FromStr for TokenApi {
    type Err = String;

    /// `oapi` or `v1`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "oapi" => Ok(Self::Oapi),
            "v1" => Ok(Self::V1),
            other => Err(format!("unknown token API {other:?}")),
        }
    }
}

/// `POST {api}/v1.0/oauth2/accessToken` with `{"appKey","appSecret"}` for an internal app.
#[derive(Debug, Clone)]
pub(crate) struct V1AppTokenFetcher {
    transport: Transport,
    url: String,
    app_key: String,
    app_secret: AppSecret,
}

impl V1AppTokenFetcher {
    pub(crate) fn new(
        transport: Transport,
        api: &str,
        app_key: String,
        app_secret: AppSecret,
    ) -> Self {
        Self {
            transport,
            url: format!("{api}/v1.0/oauth2/accessToken"),
            app_key,
            app_secret,
        }
    }
}

/// `{accessToken, expireIn}`, `expireIn` possibly a string.
#[serde_with::serde_as]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1TokenResult {
    access_token: String,
    #[serde_as(as = "Option<serde_with::PickFirst<(_, serde_with::DisplayFromStr)>>")]
    #[serde(default)]
    expire_in: Option<i64>,
}

impl TokenFetcher for V1AppTokenFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, Error>> {
        Box::pin(async move {
            let body = serde_json::json!({
                "appKey": self.app_key,
                "appSecret": self.app_secret.expose(),
            });
            let value = self
                .transport
                .call(
                    "access_token_v1",
                    |http| http.post(&self.url).json(&body),
                    judge_api,
                )
                .await?;
            let result: V1TokenResult = parse_payload("access_token_v1", &value)?;
            Ok(FetchedToken {
                token: AccessToken::new(result.access_token),
                expires_in: lifetime(result.expire_in),
            })
        })
    }
}

/// `expires_in` as a duration; ≤ 0 or absent means DingTalk's documented 7200 s.
pub(crate) fn lifetime(expires_in: Option<i64>) -> Duration {
    match expires_in {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
        _ => DEFAULT_TOKEN_LIFETIME,
    }
}

/// The in-process token cache: one fetch in flight, refresh ahead of expiry with jitter, and
/// invalidation only of the token that failed.
///
/// - A valid token is read under a read lock: no await, no allocation beyond the clone.
/// - In the refresh window (the last ~5 minutes of the token's life, jittered), one caller
///   refreshes while the others keep using the still-valid token.
/// - With no valid token, callers queue on one lock; the first fetches, the rest re-check and
///   take its token, or its error: a failed fetch is shared with every caller for about a
///   second, so a wrong app secret costs a handful of `gettoken` calls, not one per login.
pub struct AccessTokenCache<F> {
    fetcher: F,
    cache: ExpiringCache<AccessToken>,
}

impl<F: TokenFetcher> AccessTokenCache<F> {
    /// A cache over `fetcher`, reading time from `clock`.
    pub fn new(fetcher: F, clock: Arc<dyn Clock>) -> Self {
        Self {
            fetcher,
            cache: ExpiringCache::new(clock),
        }
    }
}

impl<F: TokenFetcher> TokenSource for AccessTokenCache<F> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, Error>> {
        Box::pin(self.cache.get_or_fetch(|| async {
            let fetched = self.fetcher.fetch().await?;
            Ok(Expiring::new(fetched.token, fetched.expires_in))
        }))
    }

    fn invalidate<'a>(&'a self, failed: &'a AccessToken) -> BoxFuture<'a, ()> {
        self.cache.invalidate_if(failed);
        Box::pin(std::future::ready(()))
    }
}

impl<F> std::fmt::Debug for AccessTokenCache<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenCache").finish_non_exhaustive()
    }
}
