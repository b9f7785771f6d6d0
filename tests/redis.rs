//! Two instances ("A" and "B") of the login sharing a real `redis-server`, against the fake
//! DingTalk over loopback: single use of a code, logout and the access token across the
//! instances, and what happens when Redis goes away and comes back.

mod support;

use std::time::{Duration, Instant};

use dingtalk_login::store::redis::RedisStores;
use dingtalk_login::store::{CodeClaim, ReplayGuard, Revocation};
use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk};
use dingtalk_login::AuthCode;
use dingtalk_login::SessionRejection;
use dingtalk_login::{DingTalkLogin, Error, Login};
use support::redis::RedisServer;
use support::{builder, code, fake};

const PREFIX: &str = "test-app:";

/// One instance of the app: its own connection to Redis, its own login.
struct Instance {
    stores: RedisStores,
    login: DingTalkLogin,
}

async fn instance(fake: &FakeDingTalk, redis: &RedisServer) -> Instance {
    instance_with_timeout(fake, redis, Duration::from_millis(500)).await
}

/// An instance whose Redis calls may take up to `timeout`: for load tests, where a busy
/// machine must not turn into a store timeout.
async fn instance_with_timeout(
    fake: &FakeDingTalk,
    redis: &RedisServer,
    timeout: Duration,
) -> Instance {
    // RUST_LOG=dingtalk_login=debug shows the stores' warnings and reconnections.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let stores = RedisStores::connect_with_timeout(&redis.url(), PREFIX, timeout)
        .await
        .unwrap();
    let login = stores.configure(builder(fake)).build().unwrap();
    Instance { stores, login }
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn is_revoked(result: Result<impl Sized, Error>) -> bool {
    matches!(
        result,
        Err(Error::Unauthenticated(SessionRejection::Revoked))
    )
}

/// Polls `check` every 5 ms until it holds; returns how long that took, or panics after
/// `within`.
async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn a_code_claimed_through_a_is_refused_on_b_without_an_upstream_call() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);

    let c = code(&fake, "staff");
    a.login.login(&c).await.unwrap();
    let calls = fake.total_calls();
    let err = b.login.login(&c).await.unwrap_err();
    assert_eq!(err.code(), "code_replayed");
    assert_eq!(err.status().as_u16(), 401);
    assert_eq!(
        fake.total_calls(),
        calls,
        "a replay must cost no upstream call"
    );

    // Redis holds a hash of the code, never the code.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw(&redis.url()).await)
        .await
        .unwrap();
    let claimed = a.stores.replay_guard().key_for(&c);
    assert!(claimed.starts_with("test-app:code:"), "{claimed}");
    assert!(keys.contains(&claimed), "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains(c.as_str())), "{keys:?}");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&claimed)
        .query_async(&mut raw(&redis.url()).await)
        .await
        .unwrap();
    assert!((295..=300).contains(&ttl), "a claim lives 300 s, not {ttl}");
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn only_the_claimant_releases_a_claim_and_a_transient_failure_frees_the_code() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);
    let (guard_a, guard_b) = (a.stores.replay_guard(), b.stores.replay_guard());

    let c = AuthCode::parse("some-code").unwrap();
    let claim = guard_a.claim(&c).await.unwrap();
    assert_eq!(guard_b.claim(&c).await.unwrap_err().code(), "code_replayed");
    // A release by someone else (another holder) frees nothing.
    let forged = CodeClaim::new(claim.key(), claim.holder().wrapping_add(1));
    guard_b.release(forged).await;
    assert_eq!(guard_b.claim(&c).await.unwrap_err().code(), "code_replayed");
    guard_a.release(claim).await;
    let again = guard_b.claim(&c).await.unwrap();
    guard_b.release(again).await;

    // Through the flow: DingTalk busy on A releases the claim, so B can use the same code.
    let c = code(&fake, "sub");
    fake.fail_next(Endpoint::GetUserInfo, usize::MAX, Failure::Busy);
    assert_eq!(
        a.login.login(&c).await.unwrap_err().code(),
        "upstream_unavailable"
    );
    fake.clear_failures();
    assert_eq!(b.login.login(&c).await.unwrap().user.userid, "sub");
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn a_logout_on_a_is_refused_on_b_within_a_second() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);

    let session = a.login.login(&code(&fake, "admin")).await.unwrap();
    let claims = b.login.verify(&session.token).unwrap();
    let other = b.login.login(&code(&fake, "staff")).await.unwrap();

    a.login.logout(&claims).await.unwrap();
    assert!(is_revoked(a.login.verify(&session.token)), "at once on A");
    let took = eventually(
        Duration::from_secs(1),
        "B refuses the logged-out session",
        || is_revoked(b.login.verify(&session.token)),
    )
    .await;
    eprintln!("logout reached B after {took:?}");
    // Nobody else is logged out.
    assert!(a.login.verify(&other.token).is_ok());
    assert!(b.login.verify(&other.token).is_ok());

    // A third instance started later learns it from Redis, not from the channel.
    let c = instance(&fake, &redis).await;
    assert!(is_revoked(c.login.verify(&session.token)));
    assert!(c.login.verify(&other.token).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn a_thousand_cold_logins_across_two_instances_fetch_one_token() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let slow = Duration::from_secs(10);
    let (a, b) = (
        instance_with_timeout(&fake, &redis, slow).await,
        instance_with_timeout(&fake, &redis, slow).await,
    );
    let logins = [a.login.clone(), b.login.clone()];

    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let login = logins[i % 2].clone();
            let c = code(&fake, ["admin", "sub", "staff"][i % 3]);
            tokio::spawn(async move { login.login(&c).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        fake.calls(Endpoint::GetToken),
        1,
        "one gettoken in the cluster"
    );
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1000);
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn a_late_invalidate_does_not_drop_the_fresh_shared_token() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);
    let tokens_a = a.login.client().tokens().clone();

    let stale = tokens_a.token().await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 1);
    fake.expire_token();
    // B meets the expired token, drops it from Redis and fetches a new one.
    b.login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::GetToken), 2);
    // A's late report about the old token must not discard B's fresh one.
    tokens_a.invalidate(&stale).await;
    let fresh = tokens_a.token().await.unwrap();
    assert_ne!(fresh, stale);
    assert_eq!(fake.current_token().as_deref(), Some(fresh.expose()));
    assert_eq!(
        fake.calls(Endpoint::GetToken),
        2,
        "A took B's token from Redis"
    );
    let shared: Option<String> = redis::cmd("GET")
        .arg("test-app:access-token")
        .query_async(&mut raw(&redis.url()).await)
        .await
        .unwrap();
    assert_eq!(shared.as_deref(), Some(fresh.expose()));
}

/// Logins through `login` with fresh codes for `emp`, all at once; each must fail with 503
/// `store_unavailable`, quickly, without an upstream call.
async fn assert_logins_refused(fake: &FakeDingTalk, login: &DingTalkLogin) {
    let upstream = fake.calls(Endpoint::GetUserInfo);
    let start = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (login, c) = (login.clone(), code(fake, "staff"));
            tokio::spawn(async move { login.login(&c).await })
        })
        .collect();
    for task in tasks {
        let err = task.await.expect("no panic").unwrap_err();
        assert_eq!(err.code(), "store_unavailable", "{err}");
        assert_eq!(err.status().as_u16(), 503);
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "refusals must be quick, took {:?}",
        start.elapsed()
    );
    assert_eq!(fake.calls(Endpoint::GetUserInfo), upstream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn redis_down_refuses_logins_keeps_sessions_and_recovers_with_the_revocations_made_meanwhile()
{
    let mut redis = RedisServer::start().await;
    let fake = fake().await;
    let (a, b) = (instance(&fake, &redis).await, instance(&fake, &redis).await);
    let s1: Login = a.login.login(&code(&fake, "admin")).await.unwrap();
    let s2: Login = b.login.login(&code(&fake, "sub")).await.unwrap();
    let s3: Login = b.login.login(&code(&fake, "staff")).await.unwrap();
    let (revocation_a, revocation_b) = (a.stores.revocation(), b.stores.revocation());
    assert!(revocation_a.is_synced() && revocation_b.is_synced());

    // Redis dies.
    redis.stop();
    assert_logins_refused(&fake, &a.login).await;
    assert_logins_refused(&fake, &b.login).await;
    eventually(Duration::from_secs(5), "B notices the outage", || {
        !revocation_b.is_synced()
    })
    .await;
    // Existing sessions still verify, on both instances.
    for s in [&s1, &s2, &s3] {
        a.login.verify(&s.token).unwrap();
        b.login.verify(&s.token).unwrap();
    }
    // A logout during the outage: refused here at once, reported as not cluster-wide, queued.
    let start = Instant::now();
    let err = a.login.logout(&s2.claims).await.unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(is_revoked(a.login.verify(&s2.token)));
    assert_eq!(revocation_a.pending(), 1);
    assert!(b.login.verify(&s2.token).is_ok(), "B cannot know yet");

    // Redis comes back, first locked with a password: the instances cannot use it yet, and a
    // revocation is written straight into it (no message on the channel) meanwhile.
    redis.restart(&["--requirepass", "pw"]).await;
    let admin_url = format!("redis://:pw@127.0.0.1:{}", redis.port());
    let mut admin = raw(&admin_url).await;
    let _: () = redis::cmd("ZADD")
        .arg("test-app:revoked")
        .arg(s1.claims.exp)
        .arg(&s1.claims.jti)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_logins_refused(&fake, &b.login).await;
    // Longer than the subscribers' longest backoff (2 s), so they try, and fail, meanwhile.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!revocation_b.is_synced());
    assert!(b.login.verify(&s1.token).is_ok(), "B cannot know yet");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("")
        .query_async(&mut admin)
        .await
        .unwrap();

    // Both subscribers reconnect by themselves and reload; A flushes its queued logout.
    assert!(revocation_a.wait_synced(Duration::from_secs(10)).await);
    assert!(revocation_b.wait_synced(Duration::from_secs(10)).await);
    eventually(
        Duration::from_secs(5),
        "A's queued logout reaches B",
        || is_revoked(b.login.verify(&s2.token)),
    )
    .await;
    assert_eq!(revocation_a.pending(), 0);
    assert!(is_revoked(b.login.verify(&s1.token)), "reloaded on B");
    assert!(is_revoked(a.login.verify(&s1.token)), "reloaded on A");
    assert!(a.login.verify(&s3.token).is_ok());

    // Logins work again (the command connection reconnects on its next use).
    let start = Instant::now();
    let s4 = loop {
        match b.login.login(&code(&fake, "staff")).await {
            Ok(s) => break s,
            Err(e) if e.code() == "store_unavailable" => {
                assert!(start.elapsed() < Duration::from_secs(10), "still {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    a.login.login(&code(&fake, "admin")).await.unwrap();
    // And a logout is cluster-wide within a second again.
    a.login.logout(&s4.claims).await.unwrap();
    eventually(Duration::from_secs(1), "B refuses after recovery", || {
        is_revoked(b.login.verify(&s4.token))
    })
    .await;
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn connect_fails_cleanly_when_redis_is_absent() {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    redis.stop();
    let start = Instant::now();
    let err = RedisStores::connect(&url, PREFIX).await.unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    let err = RedisStores::connect("not a url", PREFIX).await.unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
    assert!(!err.to_string().contains("not a url"));
}

#[tokio::test]
#[ignore = "needs redis-server"]
async fn revoke_through_the_trait_is_seen_by_every_store() {
    let redis = RedisServer::start().await;
    let a = RedisStores::connect(&redis.url(), "").await.unwrap();
    let b = RedisStores::connect(&redis.url(), "").await.unwrap();
    assert_eq!(a.prefix(), "dingtalk-login:");
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    a.revocation().revoke("jti-1", exp).await.unwrap();
    assert!(a.revocation().is_revoked("jti-1"));
    eventually(Duration::from_secs(1), "B sees jti-1", || {
        b.revocation().is_revoked("jti-1")
    })
    .await;
    assert!(!b.revocation().is_revoked("jti-2"));

    // Past the subscriber's 5 s health ping, the subscription still works.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(b.revocation().is_synced());
    a.revocation().revoke("jti-3", exp).await.unwrap();
    eventually(Duration::from_secs(1), "B sees jti-3", || {
        b.revocation().is_revoked("jti-3")
    })
    .await;
}

/// Redis frozen during a claim: the client gives up on `SET NX` after its timeout (503
/// `store_unavailable`), but Redis runs that `SET` once it wakes up. The claim it leaves is
/// cleaned up, so a retry of the same code logs in instead of meeting `code_replayed` for
/// five minutes.
#[tokio::test]
#[ignore = "needs redis-server"]
async fn a_claim_redis_runs_after_its_timeout_is_cleaned_up() {
    let redis = RedisServer::start().await;
    let fake = fake().await;
    let a = instance(&fake, &redis).await;
    let c = code(&fake, "staff");

    redis.freeze();
    let err = a.login.login(&c).await.unwrap_err();
    redis.thaw();
    assert_eq!(err.code(), "store_unavailable");
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 0, "nothing exchanged");

    // Tried for 10 s: a claim nobody cleans up lives 300 s.
    let start = Instant::now();
    let login = loop {
        match a.login.login(&c).await {
            Ok(login) => break login,
            Err(Error::CodeReplayed | Error::StoreUnavailable(_))
                if start.elapsed() < Duration::from_secs(10) =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the retry of a code whose claim timed out: {e:?}"),
        }
    };
    assert_eq!(login.user.userid, "staff");
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
    // And the code is single use again.
    assert_eq!(a.login.login(&c).await.unwrap_err().code(), "code_replayed");
}
