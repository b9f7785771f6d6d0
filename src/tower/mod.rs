//! tower `Layer`/`Service` pairs (cargo feature `tower`): the login layer and the `sys_level`
//! guard.
//!
//! | layer | service | does |
//! |---|---|---|
//! | [`DingTalkLoginLayer`] | [`DingTalkLoginService`] | answers the crate's routes (see [`LoginRoutes`](crate::web::LoginRoutes)); for every other request, checks the session (`Authorization: Bearer`, else the session cookie) for the guards and extractors behind it |
//! | [`RequireSysLevelLayer`] | [`RequireSysLevel`] | answers 401 `unauthenticated` / 403 `forbidden` unless the session passes a [`SysLevelPolicy`](crate::guard::SysLevelPolicy); answers a CORS preflight itself |
//!
//! Both are thin: the routes, the answers, the authorization decision and the error mapping
//! live in the framework-free core, which the actix adapter shares. They need only
//! `tower-service`, `tower-layer` and `http`, are generic over the request body (any
//! [`http_body::Body`]) and the response body (anything `From<String>`, such as axum's `Body`),
//! and never fail: a refusal is a response, so axum's `Infallible` services and outer trace or
//! CORS layers keep working. No cookie middleware is needed: the layer writes its own
//! `Set-Cookie` headers.
//!
//! ```
//! use dingtalk_login::tower::{DingTalkLoginLayer, RequireSysLevel};
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
//! // Outermost first: the login layer, then a guard.
//! let service = DingTalkLoginLayer::new(login).layer(RequireSysLevel::admin().layer(app));
//! # let _ = service;
//! # }
//! ```

mod future;
mod guard;
mod service;

use std::net::IpAddr;

use http::header::{HeaderName, HeaderValue};
use http::{Extensions, HeaderMap, Method, Response, Uri};

use crate::error::{Error, SessionRejection};
use crate::web::{Reply, RequestHead, SessionOutcome};

pub use future::ResponseFuture;
pub use guard::{RequireSysLevel, RequireSysLevelLayer};
pub use service::{DingTalkLoginLayer, DingTalkLoginService};

/// The session outcome the login service attaches to each request it passes on, unless the
/// request carried no session at all: then it attaches [`NoSession`].
#[derive(Clone)]
pub(crate) struct Attached(pub(crate) SessionOutcome);

/// Attached instead of [`Attached`] when the request carried no session token (and is not a
/// page to send to the web login): zero-sized, so inserting it allocates nothing, which is
/// what every request to a public route like `/healthz` would otherwise pay.
#[derive(Clone, Copy)]
pub(crate) struct NoSession;

static NO_SESSION: SessionOutcome = Err(Error::Unauthenticated(SessionRejection::Missing));

/// Attaches the outcome of the session check to a request.
pub(crate) fn attach(extensions: &mut Extensions, outcome: SessionOutcome) {
    match outcome {
        Err(Error::Unauthenticated(SessionRejection::Missing)) => {
            extensions.insert(NoSession);
        }
        outcome => {
            extensions.insert(Attached(outcome));
        }
    }
}

/// The outcome the login service attached to a request; `None` without that service.
pub(crate) fn attached(extensions: &Extensions) -> Option<&SessionOutcome> {
    match extensions.get::<Attached>() {
        Some(attached) => Some(&attached.0),
        None => extensions.get::<NoSession>().map(|_| &NO_SESSION),
    }
}

/// A `Reply` as an `http` response.
pub(crate) fn into_response<B: From<String>>(reply: Reply) -> Response<B> {
    let mut res = Response::new(B::from(reply.body));
    *res.status_mut() = reply.status;
    let headers = res.headers_mut();
    for (name, value) in reply.headers {
        match HeaderValue::try_from(value) {
            Ok(value) => {
                headers.append(HeaderName::from_static(name), value);
            }
            Err(_) => tracing::warn!(header = name, "header not set: not a valid header value"),
        }
    }
    res
}

/// A request head, read through the core's view.
pub(crate) struct Head<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> Head<'a> {
    pub(crate) fn of<B>(req: &'a http::Request<B>) -> Self {
        Self {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }

    pub(crate) fn of_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }
}

impl RequestHead for Head<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        // The session check asks for `authorization` on every request: a known name skips
        // parsing the string into a header name each time, and the token (hundreds of bytes)
        // is only checked to be UTF-8, not by `to_str`'s byte-at-a-time loop. Nothing is lost:
        // a token with any byte outside base64url and `.` fails verification (a cached token
        // passed it), and a malformed header is an invalid token, not a missing one.
        let value = match name {
            "authorization" => self
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()),
            _ => self.headers.get(name).and_then(|v| v.to_str().ok()),
        };
        match value {
            Some(value) => Some(value),
            // HTTP/2 carries the host in the `:authority` pseudo-header, which `http` puts in
            // the URI rather than in a `Host` header.
            None if name == "host" => self.uri.authority().map(|a| a.as_str()),
            None => None,
        }
    }

    fn cookie_headers(&self) -> impl Iterator<Item = &str> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
    }

    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn scheme(&self) -> Option<&str> {
        self.uri.scheme_str()
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }

    fn peer_ip(&self) -> Option<IpAddr> {
        #[cfg(feature = "axum")]
        if let Some(info) = self
            .extensions
            .get::<::axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            return Some(info.0.ip());
        }
        self.extensions
            .get::<std::net::SocketAddr>()
            .map(std::net::SocketAddr::ip)
    }
}

#[cfg(test)]
mod tests;
