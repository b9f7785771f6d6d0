//! The guard as a middleware, for a whole scope.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;

use super::DingTalkExt;
use crate::error::Error;
use crate::guard::SysLevelPolicy;

/// Protects everything it wraps: 401 `unauthenticated` without a valid session, 403
/// `forbidden` when the session fails the policy. CORS preflights (`OPTIONS`) pass through
/// unchecked, so an outer CORS middleware can answer them.
///
/// The verified session is kept in the request, so a [`CurrentUser`](super::CurrentUser)
/// behind the middleware costs no second verification.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use dingtalk_login::actix::RequireSysLevel;
///
/// let app = App::new().service(
///     web::scope("/admin")
///         .wrap(RequireSysLevel::admin())
///         .route("/stats", web::get().to(HttpResponse::Ok)),
/// );
/// # let _ = app;
/// ```
///
/// A middleware on a `Scope` runs before the scope's routing, so an unknown path inside the
/// scope answers 401/403 rather than 404; wrap single resources
/// (`web::resource(..).wrap(..)`) or use the [`RequireAdmin`](super::RequireAdmin) extractors
/// where that matters.
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

/// The service [`RequireSysLevel`] wraps around a scope or resource.
#[derive(Debug)]
pub struct RequireSysLevelMiddleware<S> {
    service: S,
    policy: Arc<SysLevelPolicy>,
}

impl<S> RequireSysLevelMiddleware<S> {
    fn check(&self, req: &ServiceRequest) -> Result<(), Error> {
        if req.method() == Method::OPTIONS {
            return Ok(());
        }
        let user = req.current_user()?;
        if user.satisfies(&self.policy) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
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
        if let Err(e) = self.check(&req) {
            // A response, not an `Err`, so outer middleware (CORS, logging) still see it.
            let res = req.error_response(e).map_into_right_body();
            return Box::pin(ready(Ok(res)));
        }
        let fut = self.service.call(req);
        Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actix::tests_support::{login, token_for};
    use crate::actix::CurrentUser;
    use crate::guard::SysLevel;
    use actix_web::http::{header, StatusCode};
    use actix_web::{test, web, App, HttpResponse};

    async fn who(user: CurrentUser) -> String {
        user.sub.clone()
    }

    #[actix_web::test]
    async fn guards_a_scope() {
        let login = login();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(login.clone()))
                .service(
                    web::scope("/admin")
                        .wrap(RequireSysLevel::admin())
                        .route("", web::get().to(who))
                        .route(
                            "/x",
                            web::method(Method::OPTIONS).to(HttpResponse::NoContent),
                        ),
                )
                .service(
                    web::resource("/super")
                        .wrap(RequireSysLevel::super_admin())
                        .route(web::get().to(who)),
                ),
        )
        .await;
        let call = |method: Method, uri: &'static str, token: Option<String>| {
            let mut req = test::TestRequest::default().method(method).uri(uri);
            if let Some(t) = token {
                req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
            }
            test::call_service(&app, req.to_request())
        };
        let employee = token_for(&login, "emp", SysLevel::Other);
        let sub = token_for(&login, "sub", SysLevel::SubAdmin);

        let res = call(Method::GET, "/admin", None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        assert_eq!(body["error"], "unauthenticated");
        let res = call(Method::GET, "/admin", Some(employee.clone())).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        assert_eq!(body["error"], "forbidden");
        let res = call(Method::GET, "/admin", Some(sub.clone())).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(test::read_body(res).await, "sub");
        assert_eq!(
            call(Method::OPTIONS, "/admin/x", None).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(Method::GET, "/super", Some(sub)).await.status(),
            StatusCode::FORBIDDEN
        );
        let root = token_for(&login, "root", SysLevel::SuperAdmin);
        assert_eq!(
            call(Method::GET, "/super", Some(root)).await.status(),
            StatusCode::OK
        );
    }

    #[actix_web::test]
    async fn without_a_dingtalk_login_it_answers_500() {
        let app = test::init_service(
            App::new().service(
                web::scope("/admin")
                    .wrap(RequireSysLevel::admin())
                    .route("", web::get().to(HttpResponse::Ok)),
            ),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/admin").to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
