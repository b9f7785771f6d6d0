//! The per-client login rate limit: every well-formed code costs one DingTalk call, and
//! DingTalk's monthly quota is the organisation's, so a client may only try so often.
//!
//! A keyed GCRA limiter from `governor`, keyed by the client's IP address (see
//! [`client_ip`](super::head::client_ip)). Checked before anything else of a login is read, so
//! a refused attempt costs nothing upstream.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::head::{client_ip, RequestHead};
use crate::error::Error;

/// How many checks pass between two sweeps of idle clients out of the limiter's map.
const SWEEP_EVERY: u32 = 4096;

type Limiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// A login rate limit shared by every clone of the routes that carry it.
#[derive(Clone)]
pub(crate) struct LoginRateLimit {
    inner: Arc<Inner>,
    per_minute: NonZeroU32,
}

struct Inner {
    limiter: Limiter,
    checks: AtomicU32,
    warned_no_peer: AtomicBool,
}

impl LoginRateLimit {
    /// `per_minute` attempts per client and minute, as a burst that refills evenly.
    pub(crate) fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
                checks: AtomicU32::new(0),
                warned_no_peer: AtomicBool::new(false),
            }),
            per_minute,
        }
    }

    /// Counts one login attempt of the request's client (its `X-Forwarded-For` address when
    /// `trust_forwarded_for`, else the socket peer).
    ///
    /// # Errors
    /// [`Error::TooManyRequests`] over the limit, with the time until the next attempt passes.
    pub(crate) fn check(
        &self,
        head: &impl RequestHead,
        trust_forwarded_for: bool,
    ) -> Result<(), Error> {
        let Some(ip) = client_ip(head, trust_forwarded_for) else {
            // The server gives no peer address (e.g. axum served without
            // `into_make_service_with_connect_info`). One shared bucket would let one client
            // lock everyone out, so the limit cannot apply: say so once, loudly.
            if !self.inner.warned_no_peer.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "login rate limit configured, but the server provides no client address: \
                     not limiting (serve axum with into_make_service_with_connect_info)"
                );
            }
            return Ok(());
        };
        let limiter = &self.inner.limiter;
        if self.inner.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Clients whose bucket is full again are indistinguishable from new ones.
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter
            .check_key(&ip)
            .map_err(|not_until| Error::TooManyRequests {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }
}

impl fmt::Debug for LoginRateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRateLimit")
            .field("per_minute", &self.per_minute)
            .finish_non_exhaustive()
    }
}

impl PartialEq for LoginRateLimit {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for LoginRateLimit {}

#[cfg(test)]
mod tests {
    use super::super::head::tests::head;
    use super::*;

    #[test]
    fn each_client_has_its_own_budget() {
        let limit = LoginRateLimit::per_minute(NonZeroU32::new(2).unwrap());
        let a = head(&[]).peer("10.0.0.1");
        let b = head(&[]).peer("10.0.0.2");
        assert!(limit.check(&a, false).is_ok());
        assert!(limit.check(&a, false).is_ok());
        let Err(Error::TooManyRequests { retry_after }) = limit.check(&a, false) else {
            panic!("the third attempt within a minute must be refused");
        };
        assert!(retry_after.as_secs() <= 30, "{retry_after:?}");
        assert!(
            limit.check(&b, false).is_ok(),
            "another client is not affected"
        );
    }

    #[test]
    fn forwarded_for_counts_only_when_trusted() {
        let limit = LoginRateLimit::per_minute(NonZeroU32::new(1).unwrap());
        let one = head(&[("x-forwarded-for", "203.0.113.7")]).peer("10.0.0.1");
        let two = head(&[("x-forwarded-for", "203.0.113.8")]).peer("10.0.0.1");
        assert!(limit.check(&one, false).is_ok());
        assert!(
            limit.check(&two, false).is_err(),
            "untrusted: both are the proxy"
        );
        let trusting = LoginRateLimit::per_minute(NonZeroU32::new(1).unwrap());
        assert!(trusting.check(&one, true).is_ok());
        assert!(trusting.check(&two, true).is_ok(), "trusted: two clients");
    }

    #[test]
    fn no_peer_address_is_not_limited() {
        let limit = LoginRateLimit::per_minute(NonZeroU32::new(1).unwrap());
        let h = head(&[]);
        assert!(limit.check(&h, false).is_ok());
        assert!(limit.check(&h, false).is_ok());
    }
}
