//! A route registered in the core only (the test-only echo route) is answered by both
//! frameworks, over loopback, identically: adding a route is one match arm, not two adapters.

mod support;

use axum::Router;
use dingtalk_login::tower::DingTalkLoginLayer;
use dingtalk_login::web::LoginRoutes;
use dingtalk_login::DingTalkLogin;
use serde_json::{json, Value};

fn login() -> DingTalkLogin {
    DingTalkLogin::builder()
        .app_key("key")
        .app_secret("secret")
        .oapi_url("http://127.0.0.1:9")
        .session_secret("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap()
}

fn routes() -> LoginRoutes {
    LoginRoutes::default().test_echo_at("/core-only")
}

async fn axum_base() -> String {
    let app: Router = Router::new().layer(DingTalkLoginLayer::new(login()).routes(routes()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn actix_base() -> String {
    let configure = |cfg: &mut actix_web::web::ServiceConfig| {
        dingtalk_login::actix::routes(login(), routes())(cfg)
    };
    format!("http://{}", support::actix::serve(configure).await)
}

#[tokio::test]
async fn a_core_route_is_served_by_both_frameworks() {
    for base in [axum_base().await, actix_base().await] {
        let res = reqwest::get(format!("{base}/core-only?x=1")).await.unwrap();
        assert_eq!(res.status(), 200, "{base}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "route": "echo", "method": "GET", "query": "x=1" })
        );
        // Not registered for POST: neither framework answers it with the core route.
        let res = reqwest::Client::new()
            .post(format!("{base}/core-only"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{base}");
    }
}
