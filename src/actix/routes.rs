//! The crate's routes, registered on an actix `App` or `Scope`.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::into_response;
use crate::error::Error;
use crate::login::DingTalkLogin;
use crate::web::{self as core, LoginRoutes, Route, MAX_BODY_BYTES};

/// Mounts the crate's routes (see [`crate::web`]; paths and allowed origins from
/// [`LoginRoutes`]) on an `App` or `Scope`, and registers `login` as
/// `web::Data<DingTalkLogin>` there, for [`CurrentUser`](crate::CurrentUser), the guards and
/// [`RequireSysLevel`](super::RequireSysLevel).
///
/// Each route is registered for its one method, so another method on the same path reaches
/// whatever else the app registered there. On a `Scope`, the paths are relative to it and the
/// `web::Data` is visible inside it only: register the login on the `App` too
/// (`App::app_data(web::Data::new(login))`) for extractors elsewhere.
///
/// ```
/// use actix_web::App;
/// use dingtalk_login::actix::routes;
/// use dingtalk_login::{web::LoginRoutes, DingTalkLogin};
///
/// let login = DingTalkLogin::builder()
///     .app_key("dingxxxxxxxx")
///     .app_secret("app-secret")
///     .session_secret("a session key of at least 32 bytes!")
///     .build()
///     .unwrap();
/// let paths = LoginRoutes::default().allowed_origins(["https://app.example.com"]);
/// let app = App::new().configure(routes(login, paths));
/// # let _ = app;
/// ```
pub fn routes(login: DingTalkLogin, routes: LoginRoutes) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(login.clone()));
        let shared = Arc::new((login, routes));
        for (method, path, route) in shared.1.table() {
            let shared = shared.clone();
            let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
            cfg.route(
                path,
                web::method(method).to(move |req, body| answer(shared.clone(), route, req, body)),
            );
        }
    }
}

async fn answer(
    shared: Arc<(DingTalkLogin, LoginRoutes)>,
    route: Route,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let (login, routes) = &*shared;
    let read = async move {
        match body.to_bytes_limited(MAX_BODY_BYTES).await {
            Ok(Ok(read)) => Ok(read),
            Ok(Err(_)) => Err(Error::InvalidCode("the request body could not be read")),
            Err(_) => Err(Error::InvalidCode("the request body is too large")),
        }
    };
    into_response(core::answer(login, routes, route, &req, read).await)
}
