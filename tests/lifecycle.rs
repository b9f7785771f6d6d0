//! The session lifecycle through the core API (`DingTalkLogin::refresh`, `revoke_user`) on a
//! manual clock, against the fake DingTalk over loopback: the exact second the max age ends,
//! the exact second a user revocation covers, and what a refresh carries over.

mod support;

use std::time::Duration;

use dingtalk_login::clock::{Clock, ManualClock};
use dingtalk_login::enrich::from_fn;
use dingtalk_login::guard::SysLevel;
use dingtalk_login::testing::{sign_claims, Endpoint, FakeDingTalk, FakeUser};
use dingtalk_login::{ConfigError, DingTalkLogin, Error, Login, SessionRejection};
use serde_json::{json, Map};
use support::{code, fake, SESSION_SECRET};

fn builder(fake: &FakeDingTalk, clock: &ManualClock) -> dingtalk_login::ConfigBuilder {
    support::builder(fake).clock(clock.clone())
}

async fn log_in(fake: &FakeDingTalk, login: &DingTalkLogin, userid: &str) -> Login {
    login.login(&code(fake, userid)).await.unwrap()
}

fn rejection(result: Result<impl Sized, Error>) -> Option<SessionRejection> {
    match result {
        Err(Error::Unauthenticated(why)) => Some(why),
        _ => None,
    }
}

#[tokio::test]
async fn refreshes_keep_auth_time_and_end_exactly_at_the_max_age() {
    let fake = fake().await;
    let clock = ManualClock::new(1_700_000_000);
    let login = builder(&fake, &clock)
        .session_ttl(Duration::from_secs(3600))
        .session_max_age(Duration::from_secs(5000))
        .build()
        .unwrap();
    let t = clock.unix();
    let first = log_in(&fake, &login, "staff").await;
    assert_eq!(first.claims.auth_time, Some(t));
    assert_eq!(first.claims.exp, t + 3600);

    clock.advance(Duration::from_secs(3000));
    let second = login.refresh(&first.claims).await.unwrap();
    assert_eq!(second.claims.iat, t + 3000);
    assert_eq!(second.claims.auth_time, Some(t), "kept");
    assert_eq!(
        second.claims.exp,
        t + 5000,
        "min(now + TTL, auth_time + max age)"
    );
    assert_eq!(second.expires_at, second.claims.exp);
    assert_ne!(second.claims.jti, first.claims.jti);
    assert_eq!(
        rejection(login.verify(&first.token)),
        Some(SessionRejection::Revoked)
    );

    clock.advance(Duration::from_secs(1999));
    let third = login.refresh(&second.claims).await.unwrap();
    assert_eq!(third.claims.auth_time, Some(t));
    assert_eq!(third.claims.exp, t + 5000);

    clock.advance(Duration::from_secs(1));
    let calls = fake.total_calls();
    assert_eq!(
        rejection(login.refresh(&third.claims).await),
        Some(SessionRejection::Expired),
        "at auth_time + max age"
    );
    assert_eq!(
        fake.total_calls(),
        calls,
        "no upstream call past the max age"
    );
    assert!(
        login.verify(&third.token).is_ok(),
        "not revoked: it simply ends"
    );
}

#[tokio::test]
async fn a_session_without_auth_time_counts_from_its_iat() {
    let fake = fake().await;
    let clock = ManualClock::new(1_700_000_000);
    let login = builder(&fake, &clock)
        .session_max_age(Duration::from_secs(600))
        .build()
        .unwrap();
    let mut claims = log_in(&fake, &login, "staff").await.claims;
    claims.auth_time = None;
    claims.iat -= 100;
    claims.jti = "older-token".into();
    let token = sign_claims(&login, &claims).unwrap();
    let claims = login.verify(&token).unwrap();
    let next = login.refresh(&claims).await.unwrap();
    assert_eq!(next.claims.auth_time, Some(claims.iat));
    assert_eq!(next.claims.exp, claims.iat + 600);
}

#[tokio::test]
async fn a_refresh_carries_identity_and_extension_claims_and_reads_the_live_level() {
    let fake = fake().await;
    let clock = ManualClock::new(1_700_000_000);
    let login = builder(&fake, &clock)
        .enrich(from_fn(|_user| async {
            Ok(Map::from_iter([("dept".to_owned(), json!([7]))]))
        }))
        .build()
        .unwrap();
    let sub = log_in(&fake, &login, "sub").await;
    let staff = log_in(&fake, &login, "staff").await;

    fake.set_level("sub", 0);
    fake.add_user(FakeUser::new("staff", "Stu Staff (renamed)").boss());
    let demoted = login.refresh(&sub.claims).await.unwrap();
    assert_eq!(demoted.claims.sys_level, SysLevel::Other);
    assert!(!demoted.claims.sys);
    assert_eq!(demoted.claims.sub, "sub");
    assert_eq!(demoted.claims.unionid.as_deref(), Some("union-sub"));
    assert_eq!(demoted.claims.ext["dept"], json!([7]));
    let boss = login.refresh(&staff.claims).await.unwrap();
    assert_eq!(boss.claims.sys_level, SysLevel::Boss);
    assert_eq!(boss.claims.name, "Stu Staff (renamed)");
    assert_eq!(boss.to_json()["user"]["sys_level"], 100);

    // The admin list is cached for a minute: a promotion in that minute shows at the first
    // refresh after it.
    fake.set_level("sub", 2);
    let cached = login.refresh(&demoted.claims).await.unwrap();
    assert_eq!(
        cached.claims.sys_level,
        SysLevel::Other,
        "list still cached"
    );
    clock.advance(Duration::from_secs(60));
    let promoted = login.refresh(&cached.claims).await.unwrap();
    assert_eq!(promoted.claims.sys_level, SysLevel::SubAdmin);
    assert_eq!(fake.calls(Endpoint::ListAdmin), 2);
}

#[tokio::test]
async fn revoke_user_covers_every_session_issued_up_to_its_second() {
    let fake = fake().await;
    let clock = ManualClock::new(1_700_000_000);
    let login = builder(&fake, &clock).build().unwrap();
    let before = log_in(&fake, &login, "staff").await;
    login.verify(&before.token).unwrap(); // now in the verified-session cache
    let other = log_in(&fake, &login, "sub").await;

    clock.advance(Duration::from_millis(400));
    login.revoke_user("staff").await.unwrap();
    // Issued in the same second as the revocation: covered too.
    clock.advance(Duration::from_millis(500));
    let same_second = log_in(&fake, &login, "staff").await;
    assert_eq!(same_second.claims.iat, before.claims.iat);
    for token in [&before.token, &same_second.token] {
        assert_eq!(
            rejection(login.verify(token)),
            Some(SessionRejection::Revoked)
        );
    }
    assert_eq!(
        rejection(login.refresh(&before.claims).await),
        Some(SessionRejection::Revoked),
        "claims verified before the revocation cannot be refreshed"
    );
    login.verify(&other.token).unwrap();

    clock.advance(Duration::from_millis(200));
    let after = log_in(&fake, &login, "staff").await;
    assert!(after.claims.iat > before.claims.iat);
    login.verify(&after.token).unwrap();
}

#[test]
fn the_max_age_must_be_more_than_zero() {
    let err = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .session_secret(SESSION_SECRET)
        .session_max_age(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                name: "session_max_age",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_is_refreshed_once_even_by_concurrent_requests() {
    let fake = fake().await;
    let clock = ManualClock::new(1_700_000_000);
    let login = builder(&fake, &clock).build().unwrap();
    let first = log_in(&fake, &login, "staff").await;
    let refreshes: Vec<_> = (0..8)
        .map(|_| {
            let (login, claims) = (login.clone(), first.claims.clone());
            tokio::spawn(async move { login.refresh(&claims).await })
        })
        .collect();
    let mut ok = Vec::new();
    for r in refreshes {
        match r.await.unwrap() {
            Ok(next) => ok.push(next),
            Err(e) => assert_eq!(rejection(Err::<(), _>(e)), Some(SessionRejection::Revoked)),
        }
    }
    assert_eq!(ok.len(), 1, "one successor per token");
    login.verify(&ok[0].token).unwrap();
}

#[tokio::test]
async fn a_refresh_that_failed_transiently_can_be_tried_again() {
    let fake = fake().await;
    let clock = ManualClock::new(1_700_000_000);
    let login = builder(&fake, &clock).build().unwrap();
    let first = log_in(&fake, &login, "staff").await;
    fake.fail_next(
        Endpoint::UserGet,
        usize::MAX,
        dingtalk_login::testing::Failure::Busy,
    );
    let err = login.refresh(&first.claims).await.unwrap_err();
    assert_eq!(err.code(), "upstream_unavailable");
    login.verify(&first.token).expect("still valid");
    fake.clear_failures();
    login.refresh(&first.claims).await.unwrap();
}
