//! An access token (or JSAPI ticket) shared through Redis: one fetch in flight across the
//! cluster, a local copy in front.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::cache::{Expiring, ExpiringCache};
use crate::clock::SystemClock;
use crate::dingtalk::{FetchedToken, TokenFetcher, TokenSource};
use crate::error::Error;
use crate::secret::AccessToken;
use crate::BoxFuture;

use super::{compare_and_delete, Conn};

/// How long the cluster-wide fetch lock lives: a crashed holder blocks the others this long.
const LOCK_TTL: Duration = Duration::from_secs(5);
/// How often an instance that lost the lock looks for the winner's token.
const POLL_EVERY: Duration = Duration::from_millis(25);
/// How long to wait for another instance's fetch before giving up (the lock expires within
/// `LOCK_TTL`, so waiting longer means Redis keeps refusing us the lock).
const WAIT_AT_MOST: Duration = Duration::from_secs(15);
/// The shared token is dropped this long before DingTalk's expiry (at most half its life), so
/// a token handed out is never about to expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// A shared token without a TTL (set by hand) is trusted locally this long.
const NO_TTL_LOCAL: Duration = Duration::from_secs(60);

/// A cluster-wide access-token cache on Redis, with an in-process copy in front. The JSAPI
/// ticket is shared the same way, under `<prefix>jsapi-ticket`.
///
/// - The token lives in `<prefix>access-token` with DingTalk's lifetime less a refresh margin
///   (5 minutes, or half the life for short-lived tokens). Each instance keeps a local copy
///   until the key's TTL runs out, so the steady state costs no Redis round trip per DingTalk
///   call.
/// - On a miss, callers in one process queue behind one leader (local single flight; a failure
///   is shared with the callers of the next second instead of retried by each). The
///   leader reads Redis; if the token is not there it takes `<prefix>access-token:lock` with
///   `SET .. NX PX 5000`, reads again under the lock, and only then fetches from DingTalk and
///   stores the token. Leaders on other instances poll the key every 25 ms meanwhile: one fetch
///   in flight across the cluster.
/// - [`invalidate`](TokenSource::invalidate) drops the local copy and deletes the shared token
///   only if it is still the one that failed (a compare-and-delete script), so a late report
///   about an old token never discards a fresh one.
/// - When Redis does not answer, the leader fetches from DingTalk itself and caches the token
///   in-process: DingTalk calls keep working through an outage.
///
/// Get one from [`RedisStores::token_source`](super::RedisStores::token_source).
pub struct RedisTokenSource {
    conn: Conn,
    key: String,
    lock_key: String,
    fetcher: Box<dyn TokenFetcher>,
    local: ExpiringCache<AccessToken>,
}

impl fmt::Debug for RedisTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenSource")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// How long the shared token is kept: the lifetime less the refresh margin.
fn shared_ttl(expires_in: Duration) -> Duration {
    let margin = (expires_in / 2).min(REFRESH_MARGIN);
    (expires_in - margin).max(Duration::from_millis(1))
}

impl RedisTokenSource {
    pub(super) fn new(conn: Conn, fetcher: Box<dyn TokenFetcher>) -> Self {
        Self::named(conn, "access-token", fetcher)
    }

    /// A shared value under `<prefix><name>`, fetched under `<prefix><name>:lock`: the same
    /// one-fetch-per-cluster mechanism for anything token-like (the JSAPI ticket).
    pub(super) fn named(conn: Conn, name: &str, fetcher: Box<dyn TokenFetcher>) -> Self {
        Self {
            key: conn.key(name),
            lock_key: conn.key(&format!("{name}:lock")),
            conn,
            fetcher,
            local: ExpiringCache::new(Arc::new(SystemClock)),
        }
    }

    async fn get(&self) -> Result<AccessToken, Error> {
        self.local.get_or_fetch(|| self.load_or_fetch()).await
    }

    /// The leader's work: the shared token, or the cluster lock and a fetch.
    async fn load_or_fetch(&self) -> Result<Expiring<AccessToken>, Error> {
        let deadline = Instant::now() + WAIT_AT_MOST;
        loop {
            match self.read_shared().await {
                Ok(Some(token)) => return Ok(token),
                Ok(None) => {}
                Err(e) => return self.fetch_without_redis(&e).await,
            }
            let holder = rand::random::<u64>().max(1).to_string();
            match self.try_lock(&holder).await {
                Ok(true) => return self.fetch_under_lock(&holder).await,
                Ok(false) => {}
                Err(e) => return self.fetch_without_redis(&e).await,
            }
            if Instant::now() >= deadline {
                return Err(Error::StoreUnavailable(
                    "timed out waiting for another instance to fetch the access token".into(),
                ));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// The shared token and its remaining TTL.
    async fn read_shared(&self) -> Result<Option<Expiring<AccessToken>>, Error> {
        let (token, pttl): (Option<String>, i64) = self
            .conn
            .run("GET + PTTL (access token)", |mut c| async move {
                redis::pipe()
                    .cmd("GET")
                    .arg(&self.key)
                    .cmd("PTTL")
                    .arg(&self.key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let ttl = match pttl {
            // No TTL: someone set it by hand. Trust it briefly.
            -1 => NO_TTL_LOCAL,
            ms if ms > 0 => Duration::from_millis(ms.unsigned_abs()),
            // Expired between GET and PTTL.
            _ => return Ok(None),
        };
        Ok(Some(Expiring::new(AccessToken::new(token), ttl)))
    }

    async fn try_lock(&self, holder: &str) -> Result<bool, Error> {
        let set: Option<String> = self
            .conn
            .run("SET NX PX (access token lock)", |mut c| async move {
                redis::cmd("SET")
                    .arg(&self.lock_key)
                    .arg(holder)
                    .arg("NX")
                    .arg("PX")
                    .arg(LOCK_TTL.as_millis() as u64)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    async fn unlock(&self, holder: &str) {
        let released = self
            .conn
            .run(
                "compare-and-delete (access token lock)",
                |mut c| async move {
                    compare_and_delete()
                        .key(&self.lock_key)
                        .arg(holder)
                        .invoke_async::<i64>(&mut c)
                        .await
                },
            )
            .await;
        if let Err(e) = released {
            // The lock expires by itself within LOCK_TTL.
            tracing::debug!(error = %e, "could not release the access token lock");
        }
    }

    async fn fetch_under_lock(&self, holder: &str) -> Result<Expiring<AccessToken>, Error> {
        // Re-check under the lock: the previous holder may have stored its token between our
        // read and our lock.
        match self.read_shared().await {
            Ok(Some(token)) => {
                self.unlock(holder).await;
                return Ok(token);
            }
            Ok(None) => {}
            Err(e) => {
                self.unlock(holder).await;
                return self.fetch_without_redis(&e).await;
            }
        }
        let fetched = self.fetcher.fetch().await;
        let outcome = match fetched {
            Ok(FetchedToken { token, expires_in }) => {
                let ttl = shared_ttl(expires_in);
                let stored = self
                    .conn
                    .run("SET PX (access token)", |mut c| {
                        let token = token.clone();
                        async move {
                            redis::cmd("SET")
                                .arg(&self.key)
                                .arg(token.expose())
                                .arg("PX")
                                .arg(ttl.as_millis().max(1) as u64)
                                .exec_async(&mut c)
                                .await
                        }
                    })
                    .await;
                if let Err(e) = stored {
                    self.conn.warn_unavailable(
                        &e,
                        "the access token is cached per instance until redis is back",
                    );
                }
                Ok(Expiring::new(token, ttl))
            }
            Err(e) => Err(e),
        };
        self.unlock(holder).await;
        outcome
    }

    async fn fetch_without_redis(&self, e: &Error) -> Result<Expiring<AccessToken>, Error> {
        self.conn.warn_unavailable(
            e,
            "access tokens are fetched and cached per instance until redis is back",
        );
        let FetchedToken { token, expires_in } = self.fetcher.fetch().await?;
        Ok(Expiring::new(token, shared_ttl(expires_in)))
    }

    async fn drop_token(&self, failed: &AccessToken) {
        self.local.invalidate_if(failed);
        let dropped = self
            .conn
            .run("compare-and-delete (access token)", |mut c| async move {
                compare_and_delete()
                    .key(&self.key)
                    .arg(failed.expose())
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = dropped {
            self.conn.warn_unavailable(
                &e,
                "a refused access token stays in redis until its TTL; each instance refetches",
            );
        }
    }
}

impl TokenSource for RedisTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, Error>> {
        Box::pin(self.get())
    }

    fn invalidate<'a>(&'a self, failed: &'a AccessToken) -> BoxFuture<'a, ()> {
        Box::pin(self.drop_token(failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_ttl_keeps_a_margin() {
        assert_eq!(
            shared_ttl(Duration::from_secs(7200)),
            Duration::from_secs(6900)
        );
        assert_eq!(
            shared_ttl(Duration::from_secs(120)),
            Duration::from_secs(60)
        );
    }
}
