//! Logins against the in-process fake DingTalk, with a warm access token:
//!
//! - `login/whole_login_warm_token`: the login flow called directly (µs per login);
//! - `login/http/memory` and `login/http/redis`: a whole `POST /auth/dingtalk` over loopback
//!   through `axum_app`'s router (the login layer, the replay guard, the exchange with the
//!   fake, the session and its cookie), with the in-memory stores and with the Redis stores
//!   (only when `redis-server` is on PATH and the `redis` feature is on: a server is started
//!   on a free port). Each also prints logins per second with 16 clients at once.
//!
//! Each asserts, and prints, the upstream calls per login: exactly 1 (the `getuserinfo`
//! exchange) — a count, not a timing.
//!
//! Run: `cargo bench --bench login --features "testing axum redis"`.

// `unused_imports`: the example's unit tests are not built into a harness-less bench.
#[path = "../examples/axum_app.rs"]
#[allow(dead_code, unused_imports)]
mod axum_app;

#[cfg(feature = "redis")]
#[path = "../tests/support/redis.rs"]
mod support_redis;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dingtalk_login::testing::{Endpoint, FakeDingTalk, FakeUser};
use dingtalk_login::AuthCode;
use dingtalk_login::DingTalkLogin;
use tokio::runtime::Runtime;

const SESSION_SECRET: &str = "0123456789abcdef0123456789abcdef";

fn fake(rt: &Runtime) -> FakeDingTalk {
    rt.block_on(
        FakeDingTalk::builder()
            .user(FakeUser::new("u1", "Zhang San").sub_admin())
            .start(),
    )
}

/// Upstream calls per login since `before`, asserted to be 1.
fn check_one_call_per_login(what: &str, fake: &FakeDingTalk, before: usize, logins: u64) {
    let upstream = fake.total_calls() - before;
    eprintln!(
        "{what}: upstream calls per login: {} ({upstream} calls / {logins} logins; gettoken so far: {})",
        upstream as f64 / logins as f64,
        fake.calls(Endpoint::GetToken)
    );
    assert_eq!(
        upstream as u64, logins,
        "{what}: a login with a warm token is exactly one upstream call"
    );
}

fn login(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let fake = fake(&rt);
    let login = DingTalkLogin::builder()
        .app_key(fake.app_key())
        .app_secret(fake.app_secret())
        .oapi_url(fake.url())
        .session_secret(SESSION_SECRET)
        .upstream_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // Warm the access token.
    rt.block_on(login.client().tokens().token()).unwrap();
    let calls_before = fake.total_calls();
    let mut logins = 0u64;

    c.bench_function("login/whole_login_warm_token", |b| {
        b.iter_batched(
            || AuthCode::parse(&fake.mint_code("u1")).unwrap(),
            |code| {
                logins += 1;
                rt.block_on(login.login(&code)).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    check_one_call_per_login("login/whole_login_warm_token", &fake, calls_before, logins);
}

/// Serves `axum_app`'s router for `fake` (with `REDIS_URL` when given) on loopback; returns
/// its base URL.
fn serve_app(rt: &Runtime, fake: &FakeDingTalk, redis_url: Option<&str>) -> String {
    let mut vars = vec![
        ("DINGTALK_APP_KEY", fake.app_key().to_owned()),
        ("DINGTALK_APP_SECRET", fake.app_secret().to_owned()),
        ("DINGTALK_OAPI_URL", fake.url()),
        ("SESSION_SECRET", SESSION_SECRET.to_owned()),
        ("COOKIE_SECURE", "0".to_owned()),
    ];
    if let Some(url) = redis_url {
        vars.push(("REDIS_URL", url.to_owned()));
    }
    rt.block_on(async {
        let mut env = axum_app::AppEnv::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .expect("a valid contract environment");
        env.connect_redis().await.expect("Redis answers");
        let app = axum_app::router(&env).expect("the app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(axum_app::serve(listener, app, std::future::pending()));
        format!("http://{addr}")
    })
}

async fn post_login(http: &reqwest::Client, url: &str, code: String) {
    let res = http
        .post(url)
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.bytes().await.unwrap();
}

/// Criterion's µs per login, then logins per second with `clients` clients for `for_how_long`.
fn http_logins(c: &mut Criterion, name: &str, rt: &Runtime, fake: &Arc<FakeDingTalk>, base: &str) {
    let http = reqwest::Client::new();
    let url = format!("{base}/auth/dingtalk");
    // Warm the access token (and the connection) with one login.
    rt.block_on(post_login(&http, &url, fake.mint_code("u1")));
    let calls_before = fake.total_calls();
    let mut logins = 0u64;
    c.bench_function(name, |b| {
        b.iter_batched(
            || fake.mint_code("u1"),
            |code| {
                logins += 1;
                rt.block_on(post_login(&http, &url, code))
            },
            BatchSize::SmallInput,
        )
    });

    let clients = 16;
    let for_how_long = Duration::from_secs(3);
    let started = Instant::now();
    let done: u64 = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (http, url, fake) = (http.clone(), url.clone(), fake.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while started.elapsed() < for_how_long {
                        post_login(&http, &url, fake.mint_code("u1")).await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    eprintln!(
        "{name}: {:.0} logins per second ({done} logins, {clients} clients, {:.1} s)",
        done as f64 / started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    check_one_call_per_login(name, fake, calls_before, logins + done);
}

fn login_http(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let fake = Arc::new(fake(&rt));
    let base = serve_app(&rt, &fake, None);
    http_logins(c, "login/http/memory", &rt, &fake, &base);
}

#[cfg(feature = "redis")]
fn login_http_redis(c: &mut Criterion) {
    let on_path = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !on_path {
        eprintln!("login/http/redis: skipped, redis-server is not on PATH");
        return;
    }
    let rt = Runtime::new().unwrap();
    let redis = rt.block_on(support_redis::RedisServer::start());
    let fake = Arc::new(fake(&rt));
    let base = serve_app(&rt, &fake, Some(&redis.url()));
    http_logins(c, "login/http/redis", &rt, &fake, &base);
    drop(redis);
}

#[cfg(not(feature = "redis"))]
fn login_http_redis(_: &mut Criterion) {
    eprintln!("login/http/redis: skipped, built without the `redis` feature");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = login, login_http, login_http_redis
}
criterion_main!(benches);
