//! axum extractors over the [tower layers](crate::tower) (cargo feature `axum`).
//!
//! | extractor | answers when it refuses |
//! |---|---|
//! | [`CurrentUser`] | 401 `unauthenticated` (no, invalid, expired or revoked session) |
//! | `Option<CurrentUser>` | never (`None` without a valid session) |
//! | [`RequireAdmin`], [`RequireSuperAdmin`], [`RequirePolicy`] | 401 as above, 403 `forbidden` |
//!
//! All read the session the [`DingTalkLoginLayer`](crate::tower::DingTalkLoginLayer) checked;
//! without that layer they answer 500 `internal_error` ("Can't extract CurrentUser. Is the
//! session layer installed?") rather than panic. [`Error`] implements `IntoResponse` through
//! the crate's one error mapping.
//!
//! ```
//! use axum::{routing::get, Json, Router};
//! use dingtalk_login::{CurrentUser, RequireAdmin};
//! use dingtalk_login::tower::{DingTalkLoginLayer, RequireSysLevel};
//! use dingtalk_login::DingTalkLogin;
//!
//! async fn me(user: CurrentUser) -> Json<serde_json::Value> {
//!     Json(user.user_json())
//! }
//!
//! async fn reports(RequireAdmin(user): RequireAdmin) -> String {
//!     format!("reports for {}", user.name)
//! }
//!
//! let login = DingTalkLogin::builder()
//!     .app_key("dingxxxxxxxx")
//!     .app_secret("app-secret")
//!     .session_secret("a session key of at least 32 bytes!")
//!     .build()
//!     .unwrap();
//! let admin = Router::new()
//!     .route("/admin", get(|| async { "admins only" }))
//!     .route_layer(RequireSysLevel::admin());
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/reports", get(reports))
//!     .merge(admin)
//!     .layer(DingTalkLoginLayer::new(login));
//! # let _ = app;
//! ```
//!
//! `Router::layer` puts the layer around every route, boxed, and axum clones that box on
//! every request: about three allocations a request that a route without a session pays
//! for too. Where that matters, wrap the finished router once instead, as
//! `examples/axum_app.rs` does; it serves the same routes and answers the same way:
//!
//! ```no_run
//! use axum::extract::Request;
//! use axum::{routing::get, Router, ServiceExt};
//! use dingtalk_login::tower::DingTalkLoginLayer;
//! use dingtalk_login::{CurrentUser, DingTalkLogin};
//! use tower::Layer;
//!
//! # async fn run(login: DingTalkLogin) -> std::io::Result<()> {
//! let router = Router::new()
//!     .route("/healthz", get(|| async { "ok" }))
//!     .route("/me", get(|user: CurrentUser| async move { user.name.clone() }));
//! let app = DingTalkLoginLayer::new(login).layer(router);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
//! # }
//! ```

use ::axum::extract::{FromRequestParts, OptionalFromRequestParts};
use ::axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::Error;
use crate::guard::{Policy, SysLevelPolicy};
use crate::tower::{attached, into_response};
use crate::web::{self, Reply};

pub use crate::user::{CurrentUser, RequireAdmin, RequirePolicy, RequireSuperAdmin};

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        into_response(Reply::error(&self))
    }
}

fn user(parts: &Parts, policy: Option<&SysLevelPolicy>) -> Result<CurrentUser, Error> {
    web::authorize(attached(&parts.extensions), policy)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        user(parts, None)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Error> {
        match user(parts, None) {
            Ok(user) => Ok(Some(user)),
            Err(Error::Unauthenticated(_) | Error::LoginRequired { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequireAdmin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        user(parts, Some(&SysLevelPolicy::admin())).map(Self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequireSuperAdmin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        user(parts, Some(&SysLevelPolicy::super_admin())).map(Self)
    }
}

impl<S: Send + Sync, P: Policy> FromRequestParts<S> for RequirePolicy<P> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        user(parts, Some(&P::policy())).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use ::axum::body::Body;
    use ::axum::routing::get;
    use ::axum::Router;
    use ::tower::ServiceExt;
    use http::Request;

    use super::*;

    #[tokio::test]
    async fn a_missing_login_layer_is_a_clear_500() {
        let app: Router = Router::new()
            .route("/me", get(|u: CurrentUser| async move { u.sub.clone() }))
            .route(
                "/maybe",
                get(|u: Option<CurrentUser>| async move { u.is_some().to_string() }),
            );
        for path in ["/me", "/maybe"] {
            let res = app
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), 500, "{path}");
            let body = ::axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert!(body.contains("Is the session layer installed?"), "{body}");
        }
    }
}
