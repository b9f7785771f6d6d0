//! `oneshot` round trips through the tower services: what the contract tests cannot see from
//! outside (no cookie middleware needed, a guard without the login layer).

use std::convert::Infallible;

use ::tower::{service_fn, ServiceExt};
use http::{Request, Response};
use serde_json::Value;
use tower_layer::Layer;

use super::*;
use crate::DingTalkLogin;

fn login() -> DingTalkLogin {
    DingTalkLogin::builder()
        .app_key("key")
        .app_secret("secret")
        .oapi_url("http://127.0.0.1:9")
        .session_secret("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap()
}

async fn app(_req: Request<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("inner".into()))
}

#[tokio::test]
async fn the_state_cookie_is_set_without_any_cookie_middleware() {
    let svc = DingTalkLoginLayer::new(login()).layer(service_fn(app));
    let res = svc
        .oneshot(
            Request::get("/auth/dingtalk/state")
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: Value = serde_json::from_str(res.body()).unwrap();
    let state = body["state"].as_str().unwrap();
    assert!(
        cookie.starts_with(&format!("dingtalk_state={state};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"));
}

#[tokio::test]
async fn a_guard_without_the_login_layer_is_a_clear_500() {
    let svc = RequireSysLevel::admin().layer(service_fn(app));
    let res = svc
        .oneshot(Request::get("/admin").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.body().contains("Is the session layer installed?"));
}
