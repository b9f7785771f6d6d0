//! The HTTP contract against `examples/actix_app.rs`, served in-process on loopback: the same
//! cases (`tests/common/mod.rs`) as `contract_axum`, so both adapters answer alike.

#[macro_use]
mod common;
mod support;

#[path = "../examples/actix_app.rs"]
mod actix_app;

use actix_app::AppEnv;
use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};

/// Stops the actix server when the test's runtime drops it.
struct StopOnDrop(ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // The stop command is sent now; the returned future only waits for it to finish.
        drop(self.0.stop(false));
    }
}

/// Starts the example's app from the contract environment `vars` on `127.0.0.1:0` and returns
/// its base URL.
///
/// actix serves from its own `System` on a thread of its own (one worker); the server stops
/// when the test's runtime ends.
async fn start(vars: Vec<(String, String)>) -> String {
    let env =
        AppEnv::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("a valid contract environment");
    let app = actix_app::configure(&env).expect("the app builds");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || App::new().configure(app.clone()))
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
    format!("http://{addr}")
}

contract_tests!(start);
