//! actix-web: extractors, guards, the login routes and a guard middleware.
//!
//! A thin adapter over [`DingTalkLogin`] and [`crate::web`], so an actix app answers exactly
//! like the tower/axum one: the same routes, Origin and state checks, JSON, cookies and errors.
//!
//! - [`routes`] mounts `POST`/`GET /auth/dingtalk`, `GET /auth/dingtalk/state` and
//!   `POST /auth/logout` in one call, and registers the [`DingTalkLogin`] as
//!   `web::Data<DingTalkLogin>`, where the extractors and the middleware find it;
//! - [`CurrentUser`] (401 `unauthenticated`), [`RequireAdmin`], [`RequireSuperAdmin`] and
//!   [`RequirePolicy`] (403 `forbidden`) are extractors; `Option<CurrentUser>` and
//!   `Result<CurrentUser, dingtalk_login::Error>` work too;
//! - [`RequireSysLevel`] is the same guard as a middleware, for a whole scope;
//! - [`Error`] implements [`ResponseError`]: the core's status, JSON body and `Retry-After`.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer, Responder};
//! use dingtalk_login::actix::{routes, CurrentUser, RequireAdmin};
//! use dingtalk_login::{web::LoginRoutes, DingTalkLogin};
//!
//! async fn me(user: CurrentUser) -> impl Responder {
//!     web::Json(user.user_json())
//! }
//!
//! async fn admin(RequireAdmin(admin): RequireAdmin) -> impl Responder {
//!     format!("hello, admin {}", admin.userid())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let login = DingTalkLogin::builder()
//!         .app_key("dingxxxxxxxx")
//!         .app_secret("app-secret")
//!         .session_secret("a session key of at least 32 bytes!")
//!         .build()
//!         .expect("valid configuration");
//!     HttpServer::new(move || {
//!         App::new()
//!             .configure(routes(login.clone(), LoginRoutes::default()))
//!             .route("/me", web::get().to(me))
//!             .route("/admin", web::get().to(admin))
//!     })
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! }
//! ```

mod extract;
mod middleware;
mod routes;

use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::error::Error;
use crate::login::DingTalkLogin;
use crate::session::Claims;
use crate::web::{cookie_value, session_token, RequestParts};

pub use extract::{CurrentUser, Policy, RequireAdmin, RequirePolicy, RequireSuperAdmin};
pub use middleware::{RequireSysLevel, RequireSysLevelMiddleware};
pub use routes::{routes, MAX_BODY_BYTES};

/// What an extractor says when no [`DingTalkLogin`] was registered.
const NOT_REGISTERED: &str = "DingTalkLogin is not registered with App::app_data";

/// Session access on [`HttpRequest`] and [`ServiceRequest`], for handlers and middleware that
/// take the request itself (actix-identity's `IdentityExt` style).
///
/// ```
/// use actix_web::HttpRequest;
/// use dingtalk_login::actix::DingTalkExt;
///
/// async fn whoami(req: HttpRequest) -> Result<String, dingtalk_login::Error> {
///     Ok(req.current_user()?.userid().to_owned())
/// }
/// ```
pub trait DingTalkExt {
    /// The [`DingTalkLogin`] registered with `App::app_data`, as `web::Data<DingTalkLogin>`
    /// or as a plain `DingTalkLogin`.
    ///
    /// # Errors
    /// [`Error::Internal`] (500 `internal_error`) when none is registered.
    fn dingtalk_login(&self) -> Result<DingTalkLogin, Error>;

    /// The request's session: the `Authorization: Bearer` token (it wins) or the session
    /// cookie, verified once per request and then kept in the request's extensions.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] when there is no valid session; [`Error::Internal`] when no
    /// [`DingTalkLogin`] is registered.
    fn current_user(&self) -> Result<CurrentUser, Error>;
}

/// The claims of a session already verified for this request.
#[derive(Clone)]
struct Verified(Arc<Claims>);

impl DingTalkExt for HttpRequest {
    fn dingtalk_login(&self) -> Result<DingTalkLogin, Error> {
        registered_login(self).cloned()
    }

    fn current_user(&self) -> Result<CurrentUser, Error> {
        // The `Ref` of `extensions()` is dropped at the end of this statement.
        let cached = self.extensions().get::<Verified>().cloned();
        if let Some(Verified(claims)) = cached {
            return Ok(CurrentUser(claims));
        }
        // Borrowed, not cloned: a clone is an atomic on a count every worker shares.
        verify_request(registered_login(self)?, self).map(CurrentUser)
    }
}

impl DingTalkExt for ServiceRequest {
    fn dingtalk_login(&self) -> Result<DingTalkLogin, Error> {
        self.request().dingtalk_login()
    }

    fn current_user(&self) -> Result<CurrentUser, Error> {
        self.request().current_user()
    }
}

/// The `DingTalkLogin` registered with the app, borrowed.
fn registered_login(req: &HttpRequest) -> Result<&DingTalkLogin, Error> {
    req.app_data::<web::Data<DingTalkLogin>>()
        .map(|data| data.get_ref())
        .or_else(|| req.app_data::<DingTalkLogin>())
        // Logged at `warn` when it becomes the 500 (`ResponseError`).
        .ok_or(Error::Internal(NOT_REGISTERED))
}

/// Verifies the request's session with `login` and keeps the claims for later extractors.
pub(crate) fn verify_request(
    login: &DingTalkLogin,
    req: &HttpRequest,
) -> Result<Arc<Claims>, Error> {
    let token = session_token(req, &login.cookie_settings().name)?;
    let claims = login.verify_shared(&token)?;
    req.extensions_mut().insert(Verified(claims.clone()));
    Ok(claims)
}

/// The login routes' view of an actix request.
impl RequestParts for HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        match self.headers().get(name).and_then(|v| v.to_str().ok()) {
            Some(value) => Some(value),
            // HTTP/2 carries the host in `:authority`, which ends up in the URI.
            None if name == "host" => self.uri().authority().map(|a| a.as_str()),
            None => None,
        }
    }

    fn scheme(&self) -> Option<&str> {
        // actix knows when it terminates TLS itself; `X-Forwarded-Proto` still wins in
        // `LoginRoutes::check_origin`.
        self.uri()
            .scheme_str()
            .or(Some(if self.app_config().secure() {
                "https"
            } else {
                "http"
            }))
    }

    fn cookie(&self, name: &str) -> Option<String> {
        // Every `Cookie` header, not only the first (HTTP/2 clients may split them).
        self.headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| cookie_value(v, name))
    }
}

/// The one place the core's error mapping meets actix: the error's status, its JSON body
/// `{"error": .., "message": ..}`, `Cache-Control: no-store`, `Retry-After` when the upstream
/// said when to try again, and `WWW-Authenticate: Bearer` on `unauthenticated`, exactly as the
/// tower adapter answers.
///
/// Server-side failures (5xx) are logged at `warn` with the upstream detail the body leaves
/// out; the others at `debug`.
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        // actix-web 4 is on `http` 0.2, the core on `http` 1: convert through the number.
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "dingtalk-login request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "dingtalk-login request refused");
        }
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(after) = self.retry_after_secs() {
            res.insert_header((header::RETRY_AFTER, after));
        }
        if matches!(self, Error::Unauthenticated(_)) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        res.json(self.body())
    }
}

/// A JSON answer that no cache keeps (login answers carry a session token).
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    res.json(body)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::{Unavailable, UpstreamDetail};
    use actix_web::body::to_bytes;
    use actix_web::test::TestRequest;

    #[actix_web::test]
    async fn error_response_maps_status_body_and_retry_after() {
        let e = Error::UpstreamUnavailable {
            reason: Unavailable::RateLimited,
            retry_after: Some(Duration::from_millis(1500)),
            detail: Box::new(UpstreamDetail::default()),
        };
        let res = e.error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "2");
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(res.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["error"], "upstream_unavailable");

        let res = Error::Forbidden.error_response();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(
            res.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );

        let res = Error::Unauthenticated(crate::error::SessionRejection::Missing).error_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
    }

    #[test]
    fn request_parts_reads_headers_cookies_and_scheme() {
        let req = TestRequest::default()
            .insert_header(("Origin", "http://a.test"))
            .append_header((header::COOKIE, "a=1"))
            .append_header((header::COOKIE, "dingtalk_state=s1"))
            .to_http_request();
        assert_eq!(RequestParts::header(&req, "origin"), Some("http://a.test"));
        assert_eq!(
            RequestParts::cookie(&req, "dingtalk_state").as_deref(),
            Some("s1")
        );
        assert_eq!(RequestParts::scheme(&req), Some("http"));
    }

    #[test]
    fn missing_login_is_an_internal_error() {
        let req = TestRequest::default().to_http_request();
        let err = req.current_user().unwrap_err();
        assert_eq!(err.code(), "internal_error");
        assert!(err.message().contains("App::app_data"));
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use serde_json::Map;

    use crate::dingtalk::DingTalkUser;
    use crate::guard::SysLevel;
    use crate::DingTalkLogin;

    pub(crate) fn login_with(oapi_url: &str, app_key: &str, app_secret: &str) -> DingTalkLogin {
        DingTalkLogin::builder()
            .app_key(app_key)
            .app_secret(app_secret)
            .oapi_url(oapi_url)
            .session_secret("0123456789abcdef0123456789abcdef")
            .cookie_secure(false)
            .build()
            .unwrap()
    }

    pub(crate) fn login() -> DingTalkLogin {
        login_with("http://127.0.0.1:9", "key", "secret")
    }

    pub(crate) fn token_for(login: &DingTalkLogin, userid: &str, level: SysLevel) -> String {
        let user = DingTalkUser {
            userid: userid.into(),
            unionid: None,
            associated_unionid: None,
            name: userid.into(),
            device_id: None,
            sys: matches!(level, SysLevel::SuperAdmin | SysLevel::SubAdmin),
            sys_level: level,
        };
        login.sessions().issue(&user, Map::new()).unwrap().0
    }
}
