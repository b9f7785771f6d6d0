//! The metrics of `examples/actix_app.rs` (`METRICS_BIND`), scraped after a known sequence.
//! Its own test binary: the `metrics` recorder is process-global.

mod support;
#[macro_use]
mod common;

#[path = "../examples/actix_app.rs"]
mod actix_app;

use actix_app::AppEnv;
use actix_web::dev::ServerHandle;
use actix_web::{App as ActixApp, HttpServer};
use common::metrics::App;

/// Stops the actix server when the test's runtime drops it.
struct StopOnDrop(ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        drop(self.0.stop(false));
    }
}

/// Starts the example's app from `vars` on `127.0.0.1:0` (its own `System` on a thread of
/// its own), with its metrics listener when `METRICS_BIND` is set, as its `main` does.
async fn start(vars: Vec<(String, String)>) -> App {
    let mut env =
        AppEnv::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("a valid contract environment");
    let metrics = env
        .start_metrics()
        .await
        .expect("the metrics listener starts");
    env.connect_redis().await.expect("Redis is reachable");
    let app = actix_app::configure(&env).expect("the app builds");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || ActixApp::new().configure(app.clone()))
                .workers(1)
                .disable_signals()
                .bind("127.0.0.1:0")
                .expect("bind 127.0.0.1:0");
            let addr = server.addrs()[0];
            let server = server.run();
            let _ = tx.send((addr, server.handle()));
            server.await
        })
    });
    let (addr, handle) = rx.await.expect("the actix server starts");
    tokio::spawn(async move {
        let _stop = StopOnDrop(handle);
        std::future::pending::<()>().await
    });
    App {
        base: format!("http://{addr}"),
        metrics: metrics.map(|a| format!("http://{a}")).unwrap_or_default(),
    }
}

metrics_tests!(start);
