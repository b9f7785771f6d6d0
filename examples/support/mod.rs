//! What the example apps share: the contract environment, read once, and logging.
//!
//! Used by `axum_app` and `actix_app` as `mod support;`, and by the tests through
//! `#[path = "../examples/axum_app.rs"] mod axum_app;`: a `#[path]` module counts as a
//! `mod.rs` file, so its `mod support;` still finds this file.
#![allow(dead_code)]

#[cfg(feature = "metrics")]
pub mod metrics;

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use dingtalk_login::dingtalk::TokenApi;
use dingtalk_login::employee::EmployeeClient;
use dingtalk_login::jsapi::JsapiSignMethod;
use dingtalk_login::top::{AccountQuery, SignMethod, TopClient};
use dingtalk_login::web::LoginRoutes;
use dingtalk_login::{DingTalkLogin, Error};
use rand::TryRngCore;
use serde_json::Value;

/// The shortest `SESSION_SECRET` accepted, in bytes (HS256 wants at least its output size).
pub const MIN_SESSION_SECRET: usize = 32;

/// The environment of the HTTP contract, parsed and checked.
#[derive(Clone)]
pub struct AppEnv {
    /// `BIND`, default `127.0.0.1:3000`.
    pub bind: SocketAddr,
    /// `DINGTALK_APP_KEY` (required).
    pub app_key: String,
    /// `DINGTALK_APP_SECRET` (required).
    pub app_secret: String,
    /// `DINGTALK_OAPI_URL`, default `https://oapi.dingtalk.com`.
    pub oapi_url: String,
    /// `SESSION_SECRET`'s bytes, or 32 random bytes from the OS when unset.
    pub session_secret: Vec<u8>,
    /// Whether `session_secret` was generated (sessions then die with the process).
    pub session_secret_generated: bool,
    /// `SESSION_TTL_SECS`, default 28800 (8 hours).
    pub session_ttl: Duration,
    /// `SESSION_MAX_AGE_SECS`, default 604800 (7 days): how long refreshing
    /// (`POST /auth/refresh`) can keep a session alive after the DingTalk login.
    pub session_max_age: Duration,
    /// `UPSTREAM_TIMEOUT_MS`, default 5000.
    pub upstream_timeout: Duration,
    /// `ALLOWED_ORIGINS`, comma-separated; `None` allows the request's own origin.
    pub allowed_origins: Option<Vec<String>>,
    /// `COOKIE_SECURE`: `0` drops the cookies' `Secure` flag (plain-http development).
    pub cookie_secure: bool,
    /// `LOGIN_RATE_LIMIT_PER_MIN`: login attempts per client and minute; unset = no limit.
    pub login_rate_limit: Option<NonZeroU32>,
    /// `TRUST_FORWARDED_FOR`: `1` takes the rate limit's client address from the right-most
    /// `X-Forwarded-For` entry (only behind a proxy that sets it). Default `0`: the socket peer.
    pub trust_forwarded_for: bool,
    /// `TOP_APP_KEY` and `TOP_APP_SECRET` when both are set, with `TOP_GATEWAY_URL` and
    /// `TOP_SIGN_METHOD`.
    pub top: Option<TopEnv>,
    /// `EMPLOYEE_API_URL`, `EMPLOYEE_CORP_ID`, when both are set.
    pub employee: Option<EmployeeEnv>,
    /// `REDIS_URL`: the replay guard, revocations and the access token go to Redis, so
    /// several instances share them. Unset: in memory (one instance).
    pub redis_url: Option<String>,
    /// `DINGTALK_API_URL`, default `https://api.dingtalk.com` (the new-style API).
    pub api_url: Option<String>,
    /// `PUBLIC_URL`: the app's public URL; its origin is the one the JSAPI route signs for,
    /// and it turns the browser (web, QR code) login on: DingTalk sends the browser back to
    /// `{PUBLIC_URL}/auth/dingtalk/web/callback`. Unset: `/auth/dingtalk/web` and its callback
    /// answer 503 `not_configured`.
    pub public_url: Option<String>,
    /// `DINGTALK_LOGIN_URL`, default `https://login.dingtalk.com` (DingTalk's web login page).
    pub login_url: Option<String>,
    /// `DINGTALK_TOKEN_API`: `oapi` (default, `gettoken`) or `v1` (`/v1.0/oauth2/accessToken`).
    pub token_api: TokenApi,
    /// `DINGTALK_AGENT_ID` and `DINGTALK_CORP_ID`: both unset, `/auth/dingtalk/jsapi`
    /// answers 503 `not_configured`.
    pub agent_id: Option<String>,
    /// `DINGTALK_CORP_ID`.
    pub corp_id: Option<String>,
    /// `JSAPI_SIGN_METHOD`: `sha256` (default) or `sha1`.
    pub jsapi_sign_method: JsapiSignMethod,
    /// `METRICS_BIND` (e.g. `127.0.0.1:9100`): a second listener serving `GET /metrics`
    /// (needs the `metrics` feature). Unset: no listener.
    pub metrics_bind: Option<SocketAddr>,
    /// Where [`start_metrics`](Self::start_metrics) listens, once started.
    pub metrics_addr: Option<SocketAddr>,
    #[cfg(feature = "redis")]
    redis: Option<dingtalk_login::store::redis::RedisStores>,
}

/// The TOP gateway settings (the directory's account lookups).
#[derive(Clone)]
pub struct TopEnv {
    /// `TOP_GATEWAY_URL`, the full router URL; default `https://eco.taobao.com/router/rest`.
    pub gateway_url: Option<String>,
    /// `TOP_APP_KEY`.
    pub app_key: String,
    /// `TOP_APP_SECRET`.
    pub app_secret: String,
    /// `TOP_SIGN_METHOD`: `md5`, `hmac` or `hmac-sha256` (the default).
    pub sign_method: Option<SignMethod>,
}

/// The employee API settings (the directory's profiles).
#[derive(Clone, Debug)]
pub struct EmployeeEnv {
    /// `EMPLOYEE_API_URL`.
    pub api_url: String,
    /// `EMPLOYEE_CORP_ID`.
    pub corp_id: String,
}

// Secrets never reach a log line, even through `{:?}`.
impl fmt::Debug for AppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppEnv")
            .field("bind", &self.bind)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("oapi_url", &self.oapi_url)
            .field(
                "session_secret",
                &format_args!("<redacted, {} bytes>", self.session_secret.len()),
            )
            .field("session_secret_generated", &self.session_secret_generated)
            .field("session_ttl", &self.session_ttl)
            .field("session_max_age", &self.session_max_age)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("allowed_origins", &self.allowed_origins)
            .field("cookie_secure", &self.cookie_secure)
            .field("top", &self.top)
            .field("employee", &self.employee)
            // A Redis URL may carry a password.
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .field("login_url", &self.login_url)
            .field("token_api", &self.token_api)
            .field("agent_id", &self.agent_id)
            .field("corp_id", &self.corp_id)
            .field("jsapi_sign_method", &self.jsapi_sign_method)
            .field("metrics_bind", &self.metrics_bind)
            .finish()
    }
}

impl fmt::Debug for TopEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopEnv")
            .field("gateway_url", &self.gateway_url)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("sign_method", &self.sign_method)
            .finish()
    }
}

impl AppEnv {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A message naming the variable that is missing or wrong.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (a variable's value, `None` when unset), so tests can
    /// check the rules without touching the process environment. An empty value counts as
    /// unset.
    ///
    /// # Errors
    /// A message naming the variable that is missing or wrong.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required =
            |name: &str| get(name).ok_or_else(|| format!("{name} is not set; it is required"));

        let bind = match get("BIND") {
            Some(b) => b
                .parse()
                .map_err(|e| format!("BIND {b:?} is not an address like 127.0.0.1:3000: {e}"))?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let app_key = required("DINGTALK_APP_KEY")?;
        // Not trimmed: a secret is taken byte for byte.
        let app_secret = var("DINGTALK_APP_SECRET")
            .filter(|v| !v.is_empty())
            .ok_or("DINGTALK_APP_SECRET is not set; it is required")?;
        let oapi_url =
            get("DINGTALK_OAPI_URL").unwrap_or_else(|| "https://oapi.dingtalk.com".into());

        let (session_secret, session_secret_generated) =
            match var("SESSION_SECRET").filter(|v| !v.is_empty()) {
                Some(s) if s.len() < MIN_SESSION_SECRET => {
                    return Err(format!(
                        "SESSION_SECRET is {} bytes; it must be at least {MIN_SESSION_SECRET}",
                        s.len()
                    ))
                }
                Some(s) => (s.into_bytes(), false),
                None => {
                    let mut key = vec![0u8; MIN_SESSION_SECRET];
                    rand::rngs::OsRng.try_fill_bytes(&mut key).map_err(|e| {
                        format!("SESSION_SECRET is not set and the OS RNG failed: {e}")
                    })?;
                    tracing::warn!(
                        "SESSION_SECRET is not set: using a random key for this run; sessions end \
                     when the process stops and are not shared between instances"
                    );
                    (key, true)
                }
            };

        let secs =
            |name: &str, default: u64, unit: fn(u64) -> Duration| -> Result<Duration, String> {
                match get(name) {
                    None => Ok(unit(default)),
                    Some(v) => match v.parse::<u64>() {
                        Ok(n) if n > 0 => Ok(unit(n)),
                        _ => Err(format!("{name} {v:?} is not a positive whole number")),
                    },
                }
            };
        let session_ttl = secs("SESSION_TTL_SECS", 28_800, Duration::from_secs)?;
        let session_max_age = secs("SESSION_MAX_AGE_SECS", 604_800, Duration::from_secs)?;
        let upstream_timeout = secs("UPSTREAM_TIMEOUT_MS", 5_000, Duration::from_millis)?;

        let allowed_origins = get("ALLOWED_ORIGINS").map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        let cookie_secure = match get("COOKIE_SECURE").as_deref() {
            None | Some("1") | Some("true") => true,
            Some("0") | Some("false") => false,
            Some(v) => return Err(format!("COOKIE_SECURE {v:?} must be 0 or 1")),
        };

        let login_rate_limit = get("LOGIN_RATE_LIMIT_PER_MIN")
            .map(|v| {
                v.parse::<NonZeroU32>().map_err(|_| {
                    format!("LOGIN_RATE_LIMIT_PER_MIN {v:?} is not a positive whole number")
                })
            })
            .transpose()?;
        let trust_forwarded_for = match get("TRUST_FORWARDED_FOR").as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(v) => return Err(format!("TRUST_FORWARDED_FOR {v:?} must be 0 or 1")),
        };

        let top = match (
            get("TOP_APP_KEY"),
            var("TOP_APP_SECRET").filter(|v| !v.is_empty()),
        ) {
            (Some(app_key), Some(app_secret)) => Some(TopEnv {
                gateway_url: get("TOP_GATEWAY_URL"),
                app_key,
                app_secret,
                sign_method: get("TOP_SIGN_METHOD")
                    .map(|m| {
                        m.parse::<SignMethod>().map_err(|_| {
                            format!("TOP_SIGN_METHOD {m:?} must be md5, hmac or hmac-sha256")
                        })
                    })
                    .transpose()?,
            }),
            _ => None,
        };
        let employee = match (get("EMPLOYEE_API_URL"), get("EMPLOYEE_CORP_ID")) {
            (Some(api_url), Some(corp_id)) => Some(EmployeeEnv { api_url, corp_id }),
            _ => None,
        };

        let redis_url = get("REDIS_URL");
        if redis_url.is_some() && !cfg!(feature = "redis") {
            return Err(
                "REDIS_URL is set but this build has no `redis` feature: rebuild with \
                 --features redis (refusing to fall back to in-memory stores)"
                    .into(),
            );
        }

        let metrics_bind = match get("METRICS_BIND") {
            None => None,
            Some(_) if !cfg!(feature = "metrics") => {
                return Err(
                    "METRICS_BIND is set but this build has no `metrics` feature: \
                     rebuild with --features metrics"
                        .into(),
                )
            }
            Some(b) => Some(b.parse().map_err(|e| {
                format!("METRICS_BIND {b:?} is not an address like 127.0.0.1:9100: {e}")
            })?),
        };

        let token_api = match get("DINGTALK_TOKEN_API") {
            None => TokenApi::Oapi,
            Some(v) => v
                .parse()
                .map_err(|_| format!("DINGTALK_TOKEN_API {v:?} must be oapi or v1"))?,
        };
        let jsapi_sign_method = match get("JSAPI_SIGN_METHOD") {
            None => JsapiSignMethod::Sha256,
            Some(v) => v
                .parse()
                .map_err(|_| format!("JSAPI_SIGN_METHOD {v:?} must be sha256 or sha1"))?,
        };

        Ok(Self {
            api_url: get("DINGTALK_API_URL"),
            public_url: get("PUBLIC_URL"),
            login_url: get("DINGTALK_LOGIN_URL"),
            token_api,
            agent_id: get("DINGTALK_AGENT_ID"),
            corp_id: get("DINGTALK_CORP_ID"),
            jsapi_sign_method,
            metrics_bind,
            metrics_addr: None,
            bind,
            app_key,
            app_secret,
            oapi_url,
            session_secret,
            session_secret_generated,
            session_ttl,
            session_max_age,
            upstream_timeout,
            allowed_origins,
            cookie_secure,
            login_rate_limit,
            trust_forwarded_for,
            top,
            employee,
            redis_url,
            #[cfg(feature = "redis")]
            redis: None,
        })
    }

    /// Connects to `REDIS_URL`, when set, so [`login`](Self::login) uses the shared stores.
    ///
    /// # Errors
    /// A message naming `REDIS_URL` when Redis cannot be reached.
    pub async fn connect_redis(&mut self) -> Result<(), String> {
        #[cfg(feature = "redis")]
        if let Some(url) = &self.redis_url {
            // An empty prefix is the crate's default, `dingtalk-login:`.
            let stores = dingtalk_login::store::redis::RedisStores::connect(url, "")
                .await
                .map_err(|e| format!("REDIS_URL: cannot use Redis: {e}"))?;
            tracing::info!("using Redis for the replay guard, revocations and the access token");
            self.redis = Some(stores);
        }
        Ok(())
    }

    /// Starts the `METRICS_BIND` listener, when set, and installs the process's metrics
    /// recorder; call it before [`login`](Self::login), so nothing is recorded before.
    ///
    /// # Errors
    /// A message naming `METRICS_BIND` when it cannot be bound.
    pub async fn start_metrics(&mut self) -> Result<Option<SocketAddr>, String> {
        #[cfg(feature = "metrics")]
        if let Some(bind) = self.metrics_bind {
            self.metrics_addr = Some(metrics::serve(bind).await?);
        }
        Ok(self.metrics_addr)
    }

    /// The login service these settings describe.
    ///
    /// # Errors
    /// The builder's refusal, as a message.
    pub fn login(&self) -> Result<DingTalkLogin, String> {
        let builder = DingTalkLogin::builder();
        #[cfg(feature = "redis")]
        let builder = match &self.redis {
            Some(stores) => stores.configure(builder),
            None => builder,
        };
        // Pages behind a guard send a browser without a session to the web login (when
        // PUBLIC_URL configures it); APIs keep their 401.
        let mut builder = builder
            .token_api(self.token_api)
            .jsapi_sign_method(self.jsapi_sign_method)
            .redirect_html_to_web_login(true);
        if let Some(url) = &self.api_url {
            builder = builder.api_url(url);
        }
        if let Some(url) = &self.public_url {
            builder = builder.public_url(url);
        }
        if let Some(url) = &self.login_url {
            builder = builder.login_url(url);
        }
        if let Some(id) = &self.agent_id {
            builder = builder.agent_id(id);
        }
        if let Some(id) = &self.corp_id {
            builder = builder.corp_id(id);
        }
        builder
            .app_key(&self.app_key)
            .app_secret(self.app_secret.as_str())
            .oapi_url(&self.oapi_url)
            .session_secret(self.session_secret.clone())
            .session_ttl(self.session_ttl)
            .session_max_age(self.session_max_age)
            .upstream_timeout(self.upstream_timeout)
            .cookie_secure(self.cookie_secure)
            .build()
            .map_err(|e| match e {
                dingtalk_login::ConfigError::InvalidUrl {
                    name: "oapi_url",
                    reason,
                } => {
                    format!("DINGTALK_OAPI_URL is not a valid http(s) URL: {reason}")
                }
                dingtalk_login::ConfigError::InvalidUrl {
                    name: "api_url",
                    reason,
                } => {
                    format!("DINGTALK_API_URL is not a valid http(s) URL: {reason}")
                }
                dingtalk_login::ConfigError::InvalidUrl {
                    name: "public_url",
                    reason,
                } => {
                    format!("PUBLIC_URL is not a valid http(s) URL: {reason}")
                }
                dingtalk_login::ConfigError::InvalidUrl {
                    name: "login_url",
                    reason,
                } => {
                    format!("DINGTALK_LOGIN_URL is not a valid http(s) URL: {reason}")
                }
                other => format!("invalid configuration: {other}"),
            })
    }

    /// The directory behind the `/admin/...` lookup routes, sharing `login`'s HTTP client,
    /// timeout and retry policy.
    ///
    /// # Errors
    /// A message naming the variable when a TOP or employee setting is invalid.
    pub fn directory(&self, login: &DingTalkLogin) -> Result<Directory, String> {
        let top = match &self.top {
            None => None,
            Some(t) => {
                let mut b = TopClient::builder(t.app_key.as_str(), t.app_secret.as_str())
                    .share_transport(login);
                if let Some(url) = &t.gateway_url {
                    b = b.gateway_url(url.as_str());
                }
                if let Some(method) = t.sign_method {
                    b = b.sign_method(method);
                }
                Some(
                    b.build()
                        .map_err(|e| format!("TOP_GATEWAY_URL / TOP_APP_KEY: {e}"))?,
                )
            }
        };
        let employee = match &self.employee {
            None => None,
            Some(e) => Some(
                EmployeeClient::builder(e.api_url.as_str(), e.corp_id.as_str())
                    .share_transport(login)
                    .build()
                    .map_err(|err| format!("EMPLOYEE_API_URL / EMPLOYEE_CORP_ID: {err}"))?,
            ),
        };
        Ok(Directory {
            login: login.clone(),
            top,
            employee,
        })
    }

    /// The login routes at their contract paths, with `ALLOWED_ORIGINS` and
    /// `LOGIN_RATE_LIMIT_PER_MIN` when set.
    pub fn login_routes(&self) -> LoginRoutes {
        let mut routes = match &self.allowed_origins {
            Some(origins) => LoginRoutes::default().allowed_origins(origins.iter().cloned()),
            None => LoginRoutes::default(),
        }
        .trust_forwarded_for(self.trust_forwarded_for);
        if let Some(per_minute) = self.login_rate_limit {
            routes = routes.login_rate_limit(per_minute);
        }
        routes
    }
}

/// The `/me` answer: the user's public view (the fields of
/// [`UserView`](dingtalk_login::session::UserView)) plus the session's `iat` and `exp`,
/// serialized straight from the claims (this route runs on every page load; the fields are
/// listed rather than `#[serde(flatten)]`ed, which would serialize through a map).
#[derive(serde::Serialize)]
pub struct Me<'a> {
    userid: &'a str,
    unionid: Option<&'a str>,
    name: &'a str,
    sys: bool,
    sys_level: dingtalk_login::guard::SysLevel,
    iat: i64,
    exp: i64,
}

impl<'a> Me<'a> {
    /// The answer for `claims`.
    pub fn new(claims: &'a dingtalk_login::session::Claims) -> Self {
        let user = claims.user();
        Self {
            userid: user.userid,
            unionid: user.unionid,
            name: user.name,
            sys: user.sys,
            sys_level: user.sys_level,
            iat: claims.iat,
            exp: claims.exp,
        }
    }
}

/// The three admin lookups, framework-neutral: each example's handler calls one and turns the
/// result into its framework's response. A lookup whose upstream is not configured answers
/// 503 `not_configured`.
#[derive(Clone)]
pub struct Directory {
    login: DingTalkLogin,
    top: Option<TopClient>,
    employee: Option<EmployeeClient>,
}

impl Directory {
    /// `GET /admin/users/by-mobile/{mobile}`: `getbymobile` with exclusive accounts included →
    /// `{userid, exclusive_account_userid_list}`.
    pub async fn by_mobile(&self, mobile: &str) -> Result<Value, Error> {
        let found = self.login.client().get_by_mobile(mobile, true).await?;
        Ok(serde_json::to_value(found).unwrap_or_default())
    }

    /// `GET /admin/accounts/{account_id}`: TOP `alibaba.dc.uc.inner.user.by.account.get` →
    /// its `data` object.
    pub async fn account(&self, account_id: &str) -> Result<Value, Error> {
        let top = self.top.as_ref().ok_or(Error::NotConfigured(
            "the TOP gateway (TOP_APP_KEY, TOP_APP_SECRET)",
        ))?;
        let data = top
            .user_by_account(&AccountQuery::by_account_id(account_id))
            .await?;
        Ok(serde_json::to_value(data).unwrap_or_default())
    }

    /// `GET /admin/employees/{userid}`: the employee-info service's profile.
    pub async fn employee(&self, userid: &str) -> Result<Value, Error> {
        let employee = self.employee.as_ref().ok_or(Error::NotConfigured(
            "the employee API (EMPLOYEE_API_URL, EMPLOYEE_CORP_ID)",
        ))?;
        let profile = employee.get_user(userid).await?;
        Ok(serde_json::to_value(profile).unwrap_or_default())
    }
}

/// The start of both apps' `main`: logging, the environment, and Redis when `REDIS_URL` asks.
///
/// # Errors
/// A message naming the variable that is missing or wrong, or Redis that cannot be reached.
pub async fn load_env() -> Result<AppEnv, String> {
    init_tracing();
    let mut env = AppEnv::from_env()?;
    env.start_metrics().await?;
    env.connect_redis().await?;
    Ok(env)
}

/// Logs the start and prints the contract's ready line, `listening on http://ADDR`, which
/// programs driving the examples wait for.
pub fn announce(app: &str, addr: SocketAddr, env: &AppEnv) {
    tracing::info!(
        %addr,
        oapi_url = %env.oapi_url,
        cookie_secure = env.cookie_secure,
        allowed_origins = ?env.allowed_origins,
        "{app} started"
    );
    if let Some(metrics) = env.metrics_addr {
        println!("metrics on http://{metrics}/metrics");
    }
    println!("listening on http://{addr}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
}

/// Says why `app` cannot run, on stderr; the process then exits non-zero.
pub fn fail(app: &str, msg: &str) -> std::process::ExitCode {
    eprintln!("{app}: {msg}");
    std::process::ExitCode::FAILURE
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`): text, or JSON lines with
/// `LOG_FORMAT=json`. The crate's `dingtalk.login` and `dingtalk.upstream` spans are logged
/// when they close, with their fields. Safe to call more than once.
pub fn init_tracing() {
    use tracing_subscriber::fmt::format::FmtSpan;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE);
    let _ = match format.trim().to_ascii_lowercase().as_str() {
        "json" => builder.json().try_init(),
        _ => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    if !matches!(
        format.trim().to_ascii_lowercase().as_str(),
        "" | "json" | "text"
    ) {
        tracing::warn!(LOG_FORMAT = %format, "unknown LOG_FORMAT (json or text); logging text");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const BASE: [(&str, &str); 2] = [("DINGTALK_APP_KEY", "k"), ("DINGTALK_APP_SECRET", "s")];

    #[test]
    fn required_variables_are_named() {
        let err = AppEnv::from_vars(vars(&[("DINGTALK_APP_SECRET", "s")])).unwrap_err();
        assert!(err.contains("DINGTALK_APP_KEY"), "{err}");
        let err = AppEnv::from_vars(vars(&[("DINGTALK_APP_KEY", "k")])).unwrap_err();
        assert!(err.contains("DINGTALK_APP_SECRET"), "{err}");
    }

    #[test]
    fn defaults() {
        let env = AppEnv::from_vars(vars(&BASE)).unwrap();
        assert_eq!(env.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(env.oapi_url, "https://oapi.dingtalk.com");
        assert!(env.session_secret_generated);
        assert!(env.session_secret.len() >= MIN_SESSION_SECRET);
        assert_eq!(env.session_ttl, Duration::from_secs(28_800));
        assert_eq!(env.upstream_timeout, Duration::from_millis(5_000));
        assert!(env.allowed_origins.is_none());
        assert!(env.cookie_secure);
        assert!(env.top.is_none() && env.employee.is_none());
        let other = AppEnv::from_vars(vars(&BASE)).unwrap();
        assert_ne!(
            env.session_secret, other.session_secret,
            "a fresh random key per start"
        );
    }

    #[test]
    fn short_session_secret_is_refused_by_name() {
        let mut pairs = BASE.to_vec();
        pairs.push(("SESSION_SECRET", "too short"));
        let err = AppEnv::from_vars(vars(&pairs)).unwrap_err();
        assert!(
            err.contains("SESSION_SECRET") && err.contains("32"),
            "{err}"
        );
    }

    #[test]
    fn settings_are_read() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("BIND", "0.0.0.0:8080"),
            ("SESSION_SECRET", "0123456789abcdef0123456789abcdef"),
            ("SESSION_TTL_SECS", "60"),
            ("UPSTREAM_TIMEOUT_MS", "250"),
            ("ALLOWED_ORIGINS", "https://a.test, https://b.test/"),
            ("COOKIE_SECURE", "0"),
        ]);
        let env = AppEnv::from_vars(vars(&pairs)).unwrap();
        assert_eq!(env.bind.port(), 8080);
        assert!(!env.session_secret_generated);
        assert_eq!(env.session_ttl, Duration::from_secs(60));
        assert_eq!(env.upstream_timeout, Duration::from_millis(250));
        assert_eq!(
            env.allowed_origins.as_deref().unwrap(),
            ["https://a.test", "https://b.test/"]
        );
        assert!(!env.cookie_secure);
        assert!(!format!("{env:?}").contains("0123456789abcdef"));
        env.login().unwrap();
        let bad =
            AppEnv::from_vars(vars(&[BASE[0], BASE[1], ("SESSION_TTL_SECS", "soon")])).unwrap_err();
        assert!(bad.contains("SESSION_TTL_SECS"));
    }

    #[test]
    fn metrics_bind_is_read_or_refused_without_the_feature() {
        let none = AppEnv::from_vars(vars(&BASE)).unwrap();
        assert_eq!(none.metrics_bind, None, "unset: no listener");
        let pairs = [BASE[0], BASE[1], ("METRICS_BIND", "127.0.0.1:9100")];
        match AppEnv::from_vars(vars(&pairs)) {
            Ok(env) if cfg!(feature = "metrics") => {
                assert_eq!(env.metrics_bind.unwrap().port(), 9100);
            }
            Err(e) if !cfg!(feature = "metrics") => {
                assert!(
                    e.contains("METRICS_BIND") && e.contains("--features metrics"),
                    "{e}"
                );
            }
            other => panic!("unexpected: {:?}", other.map(|e| e.metrics_bind)),
        }
        if cfg!(feature = "metrics") {
            let bad = [BASE[0], BASE[1], ("METRICS_BIND", "9100")];
            let err = AppEnv::from_vars(vars(&bad)).unwrap_err();
            assert!(err.contains("METRICS_BIND"), "{err}");
        }
    }

    #[test]
    fn the_session_max_age_is_read_and_checked() {
        let env = AppEnv::from_vars(vars(&BASE)).unwrap();
        assert_eq!(env.session_max_age, Duration::from_secs(7 * 24 * 3600));
        let env =
            AppEnv::from_vars(vars(&[BASE[0], BASE[1], ("SESSION_MAX_AGE_SECS", "3600")])).unwrap();
        assert_eq!(env.session_max_age, Duration::from_secs(3600));
        for bad in ["0", "week"] {
            let err = AppEnv::from_vars(vars(&[BASE[0], BASE[1], ("SESSION_MAX_AGE_SECS", bad)]))
                .unwrap_err();
            assert!(err.contains("SESSION_MAX_AGE_SECS"), "{err}");
        }
    }
}
