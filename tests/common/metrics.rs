//! The metrics cases, shared by `metrics_axum` and `metrics_actix`: each starts an example
//! app with `METRICS_BIND=127.0.0.1:0` against the fake DingTalk, runs a known sequence over
//! HTTP, scrapes `/metrics` before and after, and checks that each counter moved by exactly
//! the right amount, and that no secret, token, code or userid is in the text.
//!
//! The `metrics` recorder is process-global, so each framework has its own test binary, and
//! the cases of one binary hold [`SERIAL`] while they run: deltas of one case are then never
//! mixed with another's.
//!
//! A test file declares `#[macro_use] mod common;` and `mod support;`, provides
//! `async fn start(vars) -> App` and invokes `metrics_tests!(start)`.

use std::collections::BTreeMap;
use std::future::Future;

use std::time::Duration;

use dingtalk_login::clock::{Clock, ManualClock};
use dingtalk_login::dingtalk::DingTalkUser;
use dingtalk_login::guard::SysLevel;
use dingtalk_login::testing::{mint_session, Endpoint, Failure, FakeDingTalk, FakeUser};
use dingtalk_login::DingTalkLogin;
use serde_json::Value;

use super::{client, post_code, SESSION_SECRET};
use crate::support::redis::RedisServer;

/// Held by every case of a test binary: the recorder is shared by all of them.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A started app: its public base URL and its metrics base URL.
pub struct App {
    pub base: String,
    pub metrics: String,
}

/// The fixed `api` labels (the metrics table in README "Operating it").
pub const APIS: [&str; 13] = [
    "gettoken",
    "access_token_v1",
    "getuserinfo",
    "getbymobile",
    "top",
    "employee",
    "user_access_token",
    "users_me",
    "getbyunionid",
    "listadmin",
    "user_get",
    "jsapi_ticket",
    "corp_token",
];

/// The fixed upstream `outcome` labels.
pub const UPSTREAM_OUTCOMES: [&str; 9] = [
    "ok",
    "busy",
    "rate_limited",
    "token_invalid",
    "timeout",
    "connect",
    "http_5xx",
    "rejected",
    "error",
];

/// The metrics tests, each its own `#[tokio::test]` named after its case, serialized by
/// [`SERIAL`].
macro_rules! metrics_tests {
    ($start:path) => {
        metrics_tests!(@cases $start;
            known_sequence,
            upstream_outcomes,
            unanswered_outcomes,
            web_logins,
            no_listener_without_metrics_bind,
            #[ignore = "needs redis-server"] redis_outage,
        );
    };
    (@cases $start:path; $( $(#[$attr:meta])* $name:ident ),* $(,)?) => {
        $(
            #[tokio::test]
            $(#[$attr])*
            async fn $name() {
                let _serial = common::metrics::SERIAL.lock().await;
                common::metrics::$name($start).await;
            }
        )*
    };
}

/// The contract environment for `fake` ([`super::env`]) with the metrics listener on a free
/// port, and `extra` added or overriding.
pub fn env(fake: &FakeDingTalk, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = vec![("METRICS_BIND", "127.0.0.1:0")];
    vars.extend_from_slice(extra);
    super::env(fake, &vars)
}

/// The fake with one employee, `metrics-staff`, and one admin, `metrics-admin`.
pub async fn fake() -> FakeDingTalk {
    FakeDingTalk::builder()
        .user(FakeUser::new("metrics-staff", "Mia Staff"))
        .user(FakeUser::new("metrics-admin", "Max Admin").super_admin())
        .start()
        .await
}

/// Logs in with `code`; the answer's status and body.
async fn login(base: &str, code: &str) -> (u16, Value) {
    let res = post_code(base, code).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn me(base: &str, token: &str) -> u16 {
    client()
        .get(format!("{base}/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the app answers")
        .status()
        .as_u16()
}

/// The metrics text, parsed: `name{sorted labels}` → value.
pub struct Scrape {
    pub text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// `GET {metrics}/metrics`.
    pub async fn take(app: &App) -> Self {
        let res = client()
            .get(format!("{}/metrics", app.metrics))
            .send()
            .await
            .expect("the metrics listener answers");
        assert_eq!(res.status(), 200);
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = res.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("`series value`");
                (normalize(series), value.parse::<f64>().expect("a number"))
            })
            .collect();
        Self { text, samples }
    }

    /// The sample of `name` with exactly `labels`; 0 when absent (a counter not yet moved).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels = labels.to_vec();
        labels.sort();
        let key = series_key(name, &labels);
        self.samples.get(&key).copied().unwrap_or(0.0)
    }

    /// Every value the label `label` takes on the series of `name`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let prefix = format!("{name}{{");
        let needle = format!("{label}=\"");
        self.samples
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .filter_map(|k| {
                let start = k.find(&needle)? + needle.len();
                let end = k[start..].find('"')? + start;
                Some(k[start..end].to_owned())
            })
            .collect()
    }
}

fn series_key(name: &str, labels: &[(&str, &str)]) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// `name{b="2",a="1"}` → `name{a="1",b="2"}`; the label values here never hold `,` or `"`.
fn normalize(series: &str) -> String {
    let Some((name, rest)) = series.split_once('{') else {
        return format!("{series}{{}}");
    };
    let inner = rest.trim_end_matches('}');
    let mut labels: Vec<(&str, &str)> = inner
        .split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k, v.trim_matches('"')))
        })
        .collect();
    labels.sort();
    series_key(name, &labels)
}

const LOGINS: &str = "dingtalk_login_logins_total";
const UPSTREAM: &str = "dingtalk_login_upstream_requests_total";
const DURATION_COUNT: &str = "dingtalk_login_upstream_request_duration_seconds_count";
const VERIFICATIONS: &str = "dingtalk_login_session_verifications_total";
const STORE_ERRORS: &str = "dingtalk_login_store_errors_total";

/// `after - before` of one series.
fn moved(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.get(name, labels) - before.get(name, labels)
}

/// One ok login, one replay, one busy-then-ok exchange, one cached verification and one
/// miss, one invalid token: each counter moves by exactly its share, and the text holds no
/// secret.
pub async fn known_sequence<F, Fut>(start: F)
where
    F: Fn(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = App>,
{
    let fake = fake().await;
    let app = start(env(&fake, &[])).await;
    let base = app.base.as_str();
    let mut codes = Vec::new();
    let mut tokens = Vec::new();

    // One ok login (the first also fetches the app's access token).
    let s0 = Scrape::take(&app).await;
    let code = fake.mint_code("metrics-staff");
    codes.push(code.clone());
    let (status, body) = login(base, &code).await;
    assert_eq!(status, 200, "{body}");
    tokens.push(body["token"].as_str().unwrap().to_owned());
    let s1 = Scrape::take(&app).await;
    let ok_login = [("method", "code"), ("outcome", "ok")];
    assert_eq!(moved(&s0, &s1, LOGINS, &ok_login), 1.0);
    let exchange_ok = [("api", "getuserinfo"), ("outcome", "ok")];
    assert_eq!(moved(&s0, &s1, UPSTREAM, &exchange_ok), 1.0);
    let token_ok = [("api", "gettoken"), ("outcome", "ok")];
    assert_eq!(moved(&s0, &s1, UPSTREAM, &token_ok), 1.0);
    let exchange = [("api", "getuserinfo")];
    assert_eq!(moved(&s0, &s1, DURATION_COUNT, &exchange), 1.0);

    // One replay: counted as a login answered `code_replayed`, with no upstream call.
    let (status, body) = login(base, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("code_replayed"))
    );
    let s2 = Scrape::take(&app).await;
    let replayed = [("method", "code"), ("outcome", "code_replayed")];
    assert_eq!(moved(&s1, &s2, LOGINS, &replayed), 1.0);
    assert_eq!(moved(&s1, &s2, LOGINS, &ok_login), 0.0);
    assert_eq!(moved(&s1, &s2, DURATION_COUNT, &exchange), 0.0);

    // One busy-then-ok exchange: two upstream attempts, one login.
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::Busy);
    let calls = fake.calls(Endpoint::GetUserInfo);
    let code = fake.mint_code("metrics-admin");
    codes.push(code.clone());
    let (status, body) = login(base, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        fake.calls(Endpoint::GetUserInfo),
        calls + 2,
        "DingTalk saw two calls"
    );
    let token = body["token"].as_str().unwrap().to_owned();
    tokens.push(token.clone());
    let s3 = Scrape::take(&app).await;
    let busy = [("api", "getuserinfo"), ("outcome", "busy")];
    assert_eq!(moved(&s2, &s3, UPSTREAM, &busy), 1.0);
    assert_eq!(moved(&s2, &s3, UPSTREAM, &exchange_ok), 1.0);
    assert_eq!(moved(&s2, &s3, DURATION_COUNT, &exchange), 2.0);
    assert_eq!(moved(&s2, &s3, LOGINS, &ok_login), 1.0);
    assert_eq!(
        moved(&s2, &s3, UPSTREAM, &token_ok),
        0.0,
        "the token is cached"
    );

    // One miss (the first sight of the token), then one cached verification.
    assert_eq!(me(base, &token).await, 200);
    let s4 = Scrape::take(&app).await;
    let ok_miss = [("outcome", "ok"), ("cache", "miss")];
    let ok_hit = [("outcome", "ok"), ("cache", "hit")];
    assert_eq!(moved(&s3, &s4, VERIFICATIONS, &ok_miss), 1.0);
    assert_eq!(moved(&s3, &s4, VERIFICATIONS, &ok_hit), 0.0);
    assert_eq!(me(base, &token).await, 200);
    let s5 = Scrape::take(&app).await;
    assert_eq!(moved(&s4, &s5, VERIFICATIONS, &ok_hit), 1.0);
    assert_eq!(moved(&s4, &s5, VERIFICATIONS, &ok_miss), 0.0);

    // A logout (its own verification, a hit), then the revoked token: still a hit, revoked.
    let out = client()
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(me(base, &token).await, 401);
    let s5b = Scrape::take(&app).await;
    let revoked_hit = [("outcome", "revoked"), ("cache", "hit")];
    assert_eq!(
        moved(&s5, &s5b, VERIFICATIONS, &ok_hit),
        1.0,
        "the logout's own check"
    );
    assert_eq!(moved(&s5, &s5b, VERIFICATIONS, &revoked_hit), 1.0);
    let s5 = s5b;

    // A tampered token: invalid, never cached.
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(me(base, &tampered).await, 401);
    let s6 = Scrape::take(&app).await;
    let invalid = [("outcome", "invalid"), ("cache", "miss")];
    assert_eq!(moved(&s5, &s6, VERIFICATIONS, &invalid), 1.0);

    // The histogram is a histogram (buckets), not a summary.
    assert!(
        s6.text
            .contains("# TYPE dingtalk_login_upstream_request_duration_seconds histogram"),
        "{}",
        s6.text
    );
    // Labels stay within their fixed sets.
    for api in s6.label_values(UPSTREAM, "api") {
        assert!(APIS.contains(&api.as_str()), "api label {api:?}");
    }
    for outcome in s6.label_values(UPSTREAM, "outcome") {
        assert!(
            UPSTREAM_OUTCOMES.contains(&outcome.as_str()),
            "outcome {outcome:?}"
        );
    }
    for method in s6.label_values(LOGINS, "method") {
        assert!(["code", "web"].contains(&method.as_str()), "{method:?}");
    }

    // No secret, token, code or userid anywhere in the text.
    let access_token = fake.current_token().expect("the app fetched a token");
    let mut secrets = vec![
        fake.app_secret().to_owned(),
        access_token,
        SESSION_SECRET.to_owned(),
        "metrics-staff".to_owned(),
        "metrics-admin".to_owned(),
    ];
    secrets.extend(codes);
    secrets.extend(tokens);
    for secret in &secrets {
        assert!(
            !s6.text.contains(secret.as_str()),
            "/metrics shows {secret:?}:\n{}",
            s6.text
        );
    }
    // Nor on the public port.
    let public = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status(),
        404,
        "the metrics never sit on the public port"
    );
}

/// A rate limit, a refused code, a refused access token and an HTTP 500 each move their own
/// `outcome`, and the logins count the error code they were answered with.
pub async fn upstream_outcomes<F, Fut>(start: F)
where
    F: Fn(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = App>,
{
    let fake = fake().await;
    let app = start(env(&fake, &[])).await;
    let base = app.base.as_str();
    // Warm: the app holds an access token from here on.
    let (status, _) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(status, 200);
    let upstream = |outcome| [("api", "getuserinfo"), ("outcome", outcome)];

    // DingTalk's flow control: not retried, one attempt.
    let s0 = Scrape::take(&app).await;
    fake.fail_next(
        Endpoint::GetUserInfo,
        1,
        Failure::RateLimited { wait_secs: 1 },
    );
    let (status, body) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("upstream_unavailable"))
    );
    let s1 = Scrape::take(&app).await;
    assert_eq!(moved(&s0, &s1, UPSTREAM, &upstream("rate_limited")), 1.0);
    assert_eq!(
        moved(&s0, &s1, DURATION_COUNT, &[("api", "getuserinfo")]),
        1.0
    );
    let unavailable = [("method", "code"), ("outcome", "upstream_unavailable")];
    assert_eq!(moved(&s0, &s1, LOGINS, &unavailable), 1.0);

    // A code DingTalk refuses (40078): rejected, answered `code_rejected`.
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::Errcode(40078));
    let (status, body) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("code_rejected"))
    );
    let s2 = Scrape::take(&app).await;
    assert_eq!(moved(&s1, &s2, UPSTREAM, &upstream("rejected")), 1.0);
    let rejected = [("method", "code"), ("outcome", "code_rejected")];
    assert_eq!(moved(&s1, &s2, LOGINS, &rejected), 1.0);

    // The access token refused: token_invalid, one gettoken, then ok.
    fake.invalidate_token();
    let (status, _) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(status, 200);
    let s3 = Scrape::take(&app).await;
    assert_eq!(moved(&s2, &s3, UPSTREAM, &upstream("token_invalid")), 1.0);
    assert_eq!(moved(&s2, &s3, UPSTREAM, &upstream("ok")), 1.0);
    let token_ok = [("api", "gettoken"), ("outcome", "ok")];
    assert_eq!(moved(&s2, &s3, UPSTREAM, &token_ok), 1.0);

    // An HTTP 500 then an answer: http_5xx, retried, ok.
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::ServerError);
    let (status, _) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(status, 200);
    let s4 = Scrape::take(&app).await;
    assert_eq!(moved(&s3, &s4, UPSTREAM, &upstream("http_5xx")), 1.0);
    assert_eq!(moved(&s3, &s4, UPSTREAM, &upstream("ok")), 1.0);
    let ok_login = [("method", "code"), ("outcome", "ok")];
    assert_eq!(moved(&s3, &s4, LOGINS, &ok_login), 1.0);
}

/// The outcomes no DingTalk answer names: a session past its `exp` (`expired`), and upstream
/// calls that got no answer in time (`timeout`), lost their connection (`connect`) or got an
/// answer that could not be read (`error`). Each is one attempt (none of them is retried once
/// the request went out) and one login answered with its error code.
pub async fn unanswered_outcomes<F, Fut>(start: F)
where
    F: Fn(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = App>,
{
    let fake = fake().await;
    let app = start(env(&fake, &[("UPSTREAM_TIMEOUT_MS", "300")])).await;
    let base = app.base.as_str();
    // Warm: the app holds an access token from here on.
    let (status, _) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(status, 200);

    // A session signed with the app's key a day ago: past its exp and the leeway.
    let a_day_ago = ManualClock::starting_now();
    a_day_ago.set(a_day_ago.unix() - 86_400);
    let minter = DingTalkLogin::builder()
        .app_key("mint")
        .app_secret("mint")
        .session_secret(SESSION_SECRET)
        .clock(a_day_ago)
        .build()
        .unwrap();
    let user = DingTalkUser::new("metrics-staff", "Mia Staff", SysLevel::Other);
    let expired = mint_session(&minter, &user);
    let s0 = Scrape::take(&app).await;
    assert_eq!(me(base, &expired).await, 401);
    let s1 = Scrape::take(&app).await;
    let expired_miss = [("outcome", "expired"), ("cache", "miss")];
    assert_eq!(moved(&s0, &s1, VERIFICATIONS, &expired_miss), 1.0);

    let upstream = |outcome| [("api", "getuserinfo"), ("outcome", outcome)];
    let cases = [
        (Failure::Delay(Duration::from_secs(3)), "timeout"),
        (Failure::DropConnection, "connect"),
        (Failure::Xml, "error"),
    ];
    let mut before = s1;
    for (failure, outcome) in cases {
        fake.fail_next(Endpoint::GetUserInfo, 1, failure);
        let (status, body) = login(base, &fake.mint_code("metrics-staff")).await;
        let code = body["error"].as_str().unwrap_or_default().to_owned();
        assert!(status >= 500, "{outcome}: {status} {body}");
        let after = Scrape::take(&app).await;
        assert_eq!(
            moved(&before, &after, UPSTREAM, &upstream(outcome)),
            1.0,
            "{outcome}"
        );
        assert_eq!(
            moved(&before, &after, UPSTREAM, &upstream("ok")),
            0.0,
            "{outcome}: not retried"
        );
        let counted = [("method", "code"), ("outcome", code.as_str())];
        assert_eq!(
            moved(&before, &after, LOGINS, &counted),
            1.0,
            "{outcome}: {code}"
        );
        before = after;
    }
}

/// The browser login's callback counts as `method="web"`: one ok login (with its
/// `user_access_token`, `users_me` and `getbyunionid` attempts), one forged state.
pub async fn web_logins<F, Fut>(start: F)
where
    F: Fn(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = App>,
{
    let fake = fake().await;
    let url = fake.url();
    let app = start(env(
        &fake,
        &[
            ("PUBLIC_URL", "http://app.test"),
            ("DINGTALK_API_URL", url.as_str()),
            ("DINGTALK_LOGIN_URL", url.as_str()),
            ("COOKIE_SECURE", "0"),
        ],
    ))
    .await;
    let base = app.base.as_str();
    let begin = || async {
        let res = client()
            .get(format!("{base}/auth/dingtalk/web"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let state = url::form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("a state");
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("dingtalk_web_state="))
            .expect("the state cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (state, cookie)
    };
    let callback = |code: String, state: String, cookie: String| async move {
        client()
            .get(format!("{base}/auth/dingtalk/web/callback"))
            .query(&[("authCode", code.as_str()), ("state", state.as_str())])
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    };

    let s0 = Scrape::take(&app).await;
    let (state, cookie) = begin().await;
    let code = fake.mint_web_code("metrics-staff");
    let res = callback(code.clone(), state, cookie).await;
    assert_eq!(res.status(), 302, "{:?}", res.text().await);
    let s1 = Scrape::take(&app).await;
    let web_ok = [("method", "web"), ("outcome", "ok")];
    assert_eq!(moved(&s0, &s1, LOGINS, &web_ok), 1.0);
    let code_ok = [("method", "code"), ("outcome", "ok")];
    assert_eq!(moved(&s0, &s1, LOGINS, &code_ok), 0.0);
    for api in ["user_access_token", "users_me", "getbyunionid"] {
        let ok = [("api", api), ("outcome", "ok")];
        assert_eq!(moved(&s0, &s1, UPSTREAM, &ok), 1.0, "{api}");
    }

    // A forged state: refused before any upstream call, counted all the same.
    let (_, cookie) = begin().await;
    let forged = "forged-state-0123456789abcdef".to_owned();
    let res = callback(fake.mint_web_code("metrics-staff"), forged, cookie).await;
    assert_eq!(res.status(), 400);
    let s2 = Scrape::take(&app).await;
    let web_invalid = [("method", "web"), ("outcome", "invalid_state")];
    assert_eq!(moved(&s1, &s2, LOGINS, &web_invalid), 1.0);
    let token = [("api", "user_access_token")];
    assert_eq!(moved(&s1, &s2, DURATION_COUNT, &token), 0.0);
    for api in s2.label_values(UPSTREAM, "api") {
        assert!(APIS.contains(&api.as_str()), "api label {api:?}");
    }
    for secret in [code.as_str(), "metrics-staff", fake.app_secret()] {
        assert!(!s2.text.contains(secret), "/metrics shows {secret:?}");
    }
}

/// Without `METRICS_BIND` the app starts no metrics listener.
pub async fn no_listener_without_metrics_bind<F, Fut>(start: F)
where
    F: Fn(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = App>,
{
    let fake = fake().await;
    let mut vars = env(&fake, &[]);
    vars.retain(|(k, _)| k != "METRICS_BIND");
    let app = start(vars).await;
    assert!(app.metrics.is_empty(), "no listener: {}", app.metrics);
    let res = client()
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// Redis stops: the next login is refused (503 `store_unavailable`) after one failed replay
/// claim, counted once as a `replay` store error, with no upstream exchange.
pub async fn redis_outage<F, Fut>(start: F)
where
    F: Fn(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = App>,
{
    let mut redis = RedisServer::start().await;
    let fake = fake().await;
    let url = redis.url();
    let app = start(env(&fake, &[("REDIS_URL", url.as_str())])).await;
    let base = app.base.as_str();
    let (status, body) = login(base, &fake.mint_code("metrics-staff")).await;
    assert_eq!(status, 200, "{body}");

    let before = Scrape::take(&app).await;
    redis.stop();
    let code = fake.mint_code("metrics-staff");
    let (status, body) = login(base, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("store_unavailable"))
    );
    let after = Scrape::take(&app).await;
    assert_eq!(
        moved(&before, &after, STORE_ERRORS, &[("store", "replay")]),
        1.0
    );
    let refused = [("method", "code"), ("outcome", "store_unavailable")];
    assert_eq!(moved(&before, &after, LOGINS, &refused), 1.0);
    assert_eq!(
        moved(&before, &after, DURATION_COUNT, &[("api", "getuserinfo")]),
        0.0,
        "nothing was sent upstream"
    );
    for store in after.label_values(STORE_ERRORS, "store") {
        assert!(
            ["replay", "revocation", "token", "ticket"].contains(&store.as_str()),
            "{store:?}"
        );
    }
    assert!(!after.text.contains(&code) && !after.text.contains(&url));
}
