//! The metrics of `examples/axum_app.rs` (`METRICS_BIND`), scraped after a known sequence.
//! Its own test binary: the `metrics` recorder is process-global.

#[macro_use]
mod support_metrics;

#[path = "../examples/axum_app.rs"]
mod axum_app;

use axum_app::AppEnv;
use support_metrics::App;

/// Starts the example's router from `vars` on `127.0.0.1:0`, with its metrics listener when
/// `METRICS_BIND` is set, as its `main` does.
async fn start(vars: Vec<(String, String)>) -> App {
    let mut env =
        AppEnv::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("a valid contract environment");
    let metrics = env
        .start_metrics()
        .await
        .expect("the metrics listener starts");
    env.connect_redis().await.expect("Redis is reachable");
    let app = axum_app::router(&env).expect("the app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum_app::serve(listener, app, std::future::pending()));
    App {
        base: format!("http://{addr}"),
        metrics: metrics.map(|a| format!("http://{a}")).unwrap_or_default(),
    }
}

metrics_tests!(start);
