//! The HTTP/1 server loop of `axum_app`, shared with the bench-only `bare_axum` so that the
//! load script compares the login layer, not two server loops.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::{Service, ServiceExt};

/// How long a client may take to send a request's head. A slow client (one byte every few
/// seconds) otherwise holds its connection open for as long as it likes.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish.
///
/// `axum::serve` would do, but it has no header-read timeout: this is hyper's HTTP/1 server
/// with [`HEADER_READ_TIMEOUT`], and each request carries the peer address as axum's
/// `ConnectInfo<SocketAddr>`, which the login rate limit keys on. (The login body has its own
/// read timeout in the crate.) `app` is any tower service over axum's request and response:
/// a `Router`, or a `Router` inside the login layer.
pub async fn serve<S>(
    listener: tokio::net::TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out is no error of the server's.
            let _ = connection.await;
        });
    }
    graceful.shutdown().await;
}
