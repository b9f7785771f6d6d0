//! Revoked sessions: the `Revocation` trait and its in-memory store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::BoxFuture;

/// Remembers logged-out sessions (by `jti`) until they expire.
///
/// `is_revoked` runs on every authenticated request, so it is synchronous: implementations
/// answer from memory (a Redis-backed one keeps a local set fed by pub/sub).
pub trait Revocation: Send + Sync + 'static {
    /// Refuses `jti` from now until `exp` (Unix seconds).
    fn revoke<'a>(&'a self, jti: &'a str, exp: i64) -> BoxFuture<'a, Result<(), Error>>;

    /// Whether `jti` was revoked.
    fn is_revoked(&self, jti: &str) -> bool;
}

/// The in-process revocation set. Entries are dropped a day after their `exp`, well past any
/// leeway.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dingtalk_login::store::{MemoryRevocation, Revocation};
///
/// let revoked = MemoryRevocation::new();
/// revoked.revoke("jti-1", i64::MAX).await.unwrap();
/// assert!(revoked.is_revoked("jti-1"));
/// assert!(!revoked.is_revoked("jti-2"));
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryRevocation {
    clock: Arc<dyn Clock>,
    revoked: RwLock<HashMap<String, i64>>,
}

const KEEP_AFTER_EXP: i64 = 86_400;

impl Default for MemoryRevocation {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRevocation {
    /// An empty set on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty set reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            revoked: RwLock::new(HashMap::new()),
        }
    }

    /// Revokes synchronously (the trait's `revoke` wraps this).
    pub fn revoke_now(&self, jti: &str, exp: i64) {
        let now = self.clock.unix();
        let mut map = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        // Amortised purge: only when the map has doubled since it was last this size.
        if map.len() >= 64 && map.len().is_power_of_two() {
            map.retain(|_, e| e.saturating_add(KEEP_AFTER_EXP) > now);
        }
        map.insert(jti.to_owned(), exp);
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.revoked.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Revocation for MemoryRevocation {
    fn revoke<'a>(&'a self, jti: &'a str, exp: i64) -> BoxFuture<'a, Result<(), Error>> {
        self.revoke_now(jti, exp);
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(jti)
    }
}
