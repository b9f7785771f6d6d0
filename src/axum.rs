//! axum extractors over the [tower pieces](crate::tower) (cargo feature `axum`).
//!
//! | extractor | answers when it refuses |
//! |---|---|
//! | [`CurrentUser`] | 401 `unauthenticated` (no, invalid, expired or revoked session) |
//! | `Option<CurrentUser>` | never (`None` without a valid session) |
//! | [`RequireAdmin`], [`RequireSuperAdmin`], [`RequirePolicy`] | 401 as above, 403 `forbidden` |
//!
//! All read the [`SessionOutcome`] the [`SessionLayer`](crate::tower::SessionLayer) stored;
//! without that layer they answer 500 `internal_error` ("Can't extract CurrentUser. Is the
//! session layer installed?") rather than panic. [`Error`] implements `IntoResponse` through
//! [`error_response`], the crate's one mapping.
//!
//! ```
//! use axum::{routing::get, Json, Router};
//! use dingtalk_login::axum::{CurrentUser, RequireAdmin};
//! use dingtalk_login::tower::{DingTalkLoginLayer, RequireSysLevel, SessionLayer};
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
//!     .layer(SessionLayer::new(login.clone()))
//!     .layer(DingTalkLoginLayer::new(login));
//! # let _ = app;
//! ```

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::Error;
use crate::guard::SysLevelPolicy;
use crate::tower::{error_response, SessionOutcome, MISSING_SESSION_LAYER};

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

/// The logged-in user: the claims of a valid session. Dereferences to [`Claims`](crate::session::Claims).
///
/// Refuses with 401 `unauthenticated` (the body's message says why: no session, invalid,
/// expired or revoked). `Option<CurrentUser>` never refuses: it is `None` without a valid
/// session.
///
/// ```
/// use dingtalk_login::axum::CurrentUser;
///
/// async fn hello(user: Option<CurrentUser>) -> String {
///     match user {
///         Some(user) => format!("hello {}", user.name),
///         None => "hello stranger".into(),
///     }
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(hello);
/// ```
pub use crate::user::CurrentUser;

fn outcome(parts: &Parts) -> Result<&SessionOutcome, Error> {
    parts
        .extensions
        .get::<SessionOutcome>()
        .ok_or(Error::Internal(MISSING_SESSION_LAYER))
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        match outcome(parts)? {
            SessionOutcome::Authenticated(claims) => Ok(Self(claims.clone())),
            SessionOutcome::Rejected(e) => Err(e.clone()),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Error> {
        Ok(match outcome(parts)? {
            SessionOutcome::Authenticated(claims) => Some(Self(claims.clone())),
            SessionOutcome::Rejected(_) => None,
        })
    }
}

fn require(parts: &Parts, policy: &SysLevelPolicy) -> Result<CurrentUser, Error> {
    match outcome(parts)? {
        SessionOutcome::Authenticated(claims) if claims.satisfies(policy) => {
            Ok(CurrentUser(claims.clone()))
        }
        SessionOutcome::Authenticated(_) => Err(Error::Forbidden),
        SessionOutcome::Rejected(e) => Err(e.clone()),
    }
}

/// A user with `sys_level` 1 or 2 (super or sub admin); 403 `forbidden` for anyone else,
/// including the boss (100).
///
/// ```
/// use dingtalk_login::axum::RequireAdmin;
///
/// async fn settings(RequireAdmin(admin): RequireAdmin) -> String {
///     format!("settings, for {}", admin.userid())
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(settings);
/// ```
pub use crate::user::RequireAdmin;

impl<S: Send + Sync> FromRequestParts<S> for RequireAdmin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        require(parts, &SysLevelPolicy::admin()).map(Self)
    }
}

/// A user with `sys_level` 1 (the super admin); 403 `forbidden` for anyone else.
///
/// ```
/// use dingtalk_login::axum::RequireSuperAdmin;
///
/// async fn billing(RequireSuperAdmin(owner): RequireSuperAdmin) -> String {
///     format!("billing, for {}", owner.name)
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(billing);
/// ```
pub use crate::user::RequireSuperAdmin;

impl<S: Send + Sync> FromRequestParts<S> for RequireSuperAdmin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        require(parts, &SysLevelPolicy::super_admin()).map(Self)
    }
}

pub use crate::guard::Policy;

/// A user passing the policy `P`; 403 `forbidden` for anyone else.
///
/// ```
/// use dingtalk_login::axum::{Policy, RequirePolicy};
/// use dingtalk_login::guard::{SysLevel, SysLevelPolicy};
///
/// struct Bosses;
/// impl Policy for Bosses {
///     fn policy() -> SysLevelPolicy {
///         SysLevelPolicy::any_of([SysLevel::Boss])
///     }
/// }
///
/// async fn numbers(boss: RequirePolicy<Bosses>) -> String {
///     format!("numbers, for {}", boss.user.name)
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(numbers);
/// ```
pub use crate::user::RequirePolicy;

impl<S: Send + Sync, P: Policy> FromRequestParts<S> for RequirePolicy<P> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let user = match outcome(parts)? {
            SessionOutcome::Authenticated(claims) => CurrentUser(claims.clone()),
            SessionOutcome::Rejected(e) => return Err(e.clone()),
        };
        Self::check(user).ok_or(Error::Forbidden)
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
    use crate::dingtalk::DingTalkUser;
    use crate::guard::SysLevel;
    use crate::tower::SessionLayer;
    use crate::DingTalkLogin;

    fn login() -> DingTalkLogin {
        DingTalkLogin::builder()
            .app_key("key")
            .app_secret("secret")
            .oapi_url("http://127.0.0.1:9")
            .session_secret("0123456789abcdef0123456789abcdef")
            .build()
            .unwrap()
    }

    fn token(login: &DingTalkLogin, level: i64) -> String {
        let user = DingTalkUser {
            userid: format!("u-{level}"),
            unionid: None,
            associated_unionid: None,
            name: "Name".into(),
            device_id: None,
            sys: level == 1 || level == 2,
            sys_level: SysLevel::from(level),
        };
        login.sessions().issue(&user, Default::default()).unwrap().0
    }

    struct Bosses;
    impl Policy for Bosses {
        fn policy() -> SysLevelPolicy {
            SysLevelPolicy::any_of([SysLevel::Boss])
        }
    }

    fn routes() -> Router {
        Router::new()
            .route("/me", get(|u: CurrentUser| async move { u.sub.clone() }))
            .route(
                "/maybe",
                get(|u: Option<CurrentUser>| async move {
                    u.map_or("nobody".into(), |u| u.sub.clone())
                }),
            )
            .route(
                "/admin",
                get(|RequireAdmin(u): RequireAdmin| async move { u.sub.clone() }),
            )
            .route(
                "/super",
                get(|RequireSuperAdmin(u): RequireSuperAdmin| async move { u.sub.clone() }),
            )
            .route(
                "/boss",
                get(|b: RequirePolicy<Bosses>| async move { b.user.sub.clone() }),
            )
    }

    async fn status(app: &Router, path: &str, token: Option<&str>) -> (u16, String) {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = ::axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn extractors_answer_401_403_and_pass() {
        let login = login();
        let app = routes().layer(SessionLayer::new(login.clone()));
        let (super_admin, sub, boss) = (token(&login, 1), token(&login, 2), token(&login, 100));

        assert_eq!(status(&app, "/me", Some(&sub)).await, (200, "u-2".into()));
        let (code, body) = status(&app, "/me", None).await;
        assert_eq!(code, 401);
        assert!(body.contains("unauthenticated"));
        assert_eq!(status(&app, "/me", Some("not.a.jwt")).await.0, 401);
        assert_eq!(status(&app, "/maybe", None).await, (200, "nobody".into()));
        assert_eq!(
            status(&app, "/maybe", Some("not.a.jwt")).await,
            (200, "nobody".into())
        );
        assert_eq!(
            status(&app, "/maybe", Some(&boss)).await,
            (200, "u-100".into())
        );
        assert_eq!(status(&app, "/admin", Some(&sub)).await.0, 200);
        assert_eq!(status(&app, "/admin", Some(&boss)).await.0, 403);
        assert_eq!(status(&app, "/super", Some(&sub)).await.0, 403);
        assert_eq!(status(&app, "/super", Some(&super_admin)).await.0, 200);
        assert_eq!(status(&app, "/boss", Some(&boss)).await.0, 200);
        assert_eq!(status(&app, "/boss", Some(&super_admin)).await.0, 403);
    }

    #[tokio::test]
    async fn a_missing_session_layer_is_a_clear_500() {
        let app = routes();
        for path in ["/me", "/maybe", "/admin"] {
            let (code, body) = status(&app, path, None).await;
            assert_eq!(code, 500, "{path}");
            assert!(
                body.contains("internal_error") && body.contains("Is the session layer installed?"),
                "{body}"
            );
        }
    }
}
