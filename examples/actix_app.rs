//! The HTTP contract of `dingtalk-login` as an actix-web app, configured from the environment:
//! the same routes, answers, environment and log line as `axum_app`.
//!
//! ```text
//! DINGTALK_APP_KEY=dingxxxx DINGTALK_APP_SECRET=... SESSION_SECRET=$(openssl rand -hex 32) \
//!     cargo run --example actix_app --features "actix directory metrics"
//! ```
//!
//! | route | who may call |
//! |---|---|
//! | `GET /healthz` | anyone |
//! | `POST /auth/dingtalk`, `GET /auth/dingtalk?code&state`, `GET /auth/dingtalk/state`, `GET /auth/dingtalk/jsapi?url=`, `GET /auth/dingtalk/web[?next=]`, `GET /auth/dingtalk/web/callback` | anyone |
//! | `GET /me`, `POST /auth/logout`, `POST /auth/refresh` | a session |
//! | `GET /admin`, `GET /admin/users/by-mobile/{mobile}`, `GET /admin/accounts/{account_id}`, `GET /admin/employees/{userid}`, `ANY /admin/echo` | `sys_level` 1 or 2 |
//! | `GET /admin/super`, `POST /admin/users/{userid}/revoke` | `sys_level` 1 |
//!
//! A browser page (`GET` with `Accept: text/html`, not `application/json`) without a session
//! is sent to `/auth/dingtalk/web?next=<path>` instead of 401 when `PUBLIC_URL` is set.
//!
//! The environment is described in `examples/support/mod.rs`. Tests include this file with
//! `#[path = "../examples/actix_app.rs"] mod actix_app;` and serve [`configure`].

pub mod support;

pub use support::AppEnv;

use std::process::ExitCode;

use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer};
use dingtalk_login::actix::{routes, RequireSysLevel};
use dingtalk_login::{CurrentUser, Error, RequireAdmin, RequireSuperAdmin};
use serde_json::json;
use support::{Directory, Me};

/// The contract's routes, built from `env`: give the result to `App::configure` in every
/// worker's `App` (it is cheap to clone; all workers share one login service and its stores).
///
/// # Errors
/// A message when the login service cannot be built from `env`.
pub fn configure(
    env: &AppEnv,
) -> Result<impl Fn(&mut ServiceConfig) + Clone + Send + 'static, String> {
    let login = env.login()?;
    let directory = web::Data::new(env.directory(&login)?);
    let login_routes = env.login_routes();
    Ok(move |cfg: &mut ServiceConfig| {
        // actix matches resources in the order they were registered, one pattern after the
        // other: the routes of every page load come first, the login routes (a dozen
        // patterns, used once per session) after them.
        cfg.route("/healthz", web::get().to(|| async { "ok" }))
            .route("/me", web::get().to(me))
            .configure(routes(login.clone(), login_routes.clone()))
            .app_data(directory.clone())
            // Guards sit on the routes, not on an `/admin` scope, so an unknown path under
            // /admin still answers 404.
            .route("/admin", web::get().to(admin))
            .route("/admin/super", web::get().to(super_admin))
            // The middleware form of the same guard, on single resources.
            .service(
                web::resource("/admin/users/by-mobile/{mobile}")
                    .wrap(RequireSysLevel::admin())
                    .route(web::get().to(by_mobile)),
            )
            .service(
                web::resource("/admin/accounts/{account_id}")
                    .wrap(RequireSysLevel::admin())
                    .route(web::get().to(account)),
            )
            .service(
                web::resource("/admin/employees/{userid}")
                    .wrap(RequireSysLevel::admin())
                    .route(web::get().to(employee)),
            )
            .service(
                web::resource("/admin/echo")
                    .wrap(RequireSysLevel::admin())
                    .route(web::route().to(echo)),
            );
    })
}

async fn me(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(Me::new(&user))
}

async fn admin(RequireAdmin(user): RequireAdmin) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "area": "admin", "userid": user.sub, "sys_level": user.sys_level }))
}

async fn super_admin(RequireSuperAdmin(user): RequireSuperAdmin) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "area": "super_admin", "userid": user.sub, "sys_level": user.sys_level }))
}

/// Any method: shows that the guard authorizes every method, `OPTIONS` included.
async fn echo(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "handler": "echo", "method": req.method().as_str() }))
}

// The directory lookups; the resource's middleware already required an admin.
async fn by_mobile(
    dir: web::Data<Directory>,
    mobile: web::Path<String>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(dir.by_mobile(&mobile).await?))
}

async fn account(
    dir: web::Data<Directory>,
    account_id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(dir.account(&account_id).await?))
}

async fn employee(
    dir: web::Data<Directory>,
    userid: web::Path<String>,
) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(dir.employee(&userid).await?))
}

#[allow(dead_code)]
#[actix_web::main]
async fn main() -> ExitCode {
    let env = match support::load_env().await {
        Ok(env) => env,
        Err(msg) => return fail(&msg),
    };
    let app = match configure(&env) {
        Ok(app) => app,
        Err(msg) => return fail(&msg),
    };
    // A request head must arrive within 10 s and a closing client gets 5 s, so slow clients
    // cannot hold the workers; the login body has its own read timeout in the crate.
    let server = match HttpServer::new(move || App::new().configure(app.clone()))
        .client_request_timeout(std::time::Duration::from_secs(10))
        .client_disconnect_timeout(std::time::Duration::from_secs(5))
        .bind(env.bind)
    {
        Ok(server) => server,
        Err(e) => return fail(&format!("cannot listen on BIND={}: {e}", env.bind)),
    };
    let addr = server.addrs().first().copied().unwrap_or(env.bind);
    support::announce("actix_app", addr, &env);
    // actix stops gracefully on Ctrl-C / SIGTERM by itself.
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server error: {e}")),
    }
}

#[allow(dead_code)]
fn fail(msg: &str) -> ExitCode {
    support::fail("actix_app", msg)
}
