//! One expiring value, fetched by one caller at a time: the access token, the Redis token
//! source's local copy and each user's enrichment claims all sit in an [`ExpiringCache`].
//!
//! The shape follows smithy-rs's `expiring_cache.rs` (a lock taken only to fetch, the value
//! checked again once the lock is held), with what a login needs besides:
//!
//! - **One refresh-margin rule** ([`refresh_margin`]): a value is refreshed ahead of its expiry
//!   by one caller while the others keep using it.
//! - **A failure is remembered briefly** ([`FAILURE_MEMORY`]): callers arriving within that
//!   window share the failure instead of fetching again, so a wrong app secret under load
//!   costs a handful of upstream calls, not one per login.
//! - **Invalidation names the value that failed** ([`ExpiringCache::invalidate_if`]): a late
//!   report about an old value never discards a fresh one.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::error::Error;

/// How long a failed fetch is handed to later callers instead of fetching again.
pub(crate) const FAILURE_MEMORY: Duration = Duration::from_secs(1);

/// A fetched value and how long it lives from now.
#[derive(Debug, Clone)]
pub(crate) struct Expiring<T> {
    pub(crate) value: T,
    pub(crate) lifetime: Duration,
    /// Whether one caller refreshes it ahead of its expiry ([`refresh_margin`]).
    pub(crate) refresh_ahead: bool,
}

impl<T> Expiring<T> {
    pub(crate) fn new(value: T, lifetime: Duration) -> Self {
        Self {
            value,
            lifetime,
            refresh_ahead: true,
        }
    }

    /// A value fetched again only once it has expired, never ahead: for a short-lived copy
    /// whose whole point is to bound how often the upstream is asked (the admin list, at most
    /// once per `lifetime`).
    pub(crate) fn without_refresh_ahead(value: T, lifetime: Duration) -> Self {
        Self {
            value,
            lifetime,
            refresh_ahead: false,
        }
    }
}

/// How long before its expiry a value of `lifetime` is refreshed: 5 minutes, or half the life
/// when that is shorter, less a random jitter of up to a tenth of the life (at most 60 s) so
/// instances do not refresh in step.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    let margin = (lifetime / 2).min(Duration::from_secs(300));
    let jitter_max = (lifetime / 10).min(Duration::from_secs(60));
    margin + rand::rng().random_range(Duration::ZERO..=jitter_max)
}

struct Slot<T> {
    value: T,
    refresh_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

struct State<T> {
    slot: Option<Slot<T>>,
    failure: Option<(Error, Instant)>,
}

enum Peek<T> {
    Fresh(T),
    Refresh(T),
    Failed(Error),
    Empty,
}

/// A single value with an expiry, fetched by one caller at a time.
///
/// - A fresh value is read under a read lock, without awaiting.
/// - In the refresh window one caller refreshes while the others keep the still-valid value;
///   a failed refresh leaves the value in place until it expires.
/// - With no valid value, callers queue on one lock; the first fetches, the others re-check
///   under the lock and take its value or its failure.
pub(crate) struct ExpiringCache<T> {
    clock: Arc<dyn Clock>,
    state: RwLock<State<T>>,
    flight: tokio::sync::Mutex<()>,
}

impl<T: Clone> ExpiringCache<T> {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: RwLock::new(State {
                slot: None,
                failure: None,
            }),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    fn peek(&self) -> Peek<T> {
        let now = self.clock.now();
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let recent_failure = state
            .failure
            .as_ref()
            .filter(|(_, at)| at.elapsed() < FAILURE_MEMORY)
            .map(|(e, _)| e.clone());
        match (&state.slot, recent_failure) {
            (Some(s), _) if now < s.refresh_at => Peek::Fresh(s.value.clone()),
            // A refresh just failed: keep the valid value without trying again for a while.
            (Some(s), Some(_)) if now < s.expires_at => Peek::Fresh(s.value.clone()),
            (Some(s), None) if now < s.expires_at => Peek::Refresh(s.value.clone()),
            (_, Some(e)) => Peek::Failed(e),
            _ => Peek::Empty,
        }
    }

    /// The cached value, or the one `fetch` yields (called by at most one caller at a time).
    pub(crate) async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Expiring<T>, Error>>,
    {
        match self.peek() {
            Peek::Fresh(value) => Ok(value),
            Peek::Failed(e) => Err(e),
            Peek::Refresh(current) => {
                let Ok(_flight) = self.flight.try_lock() else {
                    return Ok(current);
                };
                if let Peek::Fresh(value) = self.peek() {
                    return Ok(value);
                }
                match self.fetch_and_store(fetch).await {
                    Ok(value) => Ok(value),
                    Err(e) => {
                        tracing::warn!(error = %e, "refresh failed; the current value is used until it expires");
                        Ok(current)
                    }
                }
            }
            Peek::Empty => {
                let _flight = self.flight.lock().await;
                // Re-check under the lock: the caller before us may have fetched (or failed).
                match self.peek() {
                    Peek::Fresh(value) | Peek::Refresh(value) => Ok(value),
                    Peek::Failed(e) => Err(e),
                    Peek::Empty => self.fetch_and_store(fetch).await,
                }
            }
        }
    }

    async fn fetch_and_store<F, Fut>(&self, fetch: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Expiring<T>, Error>>,
    {
        let outcome = fetch().await;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(Expiring {
                value,
                lifetime,
                refresh_ahead,
            }) => {
                let now = self.clock.now();
                let margin = if refresh_ahead {
                    refresh_margin(lifetime)
                } else {
                    Duration::ZERO
                };
                state.slot = Some(Slot {
                    value: value.clone(),
                    refresh_at: now + lifetime.saturating_sub(margin),
                    expires_at: now + lifetime,
                });
                state.failure = None;
                Ok(value)
            }
            Err(e) => {
                state.failure = Some((e.clone(), Instant::now()));
                Err(e)
            }
        }
    }

    /// Forgets the value, but only if it is still `failed`: another caller may already have
    /// replaced it.
    pub(crate) fn invalidate_if(&self, failed: &T)
    where
        T: PartialEq,
    {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.slot.as_ref().is_some_and(|s| &s.value == failed) {
            state.slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::ManualClock;

    fn cache(clock: &ManualClock) -> Arc<ExpiringCache<u32>> {
        Arc::new(ExpiringCache::new(Arc::new(clock.clone())))
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let clock = ManualClock::starting_now();
        let cache = cache(&clock);
        let fetches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(|| async {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok(Expiring::new(7, Duration::from_secs(60)))
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_shared_for_a_second_then_fetched_again() {
        let clock = ManualClock::starting_now();
        let cache = cache(&clock);
        let failing = || async { Err(Error::Internal("down")) };
        assert!(cache.get_or_fetch(failing).await.is_err());
        let not_called = || async { panic!("a remembered failure must not fetch") };
        assert!(matches!(
            cache.get_or_fetch(not_called).await,
            Err(Error::Internal("down"))
        ));
        tokio::time::advance(FAILURE_MEMORY).await;
        let ok = || async { Ok(Expiring::new(1, Duration::from_secs(60))) };
        assert_eq!(cache.get_or_fetch(ok).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_value_is_refreshed_in_its_margin_and_dropped_at_expiry() {
        let clock = ManualClock::starting_now();
        let cache = cache(&clock);
        let life = Duration::from_secs(7200);
        let v = |n| move || async move { Ok(Expiring::new(n, life)) };
        assert_eq!(cache.get_or_fetch(v(1)).await.unwrap(), 1);
        clock.advance(Duration::from_secs(6800));
        assert_eq!(
            cache.get_or_fetch(v(2)).await.unwrap(),
            1,
            "before the margin"
        );
        clock.advance(Duration::from_secs(100));
        assert_eq!(cache.get_or_fetch(v(3)).await.unwrap(), 3, "in the margin");
    }

    #[tokio::test]
    async fn without_refresh_ahead_the_value_is_kept_until_it_expires() {
        let clock = ManualClock::starting_now();
        let cache = cache(&clock);
        let life = Duration::from_secs(60);
        let v = |n| move || async move { Ok(Expiring::without_refresh_ahead(n, life)) };
        assert_eq!(cache.get_or_fetch(v(1)).await.unwrap(), 1);
        clock.advance(Duration::from_secs(59));
        assert_eq!(
            cache.get_or_fetch(v(2)).await.unwrap(),
            1,
            "not refreshed ahead"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get_or_fetch(v(3)).await.unwrap(), 3, "expired");
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_valid_value() {
        let clock = ManualClock::starting_now();
        let cache = cache(&clock);
        let life = Duration::from_secs(100);
        let ok = || async move { Ok(Expiring::new(1, life)) };
        cache.get_or_fetch(ok).await.unwrap();
        clock.advance(Duration::from_secs(95));
        let failing = || async { Err(Error::Internal("down")) };
        assert_eq!(cache.get_or_fetch(failing).await.unwrap(), 1);
        clock.advance(Duration::from_secs(5));
        let not_called = || async { panic!("the failure is remembered") };
        assert!(cache.get_or_fetch(not_called).await.is_err(), "expired");
    }

    #[tokio::test]
    async fn invalidate_drops_only_the_value_that_failed() {
        let clock = ManualClock::starting_now();
        let cache = cache(&clock);
        let v = |n| move || async move { Ok(Expiring::new(n, Duration::from_secs(60))) };
        cache.get_or_fetch(v(1)).await.unwrap();
        cache.invalidate_if(&2);
        assert_eq!(cache.get_or_fetch(v(3)).await.unwrap(), 1);
        cache.invalidate_if(&1);
        assert_eq!(cache.get_or_fetch(v(3)).await.unwrap(), 3);
    }
}
