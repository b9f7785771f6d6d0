//! The guard as a middleware, for a resource or a scope.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};

use super::{into_response, session};
use crate::error::Error;
use crate::guard::SysLevelPolicy;
use crate::web::{self, Reply};

/// Protects everything it wraps: 401 `unauthenticated` without a valid session, 403
/// `forbidden` when the session fails the policy. A CORS preflight (`OPTIONS` with `Origin`
/// and `Access-Control-Request-Method`) is answered 204 without calling the handler; any other
/// `OPTIONS` is authorized like every method.
///
/// The checked session is kept in the request, so a [`CurrentUser`](crate::CurrentUser)
/// behind the middleware costs no second verification.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use dingtalk_login::actix::RequireSysLevel;
///
/// let app = App::new().service(
///     web::resource("/admin/stats")
///         .wrap(RequireSysLevel::admin())
///         .route(web::get().to(HttpResponse::Ok)),
/// );
/// # let _ = app;
/// ```
///
/// A middleware on a `Scope` runs before the scope's routing, so an unknown path inside the
/// scope answers 401/403 rather than 404; wrap single resources, or use the
/// [`RequireAdmin`](crate::RequireAdmin) extractors, where that matters.
#[derive(Debug, Clone)]
pub struct RequireSysLevel {
    policy: Arc<SysLevelPolicy>,
}

impl RequireSysLevel {
    /// Requires a session that passes `policy`.
    pub fn new(policy: SysLevelPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }

    /// Admins: `sys_level` 1 or 2.
    pub fn admin() -> Self {
        Self::new(SysLevelPolicy::admin())
    }

    /// The super admin: `sys_level` 1.
    pub fn super_admin() -> Self {
        Self::new(SysLevelPolicy::super_admin())
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireSysLevel
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireSysLevelMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireSysLevelMiddleware {
            service,
            policy: self.policy.clone(),
        }))
    }
}

/// The service [`RequireSysLevel`] wraps around a resource or scope.
#[derive(Debug)]
pub struct RequireSysLevelMiddleware<S> {
    service: S,
    policy: Arc<SysLevelPolicy>,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for RequireSysLevelMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let outcome = session(req.request());
        let decision = match &outcome {
            Some(outcome) => web::gate(req.request(), &self.policy, Some(outcome)),
            None => Err(Reply::error(&Error::Internal(super::NOT_REGISTERED))),
        };
        if let Err(reply) = decision {
            // A response, not an `Err`, so outer middleware (CORS, logging) still see it.
            let res = req
                .into_response(into_response(reply))
                .map_into_right_body();
            return Box::pin(ready(Ok(res)));
        }
        let fut = self.service.call(req);
        Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) })
    }
}
