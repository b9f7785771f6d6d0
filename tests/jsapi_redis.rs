#![allow(unused_macros)] // the contract macros of `common` are not run here
#![allow(clippy::duplicate_mod)] // both example apps include the shared support module
//! Two app instances, one axum and one actix, on one Redis: the cluster fetches one JSAPI
//! ticket in all, and both sign with it (a second fetch would replace it at DingTalk).

#[macro_use]
mod common;
mod support;

#[path = "../examples/actix_app.rs"]
mod actix_app;
#[path = "../examples/axum_app.rs"]
mod axum_app;

use common::jsapi::{assert_signed, config_ok, get_config, jsapi_env};
use dingtalk_login::testing::{Endpoint, FakeDingTalk};
use support::redis::RedisServer;

fn vars(fake: &FakeDingTalk, redis_url: &str) -> Vec<(String, String)> {
    jsapi_env(fake, &[("REDIS_URL", redis_url)])
}

async fn start_axum(vars: Vec<(String, String)>) -> String {
    let mut env = axum_app::AppEnv::from_vars(common::lookup(&vars)).unwrap();
    env.connect_redis().await.expect("Redis is reachable");
    let app = axum_app::router(&env).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum_app::serve(listener, app, std::future::pending()));
    format!("http://{addr}")
}

async fn start_actix(vars: Vec<(String, String)>) -> String {
    let mut env = actix_app::AppEnv::from_vars(common::lookup(&vars)).unwrap();
    env.connect_redis().await.expect("Redis is reachable");
    let app = actix_app::configure(&env).unwrap();
    format!("http://{}", support::actix::serve(app).await)
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn two_instances_on_one_redis_fetch_one_ticket() {
    let redis = RedisServer::start().await;
    let fake = common::fake().await;
    let a = start_axum(vars(&fake, &redis.url())).await;
    let b = start_actix(vars(&fake, &redis.url())).await;

    // Both instances cold at once, many requests each.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let base = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let page = format!("{base}/h5?i={i}");
            (page.clone(), get_config(&base, &page).await)
        }));
    }
    for task in tasks {
        let (page, res) = task.await.unwrap();
        let body = config_ok(res).await;
        assert_signed(&fake, &body, &page, false);
    }
    assert_eq!(
        fake.calls(Endpoint::GetJsapiTicket),
        1,
        "one fetch in the cluster"
    );
    assert_eq!(fake.calls(Endpoint::GetToken), 1);
}
