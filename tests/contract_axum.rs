//! The HTTP contract against `examples/axum_app.rs`, served in-process on loopback.

#[macro_use]
mod common;
mod support;

#[path = "../examples/axum_app.rs"]
mod axum_app;

use axum_app::AppEnv;

/// Starts the example's router from the contract environment `vars` on `127.0.0.1:0` and
/// returns its base URL. The server lives as long as the test's runtime.
async fn start(vars: Vec<(String, String)>) -> String {
    let env = AppEnv::from_vars(common::lookup(&vars)).expect("a valid contract environment");
    let app = axum_app::router(&env).expect("the app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum_app::serve(listener, app, std::future::pending()));
    format!("http://{addr}")
}

contract_tests!(start);

/// Config errors name the variable (the binary prints them and exits non-zero).
#[test]
fn config_errors_name_the_variable() {
    let only = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let err = AppEnv::from_vars(only(&[("DINGTALK_APP_SECRET", "s")])).unwrap_err();
    assert!(err.contains("DINGTALK_APP_KEY"), "{err}");
    let err = AppEnv::from_vars(only(&[("DINGTALK_APP_KEY", "k")])).unwrap_err();
    assert!(err.contains("DINGTALK_APP_SECRET"), "{err}");
    let err = AppEnv::from_vars(only(&[
        ("DINGTALK_APP_KEY", "k"),
        ("DINGTALK_APP_SECRET", "s"),
        ("SESSION_SECRET", "short"),
    ]))
    .unwrap_err();
    assert!(err.contains("SESSION_SECRET"), "{err}");
}
