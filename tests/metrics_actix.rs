//! The metrics of `examples/actix_app.rs` (`METRICS_BIND`), scraped after a known sequence.
//! Its own test binary: the `metrics` recorder is process-global.

mod support;
#[macro_use]
mod common;

#[path = "../examples/actix_app.rs"]
mod actix_app;

use actix_app::AppEnv;
use common::metrics::App;

/// Starts the example's app from `vars` on `127.0.0.1:0`, with its metrics listener when
/// `METRICS_BIND` is set, as its `main` does.
async fn start(vars: Vec<(String, String)>) -> App {
    let mut env = AppEnv::from_vars(common::lookup(&vars)).expect("a valid contract environment");
    let metrics = env
        .start_metrics()
        .await
        .expect("the metrics listener starts");
    env.connect_redis().await.expect("Redis is reachable");
    let app = actix_app::configure(&env).expect("the app builds");
    let addr = support::actix::serve(app).await;
    App {
        base: format!("http://{addr}"),
        metrics: metrics.map(|a| format!("http://{a}")).unwrap_or_default(),
    }
}

metrics_tests!(start);
