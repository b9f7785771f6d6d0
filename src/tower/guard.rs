//! The `sys_level` guard as a tower service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{attached, into_response, Head, ResponseFuture};
use crate::guard::SysLevelPolicy;
use crate::web;

/// Applies [`RequireSysLevel`]: only sessions passing a [`SysLevelPolicy`] get through.
///
/// Put it on axum's `route_layer` (not `layer`), so an unknown path still answers 404, and
/// behind a [`DingTalkLoginLayer`](super::DingTalkLoginLayer).
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
/// fails the policy, and 500 `internal_error` when no
/// [`DingTalkLoginLayer`](super::DingTalkLoginLayer) ran before it; passes the request on
/// otherwise. A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
/// is answered 204 without calling the inner service; any other `OPTIONS` is authorized like
/// every method.
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
        RequireSysLevelLayer::new(SysLevelPolicy::admin())
    }

    /// A layer letting through super admins only (`sys_level` 1).
    ///
    /// ```
    /// let layer = dingtalk_login::tower::RequireSysLevel::super_admin();
    /// # let _ = layer;
    /// ```
    pub fn super_admin() -> RequireSysLevelLayer {
        RequireSysLevelLayer::new(SysLevelPolicy::super_admin())
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
        let session = attached(req.extensions());
        let decision = web::gate(&Head::of(&req), &self.policy, session);
        match decision {
            // Called synchronously: the service that was polled ready is the one called, so no
            // clone + `mem::replace` is needed.
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err(reply) => ResponseFuture::ready(into_response(reply)),
        }
    }
}
