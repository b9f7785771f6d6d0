//! Revoking a user and refreshing a session across two instances ("A" and "B") sharing a real
//! `redis-server`, against the fake DingTalk over loopback: B refuses within a
//! second, without a Redis round trip per verified request, a later instance learns it from
//! Redis, and a revocation made while Redis is down reaches B once Redis is back.

mod support;

use std::time::{Duration, Instant};

use dingtalk_login::store::redis::RedisStores;
use dingtalk_login::testing::FakeDingTalk;
use dingtalk_login::{DingTalkLogin, Error, Login, SessionRejection};
use support::redis::RedisServer;
use support::{builder, code, fake};

const PREFIX: &str = "lifecycle-test:";

struct Instance {
    stores: RedisStores,
    login: DingTalkLogin,
}

async fn instance(fake: &FakeDingTalk, redis: &RedisServer) -> Instance {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let stores = RedisStores::connect(&redis.url(), PREFIX).await.unwrap();
    let login = stores.configure(builder(fake)).build().unwrap();
    Instance { stores, login }
}

async fn login(fake: &FakeDingTalk, on: &Instance, userid: &str) -> Login {
    on.login.login(&code(fake, userid)).await.unwrap()
}

fn is_revoked(result: Result<impl Sized, Error>) -> bool {
    matches!(
        result,
        Err(Error::Unauthenticated(SessionRejection::Revoked))
    )
}

/// Polls `check` every 5 ms until it holds; panics after `within`.
async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Commands the server has processed so far (`INFO stats`), asked over `conn`.
async fn commands_processed(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats has total_commands_processed")
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn a_user_revoked_on_a_is_refused_on_b_within_a_second_without_a_redis_call_per_request() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);

    let s1 = login(&fake, &a, "staff").await;
    let s2 = login(&fake, &b, "staff").await;
    let other = login(&fake, &a, "boss").await;
    // Verified on B before the revocation: in B's verified-session cache.
    b.login.verify(&s1.token).unwrap();
    b.login.verify(&s2.token).unwrap();

    // Verifying costs no Redis command: count what the server processed around 1,000 checks
    // (the only other traffic: the INFO itself and the subscribers' PING every 5 s).
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let before = commands_processed(&mut conn).await;
    for _ in 0..1000 {
        b.login.verify(&s1.token).unwrap();
        b.login.verify(&other.token).unwrap();
    }
    let after = commands_processed(&mut conn).await;
    assert!(
        after - before <= 5,
        "{} Redis commands for 2,000 verifications",
        after - before
    );

    a.login.revoke_user("staff").await.unwrap();
    assert!(is_revoked(a.login.verify(&s1.token)), "at once on A");
    assert!(is_revoked(a.login.verify(&s2.token)), "at once on A");
    eventually(Duration::from_secs(1), "B refuses both sessions", || {
        is_revoked(b.login.verify(&s1.token)) && is_revoked(b.login.verify(&s2.token))
    })
    .await;
    assert!(a.login.verify(&other.token).is_ok());
    assert!(b.login.verify(&other.token).is_ok());

    // The shared entry lives as long as the longest session (the 7-day max age, plus leeway).
    let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(format!("{PREFIX}revoked"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (member, until) = members
        .iter()
        .find(|(m, _)| m.starts_with("u:") && m.ends_with(":staff"))
        .unwrap_or_else(|| panic!("no user entry in {members:?}"));
    let at: i64 = member.split(':').nth(1).unwrap().parse().unwrap();
    assert!(
        *until as i64 >= at + 7 * 24 * 3600,
        "{member} until {until}"
    );

    // A third instance started later learns it from Redis, not from the channel.
    let c = instance(&fake, &redis).await;
    assert!(is_revoked(c.login.verify(&s1.token)));
    assert!(c.login.verify(&other.token).is_ok());

    // A login a second later works, on every instance.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = login(&fake, &b, "staff").await;
    for on in [&a, &b, &c] {
        on.login.verify(&again.token).unwrap();
    }
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn a_refresh_on_a_spends_the_old_token_on_b_within_a_second() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);
    let old = login(&fake, &a, "staff").await;
    b.login.verify(&old.token).unwrap();

    let next = a.login.refresh(&old.claims).await.unwrap();
    assert_eq!(next.claims.auth_time, old.claims.auth_time);
    eventually(
        Duration::from_secs(1),
        "B refuses the refreshed token",
        || is_revoked(b.login.verify(&old.token)),
    )
    .await;
    b.login.verify(&next.token).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn a_user_revoked_while_redis_is_down_is_refused_on_b_once_redis_is_back() {
    let mut redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);
    let s = login(&fake, &a, "staff").await;
    let other = login(&fake, &a, "boss").await;

    redis.stop();
    let err = a.login.revoke_user("staff").await.unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
    assert!(is_revoked(a.login.verify(&s.token)), "refused here at once");
    assert_eq!(a.stores.revocation().pending(), 1);
    assert!(b.login.verify(&s.token).is_ok(), "B cannot know yet");

    redis.restart(&[]).await;
    assert!(
        a.stores
            .revocation()
            .wait_synced(Duration::from_secs(10))
            .await
    );
    eventually(
        Duration::from_secs(10),
        "the queued revocation reaches B",
        || is_revoked(b.login.verify(&s.token)),
    )
    .await;
    assert!(b.login.verify(&other.token).is_ok());
}
