//! The replay guard in Redis: `SET NX EX` per code, released by compare-and-delete.

use std::fmt;

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
/// Get one from [`RedisStores::replay_guard`](super::RedisStores::replay_guard).
pub struct RedisReplayGuard {
    conn: Conn,
}

impl fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("prefix", &self.conn.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayGuard {
    pub(super) fn new(conn: Conn) -> Self {
        Self { conn }
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
        let released = self
            .conn
            .run("compare-and-delete (release a claim)", |mut c| async move {
                compare_and_delete()
                    .key(claim.key())
                    .arg(claim.holder())
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = released {
            // The claim then lives out its 5 minutes: the user needs a new code, nothing worse.
            tracing::warn!(error = %e, "could not release a login code claim");
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
