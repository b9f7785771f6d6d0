//! The replay guard in Redis: `SET NX EX` per code, released by compare-and-delete.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::code::AuthCode;
use crate::error::Error;
use crate::store::{CodeClaim, ReplayGuard, CODE_LIFETIME};
use crate::BoxFuture;

use super::{compare_and_delete, sha256_hex, Conn};

/// The replay guard on Redis: a code claimed on one instance is refused on every other.
///
/// A claim is `SET <prefix>code:<sha256(code)> <random holder> NX EX 300`; a release deletes
/// the key only if it still holds this claim's holder (a script), so a late release cannot
/// free someone else's claim. When Redis does not answer within the timeout, `claim` fails
/// with [`Error::StoreUnavailable`] (503 `store_unavailable`): single use cannot be promised.
///
/// Redis may still run that `SET` later (it was sent; only the answer was late), which would
/// leave a claim nobody holds and turn the user's retry into `code_replayed` for five minutes.
/// So a claim that got no answer (timed out, failed, or abandoned by a client that left) is
/// cleaned up in the background: a compare-and-delete of its holder, tried until Redis answers
/// again. Only that claim's own random holder is deleted, never someone else's claim.
///
/// Get one from [`RedisStores::replay_guard`](super::RedisStores::replay_guard).
pub struct RedisReplayGuard {
    conn: Conn,
    // Cleanups of unanswered claims still running, bounded so an outage with many logins
    // does not pile up tasks.
    cleanups: Arc<AtomicUsize>,
}

/// The most cleanups of unanswered claims running at once per guard; beyond it a claim that
/// Redis runs late simply lives out its five minutes.
const MAX_CLEANUPS: usize = 1024;

impl fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("prefix", &self.conn.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayGuard {
    pub(super) fn new(conn: Conn) -> Self {
        Self {
            conn,
            cleanups: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The Redis key a code is claimed under: the prefix, `code:` and the code's SHA-256 in
    /// hex — the same on every instance, and never the code itself.
    pub fn key_for(&self, code: &AuthCode) -> String {
        self.conn
            .key(&format!("code:{}", sha256_hex(code.as_str())))
    }

    async fn claim_code(&self, code: &AuthCode) -> Result<CodeClaim, Error> {
        let key = self.key_for(code);
        // Zero is never handed out, so no claim's holder is the default of anything.
        let holder = rand::random::<u64>().max(1);
        // Cleans up unless Redis answers the SET: on a timeout, an error, or when this future
        // is dropped while waiting.
        let unanswered = Unanswered {
            guard: self,
            claim: Some(CodeClaim::new(key.clone(), holder)),
        };
        let set = self
            .conn
            .run("SET NX (claim a code)", |mut c| {
                let key = key.clone();
                async move {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(holder)
                        .arg("NX")
                        .arg("EX")
                        .arg(CODE_LIFETIME.as_secs())
                        .query_async::<Option<String>>(&mut c)
                        .await
                }
            })
            .await;
        if set.is_ok() {
            unanswered.answered();
        }
        match set {
            Ok(Some(_)) => Ok(CodeClaim::new(key, holder)),
            Ok(None) => Err(Error::CodeReplayed),
            Err(e) => {
                self.conn
                    .warn_unavailable(&e, "logins are refused (503 store_unavailable)");
                Err(e)
            }
        }
    }

    async fn release_claim(&self, claim: CodeClaim) {
        if let Err(e) =
            delete_if_held(&self.conn, &claim, "compare-and-delete (release a claim)").await
        {
            // The claim then lives out its 5 minutes: the user needs a new code, nothing worse.
            tracing::warn!(error = %e, "could not release a login code claim");
        }
    }
}

/// A `SET NX` sent but not answered: dropped armed, it starts a [`cleanup`].
struct Unanswered<'a> {
    guard: &'a RedisReplayGuard,
    claim: Option<CodeClaim>,
}

impl Unanswered<'_> {
    fn answered(mut self) {
        self.claim = None;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let running = self.guard.cleanups.fetch_add(1, Ordering::Relaxed);
        if running >= MAX_CLEANUPS {
            self.guard.cleanups.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!("too many unanswered code claims to clean up; this one expires");
            return;
        }
        let conn = self.guard.conn.clone();
        let cleanups = self.guard.cleanups.clone();
        runtime.spawn(async move {
            cleanup(&conn, &claim).await;
            cleanups.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Deletes `claim`'s key if it still holds this claim's value: 1 when deleted, 0 when the
/// key is absent or another claim's.
async fn delete_if_held(conn: &Conn, claim: &CodeClaim, what: &'static str) -> Result<i64, Error> {
    conn.run(what, |mut c| async move {
        compare_and_delete()
            .key(claim.key())
            .arg(claim.holder())
            .invoke_async::<i64>(&mut c)
            .await
    })
    .await
}

/// Deletes `claim` if Redis ran its `SET` after all, retrying until Redis answers.
///
/// Done when the compare-and-delete removed it, or when two answers in a row found it absent
/// (or someone else's): the second is sent after the first was answered, so after Redis ran
/// everything it had received before, the late `SET` included, on whichever connection.
/// Gives up after a code's lifetime, when the claim would have expired anyway.
async fn cleanup(conn: &Conn, claim: &CodeClaim) {
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(100);
    let mut absent = 0;
    while started.elapsed() < CODE_LIFETIME {
        match delete_if_held(conn, claim, "compare-and-delete (an unanswered claim)").await {
            Ok(1) => {
                tracing::debug!("removed a code claim redis ran after its timeout");
                return;
            }
            Ok(_) => {
                absent += 1;
                if absent == 2 {
                    return;
                }
            }
            Err(_) => {
                absent = 0;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

impl ReplayGuard for RedisReplayGuard {
    fn claim<'a>(&'a self, code: &'a AuthCode) -> BoxFuture<'a, Result<CodeClaim, Error>> {
        Box::pin(self.claim_code(code))
    }

    fn release(&self, claim: CodeClaim) -> BoxFuture<'_, ()> {
        Box::pin(self.release_claim(claim))
    }
}
