//! The crate's one error type and its one mapping to HTTP.
//!
//! Every adapter (tower/axum, actix) turns an [`Error`] into a response through
//! [`Error::status`], [`Error::code`], [`Error::retry_after`] and [`Error::body`], so both
//! frameworks answer identically:
//!
//! | status | `error` |
//! |---|---|
//! | 400 | `missing_code`, `invalid_code`, `invalid_state`, `invalid_mobile`, `invalid_url` |
//! | 401 | `code_rejected`, `code_replayed`, `unauthenticated` |
//! | 302 | `login_required` (a browser page without a session, with web login's HTML redirect on) |
//! | 403 | `forbidden`, `cross_site_request`, `not_a_member` |
//! | 404 | `user_not_found` |
//! | 408 | `request_timeout` (a login body that did not arrive in time) |
//! | 429 | `too_many_requests` (with `Retry-After`) |
//! | 500 | `internal_error` (a mis-wired application, e.g. a missing layer) |
//! | 502 | `upstream_error` |
//! | 503 | `upstream_unavailable` (with `Retry-After` where known), `not_configured`, `store_unavailable` |
//! | 504 | `upstream_timeout` |
//!
//! The body is `{"error": <code>, "message": <what the caller can act on>}`. Upstream detail
//! (errcode, errmsg, request_id) stays inside the error, for logs, through `Display`; access
//! tokens and secrets are never part of an error.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// What DingTalk (or another upstream) said, kept for logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamDetail {
    /// Which call: `"gettoken"`, `"getuserinfo"`, `"getbymobile"`, ...
    pub api: &'static str,
    /// The HTTP status, when the answer was not a 200.
    pub http_status: Option<u16>,
    /// `errcode` (or a TOP `code`), when the body had one.
    pub errcode: Option<i64>,
    /// `sub_code`, when the body had one.
    pub sub_code: Option<String>,
    /// `errmsg` (or a TOP `msg`/`sub_msg`), when the body had one.
    pub errmsg: Option<String>,
    /// `request_id`, when the body had one: quote it to DingTalk support.
    pub request_id: Option<String>,
}

impl UpstreamDetail {
    pub(crate) fn api(api: &'static str) -> Self {
        Self {
            api,
            ..Self::default()
        }
    }
}

impl fmt::Display for UpstreamDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api)?;
        if let Some(s) = self.http_status {
            write!(f, " http_status={s}")?;
        }
        if let Some(c) = self.errcode {
            write!(f, " errcode={c}")?;
        }
        // Upstream strings are escaped: a newline or a terminal escape sent by the upstream
        // (or a proxy in between) must not forge or recolour a log line.
        if let Some(c) = &self.sub_code {
            write!(f, " sub_code={}", c.escape_debug())?;
        }
        if let Some(m) = &self.errmsg {
            write!(f, " errmsg={m:?}")?;
        }
        if let Some(r) = &self.request_id {
            write!(f, " request_id={}", r.escape_debug())?;
        }
        Ok(())
    }
}

/// Why a request carried no usable session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No Bearer token and no session cookie.
    Missing,
    /// Not a well-formed JWT, a bad signature, a wrong or disallowed algorithm, an unknown
    /// `kid`, or a wrong issuer/audience.
    Invalid,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// The session was logged out.
    Revoked,
}

impl SessionRejection {
    fn describe(self) -> &'static str {
        match self {
            Self::Missing => "no session",
            Self::Invalid => "invalid session token",
            Self::Expired => "session expired",
            Self::Revoked => "session revoked",
        }
    }
}

/// Why an upstream could not be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// `errcode` -1 (system busy), after the retry budget was spent.
    Busy,
    /// HTTP 5xx, after the retry budget was spent.
    ServerError,
    /// Flow control (90002, 90005, 90006, 90018, 90019, or a `{"status":..,"wait":..}` body).
    RateLimited,
    /// The connection could not be made or was dropped, after the retry budget was spent.
    Connect,
    /// The TOP platform said `isp.*`, after the retry budget was spent.
    Platform,
}

/// Everything that can go wrong in a login, a session check or an upstream call.
///
/// ```
/// use dingtalk_login::Error;
///
/// let e = Error::CodeReplayed;
/// assert_eq!(e.status().as_u16(), 401);
/// assert_eq!(e.code(), "code_replayed");
/// assert_eq!(e.body()["error"], "code_replayed");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No code was presented.
    #[error("missing login code")]
    MissingCode,
    /// The code is empty, too long, of another charset, or not a string; or the body did not
    /// parse.
    #[error("invalid login code: {0}")]
    InvalidCode(&'static str),
    /// A redirect login's `state` did not match its cookie.
    #[error("invalid or missing state")]
    InvalidState,
    /// A mobile number that is not `+`? followed by 5–20 digits or hyphens, or that DingTalk
    /// refused (40104, 400002).
    #[error("invalid mobile number")]
    InvalidMobile(Option<Box<UpstreamDetail>>),
    /// A URL parameter that is not an absolute http(s) URL of an allowed origin (the JSAPI
    /// route's page URL).
    #[error("invalid or foreign URL")]
    InvalidUrl,
    /// DingTalk refused the code (40078: unknown, expired or used).
    #[error("DingTalk refused the login code: {0}")]
    CodeRejected(Box<UpstreamDetail>),
    /// The code was presented before; refused without asking DingTalk.
    #[error("login code already used")]
    CodeReplayed,
    /// No valid session.
    #[error("unauthenticated: {}", .0.describe())]
    Unauthenticated(SessionRejection),
    /// A session without the `sys_level` the route demands.
    #[error("forbidden: the session lacks the required admin level")]
    Forbidden,
    /// A login or logout POST from an origin that is not allowed.
    #[error("cross-site request refused")]
    CrossSiteRequest,
    /// The user does not exist upstream (60121, 60111, TOP "no such account").
    #[error("user not found: {0}")]
    UserNotFound(Box<UpstreamDetail>),
    /// The upstream refused the call for a reason the caller cannot fix (a wrong app secret,
    /// a missing permission, an unexpected answer).
    #[error("upstream error: {0}")]
    UpstreamError(Box<UpstreamDetail>),
    /// The upstream is busy, failing, rate limiting or unreachable.
    #[error("upstream unavailable ({reason:?}): {detail}")]
    UpstreamUnavailable {
        /// Why.
        reason: Unavailable,
        /// When to try again, when the upstream said so.
        retry_after: Option<Duration>,
        /// What the upstream said.
        detail: Box<UpstreamDetail>,
    },
    /// The upstream did not answer within the configured timeout.
    #[error("upstream timeout: {0}")]
    UpstreamTimeout(Box<UpstreamDetail>),
    /// The feature behind this route is not configured (e.g. its environment is unset).
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// The shared store (Redis) cannot be reached, so single use of a code cannot be promised.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// A login request's body did not arrive within the read timeout (a slow or stalled
    /// client); nothing was asked of DingTalk.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// This client tried to log in more often than the configured rate limit allows; nothing
    /// was asked of DingTalk.
    #[error("too many login attempts")]
    TooManyRequests {
        /// When the client may try again.
        retry_after: Duration,
    },
    /// The application is wired wrongly (e.g. an extractor without its layer).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The person who logged in on DingTalk's web login page is not an employee of this
    /// organisation: an external contact (`contact_type` 1) or unknown to it (60121).
    #[error("not a member of the organisation: {0}")]
    NotAMember(Box<UpstreamDetail>),
    /// A browser page was asked for without a valid session: the answer is a redirect to the
    /// web login (see `ConfigBuilder::redirect_html_to_web_login`). APIs get
    /// [`Error::Unauthenticated`] instead.
    #[error("login required: {why:?}")]
    LoginRequired {
        /// Why the session was refused.
        why: SessionRejection,
        /// Where the browser is sent: the web login's start route with `next`.
        location: String,
    },
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCode
            | Self::InvalidCode(_)
            | Self::InvalidState
            | Self::InvalidMobile(_)
            | Self::InvalidUrl => StatusCode::BAD_REQUEST,
            Self::CodeRejected(_) | Self::CodeReplayed | Self::Unauthenticated(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden | Self::CrossSiteRequest | Self::NotAMember(_) => StatusCode::FORBIDDEN,
            Self::LoginRequired { .. } => StatusCode::FOUND,
            Self::UserNotFound(_) => StatusCode::NOT_FOUND,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamError(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamUnavailable { .. }
            | Self::NotConfigured(_)
            | Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code of the JSON body's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCode => "missing_code",
            Self::InvalidCode(_) => "invalid_code",
            Self::InvalidState => "invalid_state",
            Self::InvalidMobile(_) => "invalid_mobile",
            Self::InvalidUrl => "invalid_url",
            Self::CodeRejected(_) => "code_rejected",
            Self::CodeReplayed => "code_replayed",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::CrossSiteRequest => "cross_site_request",
            Self::UserNotFound(_) => "user_not_found",
            Self::UpstreamError(_) => "upstream_error",
            Self::UpstreamUnavailable { .. } => "upstream_unavailable",
            Self::NotConfigured(_) => "not_configured",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::RequestTimeout => "request_timeout",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Internal(_) => "internal_error",
            Self::NotAMember(_) => "not_a_member",
            Self::LoginRequired { .. } => "login_required",
        }
    }

    /// The message of the JSON body: what the caller can act on, without upstream detail.
    pub fn message(&self) -> String {
        match self {
            Self::MissingCode => "no login code was presented".into(),
            Self::InvalidCode(why) => format!("invalid login code: {why}"),
            Self::InvalidState => "the state does not match; start the login again".into(),
            Self::InvalidMobile(_) => "invalid mobile number".into(),
            Self::InvalidUrl => {
                "the url must be an absolute http(s) URL of an allowed origin".into()
            }
            Self::CodeRejected(_) => {
                "DingTalk refused the login code (expired or already used); get a new code".into()
            }
            Self::CodeReplayed => "this login code was already used; get a new code".into(),
            Self::Unauthenticated(why) => format!("{}; log in again", why.describe()),
            Self::Forbidden => "this route needs a higher admin level".into(),
            Self::CrossSiteRequest => "cross-site request refused".into(),
            Self::UserNotFound(_) => "user not found".into(),
            Self::UpstreamError(d) => format!("the upstream {} call failed", d.api),
            Self::UpstreamUnavailable { detail, .. } => {
                format!(
                    "the upstream {} service is unavailable; try again later",
                    detail.api
                )
            }
            Self::UpstreamTimeout(d) => format!("the upstream {} call timed out", d.api),
            Self::NotConfigured(what) => format!("{what} is not configured"),
            Self::StoreUnavailable(_) => "the session store is unavailable; try again later".into(),
            Self::RequestTimeout => "the request body did not arrive in time".into(),
            Self::TooManyRequests { .. } => "too many login attempts; try again later".into(),
            Self::Internal(why) => format!("internal error: {why}"),
            Self::NotAMember(_) => {
                "this DingTalk account is not an employee of the organisation".into()
            }
            Self::LoginRequired { why, .. } => {
                format!("{}; log in with DingTalk first", why.describe())
            }
        }
    }

    /// When to try again, when known (for a `Retry-After` header).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::UpstreamUnavailable { retry_after, .. } => *retry_after,
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// [`retry_after`](Self::retry_after) as a `Retry-After` header value: whole seconds,
    /// rounded up and at least 1 (`Retry-After: 0` would invite a busy loop).
    ///
    /// ```
    /// use std::time::Duration;
    /// use dingtalk_login::{Error, Unavailable, UpstreamDetail};
    ///
    /// let e = Error::UpstreamUnavailable {
    ///     reason: Unavailable::RateLimited,
    ///     retry_after: Some(Duration::from_millis(1500)),
    ///     detail: Box::new(UpstreamDetail::default()),
    /// };
    /// assert_eq!(e.retry_after_secs(), Some(2));
    /// let zero = Error::UpstreamUnavailable {
    ///     reason: Unavailable::RateLimited,
    ///     retry_after: Some(Duration::ZERO),
    ///     detail: Box::new(UpstreamDetail::default()),
    /// };
    /// assert_eq!(zero.retry_after_secs(), Some(1));
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after()
            .map(|after| (after.as_secs() + u64::from(after.subsec_nanos() > 0)).max(1))
    }

    /// The JSON body: `{"error": code, "message": message}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code(), "message": self.message() })
    }

    /// What the upstream said, when this error came from an upstream answer.
    pub fn upstream(&self) -> Option<&UpstreamDetail> {
        match self {
            Self::CodeRejected(d)
            | Self::UserNotFound(d)
            | Self::UpstreamError(d)
            | Self::UpstreamTimeout(d)
            | Self::UpstreamUnavailable { detail: d, .. }
            | Self::NotAMember(d) => Some(d),
            Self::InvalidMobile(d) => d.as_deref(),
            _ => None,
        }
    }
}

/// Why [`crate::config::ConfigBuilder::build`] refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is missing.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// A URL does not parse or is not http(s).
    #[error("invalid URL for {name}: {reason}")]
    InvalidUrl {
        /// Which setting.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A session key is too short or does not parse.
    #[error("invalid session key: {0}")]
    InvalidKey(String),
    /// The JWT crypto backend failed its sign-and-verify self-test.
    #[error("JWT crypto self-test failed: {0}")]
    CryptoSelfTest(String),
    /// Another setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// Which setting.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}
