//! The example app with `REDIS_URL`: two instances behind one Redis share single use of a
//! code and logouts (the in-memory stores would not).

mod support;

#[path = "../examples/axum_app.rs"]
mod axum_app;

use std::time::{Duration, Instant};

use axum_app::AppEnv;
use dingtalk_login::testing::FakeDingTalk;
use serde_json::{json, Value};
use support::redis::RedisServer;

async fn start(fake: &FakeDingTalk, redis_url: &str) -> String {
    let vars = [
        ("DINGTALK_APP_KEY", fake.app_key().to_owned()),
        ("DINGTALK_APP_SECRET", fake.app_secret().to_owned()),
        ("DINGTALK_OAPI_URL", fake.url()),
        ("SESSION_SECRET", support::SESSION_SECRET.to_owned()),
        ("REDIS_URL", redis_url.to_owned()),
    ];
    let mut env = AppEnv::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    env.connect_redis().await.expect("Redis is reachable");
    let app = axum_app::router(&env).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum_app::serve(listener, app, std::future::pending()));
    format!("http://{addr}")
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn two_app_instances_share_codes_and_logouts_through_redis() {
    let redis = RedisServer::start().await;
    let fake = support::fake().await;
    let a = start(&fake, &redis.url()).await;
    let b = start(&fake, &redis.url()).await;
    let http = reqwest::Client::new();

    let code = fake.mint_code("sub");
    let login = |base: String| {
        let http = http.clone();
        let code = code.clone();
        async move {
            http.post(format!("{base}/auth/dingtalk"))
                .json(&json!({ "code": code }))
                .send()
                .await
                .unwrap()
        }
    };
    let first = login(a.clone()).await;
    assert_eq!(first.status(), 200);
    let token = first.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let replay = login(b.clone()).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "code_replayed"
    );

    let me = |base: &str| http.get(format!("{base}/me")).bearer_auth(&token).send();
    assert_eq!(me(&b).await.unwrap().status(), 200);
    let out = http
        .post(format!("{a}/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    let started = Instant::now();
    while me(&b).await.unwrap().status() != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts the session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_redis_url_stays_out_of_debug_output() {
    let env = AppEnv::from_vars(|name| match name {
        "DINGTALK_APP_KEY" | "DINGTALK_APP_SECRET" => Some("x".into()),
        "REDIS_URL" => Some("redis://127.0.0.1:1".into()),
        _ => None,
    })
    .unwrap();
    assert!(
        !format!("{env:?}").contains("127.0.0.1:1"),
        "the URL may hold a password"
    );
}
