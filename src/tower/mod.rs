//! tower `Layer`/`Service` pairs: the login routes, the session check and the `sys_level`
//! guard (cargo feature `tower`).
//!
//! | layer | service | does |
//! |---|---|---|
//! | [`DingTalkLoginLayer`] | [`DingTalkLoginService`] | answers the login, state and logout routes of [`LoginRoutes`](crate::web::LoginRoutes); passes everything else through |
//! | [`SessionLayer`] | [`Session`] | verifies `Authorization: Bearer` (wins) or the session cookie and stores a [`SessionOutcome`] in the request extensions |
//! | [`RequireSysLevelLayer`] | [`RequireSysLevel`] | answers 401 `unauthenticated` / 403 `forbidden` unless the session passes a [`SysLevelPolicy`](crate::guard::SysLevelPolicy); lets `OPTIONS` through |
//!
//! The pieces need only `tower-service`, `tower-layer` and `http`: they are generic over the
//! request body (any [`http_body::Body`]) and the response body (anything `From<String>`, such
//! as axum's `Body` or `http_body_util::Full<Bytes>`). Authentication failures are responses,
//! never `Err`: every service keeps its inner service's error type, so axum's `Infallible`
//! services and outer trace or CORS layers keep working. Every error becomes a response in one
//! place, [`error_response`].
//!
//! Cookies go through [tower-cookies](tower_cookies) when a `CookieManagerLayer` runs in front
//! of the login layer (so handlers see them in `Cookies`); without one, the login layer writes
//! the `Set-Cookie` headers itself. Either way works; neither panics.
//!
//! ```
//! use dingtalk_login::tower::{DingTalkLoginLayer, RequireSysLevel, SessionLayer};
//! use dingtalk_login::DingTalkLogin;
//! use tower_layer::Layer;
//!
//! # fn demo<S>(app: S) {
//! let login = DingTalkLogin::builder()
//!     .app_key("dingxxxxxxxx")
//!     .app_secret("app-secret")
//!     .session_secret("a session key of at least 32 bytes!")
//!     .build()
//!     .unwrap();
//! // Outermost first: the login routes, then the session check, then a guard.
//! let service = DingTalkLoginLayer::new(login.clone())
//!     .layer(SessionLayer::new(login).layer(RequireSysLevel::admin().layer(app)));
//! # let _ = service;
//! # }
//! ```

mod future;
mod guard;
mod login;
mod session;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode, Uri};

use crate::error::Error;
use crate::web::{self, RequestParts};

pub use future::ResponseFuture;
pub use guard::{RequireSysLevel, RequireSysLevelLayer};
pub use login::{DingTalkLoginLayer, DingTalkLoginService};
pub use session::{Session, SessionLayer, SessionOutcome};

/// What a guard or an extractor answers when no [`SessionLayer`] ran before it.
pub(crate) const MISSING_SESSION_LAYER: &str =
    "Can't extract CurrentUser. Is the session layer installed?";

/// The one mapping from [`Error`] to an HTTP response: the error's status, its JSON body
/// `{"error": .., "message": ..}`, `Content-Type: application/json`, `Retry-After` when the
/// upstream said when to try again, and `WWW-Authenticate: Bearer` on `unauthenticated`.
///
/// Server-side failures (5xx) are logged at `warn` with the upstream detail the body leaves
/// out; the others at `debug`.
///
/// ```
/// use dingtalk_login::{tower::error_response, Error};
///
/// let res: http::Response<String> = error_response(&Error::Forbidden);
/// assert_eq!(res.status(), 403);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// let body: serde_json::Value = serde_json::from_str(res.body()).unwrap();
/// assert_eq!(body["error"], "forbidden");
/// ```
pub fn error_response<B: From<String>>(error: &Error) -> Response<B> {
    let status = error.status();
    if status.is_server_error() {
        tracing::warn!(code = error.code(), error = %error, "dingtalk-login request failed");
    } else {
        tracing::debug!(code = error.code(), error = %error, "dingtalk-login request refused");
    }
    let mut res = json_response(status, &error.body());
    let headers = res.headers_mut();
    if let Some(after) = error.retry_after_secs() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    if matches!(error, Error::Unauthenticated(_)) {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

/// A JSON response that no cache keeps (login answers carry a session token).
pub(crate) fn json_response<B: From<String>>(
    status: StatusCode,
    body: &serde_json::Value,
) -> Response<B> {
    let mut res = Response::new(B::from(body.to_string()));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A request's URI and headers, read through [`RequestParts`].
pub(crate) struct Head<'a> {
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

impl<'a> Head<'a> {
    pub(crate) fn new(uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self { uri, headers }
    }
}

impl RequestParts for Head<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.headers.get(name).and_then(|v| v.to_str().ok()) {
            Some(value) => Some(value),
            // HTTP/2 carries the host in the `:authority` pseudo-header, which `http` puts in
            // the URI rather than in a `Host` header.
            None if name == "host" => self.uri.authority().map(|a| a.as_str()),
            None => None,
        }
    }

    fn scheme(&self) -> Option<&str> {
        self.uri.scheme_str()
    }

    // HTTP/2 may split cookies over several `Cookie` headers.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|h| web::cookie_value(h, name))
    }
}

#[cfg(test)]
mod tests;
