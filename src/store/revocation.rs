//! Revoked sessions: the `Revocation` trait and its in-memory store. Two kinds of entry: one
//! session (by `jti`, at logout or refresh) and every session of a user issued up to a second
//! (by `userid`, when the user is offboarded).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::BoxFuture;

/// Remembers logged-out sessions (by `jti`) until they expire, and revoked users (every
/// session of a `userid` issued up to a second) for as long as such a session can live.
///
/// `is_revoked` and `is_user_revoked` run on every authenticated request, so they are
/// synchronous: implementations answer from memory (a Redis-backed one keeps a local set fed
/// by pub/sub).
pub trait Revocation: Send + Sync + 'static {
    /// Refuses `jti` from now until `exp` (Unix seconds).
    fn revoke<'a>(&'a self, jti: &'a str, exp: i64) -> BoxFuture<'a, Result<(), Error>>;

    /// Whether `jti` was revoked.
    fn is_revoked(&self, jti: &str) -> bool;

    /// Refuses every session of `userid` issued at or before `issued_up_to` (its `iat`, Unix
    /// seconds), remembered until `until`: no such session lives longer. A later revocation
    /// of the same user moves the cut-off forward, never back.
    fn revoke_user<'a>(
        &'a self,
        userid: &'a str,
        issued_up_to: i64,
        until: i64,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Whether sessions of `userid` issued at `iat` are revoked.
    fn is_user_revoked(&self, userid: &str, iat: i64) -> bool;
}

/// The in-process revocation set. Entries are dropped a day after their `exp` (or `until`),
/// well past any leeway.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dingtalk_login::store::{MemoryRevocation, Revocation};
///
/// let revoked = MemoryRevocation::new();
/// revoked.revoke("jti-1", i64::MAX).await.unwrap();
/// assert!(revoked.is_revoked("jti-1"));
/// assert!(!revoked.is_revoked("jti-2"));
///
/// // Every session of "u1" issued at or before second 1000.
/// revoked.revoke_user("u1", 1000, i64::MAX).await.unwrap();
/// assert!(revoked.is_user_revoked("u1", 1000));
/// assert!(!revoked.is_user_revoked("u1", 1001));
/// assert!(!revoked.is_user_revoked("u2", 1000));
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryRevocation {
    clock: Arc<dyn Clock>,
    sessions: RevokedSessions,
    users: UserCutoffs,
}

/// Every session of a user issued at or before `issued_up_to` is refused, until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UserCutoff {
    issued_up_to: i64,
    until: i64,
}

/// Revoked users, by `userid`: the local set of both the in-memory and the Redis store.
///
/// Checked on every verified request, so an app that never revoked a user pays one atomic
/// load, not a lock and a hash.
#[derive(Debug, Default)]
pub(crate) struct UserCutoffs {
    any: AtomicBool,
    map: RwLock<HashMap<String, UserCutoff>>,
}

impl UserCutoffs {
    /// Refuses sessions of `userid` issued up to `issued_up_to`, until `until`; a later
    /// cut-off wins over an earlier one. Entries a day past their `until` are purged.
    pub(crate) fn insert(&self, userid: &str, issued_up_to: i64, until: i64, now: i64) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        purge_expired(&mut map, now, |c| c.until);
        let e = map.entry(userid.to_owned()).or_insert(UserCutoff {
            issued_up_to,
            until,
        });
        e.issued_up_to = e.issued_up_to.max(issued_up_to);
        e.until = e.until.max(until);
        self.any.store(true, Ordering::Release);
    }

    /// Whether a session of `userid` issued at `iat` is refused.
    pub(crate) fn refuses(&self, userid: &str, iat: i64) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(userid).is_some_and(|c| iat <= c.issued_up_to)
    }

    /// Users held.
    pub(crate) fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Revoked sessions, by `jti`: the local set of both the in-memory and the Redis store.
#[derive(Debug, Default)]
pub(crate) struct RevokedSessions(RwLock<HashMap<String, i64>>);

impl RevokedSessions {
    /// Refuses `jti` until `exp`; a later `exp` wins over an earlier one. Entries a day past
    /// their `exp` are purged.
    pub(crate) fn insert(&self, jti: &str, exp: i64, now: i64) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        purge_expired(&mut map, now, |exp| *exp);
        let e = map.entry(jti.to_owned()).or_insert(exp);
        *e = (*e).max(exp);
    }

    /// Whether `jti` is refused.
    pub(crate) fn contains(&self, jti: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(jti)
    }

    /// Sessions held.
    pub(crate) fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Drops the entries a day past their `until`, only when the map has doubled since it was
/// last this size (amortised: inserts stay O(1)).
fn purge_expired<V>(map: &mut HashMap<String, V>, now: i64, until: impl Fn(&V) -> i64) {
    if map.len() >= 64 && map.len().is_power_of_two() {
        map.retain(|_, v| until(v).saturating_add(KEEP_AFTER_EXP) > now);
    }
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
            sessions: RevokedSessions::default(),
            users: UserCutoffs::default(),
        }
    }

    /// Revokes synchronously (the trait's `revoke` wraps this).
    pub fn revoke_now(&self, jti: &str, exp: i64) {
        self.sessions.insert(jti, exp, self.clock.unix());
    }

    /// Revokes a user synchronously (the trait's `revoke_user` wraps this).
    pub fn revoke_user_now(&self, userid: &str, issued_up_to: i64, until: i64) {
        self.users
            .insert(userid, issued_up_to, until, self.clock.unix());
    }

    /// Entries held (sessions and users).
    pub fn len(&self) -> usize {
        self.sessions.len() + self.users.len()
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
        self.sessions.contains(jti)
    }

    fn revoke_user<'a>(
        &'a self,
        userid: &'a str,
        issued_up_to: i64,
        until: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.revoke_user_now(userid, issued_up_to, until);
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_user_revoked(&self, userid: &str, iat: i64) -> bool {
        self.users.refuses(userid, iat)
    }
}
