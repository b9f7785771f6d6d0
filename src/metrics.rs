//! What the crate reports to operators: Prometheus-style metrics through the `metrics` facade
//! (feature `metrics`) and the login span.
//!
//! Every name and label here is public API (README, "Operating it"). Labels are bounded: an
//! `api` is one of the fixed call names, an `outcome` one of a fixed set or an error code,
//! never a userid, code, token or URL. Without the `metrics` feature every recording
//! function is empty and the timer is a unit, so nothing is measured or stored.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `dingtalk_login_logins_total` | counter | `method` (code, web), `outcome` (ok or the error code answered) |
//! | `dingtalk_login_upstream_requests_total` | counter | `api`, `outcome` (ok, busy, rate_limited, token_invalid, timeout, connect, http_5xx, rejected, error) |
//! | `dingtalk_login_upstream_request_duration_seconds` | histogram | `api` |
//! | `dingtalk_login_session_verifications_total` | counter | `outcome` (ok, invalid, expired, revoked), `cache` (hit, miss) |
//! | `dingtalk_login_store_errors_total` | counter | `store` (replay, revocation, token, ticket) |

use std::future::Future;

use tracing::Instrument;

use crate::error::Error;
#[cfg(feature = "metrics")]
use crate::error::SessionRejection;

/// Logins by method and outcome.
#[cfg(feature = "metrics")]
pub(crate) const LOGINS: &str = "dingtalk_login_logins_total";
/// Upstream HTTP attempts by api and outcome, each retry included.
#[cfg(feature = "metrics")]
pub(crate) const UPSTREAM_REQUESTS: &str = "dingtalk_login_upstream_requests_total";
/// Upstream HTTP attempt durations by api.
#[cfg(feature = "metrics")]
pub(crate) const UPSTREAM_DURATION: &str = "dingtalk_login_upstream_request_duration_seconds";
/// Session verifications by outcome and cache.
#[cfg(feature = "metrics")]
pub(crate) const VERIFICATIONS: &str = "dingtalk_login_session_verifications_total";
/// Failed shared-store (Redis) operations by store.
#[cfg(feature = "metrics")]
pub(crate) const STORE_ERRORS: &str = "dingtalk_login_store_errors_total";

/// Counts one login attempt: `dingtalk_login_logins_total{method, outcome}`, the outcome
/// being `ok` or the error code the attempt was answered with ([`Error::code`]).
///
/// `method` is `"code"` (the silent login: `POST`/`GET /auth/dingtalk`,
/// [`crate::DingTalkLogin::login`]) or `"web"` (the browser login's callback,
/// `GET /auth/dingtalk/web/callback`). Call it exactly once per attempt, at the place that
/// decides the answer, so refusals before the exchange (`cross_site_request`,
/// `too_many_requests`, `invalid_state`, `invalid_code`, ...) count too; the routes do so
/// through [`observe_login`], which also opens the login span.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[inline]
pub(crate) fn login<T>(method: &'static str, result: &Result<T, Error>) {
    #[cfg(feature = "metrics")]
    {
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        ::metrics::counter!(LOGINS, "method" => method, "outcome" => outcome).increment(1);
    }
}

/// Runs one login attempt inside its span (`dingtalk.login`, with `method` and, once known,
/// `userid`) and counts it with [`login`].
pub(crate) async fn observe_login<T>(
    method: &'static str,
    attempt: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let span = tracing::info_span!(
        "dingtalk.login",
        method,
        userid = tracing::field::Empty,
        outcome = tracing::field::Empty
    );
    let result = attempt.instrument(span.clone()).await;
    span.record(
        "outcome",
        match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        },
    );
    login(method, &result);
    result
}

/// Records the userid on the current login span, escaped (it is DingTalk's string).
pub(crate) fn login_userid(userid: &str) {
    tracing::Span::current().record("userid", tracing::field::display(Escaped(userid)));
}

/// A measurement start for [`upstream`]: a unit without the feature, so nothing is read.
#[derive(Clone, Copy)]
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Timer {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }
}

/// Counts one upstream HTTP attempt and its duration:
/// `dingtalk_login_upstream_requests_total{api, outcome}` and
/// `dingtalk_login_upstream_request_duration_seconds{api}`.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[inline]
pub(crate) fn upstream(api: &'static str, outcome: &'static str, timer: Timer) {
    #[cfg(feature = "metrics")]
    {
        ::metrics::counter!(UPSTREAM_REQUESTS, "api" => api, "outcome" => outcome).increment(1);
        ::metrics::histogram!(UPSTREAM_DURATION, "api" => api).record(timer.started.elapsed());
    }
}

/// The counters of `dingtalk_login_session_verifications_total`, one per (`outcome`,
/// `cache`) pair, taken from the installed recorder once, when the login is built.
///
/// Verification runs on every request that carries a session: a counter looked up by name
/// and labels there would cost a registry lookup per request, a kept handle costs one
/// atomic add. The catch is the one of every kept `metrics` handle: it belongs to the
/// recorder installed when it was taken, so the recorder must be installed before the login
/// is built (README, "Operating it"); handles taken earlier count nothing.
#[derive(Clone)]
pub(crate) struct Verifications {
    #[cfg(feature = "metrics")]
    counters: std::sync::Arc<[::metrics::Counter; 8]>,
}

#[cfg(feature = "metrics")]
const VERIFICATION_OUTCOMES: [&str; 4] = ["ok", "invalid", "expired", "revoked"];

impl Verifications {
    /// Takes the eight counters from the recorder installed now.
    pub(crate) fn register() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            counters: std::sync::Arc::new(std::array::from_fn(|i| {
                let outcome = VERIFICATION_OUTCOMES[i / 2];
                let cache = if i % 2 == 1 { "hit" } else { "miss" };
                ::metrics::counter!(VERIFICATIONS, "outcome" => outcome, "cache" => cache)
            })),
        }
    }

    /// Counts one session verification:
    /// `dingtalk_login_session_verifications_total{outcome, cache}`. `hit` is whether the
    /// token was found in the cache of verified tokens.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    #[inline]
    pub(crate) fn record<T>(&self, result: &Result<T, Error>, hit: bool) {
        #[cfg(feature = "metrics")]
        {
            let outcome = match result {
                Ok(_) => 0,
                Err(Error::Unauthenticated(SessionRejection::Expired)) => 2,
                Err(Error::Unauthenticated(SessionRejection::Revoked)) => 3,
                Err(_) => 1,
            };
            self.counters[outcome * 2 + usize::from(hit)].increment(1);
        }
    }
}

/// Counts one failed shared-store operation: `dingtalk_login_store_errors_total{store}`,
/// `store` being `replay`, `revocation`, `token` or `ticket`.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[inline]
pub(crate) fn store_error(store: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(STORE_ERRORS, "store" => store).increment(1);
}

/// An upstream string as it goes into a trace: control characters and quotes escaped, at
/// most 64 characters, so a hostile answer cannot forge log lines or flood them.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(64) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn upstream_strings_are_escaped_and_bounded() {
        assert_eq!(Escaped("req-1").to_string(), "req-1");
        assert_eq!(
            Escaped("a\nlevel=ERROR \"x\"").to_string(),
            "a\\nlevel=ERROR \\\"x\\\""
        );
        let long = "x".repeat(100);
        assert_eq!(Escaped(&long).to_string(), format!("{}…", "x".repeat(64)));
    }
}
