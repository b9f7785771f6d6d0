//! The `sys_level` guard as a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{error_response, ResponseFuture, SessionOutcome, MISSING_SESSION_LAYER};
use crate::error::Error;
use crate::guard::SysLevelPolicy;

/// Applies [`RequireSysLevel`]: only sessions passing a [`SysLevelPolicy`] get through.
///
/// Put it on axum's `route_layer` (not `layer`), so an unknown path still answers 404, and
/// behind a [`SessionLayer`](super::SessionLayer).
///
/// ```
/// use dingtalk_login::guard::{SysLevel, SysLevelPolicy};
/// use dingtalk_login::tower::{RequireSysLevel, RequireSysLevelLayer};
///
/// let admins = RequireSysLevel::admin();
/// let bosses = RequireSysLevelLayer::new(SysLevelPolicy::any_of([SysLevel::Boss]));
/// # let _ = (admins, bosses);
/// ```
#[derive(Debug, Clone)]
pub struct RequireSysLevelLayer {
    policy: Arc<SysLevelPolicy>,
}

impl RequireSysLevelLayer {
    /// Lets through the sessions that pass `policy`.
    pub fn new(policy: SysLevelPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }

    /// Super admins and sub admins (`sys_level` 1 or 2).
    pub fn admin() -> Self {
        Self::new(SysLevelPolicy::admin())
    }

    /// Super admins only (`sys_level` 1).
    pub fn super_admin() -> Self {
        Self::new(SysLevelPolicy::super_admin())
    }
}

impl<S> Layer<S> for RequireSysLevelLayer {
    type Service = RequireSysLevel<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireSysLevel {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// Answers 401 `unauthenticated` without a valid session, 403 `forbidden` when the session
/// fails the policy, and 500 `internal_error` when no [`SessionLayer`](super::SessionLayer)
/// ran before it; passes the request on otherwise. `OPTIONS` always passes (a CORS preflight
/// carries no credentials and is never answered 401).
#[derive(Debug, Clone)]
pub struct RequireSysLevel<S> {
    inner: S,
    policy: Arc<SysLevelPolicy>,
}

impl RequireSysLevel<()> {
    /// A layer letting through super admins and sub admins (`sys_level` 1 or 2).
    ///
    /// ```
    /// let layer = dingtalk_login::tower::RequireSysLevel::admin();
    /// # let _ = layer;
    /// ```
    pub fn admin() -> RequireSysLevelLayer {
        RequireSysLevelLayer::admin()
    }

    /// A layer letting through super admins only (`sys_level` 1).
    pub fn super_admin() -> RequireSysLevelLayer {
        RequireSysLevelLayer::super_admin()
    }

    /// A layer letting through the sessions that pass `policy`.
    pub fn policy(policy: SysLevelPolicy) -> RequireSysLevelLayer {
        RequireSysLevelLayer::new(policy)
    }
}

impl<S> RequireSysLevel<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, policy: SysLevelPolicy) -> Self {
        RequireSysLevelLayer::new(policy).layer(inner)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireSysLevel<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let refusal = if req.method() == Method::OPTIONS {
            None
        } else {
            match req.extensions().get::<SessionOutcome>() {
                None => Some(Error::Internal(MISSING_SESSION_LAYER)),
                Some(SessionOutcome::Rejected(e)) => Some(e.clone()),
                Some(SessionOutcome::Authenticated(claims)) if claims.satisfies(&self.policy) => {
                    None
                }
                Some(SessionOutcome::Authenticated(_)) => Some(Error::Forbidden),
            }
        };
        match refusal {
            Some(e) => ResponseFuture::ready(error_response(&e)),
            // Called synchronously: the service that was polled ready is the one called, so no
            // clone + `mem::replace` is needed.
            None => ResponseFuture::inner(self.inner.call(req)),
        }
    }
}
