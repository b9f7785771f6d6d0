//! Redis- (or Valkey-) backed stores, for several instances behind a load balancer (cargo
//! feature `redis`).
//!
//! The in-memory stores keep their promises only within one process. With several instances a
//! code used on A would be accepted on B, a logout on A ignored by B, and every instance would
//! fetch its own access token. [`RedisStores`] fixes all three on the Redis the instances
//! already share:
//!
//! | store | on Redis | per request |
//! |---|---|---|
//! | replay guard | `SET <prefix>code:<sha256(code)> <random> NX EX 300`; release is a compare-and-delete script, so only the claimant frees its claim | one round trip per login |
//! | revocation | `ZADD <prefix>revoked <exp> <jti>` (pruned an hour past `exp`) + `PUBLISH <prefix>revocations`, in one transaction; every instance keeps a local set fed by a subscriber and reloaded from the sorted set after each reconnect | **none**: `is_revoked` reads the local set |
//! | access token | `<prefix>access-token` with the token's TTL (less a 5-minute refresh margin); one fetch in flight across the cluster (`SET <prefix>access-token:lock .. NX PX 5000`, the others poll); invalidation is a compare-and-delete of the failed token only | none in the steady state: a local copy sits in front |
//! | JSAPI ticket | `<prefix>jsapi-ticket`, shared exactly like the access token, so the cluster makes one ticket fetch per expiry | none in the steady state |
//!
//! Revocations live in one sorted set rather than a key per session, so the reload after a
//! reconnect reads the revocations alone (`ZRANGEBYSCORE`) instead of `SCAN`ning a keyspace
//! other apps may share.
//!
//! It needs one Redis 2.6+ or Valkey node (or a failover address in front of a primary);
//! Redis Cluster is not supported. The code itself never reaches Redis, only its SHA-256. The
//! access token does (that is the point of sharing it): give Redis the protection you give
//! your app secret.
//!
//! # Switching an app to Redis
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use dingtalk_login::store::redis::RedisStores;
//! use dingtalk_login::DingTalkLogin;
//!
//! let mut builder = DingTalkLogin::builder()
//!     .app_key("dingxxxxxxxx")
//!     .app_secret("app-secret")
//!     .session_secret("a session key of at least 32 bytes!");
//! if let Ok(url) = std::env::var("REDIS_URL") {
//!     let redis = RedisStores::connect(&url, "myapp:").await?;
//!     builder = redis.configure(builder);
//! }
//! let login = builder.build()?;
//! # let _ = login; Ok(()) }
//! ```
//!
//! [`RedisStores::configure`] sets the replay guard, the revocation set and a
//! [`token_cache`](crate::config::ConfigBuilder::token_cache) around the app's `gettoken`; the
//! three stores are also available one by one.
//!
//! # Failure policy
//!
//! Every Redis call runs under a timeout (500 ms by default), so a dead
//! or unreachable Redis costs a bounded wait, never a hang, and nothing panics.
//!
//! - **Login refuses** with 503 `store_unavailable` ([`Error::StoreUnavailable`]): the replay
//!   guard cannot promise that a code is used once, so no code is exchanged. No upstream call
//!   is made, and a claim Redis runs late (the `SET` was sent, its answer timed out) is
//!   removed by a compare-and-delete once Redis answers again, so the same code can be
//!   presented again once Redis is back.
//! - **Sessions keep verifying** against this instance's local revocation set, with a warning
//!   in the log (at most one every 30 s): a logout made on another instance during the outage
//!   is not known here until Redis is back.
//! - **Logout** revokes the session on this instance at once and then tries Redis. When Redis
//!   cannot be reached, [`Revocation::revoke`](crate::store::Revocation::revoke) returns
//!   [`Error::StoreUnavailable`] (so the caller knows the other instances do not know yet)
//!   *and* queues the revocation; the subscriber writes and publishes it as soon as Redis
//!   answers again. Only a restart of this instance before then loses it.
//! - **Access tokens** are fetched from DingTalk directly, under this instance's single
//!   flight, and cached in-process: calls that do not need the replay guard (`getbymobile`)
//!   keep working.
//! - **Recovery is automatic.** Commands go through a [`redis::aio::ConnectionManager`], which
//!   reconnects on the next call after a failure. The revocation subscriber reconnects in a
//!   loop (backoff 100 ms doubling to 2 s, a `PING` every 5 s to notice a silent network), and
//!   after every (re)subscription it first flushes the queued logouts, then reloads the
//!   `<prefix>revoked` set, so revocations made while it was away are enforced.
//!
//! At start-up, [`RedisStores::connect`] fails with [`Error::StoreUnavailable`] when Redis
//! cannot be reached or the revocation set cannot be loaded: an instance that starts without
//! the revocations of the others would accept logged-out sessions.
//!
//! [`Error::StoreUnavailable`]: crate::Error::StoreUnavailable

mod replay;
mod revocation;
mod token;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::clock::{Clock, SystemClock};
use crate::config::ConfigBuilder;
use crate::dingtalk::{TokenFetcher, TokenSource};
use crate::error::Error;
use crate::metrics;

pub(crate) use replay::RedisReplayGuard;
pub(crate) use revocation::RedisRevocation;
pub(crate) use token::RedisTokenSource;

/// The key prefix [`RedisStores`] uses when given an empty one.
pub(crate) const DEFAULT_PREFIX: &str = "dingtalk-login:";

/// The default bound on every Redis call: 500 ms.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The three Redis-backed stores over one shared connection.
///
/// Cheap to clone. Each instance of the app connects once at start-up; see the
/// [module docs](self) for the failure policy and the three lines that switch an app to Redis.
#[derive(Clone)]
pub struct RedisStores {
    conn: Conn,
    revocation: Arc<RedisRevocation>,
}

impl fmt::Debug for RedisStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: it is not kept.
        f.debug_struct("RedisStores")
            .field("prefix", &self.conn.prefix)
            .field("timeout", &self.conn.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStores {
    /// Connects to `url` (`redis://[:password@]host:port[/db]`) with the default timeout.
    /// Keys are `prefix` + a name; an empty `prefix` means `dingtalk-login:`. Give every app
    /// sharing one Redis its own prefix.
    ///
    /// # Errors
    /// [`Error::StoreUnavailable`] when the URL does not parse, Redis cannot be reached, or
    /// the revocation set cannot be subscribed to and loaded.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, Error> {
        Self::connect_with_timeout(url, prefix, DEFAULT_TIMEOUT).await
    }

    /// [`connect`](Self::connect) with another bound on each Redis call (default
    /// 500 ms).
    ///
    /// # Errors
    /// As [`connect`](Self::connect); also when `timeout` is zero.
    pub async fn connect_with_timeout(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        if timeout.is_zero() {
            return Err(Error::StoreUnavailable(
                "the redis timeout must be more than zero".into(),
            ));
        }
        // The parse error may quote the URL, and with it a password: say only what is wrong.
        let client = redis::Client::open(url)
            .map_err(|e| Error::StoreUnavailable(format!("invalid redis URL ({:?})", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1));
        let manager = timed(
            // The manager's own retries run inside; bound the whole start-up.
            timeout * 8,
            "connect",
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await?;
        let prefix = if prefix.is_empty() {
            DEFAULT_PREFIX
        } else {
            prefix
        };
        let conn = Conn {
            manager,
            prefix: prefix.into(),
            timeout,
            clock: Arc::new(SystemClock),
            warned: Arc::new(AtomicI64::new(i64::MIN)),
            store: "replay",
        };
        let revocation = Arc::new(RedisRevocation::start(conn.for_store("revocation"), client));
        if !revocation.wait_synced(timeout * 8).await {
            return Err(Error::StoreUnavailable(
                "the revocation set could not be loaded from redis".into(),
            ));
        }
        Ok(Self { conn, revocation })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.conn.prefix
    }

    /// The bound on each Redis call.
    pub fn timeout(&self) -> Duration {
        self.conn.timeout
    }

    /// The replay guard, for [`ConfigBuilder::replay_guard`].
    pub fn replay_guard(&self) -> Arc<RedisReplayGuard> {
        Arc::new(RedisReplayGuard::new(self.conn.for_store("replay")))
    }

    /// The revocation set, for [`ConfigBuilder::revocation`]. Every call returns the same set
    /// (one subscriber per `RedisStores`).
    pub fn revocation(&self) -> Arc<RedisRevocation> {
        self.revocation.clone()
    }

    /// A cluster-wide access-token cache over `fetcher`, for
    /// [`ConfigBuilder::token_source`]; or pass `|f| stores.token_source(f)` to
    /// [`ConfigBuilder::token_cache`] to wrap the app's own `gettoken`.
    pub fn token_source(&self, fetcher: impl TokenFetcher) -> Arc<RedisTokenSource> {
        Arc::new(RedisTokenSource::new(
            self.conn.for_store("token"),
            Box::new(fetcher),
        ))
    }

    /// Sets the replay guard, the revocation set and the token cache of `builder` to these
    /// stores. A [`token_source`](ConfigBuilder::token_source) set on the builder (an ISV corp
    /// token) still wins over the token cache.
    pub fn configure(&self, builder: ConfigBuilder) -> ConfigBuilder {
        let stores = self.clone();
        let tickets = self.clone();
        builder
            .replay_guard(self.replay_guard())
            .revocation(self.revocation())
            .token_cache(move |fetcher| stores.token_source(fetcher))
            .jsapi_ticket_cache(move |fetcher| tickets.shared_ticket(fetcher))
    }

    /// The cluster-wide JSAPI ticket: one fetch per expiry across every instance, since a
    /// second fetch can replace the ticket the others are signing with.
    fn shared_ticket(&self, fetcher: Box<dyn TokenFetcher>) -> Arc<dyn TokenSource> {
        Arc::new(RedisTokenSource::named(
            self.conn.for_store("ticket"),
            "jsapi-ticket",
            fetcher,
        ))
    }
}

/// What every store holds: the shared connection, the prefix and the bound on each call.
#[derive(Clone)]
pub(crate) struct Conn {
    manager: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    // Unix seconds of the last "redis is unavailable" warning, shared by the stores so an
    // outage logs a line every 30 s, not one per request.
    warned: Arc<AtomicI64>,
    // The `store` label of `dingtalk_login_store_errors_total` for this store's failures.
    store: &'static str,
}

impl Conn {
    /// Runs one Redis call under the timeout; any failure is [`Error::StoreUnavailable`].
    async fn run<T, F>(
        &self,
        what: &'static str,
        call: impl FnOnce(ConnectionManager) -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let result = timed(self.timeout, what, call(self.manager.clone())).await;
        if result.is_err() {
            metrics::store_error(self.store);
        }
        result
    }

    /// The same connection, counting its failures under another `store` label.
    fn for_store(&self, store: &'static str) -> Self {
        Self {
            store,
            ..self.clone()
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// Whether an "unavailable" warning may be logged now: at most one every 30 s across the
    /// stores, so an outage does not log a line per request.
    fn may_warn(&self) -> bool {
        let now = self.now();
        let last = self.warned.load(Ordering::Relaxed);
        now.saturating_sub(last) >= 30
            && self
                .warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    fn warn_unavailable(&self, e: &Error, consequence: &str) {
        if self.may_warn() {
            tracing::warn!(error = %e, "redis unavailable: {consequence}");
        }
    }
}

async fn timed<T>(
    limit: Duration,
    what: &'static str,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Error::StoreUnavailable(format!("redis {what}: {e}"))),
        Err(_) => Err(Error::StoreUnavailable(format!(
            "redis {what}: no answer within {limit:?}"
        ))),
    }
}

/// Lower-case hex of SHA-256: the same on every instance, and not the input.
fn sha256_hex(input: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;

    Sha256::digest(input.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Deletes `KEYS[1]` only if it still holds `ARGV[1]`: a release by the claimant, or the
/// invalidation of the very token that failed.
const COMPARE_AND_DELETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
";

fn compare_and_delete() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(COMPARE_AND_DELETE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_hash_is_stable_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
