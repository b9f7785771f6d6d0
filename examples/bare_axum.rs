//! Bench-only: a bare axum server, the baseline `benches/load.sh` compares `axum_app` with.
//!
//! It serves `GET /healthz` (`ok`) and `GET /me` with a JSON body of the same shape and size as
//! `axum_app`'s `/me`, serialized per request, with no login layer and no auth: what the same
//! routes cost on axum alone. It runs on `axum_app`'s server loop (hyper's HTTP/1 server with
//! a header-read timeout, the peer address on each request), so that the comparison is of the
//! login layer alone; `SERVE=axum` serves it with plain `axum::serve` instead, to show what
//! that loop costs. `BIND` (default `127.0.0.1:0`); prints `listening on http://ADDR`.
//!
//! ```sh
//! cargo run --release --example bare_axum --features axum
//! ```

use axum::routing::get;
use axum::{Json, Router};

#[path = "support/axum_serve.rs"]
mod axum_serve;
#[path = "support/bare_me.rs"]
mod bare_me;

use bare_me::{me_body, Me};

#[tokio::main]
async fn main() {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:0".into());
    // Serialized by reference on every request, as the app serializes its claims.
    static ME: std::sync::LazyLock<Me> = std::sync::LazyLock::new(me_body);
    let app: Router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/me", get(|| async { Json(&*ME) }))
        // As axum_app's, and as `axum::serve` does: handlers become services once.
        .with_state(());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .expect("BIND: cannot listen");
    println!("listening on http://{}", listener.local_addr().unwrap());
    match std::env::var("SERVE").as_deref() {
        Ok("axum") => axum::serve(listener, app).await.unwrap(),
        _ => axum_serve::serve(listener, app, std::future::pending()).await,
    }
}
