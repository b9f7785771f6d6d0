//! The one builder for everything a login needs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::dingtalk::token::V1AppTokenFetcher;
use crate::dingtalk::transport::Transport;
use crate::dingtalk::{
    AccessTokenCache, AppTokenFetcher, DingTalkClient, RetryPolicy, TokenApi, TokenFetcher,
    TokenSource,
};
use crate::dingtalk::{API_CHINA, LOGIN_CHINA, OAPI_CHINA, OAPI_INTERNATIONAL};
use crate::enrich::{EnrichHook, Enricher};
use crate::error::ConfigError;
use crate::jsapi::{Jsapi, JsapiSignMethod, TicketFetcher};
use crate::login::{DingTalkLogin, WebLogin};
use crate::secret::{AppSecret, SessionSecret};
use crate::session::codec::CodecParts;
use crate::session::{CookieSettings, SameSite, SessionCodec, SigningKey, VerifyingKey};
use crate::store::{MemoryReplayGuard, MemoryRevocation, ReplayGuard, Revocation};

/// Builds a [`DingTalkLogin`]. Start with [`DingTalkLogin::builder`].
///
/// Required: the app's key and secret (or a [`TokenSource`]) and a session key. Everything
/// else has a safe default, listed on each setter. [`ConfigBuilder::build`] validates it all:
/// URLs parse, keys are long enough, and the JWT backend passes a sign-and-verify self-test.
///
/// ```
/// use std::time::Duration;
/// use dingtalk_login::DingTalkLogin;
///
/// let login = DingTalkLogin::builder()
///     .app_key("dingxxxxxxxx")
///     .app_secret("app-secret")
///     .session_secret("a session key of at least 32 bytes!")
///     .session_ttl(Duration::from_secs(4 * 3600))
///     .build()
///     .unwrap();
/// # let _ = login;
/// ```
#[must_use]
pub struct ConfigBuilder {
    app_key: Option<String>,
    app_secret: Option<AppSecret>,
    oapi_url: String,
    timeout: Duration,
    retry: RetryPolicy,
    signing_key: Option<Result<SigningKey, ConfigError>>,
    verification_keys: Vec<VerifyingKey>,
    session_ttl: Duration,
    session_max_age: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    cookie: CookieSettings,
    token_source: Option<Arc<dyn TokenSource>>,
    token_cache: Option<TokenCache>,
    replay_guard: Option<Arc<dyn ReplayGuard>>,
    revocation: Option<Arc<dyn Revocation>>,
    clock: Arc<dyn Clock>,
    enrich: Option<EnrichHook>,
    session_cache_capacity: usize,
    api_url: String,
    public_url: Option<String>,
    token_api: TokenApi,
    agent_id: Option<String>,
    corp_id: Option<String>,
    jsapi_sign_method: JsapiSignMethod,
    jsapi_ticket_cache: Option<TokenCache>,
    login_url: String,
    redirect_html: bool,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("oapi_url", &self.oapi_url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("session_ttl", &self.session_ttl)
            .field("session_max_age", &self.session_max_age)
            .field("cookie", &self.cookie)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .field("token_api", &self.token_api)
            .field("agent_id", &self.agent_id)
            .field("corp_id", &self.corp_id)
            .field("jsapi_sign_method", &self.jsapi_sign_method)
            .field("login_url", &self.login_url)
            .field("redirect_html", &self.redirect_html)
            .finish_non_exhaustive()
    }
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self {
            app_key: None,
            app_secret: None,
            oapi_url: OAPI_CHINA.into(),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            signing_key: None,
            verification_keys: Vec::new(),
            session_ttl: Duration::from_secs(8 * 3600),
            session_max_age: Duration::from_secs(7 * 24 * 3600),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(60),
            cookie: CookieSettings::default(),
            token_source: None,
            token_cache: None,
            replay_guard: None,
            revocation: None,
            clock: Arc::new(SystemClock),
            enrich: None,
            session_cache_capacity: 10_000,
            api_url: API_CHINA.into(),
            public_url: None,
            token_api: TokenApi::default(),
            agent_id: None,
            corp_id: None,
            jsapi_sign_method: JsapiSignMethod::default(),
            jsapi_ticket_cache: None,
            login_url: LOGIN_CHINA.into(),
            redirect_html: false,
        }
    }
}

impl ConfigBuilder {
    /// The internal app's `AppKey`. Required unless a [`token_source`](Self::token_source) is set.
    pub fn app_key(mut self, key: impl Into<String>) -> Self {
        self.app_key = Some(key.into());
        self
    }

    /// The internal app's `AppSecret`. Required unless a [`token_source`](Self::token_source) is set.
    pub fn app_secret(mut self, secret: impl Into<AppSecret>) -> Self {
        self.app_secret = Some(secret.into());
        self
    }

    /// The OAPI base URL. Default `https://oapi.dingtalk.com`.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().oapi_url("http://127.0.0.1:8080");
    /// # let _ = b;
    /// ```
    pub fn oapi_url(mut self, url: impl Into<String>) -> Self {
        self.oapi_url = url.into();
        self
    }

    /// Uses DingTalk's international host, `https://oapi.dingtalk.io`.
    pub fn international(self) -> Self {
        self.oapi_url(OAPI_INTERNATIONAL)
    }

    /// The timeout of one upstream call. Default 5 s. A timed-out call is not retried.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How transient upstream failures are retried. Default [`RetryPolicy::default`].
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Signs sessions with HS256 over these bytes (at least 32; checked at `build`).
    pub fn session_secret(mut self, secret: impl Into<SessionSecret>) -> Self {
        self.signing_key = Some(SigningKey::hs256(secret));
        self
    }

    /// Signs sessions with this key (HS256, RS256, ES256 or EdDSA).
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(Ok(key));
        self
    }

    /// Also accepts sessions signed with this key (a retired key during a rotation). A token
    /// with a `kid` is checked against the key of that `kid` only; a token without one against
    /// every key of its algorithm. Two keys with the same `kid` are refused at `build()`.
    pub fn verification_key(mut self, key: VerifyingKey) -> Self {
        self.verification_keys.push(key);
        self
    }

    /// Session lifetime. Default 8 hours.
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// How long a session may be kept alive by refreshing (`POST /auth/refresh`,
    /// [`DingTalkLogin::refresh`]), counted from the DingTalk login (`auth_time`). Default 7
    /// days.
    ///
    /// Every token's `exp` is at most `auth_time` + max age, a refresh past it answers 401,
    /// and the person logs in again (inside DingTalk that is a silent `dd.getAuthCode`). It
    /// also bounds how long a user revocation is remembered.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = dingtalk_login::DingTalkLogin::builder().session_max_age(Duration::from_secs(86_400));
    /// # let _ = b;
    /// ```
    pub fn session_max_age(mut self, max_age: Duration) -> Self {
        self.session_max_age = max_age;
        self
    }

    /// Sets the `iss` claim and requires it on verification. Default none.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the `aud` claim and requires it on verification. Default none.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`. Default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The session cookie's name. Default `dingtalk_session`.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie.name = name.into();
        self
    }

    /// The session cookie's `Secure` flag. Default on.
    ///
    /// # Warning
    /// Turn it off only for plain-http development: without it the session travels in clear.
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// The session cookie's `SameSite`. Default `Lax`.
    ///
    /// # Warning
    /// `SameSite::None` sends the session on cross-site requests; keep the origin check on.
    pub fn cookie_same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// The session cookie's `Path`. Default `/`.
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// The session cookie's `Domain`. Default none (host-only).
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie.domain = Some(domain.into());
        self
    }

    /// Where access tokens come from. Default: an [`AccessTokenCache`] over `gettoken` with the
    /// app key and secret. Set it for an ISV corp token or a cluster-wide cache.
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.token_source = Some(source);
        self
    }

    /// Caches the app's own `gettoken` fetcher (built from the app key and secret) in the
    /// [`TokenSource`] `wrap` returns, instead of the in-process [`AccessTokenCache`]: e.g. a
    /// cluster-wide cache such as `store::redis::RedisTokenSource` (feature `redis`). Ignored
    /// when a [`token_source`](Self::token_source) is set. Default none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use dingtalk_login::clock::SystemClock;
    /// use dingtalk_login::dingtalk::AccessTokenCache;
    ///
    /// let login = dingtalk_login::DingTalkLogin::builder()
    ///     .app_key("k")
    ///     .app_secret("s")
    ///     .session_secret("a session key of at least 32 bytes!")
    ///     .token_cache(|fetcher| Arc::new(AccessTokenCache::new(fetcher, Arc::new(SystemClock))))
    ///     .build();
    /// assert!(login.is_ok());
    /// ```
    pub fn token_cache(
        mut self,
        wrap: impl FnOnce(Box<dyn TokenFetcher>) -> Arc<dyn TokenSource> + Send + 'static,
    ) -> Self {
        self.token_cache = Some(Box::new(wrap));
        self
    }

    /// The replay guard. Default [`MemoryReplayGuard`] (one instance only).
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay_guard = Some(guard);
        self
    }

    /// The revocation set. Default [`MemoryRevocation`] (one instance only).
    pub fn revocation(mut self, revocation: Arc<dyn Revocation>) -> Self {
        self.revocation = Some(revocation);
        self
    }

    /// Adds extension claims to each session at login (see [`crate::enrich`]). Default none.
    ///
    /// If the enricher fails, the login still succeeds without extension claims and a warning
    /// is logged; use [`enrich_required`](Self::enrich_required) to fail the login instead.
    /// Wrap the enricher in a [`CachedEnricher`](crate::enrich::CachedEnricher) to make at most
    /// one upstream call per user per TTL.
    ///
    /// ```
    /// use dingtalk_login::enrich::from_fn;
    /// use serde_json::{json, Map};
    ///
    /// let b = dingtalk_login::DingTalkLogin::builder().enrich(from_fn(|_user| async {
    ///     Ok(Map::from_iter([("org_code".to_owned(), json!("ding123abc"))]))
    /// }));
    /// # let _ = b;
    /// ```
    pub fn enrich(mut self, enricher: impl Enricher) -> Self {
        self.enrich = Some(EnrichHook::new(enricher, false));
        self
    }

    /// Like [`enrich`](Self::enrich), but an enricher failure fails the login with that error.
    /// Default none.
    ///
    /// # Warning
    /// The login code is spent by then (DingTalk accepted it): the user has to get a new one,
    /// and a directory outage locks everybody out.
    ///
    /// ```
    /// use dingtalk_login::enrich::from_fn;
    /// use dingtalk_login::Error;
    ///
    /// let b = dingtalk_login::DingTalkLogin::builder()
    ///     .enrich_required(from_fn(|_user| async { Err(Error::NotConfigured("directory")) }));
    /// # let _ = b;
    /// ```
    pub fn enrich_required(mut self, enricher: impl Enricher) -> Self {
        self.enrich = Some(EnrichHook::new(enricher, true));
        self
    }

    /// The clock for token expiry and session times. Default the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many verified session tokens to remember, so a repeat request skips the signature
    /// and JSON work (it still checks `exp` and revocation). Default 10,000 (a few MiB at
    /// most); `0` turns the cache off.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().session_cache_capacity(0);
    /// # let _ = b;
    /// ```
    pub fn session_cache_capacity(mut self, capacity: usize) -> Self {
        self.session_cache_capacity = capacity;
        self
    }

    /// The new-style API base URL. Default `https://api.dingtalk.com`.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().api_url("http://127.0.0.1:8080");
    /// # let _ = b;
    /// ```
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// The app's public URL (e.g. `https://app.example.com`). Default none.
    ///
    /// Its origin is the one the JSAPI route signs page URLs for, together with the login
    /// routes' allowed origins; without either, the request's own origin.
    ///
    /// It also turns the browser (web, QR code) login on: DingTalk sends the browser back to
    /// `{public_url}/auth/dingtalk/web/callback`, the redirect URL to register in the
    /// DingTalk developer console. Without it `GET /auth/dingtalk/web` and its callback answer
    /// 503 `not_configured`.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().public_url("https://app.example.com");
    /// # let _ = b;
    /// ```
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// The base URL of DingTalk's web login page, where `GET /auth/dingtalk/web` sends the
    /// browser (`{login_url}/oauth2/auth?..`). Default `https://login.dingtalk.com`.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().login_url("http://127.0.0.1:8080");
    /// # let _ = b;
    /// ```
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = url.into();
        self
    }

    /// Sends a browser to the web login instead of answering 401: a `GET` without a valid
    /// session whose `Accept` names `text/html` and not `application/json` (a page
    /// navigation, not a `fetch`) is answered 302 to `/auth/dingtalk/web?next=<path and
    /// query>` by every guard and extractor that would have answered 401. APIs keep their 401.
    /// Only when web login is configured ([`public_url`](Self::public_url)). Default off.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder()
    ///     .public_url("https://app.example.com")
    ///     .redirect_html_to_web_login(true);
    /// # let _ = b;
    /// ```
    pub fn redirect_html_to_web_login(mut self, on: bool) -> Self {
        self.redirect_html = on;
        self
    }

    /// Where the app's own access token comes from. Default [`TokenApi::Oapi`] (`gettoken`).
    /// Also picks the JSAPI ticket's endpoint (`get_jsapi_ticket` or `v1.0/oauth2/jsapiTickets`).
    ///
    /// ```
    /// use dingtalk_login::dingtalk::TokenApi;
    /// let b = dingtalk_login::DingTalkLogin::builder().token_api(TokenApi::V1);
    /// # let _ = b;
    /// ```
    pub fn token_api(mut self, api: TokenApi) -> Self {
        self.token_api = api;
        self
    }

    /// The micro-app's `agentId`, answered to `dd.config` by the JSAPI route. Default none:
    /// the route answers 503 `not_configured`.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().agent_id("1234567890").corp_id("dingcorp");
    /// # let _ = b;
    /// ```
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// The organisation's `corpId`. Default none: the JSAPI route answers 503
    /// `not_configured`.
    ///
    /// ```
    /// let b = dingtalk_login::DingTalkLogin::builder().corp_id("dingcorp");
    /// # let _ = b;
    /// ```
    pub fn corp_id(mut self, corp_id: impl Into<String>) -> Self {
        self.corp_id = Some(corp_id.into());
        self
    }

    /// The digest of JSAPI signatures. Default [`JsapiSignMethod::Sha256`].
    ///
    /// ```
    /// use dingtalk_login::jsapi::JsapiSignMethod;
    /// let b = dingtalk_login::DingTalkLogin::builder().jsapi_sign_method(JsapiSignMethod::Sha1);
    /// # let _ = b;
    /// ```
    pub fn jsapi_sign_method(mut self, method: JsapiSignMethod) -> Self {
        self.jsapi_sign_method = method;
        self
    }

    /// Caches the JSAPI ticket fetcher in the source `wrap` returns instead of the in-process
    /// cache (the Redis stores share it across instances).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn jsapi_ticket_cache(
        mut self,
        wrap: impl FnOnce(Box<dyn TokenFetcher>) -> Arc<dyn TokenSource> + Send + 'static,
    ) -> Self {
        self.jsapi_ticket_cache = Some(Box::new(wrap));
        self
    }

    /// Validates the settings and builds the login.
    ///
    /// With the `metrics` feature, install your `metrics` recorder before this call: the
    /// session-verification counters are taken from it here, once (README, "Operating it").
    ///
    /// # Errors
    /// [`ConfigError`] for a missing app key/secret or session key, a session key shorter than
    /// 32 bytes, an unparsable URL, a zero timeout, or a JWT backend that fails its self-test.
    ///
    /// ```
    /// use dingtalk_login::DingTalkLogin;
    ///
    /// let err = DingTalkLogin::builder()
    ///     .app_key("k").app_secret("s")
    ///     .session_secret("too short")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("32 bytes"));
    /// ```
    pub fn build(self) -> Result<DingTalkLogin, ConfigError> {
        let oapi = parse_base_url("oapi_url", &self.oapi_url)?;
        let api = parse_base_url("api_url", &self.api_url)?;
        let login_url = parse_base_url("login_url", &self.login_url)?;
        let public_url = self
            .public_url
            .as_deref()
            .map(|u| parse_base_url("public_url", u))
            .transpose()?;
        let public_origin = public_url.as_deref().map(origin_of);
        // The web login presents the app's own credentials; an app whose token comes from a
        // `token_source` (an ISV corp token) has none to present.
        let web_client = match (&self.token_source, &self.app_key, &self.app_secret) {
            (None, Some(key), Some(secret)) => Some((key.clone(), secret.clone())),
            _ => None,
        };
        if self.session_ttl.is_zero() {
            return Err(ConfigError::Invalid {
                name: "session_ttl",
                reason: "must be more than zero".into(),
            });
        }
        if self.session_max_age.is_zero() {
            return Err(ConfigError::Invalid {
                name: "session_max_age",
                reason: "must be more than zero".into(),
            });
        }
        let signing = self
            .signing_key
            .ok_or(ConfigError::Missing("session_secret"))??;
        let transport = Transport::new(self.timeout, self.retry)?;
        let tokens: Arc<dyn TokenSource> = match self.token_source {
            Some(source) => source,
            None => {
                let key = self.app_key.ok_or(ConfigError::Missing("app_key"))?;
                let secret = self.app_secret.ok_or(ConfigError::Missing("app_secret"))?;
                if key.is_empty() {
                    return Err(ConfigError::Missing("app_key"));
                }
                if secret.expose().is_empty() {
                    return Err(ConfigError::Missing("app_secret"));
                }
                let fetcher: Box<dyn TokenFetcher> = match self.token_api {
                    TokenApi::Oapi => {
                        Box::new(AppTokenFetcher::new(transport.clone(), &oapi, key, secret))
                    }
                    TokenApi::V1 => {
                        Box::new(V1AppTokenFetcher::new(transport.clone(), &api, key, secret))
                    }
                };
                match self.token_cache {
                    Some(wrap) => wrap(fetcher),
                    None => Arc::new(AccessTokenCache::new(fetcher, self.clock.clone())),
                }
            }
        };
        let revocation = self
            .revocation
            .unwrap_or_else(|| Arc::new(MemoryRevocation::with_clock(self.clock.clone())));
        let replay = self
            .replay_guard
            .unwrap_or_else(|| Arc::new(MemoryReplayGuard::with_clock(self.clock.clone())));
        let sessions = SessionCodec::new(CodecParts {
            signing,
            extra_verifiers: self.verification_keys,
            ttl: self.session_ttl,
            max_age: self.session_max_age,
            leeway: self.leeway,
            issuer: self.issuer,
            audience: self.audience,
            clock: self.clock.clone(),
            revocation,
            cache_capacity: self.session_cache_capacity,
        })?;
        let client =
            DingTalkClient::new(transport.clone(), &oapi, &api, tokens, self.clock.clone());
        let tickets = TicketFetcher::new(client.clone(), self.token_api);
        let tickets: Arc<dyn TokenSource> = match self.jsapi_ticket_cache {
            Some(wrap) => wrap(Box::new(tickets)),
            None => Arc::new(AccessTokenCache::new(tickets, self.clock.clone())),
        };
        let jsapi = Jsapi {
            agent_id: self.agent_id.filter(|a| !a.is_empty()),
            corp_id: self.corp_id.filter(|c| !c.is_empty()),
            method: self.jsapi_sign_method,
            tickets,
            clock: self.clock.clone(),
        };
        let web = WebLogin {
            public_url,
            login_url,
            client: web_client,
            corp_id: jsapi.corp_id.clone(),
            redirect_html: self.redirect_html,
        };
        Ok(DingTalkLogin::from_parts(
            client,
            transport,
            sessions,
            replay,
            self.cookie,
            self.enrich,
            jsapi,
            public_origin,
            web,
        ))
    }
}

/// What [`ConfigBuilder::token_cache`] keeps until `build`.
type TokenCache = Box<dyn FnOnce(Box<dyn TokenFetcher>) -> Arc<dyn TokenSource> + Send>;

/// The origin (`scheme://host[:port]`, default port left out) of a URL that parsed.
pub(crate) fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Parses an http(s) base URL and returns it without a trailing `/`.
pub(crate) fn parse_base_url(name: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(raw).map_err(|e| ConfigError::InvalidUrl {
        name,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidUrl {
            name,
            reason: format!("scheme {:?} is not http or https", url.scheme()),
        });
    }
    Ok(raw.trim_end_matches('/').to_owned())
}
