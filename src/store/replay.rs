//! Single use of login codes: the `ReplayGuard` trait and its bounded in-memory store.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::code::AuthCode;
use crate::error::Error;
use crate::BoxFuture;

/// How long a code lives at DingTalk, and so how long a claim is kept.
pub const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// Proof that this caller claimed a code; hand it back to release the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeClaim {
    key: String,
    holder: u64,
}

impl CodeClaim {
    /// A claim on `key` (a store key derived from the code, never the code itself) by
    /// `holder` (a value unique to this claim, so only the claimant can release it).
    pub fn new(key: impl Into<String>, holder: u64) -> Self {
        Self {
            key: key.into(),
            holder,
        }
    }

    /// The store key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The claimant's unique value.
    pub fn holder(&self) -> u64 {
        self.holder
    }
}

/// Makes a login code single use on our side, before DingTalk is asked.
///
/// [`crate::DingTalkLogin::login`] claims the code first: a second presentation is refused
/// with [`Error::CodeReplayed`] and costs no upstream call. The claim is released when the
/// exchange failed without DingTalk refusing the code (busy, timeout, 5xx, rate limit,
/// connection, a misconfigured app), so the user can retry with the same code; it is kept when
/// DingTalk refused the code or the login succeeded.
pub trait ReplayGuard: Send + Sync + 'static {
    /// Claims `code`.
    ///
    /// # Errors
    /// [`Error::CodeReplayed`] when it is already claimed; [`Error::StoreUnavailable`] when
    /// single use cannot be promised.
    fn claim<'a>(&'a self, code: &'a AuthCode) -> BoxFuture<'a, Result<CodeClaim, Error>>;

    /// Releases a claim, if it is still this claimant's.
    fn release(&self, claim: CodeClaim) -> BoxFuture<'_, ()>;
}

/// The in-process replay guard.
///
/// It stores a 64-bit keyed hash of each code (SipHash with a random per-process key), never
/// the code, with its expiry and a claim id: about 40 bytes a claim, so the default capacity of 1,000,000
/// live claims stays well under 64 MiB. Claims expire after five minutes, a code's lifetime; when full, the
/// oldest claim is evicted (DingTalk itself still refuses a reused code, so eviction costs an
/// upstream call, not safety).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dingtalk_login::AuthCode;
/// use dingtalk_login::store::{MemoryReplayGuard, ReplayGuard};
///
/// let guard = MemoryReplayGuard::new();
/// let code = AuthCode::parse("abc").unwrap();
/// let claim = guard.claim(&code).await.unwrap();
/// assert_eq!(guard.claim(&code).await.unwrap_err().code(), "code_replayed");
/// guard.release(claim).await;
/// assert!(guard.claim(&code).await.is_ok());
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryReplayGuard {
    hasher: RandomState,
    clock: Arc<dyn Clock>,
    capacity: usize,
    epoch: i64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    // hash -> the live claim on it
    live: HashMap<u64, Live>,
    // Claims in the order made, which is also expiry order (one lifetime for all).
    order: VecDeque<(u64, Live)>,
    // The id of the next claim. Unique among live claims unless 2^32 claims are made within
    // one code lifetime.
    next_id: u32,
}

/// One claim: when it expires and which claim it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Live {
    // Seconds since `epoch`.
    expiry: u32,
    // Not the expiry: two claims of one code within a second must not share a holder, or the
    // late release of the first frees the second.
    id: u32,
}

impl Inner {
    fn pop_oldest(&mut self) {
        if let Some((hash, claim)) = self.order.pop_front() {
            // A released-then-reclaimed code is another claim: leave that one alone.
            if self.live.get(&hash) == Some(&claim) {
                self.live.remove(&hash);
            }
        }
    }
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryReplayGuard {
    /// The default capacity: 1,000,000 live claims.
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// A guard with the default capacity and the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A guard reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let epoch = clock.unix();
        Self {
            hasher: RandomState::new(),
            clock,
            capacity: Self::DEFAULT_CAPACITY,
            epoch,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// At most `capacity` live claims (at least 1); beyond it the oldest is evicted.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Live claims now.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// Whether no claim is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u32 {
        (self.clock.unix() - self.epoch).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Claims a code synchronously (the trait's `claim` wraps this).
    pub fn claim_now(&self, code: &AuthCode) -> Result<CodeClaim, Error> {
        let hash = self.hasher.hash_one(code.as_str());
        let now = self.now();
        let mut inner = self.lock();
        while inner
            .order
            .front()
            .is_some_and(|(_, claim)| claim.expiry <= now)
        {
            inner.pop_oldest();
        }
        if inner.live.contains_key(&hash) {
            return Err(Error::CodeReplayed);
        }
        // Released claims leave stale entries in `order`; bound both by the capacity.
        while inner.live.len() >= self.capacity || inner.order.len() >= self.capacity * 2 {
            inner.pop_oldest();
        }
        let claim = Live {
            expiry: now.saturating_add(CODE_LIFETIME.as_secs() as u32),
            id: inner.next_id,
        };
        inner.next_id = inner.next_id.wrapping_add(1);
        inner.live.insert(hash, claim);
        inner.order.push_back((hash, claim));
        Ok(CodeClaim::new(format!("{hash:016x}"), u64::from(claim.id)))
    }

    fn release_now(&self, claim: &CodeClaim) {
        let Ok(hash) = u64::from_str_radix(claim.key(), 16) else {
            return;
        };
        let mut inner = self.lock();
        if inner.live.get(&hash).map(|c| u64::from(c.id)) == Some(claim.holder()) {
            inner.live.remove(&hash);
        }
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn claim<'a>(&'a self, code: &'a AuthCode) -> BoxFuture<'a, Result<CodeClaim, Error>> {
        Box::pin(std::future::ready(self.claim_now(code)))
    }

    fn release(&self, claim: CodeClaim) -> BoxFuture<'_, ()> {
        self.release_now(&claim);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn code(s: &str) -> AuthCode {
        AuthCode::parse(s).unwrap()
    }

    #[test]
    fn claims_expire_after_five_minutes() {
        let clock = ManualClock::new(1_700_000_000);
        let guard = MemoryReplayGuard::with_clock(Arc::new(clock.clone()));
        guard.claim_now(&code("a")).unwrap();
        clock.advance(Duration::from_secs(299));
        assert!(guard.claim_now(&code("a")).is_err());
        clock.advance(Duration::from_secs(1));
        assert!(guard.claim_now(&code("a")).is_ok());
    }

    #[test]
    fn full_guard_evicts_the_oldest() {
        let guard = MemoryReplayGuard::new().capacity(2);
        guard.claim_now(&code("a")).unwrap();
        guard.claim_now(&code("b")).unwrap();
        guard.claim_now(&code("c")).unwrap();
        assert_eq!(guard.len(), 2);
        assert!(guard.claim_now(&code("a")).is_ok(), "a was evicted");
        assert!(guard.claim_now(&code("c")).is_err());
    }

    #[test]
    fn a_stale_release_does_not_free_a_newer_claim() {
        let clock = ManualClock::new(1_700_000_000);
        let guard = MemoryReplayGuard::with_clock(Arc::new(clock.clone()));
        let first = guard.claim_now(&code("a")).unwrap();
        guard.release_now(&first);
        clock.advance(Duration::from_secs(10));
        let _second = guard.claim_now(&code("a")).unwrap();
        guard.release_now(&first);
        assert!(guard.claim_now(&code("a")).is_err());
    }

    #[test]
    fn a_stale_release_within_the_same_second_does_not_free_a_newer_claim() {
        // The clock stands still: both claims expire in the same second.
        let clock = ManualClock::new(1_700_000_000);
        let guard = MemoryReplayGuard::with_clock(Arc::new(clock));
        let first = guard.claim_now(&code("a")).unwrap();
        guard.release_now(&first);
        let second = guard.claim_now(&code("a")).unwrap();
        assert_ne!(first, second, "every claim has its own holder");
        guard.release_now(&first);
        assert!(
            guard.claim_now(&code("a")).is_err(),
            "the second claim holds"
        );
        guard.release_now(&second);
        assert!(guard.claim_now(&code("a")).is_ok());
    }
}
