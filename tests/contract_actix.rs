//! The HTTP contract against `examples/actix_app.rs`, served in-process on loopback: the same
//! cases (`tests/common/mod.rs`) as `contract_axum`, so both adapters answer alike.

#[macro_use]
mod common;
mod support;

#[path = "../examples/actix_app.rs"]
mod actix_app;

use actix_app::AppEnv;

/// Starts the example's app from the contract environment `vars` on `127.0.0.1:0` and returns
/// its base URL.
async fn start(vars: Vec<(String, String)>) -> String {
    let env = AppEnv::from_vars(common::lookup(&vars)).expect("a valid contract environment");
    let app = actix_app::configure(&env).expect("the app builds");
    format!("http://{}", support::actix::serve(app).await)
}

contract_tests!(start);
