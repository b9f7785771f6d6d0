//! The core login flow over real loopback sockets against the crate's fake DingTalk.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dingtalk_login::clock::ManualClock;
use dingtalk_login::dingtalk::RetryPolicy;
use dingtalk_login::guard::SysLevel;
use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk, Quirks};
use dingtalk_login::Unavailable;
use dingtalk_login::{AuthCode, ConfigBuilder, DingTalkLogin, Error};
use support::{builder, code, fake, users, SESSION_SECRET as KEY};

#[tokio::test]
async fn happy_path_issues_a_session_for_the_user() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let session = login.login(&code(&fake, "sub")).await.unwrap();

    assert_eq!(session.user.userid, "sub");
    assert_eq!(session.user.unionid.as_deref(), Some("union-sub"));
    assert_eq!(session.user.sys_level, SysLevel::SubAdmin);
    assert!(session.user.sys);
    let claims = login.verify(&session.token).unwrap();
    assert_eq!(claims.sub, "sub");
    assert_eq!(claims.exp, session.expires_at);
    assert_eq!(claims.exp - claims.iat, 8 * 3600);
    let json = session.to_json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["user"]["sys_level"], 2);
    assert_eq!(fake.calls(Endpoint::GetToken), 1);
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
}

#[tokio::test]
async fn a_user_without_unionid_keeps_the_key_as_null() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let session = login.login(&code(&fake, "nounion")).await.unwrap();
    assert_eq!(
        session.to_json()["user"]["unionid"],
        serde_json::Value::Null
    );
    assert!(session.to_json()["user"]
        .as_object()
        .unwrap()
        .contains_key("unionid"));
}

#[tokio::test]
async fn a_replayed_code_is_refused_without_an_upstream_call() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let c = code(&fake, "staff");
    login.login(&c).await.unwrap();
    let calls = fake.total_calls();
    let err = login.login(&c).await.unwrap_err();
    assert_eq!(err.code(), "code_replayed");
    assert_eq!(err.status().as_u16(), 401);
    assert_eq!(
        fake.total_calls(),
        calls,
        "a replay must cost no upstream call"
    );
}

#[tokio::test]
async fn a_code_dingtalk_refused_stays_claimed() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let unknown = AuthCode::parse("nosuchcode").unwrap();
    assert_eq!(
        login.login(&unknown).await.unwrap_err().code(),
        "code_rejected"
    );
    let calls = fake.calls(Endpoint::GetUserInfo);
    assert_eq!(
        login.login(&unknown).await.unwrap_err().code(),
        "code_replayed"
    );
    assert_eq!(fake.calls(Endpoint::GetUserInfo), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_logins_fetch_one_token() {
    let fake = fake().await;
    // A generous timeout: this is about single flight, and a busy machine must not fail it.
    let login = builder(&fake)
        .upstream_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let codes: Vec<AuthCode> = (0..1000)
        .map(|i| code(&fake, ["admin", "sub", "staff"][i % 3]))
        .collect();
    let tasks: Vec<_> = codes
        .into_iter()
        .map(|c| {
            let login = login.clone();
            tokio::spawn(async move { login.login(&c).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fake.calls(Endpoint::GetToken), 1);
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1000);
}

#[tokio::test]
async fn an_expired_token_is_refetched_and_the_call_retried_once() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    login.login(&code(&fake, "staff")).await.unwrap();
    fake.expire_token();
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 2);
    assert_eq!(
        fake.calls(Endpoint::GetUserInfo),
        3,
        "one refused call, one retry"
    );

    fake.invalidate_token();
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 3);
}

#[tokio::test]
async fn a_stale_failure_does_not_discard_a_refreshed_token() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let tokens = login.client().tokens().clone();
    let stale = tokens.token().await.unwrap();
    fake.expire_token();
    // Another caller meets the expired token, drops it and refetches.
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 2);
    // The first caller's late report about the old token must not drop the new one.
    tokens.invalidate(&stale).await;
    let fresh = tokens.token().await.unwrap();
    assert_ne!(fresh, stale);
    assert_eq!(fake.current_token().as_deref(), Some(fresh.expose()));
    assert_eq!(fake.calls(Endpoint::GetToken), 2);
}

#[tokio::test]
async fn the_token_is_refreshed_ahead_of_expiry() {
    let clock = ManualClock::starting_now();
    let fake = users()
        .into_iter()
        .fold(FakeDingTalk::builder().clock(clock.clone()), |b, u| {
            b.user(u)
        })
        .start()
        .await;
    let login = builder(&fake).clock(clock.clone()).build().unwrap();
    login.login(&code(&fake, "staff")).await.unwrap();
    clock.advance(Duration::from_secs(3600));
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 1, "mid-life: cached");
    // Inside the last five minutes (minus jitter) of the 7200 s life: refreshed ahead.
    clock.advance(Duration::from_secs(3600 - 200));
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 2);
}

#[tokio::test]
async fn busy_once_then_success() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::Busy);
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 2);

    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::ServerError);
    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 4);
}

#[tokio::test]
async fn busy_always_is_unavailable_within_the_time_bound_and_the_code_stays_usable() {
    let fake = fake().await;
    // The default policy, as shipped.
    let login = builder(&fake)
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap();
    let c = code(&fake, "staff");
    fake.fail_next(Endpoint::GetUserInfo, usize::MAX, Failure::Busy);
    let started = Instant::now();
    let err = login.login(&c).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            Error::UpstreamUnavailable {
                reason: Unavailable::Busy,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 503);
    let attempts = fake.calls(Endpoint::GetUserInfo);
    assert!((2..=10).contains(&attempts), "{attempts} attempts");

    // The claim was released: once DingTalk recovers, the same code logs in.
    fake.clear_failures();
    login.login(&c).await.unwrap();
}

#[tokio::test]
async fn server_errors_always_are_unavailable() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    fake.fail_next(Endpoint::GetUserInfo, usize::MAX, Failure::ServerError);
    let err = login.login(&code(&fake, "staff")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::UpstreamUnavailable {
                reason: Unavailable::ServerError,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 4);
}

#[tokio::test]
async fn rate_limited_carries_retry_after_and_is_not_retried() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let c = code(&fake, "staff");
    fake.fail_next(
        Endpoint::GetUserInfo,
        usize::MAX,
        Failure::RateLimited { wait_secs: 5 },
    );
    let err = login.login(&c).await.unwrap_err();
    assert_eq!(err.code(), "upstream_unavailable");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1, "no tight loop");

    fake.clear_failures();
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::Errcode(90018));
    let err = login.login(&c).await.unwrap_err();
    assert!(matches!(
        err,
        Error::UpstreamUnavailable {
            reason: Unavailable::RateLimited,
            ..
        }
    ));
    assert!(err.retry_after().is_some());
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 2);
    // Released after a rate limit: the code still works.
    login.login(&c).await.unwrap();
}

#[tokio::test]
async fn a_hang_is_a_timeout_after_about_the_configured_time_and_not_retried() {
    let fake = fake().await;
    let login = builder(&fake)
        .upstream_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // Warm the token so only getuserinfo hangs.
    login.client().tokens().token().await.unwrap();
    fake.fail_next(
        Endpoint::GetUserInfo,
        1,
        Failure::Delay(Duration::from_secs(30)),
    );
    let started = Instant::now();
    let err = login.login(&code(&fake, "staff")).await.unwrap_err();
    assert_eq!(err.code(), "upstream_timeout");
    assert_eq!(err.status().as_u16(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        fake.calls(Endpoint::GetUserInfo),
        1,
        "a timeout is never retried"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable_and_releases_the_claim() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    login.client().tokens().token().await.unwrap();
    let c = code(&fake, "staff");
    fake.fail_next(Endpoint::GetUserInfo, 1, Failure::DropConnection);
    let err = login.login(&c).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::UpstreamUnavailable {
                reason: Unavailable::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    login.login(&c).await.unwrap();
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let login = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .oapi_url(format!("http://127.0.0.1:{port}"))
        .session_secret(KEY)
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap();
    let err = login
        .login(&AuthCode::parse("abc").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UpstreamUnavailable {
                reason: Unavailable::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 503);
}

#[tokio::test]
async fn a_wrong_app_secret_is_an_upstream_error_that_names_no_secret() {
    let fake = fake().await;
    let login = builder(&fake).app_secret("wrong-secret").build().unwrap();
    let err = login.login(&code(&fake, "staff")).await.unwrap_err();
    assert_eq!(err.code(), "upstream_error");
    assert_eq!(err.status().as_u16(), 502);
    assert_eq!(err.upstream().unwrap().errcode, Some(40089));
    let shown = format!("{err} {err:?} {}", err.body());
    assert!(!shown.contains("wrong-secret"), "{shown}");
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 0);
}

#[tokio::test]
async fn errors_never_show_the_access_token() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let token = login.client().tokens().token().await.unwrap();
    fake.fail_next(Endpoint::GetUserInfo, usize::MAX, Failure::DropConnection);
    let err = login.login(&code(&fake, "staff")).await.unwrap_err();
    let shown = format!("{err} {err:?} {}", err.body());
    assert!(!shown.contains(token.expose()), "{shown}");
    assert!(!format!("{login:?}").contains(token.expose()));
    assert!(!format!("{login:?}").contains(fake.app_secret()));
}

#[test]
fn malformed_codes_are_refused_locally() {
    for bad in [
        "",
        " ",
        "a b",
        "abc!",
        "ÄÖ",
        "a\nb",
        &"x".repeat(129),
        "a/b",
        "a.b",
    ] {
        let err = AuthCode::parse(bad).unwrap_err();
        assert_eq!(err.code(), "invalid_code", "{bad:?}");
        assert_eq!(err.status().as_u16(), 400);
    }
    assert!(AuthCode::parse(&"x".repeat(128)).is_ok());
    assert!(AuthCode::parse("Ab-_09").is_ok());
}

#[tokio::test]
async fn quirky_encodings_are_parsed() {
    let fake = fake().await;
    fake.set_quirks(Quirks {
        numbers_as_strings: true,
        lists_as_strings: true,
    });
    let login = builder(&fake).build().unwrap();
    let session = login.login(&code(&fake, "admin")).await.unwrap();
    assert_eq!(session.user.sys_level, SysLevel::SuperAdmin);
    let found = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, true)
        .await
        .unwrap();
    assert_eq!(found.userid.as_deref(), Some("staff"));
}

#[tokio::test]
async fn getbymobile_maps_its_errcodes() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let found = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, false)
        .await
        .unwrap();
    assert_eq!(found.userid.as_deref(), Some("staff"));

    let err = login
        .client()
        .get_by_mobile("13900000000", false)
        .await
        .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (404, "user_not_found"));

    let calls = fake.total_calls();
    let err = login
        .client()
        .get_by_mobile("not-a-phone", false)
        .await
        .unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (400, "invalid_mobile"));
    assert_eq!(fake.total_calls(), calls, "refused locally");

    fake.fail_next(Endpoint::GetByMobile, 1, Failure::Errcode(40104));
    let err = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_mobile");
}

#[test]
fn config_refuses_bad_settings() {
    let base = || DingTalkLogin::builder().app_key("k").app_secret("s");
    let msg = |b: ConfigBuilder| b.build().unwrap_err().to_string();
    assert!(msg(base().session_secret("short")).contains("32"));
    assert!(msg(base()).contains("session_secret"));
    assert!(msg(base().session_secret(KEY).oapi_url("not a url")).contains("oapi_url"));
    assert!(msg(base().session_secret(KEY).oapi_url("ftp://x")).contains("scheme"));
    assert!(msg(DingTalkLogin::builder().session_secret(KEY)).contains("app_key"));
    assert!(base().session_secret(KEY).international().build().is_ok());
    let _ = Arc::new(base().session_secret(KEY).build().unwrap());
}

/// `Debug` of everything a login hands around — the login, the code, the service, the fake,
/// the errors — holds no session token, code, access token or app secret.
#[tokio::test]
async fn debug_output_holds_no_token_code_or_secret() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    let raw_code = fake.mint_code("sub");
    let code = AuthCode::parse(&raw_code).unwrap();
    let session = login.login(&code).await.unwrap();
    let replayed = login.login(&code).await.unwrap_err();
    let unused = fake.mint_code("staff");
    let access_token = fake.current_token().expect("a token was fetched");

    let shown = format!(
        "{session:?} {session:#?} {code:?} {login:?} {fake:?} {replayed:?} {:?}",
        AuthCode::parse(&unused).unwrap()
    );
    for secret in [
        session.token.as_str(),
        raw_code.as_str(),
        unused.as_str(),
        access_token.as_str(),
        fake.app_secret(),
        KEY,
    ] {
        assert!(!shown.contains(secret), "{secret:?} in {shown}");
    }
    // What may be shown still is.
    assert!(shown.contains("sub"), "{shown}");
}

/// Upstream strings (`sub_code`, `request_id`, `errmsg`) reach the log escaped: a newline or a
/// terminal escape in DingTalk's answer cannot start a forged log line.
#[tokio::test]
async fn upstream_strings_are_escaped_in_logs() {
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    // A refused token is logged with the upstream's detail, then refetched once.
    fake.fail_next(
        Endpoint::GetUserInfo,
        1,
        Failure::Json(serde_json::json!({
            "errcode": 40014,
            "errmsg": "bad token\nERROR FORGED errmsg",
            "sub_code": "x\nERROR FORGED sub_code",
            "request_id": "r\u{1b}[2K\rERROR FORGED request_id",
        })),
    );
    login.login(&code(&fake, "sub")).await.unwrap();

    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        out.contains("FORGED sub_code"),
        "the detail is logged: {out}"
    );
    assert!(!out.contains('\u{1b}'), "a raw terminal escape: {out}");
    assert!(!out.contains('\r'), "a raw carriage return: {out}");
    for line in out.lines().filter(|l| l.contains("FORGED")) {
        assert!(
            line.contains("access token refused"),
            "a forged line: {line:?} in {out}"
        );
    }
}
