//! actix-web (cargo feature `actix`): the crate's routes, extractors and a guard middleware.
//!
//! A thin adapter over the framework-free core, which the tower adapter shares, so an actix
//! app answers exactly like an axum one:
//!
//! - [`routes`] mounts the crate's routes (see [`crate::web`]) in one call and registers the
//!   [`DingTalkLogin`] as `web::Data<DingTalkLogin>`, where the extractors and the middleware
//!   find it;
//! - the root [`CurrentUser`](crate::CurrentUser) (401 `unauthenticated`),
//!   [`RequireAdmin`](crate::RequireAdmin), [`RequireSuperAdmin`](crate::RequireSuperAdmin) and
//!   [`RequirePolicy`](crate::RequirePolicy) (403 `forbidden`) are actix-web extractors as well
//!   as axum ones; `Option<CurrentUser>` and
//!   `Result<CurrentUser, dingtalk_login::Error>` work too;
//! - [`RequireSysLevel`] is the same guard as a middleware;
//! - [`Error`] implements [`ResponseError`] through the crate's one error mapping.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer, Responder};
//! use dingtalk_login::actix::routes;
//! use dingtalk_login::{CurrentUser, RequireAdmin};
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

use std::net::IpAddr;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::error::Error;
use crate::login::DingTalkLogin;
use crate::web::{check_session, header_str, Reply, RequestHead, SessionOutcome};

pub use middleware::{RequireSysLevel, RequireSysLevelMiddleware};
pub use routes::routes;

/// What an extractor says when no [`DingTalkLogin`] was registered.
const NOT_REGISTERED: &str = "DingTalkLogin is not registered with App::app_data";

/// The session outcome of a request, checked once and kept in its extensions.
#[derive(Clone)]
struct Checked(SessionOutcome);

/// The request's session, checked once per request: `None` when no [`DingTalkLogin`] is
/// registered.
fn session(req: &HttpRequest) -> Option<SessionOutcome> {
    // The `Ref` of `extensions()` is dropped at the end of this statement.
    let cached = req.extensions().get::<Checked>().cloned();
    if let Some(Checked(outcome)) = cached {
        return Some(outcome);
    }
    let login = registered_login(req)?;
    let outcome = check_session(login, req);
    req.extensions_mut().insert(Checked(outcome.clone()));
    Some(outcome)
}

/// The `DingTalkLogin` registered with the app, borrowed.
fn registered_login(req: &HttpRequest) -> Option<&DingTalkLogin> {
    req.app_data::<web::Data<DingTalkLogin>>()
        .map(|data| data.get_ref())
        .or_else(|| req.app_data::<DingTalkLogin>())
}

/// The core's view of an actix request.
impl RequestHead for HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        // `authorization` is read on every request: by its constant name (no parsing of the
        // name), and the token (hundreds of bytes) only checked to be UTF-8. Nothing is lost:
        // a token with any byte outside base64url and `.` fails verification (a cached one
        // passed it), and a malformed header is an invalid token, not a missing one.
        let value = match name {
            "authorization" => self
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()),
            _ => self
                .headers()
                .get(name)
                .and_then(|v| header_str(v.as_bytes())),
        };
        match value {
            Some(value) => Some(value),
            // HTTP/2 carries the host in `:authority`, which ends up in the URI.
            None if name == "host" => self.uri().authority().map(|a| a.as_str()),
            None => None,
        }
    }

    fn cookie_headers(&self) -> impl Iterator<Item = &str> {
        self.headers()
            .get_all(header::COOKIE)
            .filter_map(|v| header_str(v.as_bytes()))
    }

    fn method(&self) -> &str {
        HttpRequest::method(self).as_str()
    }

    fn scheme(&self) -> Option<&str> {
        // actix knows when it terminates TLS itself.
        self.uri()
            .scheme_str()
            .or(Some(if self.app_config().secure() {
                "https"
            } else {
                "http"
            }))
    }

    fn query(&self) -> Option<&str> {
        Some(self.query_string()).filter(|q| !q.is_empty())
    }

    fn path_and_query(&self) -> &str {
        self.uri().path_and_query().map_or("/", |pq| pq.as_str())
    }

    fn peer_ip(&self) -> Option<IpAddr> {
        self.peer_addr().map(|a| a.ip())
    }
}

/// A `Reply` as an actix response.
fn into_response(reply: Reply) -> HttpResponse {
    // actix-web 4 is on `http` 0.2, the core on `http` 1: convert through the number.
    let status =
        StatusCode::from_u16(reply.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    for (name, value) in reply.headers {
        res.append_header((name, value));
    }
    res.body(reply.body)
}

/// The crate's one error mapping, as actix sees it.
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_response(Reply::error(self))
    }
}
