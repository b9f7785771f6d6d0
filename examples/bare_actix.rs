//! Bench-only: a bare actix-web server, the baseline `benches/load.sh` compares `actix_app`
//! with.
//!
//! It serves `GET /healthz` (`ok`) and `GET /me` with a JSON body of the same shape and size as
//! `actix_app`'s `/me`, serialized per request, with no login routes and no auth. `BIND`
//! (default `127.0.0.1:0`); prints `listening on http://ADDR`.
//!
//! ```sh
//! cargo run --release --example bare_actix --features actix
//! ```

use actix_web::{web, App, HttpResponse, HttpServer};

#[path = "support/bare_me.rs"]
mod bare_me;

use bare_me::{me_body, Me};

async fn me(body: web::Data<Me>) -> HttpResponse {
    HttpResponse::Ok().json(body.get_ref())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:0".into());
    let body = web::Data::new(me_body());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(body.clone())
            .route("/healthz", web::get().to(|| async { "ok" }))
            .route("/me", web::get().to(me))
    })
    .bind(&bind)?;
    println!("listening on http://{}", server.addrs()[0]);
    server.run().await
}
