//! The metrics of `examples/axum_app.rs` (`METRICS_BIND`), scraped after a known sequence.
//! Its own test binary: the `metrics` recorder is process-global.

mod support;
#[macro_use]
mod common;

#[path = "../examples/axum_app.rs"]
mod axum_app;

use std::sync::{Arc, Mutex, OnceLock};

use axum_app::AppEnv;
use common::metrics::App;
use dingtalk_login::testing::{Endpoint, Failure};
use serde_json::Value;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;

/// Starts the example's router from `vars` on `127.0.0.1:0`, with its metrics listener when
/// `METRICS_BIND` is set, as its `main` does.
async fn start(vars: Vec<(String, String)>) -> App {
    // Before anything logs: see `logs`.
    logs();
    let mut env = AppEnv::from_vars(common::lookup(&vars)).expect("a valid contract environment");
    let metrics = env
        .start_metrics()
        .await
        .expect("the metrics listener starts");
    env.connect_redis().await.expect("Redis is reachable");
    let app = axum_app::router(&env).expect("the app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum_app::serve(listener, app, std::future::pending()));
    App {
        base: format!("http://{addr}"),
        metrics: metrics.map(|a| format!("http://{a}")).unwrap_or_default(),
    }
}

metrics_tests!(start);

/// What the crate logged, as the example apps log it with `LOG_FORMAT=json` (spans on close).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The binary's one subscriber, installed globally before the first app starts: a
/// thread-scoped one can miss events when another test's thread registers a callsite at the
/// same moment (tracing caches each callsite's interest).
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(move || writer.clone()),
            )
            .with(Targets::new().with_target("dingtalk_login", tracing::Level::TRACE));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

/// The spans as the example apps log them with `LOG_FORMAT=json`: one `dingtalk.login` per
/// attempt with its method and userid, one `dingtalk.upstream` per HTTP attempt with the api,
/// DingTalk's request_id and the errcode; never the secret, a token or a code.
#[tokio::test]
async fn traces_carry_method_userid_api_request_id_and_no_secret() {
    let _serial = common::metrics::SERIAL.lock().await;
    logs().0.lock().unwrap().clear();
    let fake = common::metrics::fake().await;
    let mut vars = common::metrics::env(&fake, &[]);
    vars.retain(|(k, _)| k != "METRICS_BIND");
    let app = start(vars).await;
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::Busy);
    let code = fake.mint_code("metrics-staff");
    let res = reqwest::Client::new()
        .post(format!("{}/auth/dingtalk", app.base))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let text = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let closed = |name: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["fields"]["message"] == "close" && l["span"]["name"] == name)
            .map(|l| l["span"].clone())
            .collect()
    };
    let logins = closed("dingtalk.login");
    assert_eq!(logins.len(), 1, "{text}");
    assert_eq!(logins[0]["method"], "code");
    assert_eq!(logins[0]["userid"], "metrics-staff");
    assert_eq!(logins[0]["outcome"], "ok");
    let exchanges: Vec<Value> = closed("dingtalk.upstream")
        .into_iter()
        .filter(|s| s["api"] == "getuserinfo")
        .collect();
    assert_eq!(exchanges.len(), 2, "one span per attempt: {text}");
    assert_eq!(exchanges[0]["outcome"], "busy");
    assert_eq!(exchanges[0]["errcode"], -1);
    assert_eq!(exchanges[1]["outcome"], "ok");
    for span in &exchanges {
        assert!(
            span["request_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{span}"
        );
    }
    let access_token = fake.current_token().unwrap();
    for secret in [
        fake.app_secret(),
        access_token.as_str(),
        code.as_str(),
        token.as_str(),
    ] {
        assert!(!text.contains(secret), "the logs show {secret:?}:\n{text}");
    }
}
