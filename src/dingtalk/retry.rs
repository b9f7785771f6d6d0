//! The retry policy for transient upstream failures: bounded attempts, exponential backoff
//! with full jitter, and a time budget.

use std::time::Duration;

/// How transient upstream failures (errcode -1, HTTP 5xx, a refused connection) are retried.
///
/// Exponential backoff with full jitter, at most `max_attempts` attempts, and no retry that
/// would start after `max_elapsed`. Timeouts are never retried (a login code may already be
/// spent at DingTalk), nor are rate limits (the error carries the retry-after hint instead), nor
/// refusals.
///
/// The default — 4 attempts, 200 ms doubling to at most 2 s, nothing new after 8 s — keeps a
/// failing call under 15 s with the default 5 s timeout.
///
/// ```
/// use std::time::Duration;
/// use dingtalk_login::dingtalk::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(2).initial_backoff(Duration::from_millis(50));
/// assert_eq!(policy.attempts(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is final.
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least 1). Default 4.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff; later ones double. Default 200 ms.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest backoff. Default 2 s.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// No retry starts after this much time since the first attempt. Default 8 s.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    pub(crate) fn backoff(&self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    pub(crate) fn max_elapsed_bound(&self) -> Duration {
        self.max_elapsed
    }
}
