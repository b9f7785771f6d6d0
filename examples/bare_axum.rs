//! Bench-only: a bare axum server, the baseline `benches/load.sh` compares `axum_app` with.
//!
//! It serves `GET /healthz` (`ok`) and `GET /me` with a JSON body of the same shape and size as
//! `axum_app`'s `/me`, serialized per request, with no login layer and no auth: what the same
//! routes cost on axum alone. `BIND` (default `127.0.0.1:0`); prints `listening on http://ADDR`.
//!
//! ```sh
//! cargo run --release --example bare_axum --features axum
//! ```

use axum::routing::get;
use axum::{Json, Router};

#[path = "support/bare_me.rs"]
mod bare_me;

use bare_me::{me_body, Me};

#[tokio::main]
async fn main() {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:0".into());
    // Serialized by reference on every request, as the app serializes its claims.
    static ME: std::sync::LazyLock<Me> = std::sync::LazyLock::new(me_body);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/me", get(|| async { Json(&*ME) }));
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .expect("BIND: cannot listen");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
