//! The session check as a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use super::Head;
use crate::error::Error;
use crate::session::Claims;
use crate::web;
use crate::DingTalkLogin;

/// What [`Session`] found on a request, stored in its extensions for the guards and
/// extractors that come after.
///
/// ```
/// use dingtalk_login::error::SessionRejection;
/// use dingtalk_login::tower::SessionOutcome;
/// use dingtalk_login::Error;
///
/// let outcome = SessionOutcome::Rejected(Error::Unauthenticated(SessionRejection::Missing));
/// assert!(outcome.claims().is_none());
/// assert_eq!(outcome.result().unwrap_err().code(), "unauthenticated");
/// ```
#[derive(Debug, Clone)]
pub enum SessionOutcome {
    /// A valid session: signature, expiry and revocation checked.
    Authenticated(Arc<Claims>),
    /// No usable session, and why (always an [`Error::Unauthenticated`] today).
    Rejected(Error),
}

impl SessionOutcome {
    /// The session's claims, when it is valid.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Self::Authenticated(claims) => Some(claims),
            Self::Rejected(_) => None,
        }
    }

    /// The claims, or the error to answer with.
    pub fn result(&self) -> Result<&Claims, &Error> {
        match self {
            Self::Authenticated(claims) => Ok(claims),
            Self::Rejected(e) => Err(e),
        }
    }
}

/// Applies [`Session`]: verifies the request's session and records a [`SessionOutcome`].
///
/// ```
/// use dingtalk_login::tower::SessionLayer;
/// use dingtalk_login::DingTalkLogin;
///
/// let login = DingTalkLogin::builder()
///     .app_key("dingxxxxxxxx")
///     .app_secret("app-secret")
///     .session_secret("a session key of at least 32 bytes!")
///     .build()
///     .unwrap();
/// let layer = SessionLayer::new(login);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct SessionLayer {
    login: DingTalkLogin,
}

impl SessionLayer {
    /// Verifies sessions with `login`'s keys, revocation set and cookie name.
    pub fn new(login: DingTalkLogin) -> Self {
        Self { login }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = Session<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Session {
            inner,
            login: self.login.clone(),
        }
    }
}

/// Verifies the session of every request — `Authorization: Bearer` (scheme case-insensitive)
/// wins over the session cookie — and stores a [`SessionOutcome`] in the request extensions.
/// It never refuses a request itself: guards ([`RequireSysLevel`](super::RequireSysLevel))
/// and extractors decide.
#[derive(Debug, Clone)]
pub struct Session<S> {
    inner: S,
    login: DingTalkLogin,
}

impl<S> Session<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, login: DingTalkLogin) -> Self {
        SessionLayer::new(login).layer(inner)
    }

    /// A [`SessionLayer`]; the same as [`SessionLayer::new`].
    pub fn layer(login: DingTalkLogin) -> SessionLayer {
        SessionLayer::new(login)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B> Service<Request<B>> for Session<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let head = Head::new(req.uri(), req.headers());
        let outcome = match web::session_token(&head, &self.login.cookie_settings().name)
            .and_then(|token| self.login.verify_shared(&token))
        {
            Ok(claims) => SessionOutcome::Authenticated(claims),
            Err(e) => SessionOutcome::Rejected(e),
        };
        req.extensions_mut().insert(outcome);
        // Verification is synchronous, so the service that was polled ready is called right
        // here: no clone + `mem::replace` is needed.
        self.inner.call(req)
    }
}
