//! An actix-web app served in-process on loopback, for the tests that drive one over HTTP.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::web::ServiceConfig;
use actix_web::{App, HttpServer};

/// Stops the actix server when the test's runtime drops it.
struct StopOnDrop(ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // The stop command is sent now; the returned future only waits for it to finish.
        drop(self.0.stop(false));
    }
}

/// Serves `configure` on `127.0.0.1:0` and returns its address.
///
/// actix serves from its own `System` on a thread of its own (one worker); the server stops
/// when the calling test's runtime ends.
pub async fn serve<F>(configure: F) -> SocketAddr
where
    F: Fn(&mut ServiceConfig) + Clone + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || App::new().configure(configure.clone()))
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
    addr
}
