//! One HTTP call to an upstream, with the retry policy: the only place that talks to
//! `reqwest`, classifies transport failures, and decides what is retried.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::Retryable;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::dingtalk::errcode::{classify, Class};
use crate::dingtalk::retry::RetryPolicy;
use crate::dingtalk::wire::Envelope;
use crate::error::{ConfigError, Error, Unavailable, UpstreamDetail};
use crate::metrics::{self, Escaped};

/// How an answer body is judged, per upstream family.
pub(crate) enum Verdict {
    /// Success: the parsed body.
    Done(Value),
    /// A transient failure: retry within the policy.
    Retry(Error),
    /// A final failure.
    Fail(Error),
    /// The access token was refused: the caller refetches it and tries once more.
    TokenInvalid(Box<UpstreamDetail>),
}

/// What a call can end with besides success.
#[derive(Debug)]
pub(crate) enum CallError {
    Error(Error),
    TokenInvalid(Box<UpstreamDetail>),
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Error(e) => e,
            // Still refused after a fresh token: nothing the caller can do.
            CallError::TokenInvalid(d) => Error::UpstreamError(d),
        }
    }
}

struct AttemptError {
    retry: bool,
    error: CallError,
}

/// The shared HTTP client and retry policy.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl Transport {
    /// The one place every client's HTTP settings are checked and built.
    pub(crate) fn new(timeout: Duration, retry: RetryPolicy) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: "upstream_timeout",
                reason: "must be more than zero".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .build()
            .map_err(|e| ConfigError::Invalid {
                name: "http client",
                reason: e.to_string(),
            })?;
        Ok(Self { http, retry })
    }

    /// Sends the request `build` makes, retrying transient failures, and judges the JSON
    /// answer with `judge`.
    pub(crate) async fn call(
        &self,
        api: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        judge: impl Fn(&'static str, Value) -> Verdict,
    ) -> Result<Value, CallError> {
        let started = Instant::now();
        let max_elapsed = self.retry.max_elapsed_bound();
        let attempts = AtomicU32::new(0);
        let attempt = || async {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.observed_attempt(api, n, &build, &judge).await
        };
        attempt
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &AttemptError| e.retry)
            // Never start a retry that would begin past the time budget.
            .adjust(move |_, delay| delay.filter(|d| started.elapsed() + *d <= max_elapsed))
            .notify(|e: &AttemptError, delay: Duration| {
                if let CallError::Error(err) = &e.error {
                    tracing::debug!(api, error = %err, ?delay, "retrying upstream call");
                }
            })
            .await
            .map_err(|e| e.error)
    }

    /// One attempt inside its span (`dingtalk.upstream`: `api`, `attempt`, `outcome`,
    /// `errcode`, `request_id`), counted and timed in the metrics.
    async fn observed_attempt(
        &self,
        api: &'static str,
        attempt: u32,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        judge: &impl Fn(&'static str, Value) -> Verdict,
    ) -> Result<Value, AttemptError> {
        let span = tracing::info_span!(
            "dingtalk.upstream",
            api,
            attempt,
            outcome = tracing::field::Empty,
            errcode = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        let timer = metrics::Timer::start();
        let result = self
            .attempt(api, build, judge)
            .instrument(span.clone())
            .await;
        let outcome = outcome(&result);
        metrics::upstream(api, outcome, timer);
        span.record("outcome", outcome);
        let (errcode, request_id) = match &result {
            Ok(value) => (
                None,
                ["request_id", "requestId", "requestid"]
                    .iter()
                    .find_map(|k| value.get(*k)?.as_str()),
            ),
            Err(e) => {
                let detail = match &e.error {
                    CallError::Error(e) => e.upstream(),
                    CallError::TokenInvalid(d) => Some(&**d),
                };
                (
                    detail.and_then(|d| d.errcode),
                    detail.and_then(|d| d.request_id.as_deref()),
                )
            }
        };
        if let Some(errcode) = errcode {
            span.record("errcode", errcode);
        }
        if let Some(id) = request_id {
            span.record("request_id", tracing::field::display(Escaped(id)));
        }
        result
    }

    async fn attempt(
        &self,
        api: &'static str,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        judge: &impl Fn(&'static str, Value) -> Verdict,
    ) -> Result<Value, AttemptError> {
        let fail = |retry: bool, error: Error| AttemptError {
            retry,
            error: CallError::Error(error),
        };
        let response = match build(&self.http).send().await {
            Ok(r) => r,
            // `without_url`: the URL may carry the access token.
            Err(e) => return Err(transport_failure(api, e.without_url(), &fail)),
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after_header(&response);
            // The new-style API answers errors as HTTP >= 400 with `{code, message, requestid}`;
            // a body without them is judged by the status alone.
            let body = response.bytes().await.unwrap_or_default();
            let (retry, error) = judge_http_error(api, status.as_u16(), retry_after, &body);
            return Err(AttemptError { retry, error });
        }
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(transport_failure(api, e.without_url(), &fail)),
        };
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                let mut detail = UpstreamDetail::api(api);
                detail.errmsg = Some(unparsable_answer(&body));
                return Err(fail(false, Error::UpstreamError(Box::new(detail))));
            }
        };
        match judge(api, value) {
            Verdict::Done(v) => Ok(v),
            Verdict::Retry(e) => Err(fail(true, e)),
            Verdict::Fail(e) => Err(fail(false, e)),
            Verdict::TokenInvalid(d) => Err(AttemptError {
                retry: false,
                error: CallError::TokenInvalid(d),
            }),
        }
    }
}

/// The `outcome` label of one attempt.
fn outcome(result: &Result<Value, AttemptError>) -> &'static str {
    let error = match result {
        Ok(_) => return "ok",
        Err(AttemptError {
            error: CallError::TokenInvalid(_),
            ..
        }) => return "token_invalid",
        Err(AttemptError {
            error: CallError::Error(e),
            ..
        }) => e,
    };
    match error {
        Error::UpstreamTimeout(_) => "timeout",
        Error::UpstreamUnavailable { reason, .. } => match reason {
            Unavailable::Busy | Unavailable::Platform => "busy",
            Unavailable::RateLimited => "rate_limited",
            Unavailable::Connect => "connect",
            Unavailable::ServerError => "http_5xx",
        },
        // DingTalk answered with a refusal it named (an errcode, a status, a sub_code)...
        e if e.upstream().is_some_and(|d| {
            d.errcode.is_some() || d.http_status.is_some() || d.sub_code.is_some()
        }) =>
        {
            "rejected"
        }
        // ...or with something that could not be read.
        _ => "error",
    }
}

fn transport_failure(
    api: &'static str,
    e: reqwest::Error,
    fail: &impl Fn(bool, Error) -> AttemptError,
) -> AttemptError {
    let mut detail = UpstreamDetail::api(api);
    if e.is_timeout() {
        // Not retried: the request may have reached DingTalk and spent the code.
        detail.errmsg = Some("no answer within the upstream timeout".into());
        return fail(false, Error::UpstreamTimeout(Box::new(detail)));
    }
    // A connection that was never made sent nothing: safe to retry. One that broke after the
    // request went out may have spent the code: not retried.
    let retry = e.is_connect();
    detail.errmsg = Some(if retry {
        "connection failed".into()
    } else {
        "connection closed before the answer".into()
    });
    tracing::debug!(api, error = %e, "upstream transport failure");
    fail(
        retry,
        Error::UpstreamUnavailable {
            reason: Unavailable::Connect,
            retry_after: None,
            detail: Box::new(detail),
        },
    )
}

fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A short, printable description of a body that is not JSON (an XML answer, an HTML page).
pub(crate) fn unparsable_answer(body: &[u8]) -> String {
    let head = String::from_utf8_lossy(&body[..body.len().min(64)]);
    let kind = if head.trim_start().starts_with('<') {
        "an XML or HTML answer where JSON was expected"
    } else {
        "an answer that is not JSON"
    };
    format!("{kind} ({} bytes)", body.len())
}

/// An answer with an HTTP error status: whether to retry, and the error.
///
/// The new-style API's `code` decides first: `InvalidAuthentication` means the token was
/// refused; `Throttling*` is a rate limit; `systemBusy` and `ServiceUnavailable` are
/// transient. Otherwise 5xx is transient, 429 a rate limit, and anything else a refusal
/// (`invalidClientIdOrSecret` among them).
pub(crate) fn judge_http_error(
    api: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> (bool, CallError) {
    let api_error: Option<ApiError> = serde_json::from_slice(body).ok();
    let mut detail = UpstreamDetail::api(api);
    detail.http_status = Some(status);
    let code = api_error.as_ref().and_then(|e| e.code.clone());
    if let Some(e) = api_error {
        detail.sub_code = e.code;
        detail.errmsg = e.message;
        detail.request_id = e.requestid;
    }
    let detail = Box::new(detail);
    let code = code.as_deref().unwrap_or("");
    let unavailable = |reason, retry_after| Error::UpstreamUnavailable {
        reason,
        retry_after,
        detail: detail.clone(),
    };
    if code == "InvalidAuthentication" {
        return (false, CallError::TokenInvalid(detail));
    }
    if status == 429 || code.starts_with("Throttling") {
        // Without a `Retry-After`, a second is a fair first guess, as for OAPI's flow control.
        let after = retry_after.or(Some(Duration::from_secs(1)));
        return (
            false,
            CallError::Error(unavailable(Unavailable::RateLimited, after)),
        );
    }
    if code == "systemBusy" || code == "ServiceUnavailable" {
        return (
            true,
            CallError::Error(unavailable(Unavailable::Busy, retry_after)),
        );
    }
    if status >= 500 {
        return (
            true,
            CallError::Error(unavailable(Unavailable::ServerError, retry_after)),
        );
    }
    (false, CallError::Error(Error::UpstreamError(detail)))
}

/// The body of a new-style API error.
#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    requestid: Option<String>,
}

/// The new-style API judge: a 2xx answer is the payload itself.
pub(crate) fn judge_api(_api: &'static str, value: Value) -> Verdict {
    Verdict::Done(value)
}

/// The OAPI judge: errcode classification shared by every OAPI call.
pub(crate) fn judge_oapi(api: &'static str, value: Value) -> Verdict {
    let env = match Envelope::deserialize(&value) {
        Ok(env) => env,
        Err(e) => {
            let mut detail = UpstreamDetail::api(api);
            detail.errmsg = Some(format!("unexpected answer: {e}"));
            return Verdict::Fail(Error::UpstreamError(Box::new(detail)));
        }
    };
    let detail = || {
        Box::new(UpstreamDetail {
            api,
            http_status: None,
            errcode: env.errcode,
            sub_code: env.sub_code.clone(),
            errmsg: env.errmsg.clone(),
            request_id: env.request_id.clone(),
        })
    };
    match classify(&env) {
        Class::Ok => Verdict::Done(value),
        Class::TokenInvalid => Verdict::TokenInvalid(detail()),
        Class::Busy => Verdict::Retry(Error::UpstreamUnavailable {
            reason: Unavailable::Busy,
            retry_after: None,
            detail: detail(),
        }),
        Class::RateLimited(wait) => Verdict::Fail(Error::UpstreamUnavailable {
            reason: Unavailable::RateLimited,
            // Without a `wait`, a second is a fair first guess for DingTalk's QPS limits.
            retry_after: Some(wait.unwrap_or(Duration::from_secs(1))),
            detail: detail(),
        }),
        Class::Refused(_) => Verdict::Fail(Error::UpstreamError(detail())),
    }
}

/// Deserializes `value` (or its `result`) into `T`, or says what was unexpected.
pub(crate) fn parse_payload<T: serde::de::DeserializeOwned>(
    api: &'static str,
    value: &Value,
) -> Result<T, Error> {
    T::deserialize(value).map_err(|e| {
        let mut detail = UpstreamDetail::api(api);
        detail.errmsg = Some(format!("unexpected answer: {e}"));
        Error::UpstreamError(Box::new(detail))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The errcode classification sees whatever an upstream sends.
        #[test]
        fn judging_any_json_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(value) = serde_json::from_slice::<Value>(&body) {
                let _ = judge_oapi("test", value);
            }
            let _ = unparsable_answer(&body);
        }

        #[test]
        fn judging_envelopes_never_panics(
            errcode in prop_oneof![any::<i64>().prop_map(|n| serde_json::json!(n)), "\\PC{0,12}".prop_map(|s| serde_json::json!(s))],
            wait in any::<i64>(),
        ) {
            let _ = judge_oapi("test", serde_json::json!({"errcode": errcode, "sub_code": errcode}));
            let _ = judge_oapi("test", serde_json::json!({"status": 1111, "wait": wait}));
        }
    }
}
