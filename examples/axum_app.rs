//! The HTTP contract of `dingtalk-login` as an axum app, configured from the environment.
//!
//! ```text
//! DINGTALK_APP_KEY=dingxxxx DINGTALK_APP_SECRET=... SESSION_SECRET=$(openssl rand -hex 32) \
//!     cargo run --example axum_app --features "axum directory metrics"
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
//! `#[path = "../examples/axum_app.rs"] mod axum_app;` and call [`router`].

#[path = "support/axum_serve.rs"]
mod axum_serve;
pub mod support;

pub use axum_serve::serve;
#[allow(unused_imports)]
pub use axum_serve::HEADER_READ_TIMEOUT;
pub use support::AppEnv;

use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use dingtalk_login::tower::{DingTalkLoginLayer, DingTalkLoginService, RequireSysLevel};
use dingtalk_login::Error;
use dingtalk_login::{CurrentUser, RequireAdmin, RequireSuperAdmin};
use serde_json::{json, Value};
use support::{Directory, Me};

/// The app: the contract's router inside the login layer.
///
/// The layer wraps the whole router once rather than going on with `Router::layer`, which
/// would box every route and clone that box, with the layer's service inside, on every
/// request: three allocations per request that a route like `/healthz` pays for nothing.
pub type App = DingTalkLoginService<Router>;

/// The contract's app, built from `env`.
///
/// # Errors
/// A message when the login service cannot be built from `env`.
#[allow(dead_code)]
pub fn router(env: &AppEnv) -> Result<App, String> {
    router_with(env, Router::new())
}

/// The contract's app with `extra` routes (e.g. a demo page) behind the same layers.
///
/// # Errors
/// A message when the login service cannot be built from `env`.
pub fn router_with(env: &AppEnv, extra: Router) -> Result<App, String> {
    let login = env.login()?;
    let directory = env.directory(&login)?;
    // Guards go on `route_layer`, so an unknown path under /admin still answers 404.
    let admin = Router::<Arc<Directory>>::new()
        .route("/admin", get(admin))
        .route("/admin/users/by-mobile/{mobile}", get(by_mobile))
        .route("/admin/accounts/{account_id}", get(account))
        .route("/admin/employees/{userid}", get(employee))
        .route("/admin/echo", any(echo))
        .route_layer(RequireSysLevel::admin());
    let super_admin = Router::<Arc<Directory>>::new()
        .route("/admin/super", get(super_admin))
        .route_layer(RequireSysLevel::super_admin());
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/me", get(me))
        .merge(admin)
        .merge(super_admin)
        // The directory is router state, not an `Extension` layer: an extension is cloned
        // into every request, `/healthz` included, and only the lookups need it. Behind an
        // `Arc`, because axum still clones the state once per request for every handler.
        .with_state(Arc::new(directory))
        .merge(extra)
        // Turns every handler into a service now. A router that is served as it is (as
        // `serve` does) would otherwise do it on every request; `axum::serve` does the same
        // through `into_make_service`.
        .with_state(());
    let layer = DingTalkLoginLayer::new(login).routes(env.login_routes());
    Ok(tower::Layer::layer(&layer, app))
}

async fn me(user: CurrentUser) -> Response {
    Json(Me::new(&user)).into_response()
}

async fn admin(RequireAdmin(user): RequireAdmin) -> Json<Value> {
    Json(json!({ "area": "admin", "userid": user.sub, "sys_level": user.sys_level }))
}

async fn super_admin(RequireSuperAdmin(user): RequireSuperAdmin) -> Json<Value> {
    Json(json!({ "area": "super_admin", "userid": user.sub, "sys_level": user.sys_level }))
}

/// Any method: shows that the guard authorizes every method, `OPTIONS` included.
async fn echo(method: Method) -> Json<Value> {
    Json(json!({ "handler": "echo", "method": method.as_str() }))
}

// The directory lookups; the route layer already required an admin.
async fn by_mobile(
    State(dir): State<Arc<Directory>>,
    Path(mobile): Path<String>,
) -> Result<Json<Value>, Error> {
    dir.by_mobile(&mobile).await.map(Json)
}

async fn account(
    State(dir): State<Arc<Directory>>,
    Path(account_id): Path<String>,
) -> Result<Json<Value>, Error> {
    dir.account(&account_id).await.map(Json)
}

async fn employee(
    State(dir): State<Arc<Directory>>,
    Path(userid): Path<String>,
) -> Result<Json<Value>, Error> {
    dir.employee(&userid).await.map(Json)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> ExitCode {
    let env = match support::load_env().await {
        Ok(env) => env,
        Err(msg) => return fail(&msg),
    };
    let app = match router(&env) {
        Ok(app) => app,
        Err(msg) => return fail(&msg),
    };
    let listener = match tokio::net::TcpListener::bind(env.bind).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on BIND={}: {e}", env.bind)),
    };
    support::announce("axum_app", listener.local_addr().unwrap_or(env.bind), &env);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(listener, app, shutdown).await;
    ExitCode::SUCCESS
}

#[allow(dead_code)]
fn fail(msg: &str) -> ExitCode {
    support::fail("axum_app", msg)
}
