//! Injected failures: what the test asked the fake to get wrong, and in which order.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use super::endpoint::Endpoint;
use super::oapi::{self, Reply};
use super::top;

/// A failure the fake injects into a call, queued with [`FakeDingTalk::fail_next`].
///
/// Each imitates something DingTalk (or the network in between) really does.
///
/// [`FakeDingTalk::fail_next`]: super::FakeDingTalk::fail_next
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Failure {
    /// DingTalk is busy: HTTP 200 with `{"errcode":-1,"errmsg":"系统繁忙"}`.
    Busy,
    /// HTTP 500 with a plain-text body, as from a failing proxy.
    ServerError,
    /// The gateway's flow control: HTTP 200 with `{"status":1111,"wait":wait_secs}` and no
    /// `errcode` at all.
    RateLimited {
        /// The seconds the gateway asks the caller to wait.
        wait_secs: u64,
    },
    /// HTTP 200 with `{"errcode":N,"errmsg":"injected"}`, for any errcode: 90018 (rate
    /// limited), 40078 (bad code), 60121 (no such user), …
    Errcode(i64),
    /// Sleeps this long (with `tokio::time::sleep`, so paused test time applies), then answers
    /// normally.
    Delay(Duration),
    /// Reads the request, then closes the TCP connection without answering.
    DropConnection,
    /// HTTP 200 with exactly this JSON body: whatever a broken or hostile upstream might
    /// send (a `sub_code` with a newline in it, a `request_id` with terminal escapes, ...).
    Json(serde_json::Value),
    /// TOP's `error_response` (HTTP 200): `{"error_response":{"code":..,"msg":"injected",
    /// "sub_code":..,"sub_msg":..}}`. A `sub_code` starting with `isp.` is a platform failure
    /// (e.g. `isp.remote-service-timeout`), one starting with `isv.` the caller's.
    TopError {
        /// `code`, e.g. 15 (remote service error) or 7 (app call limited).
        code: i64,
        /// `sub_code`.
        sub_code: &'static str,
        /// `sub_msg`.
        sub_msg: &'static str,
    },
    /// A TOP answer for `alibaba.dc.uc.inner.user.by.account.get` whose `result.success` is
    /// `false` (HTTP 200, no `error_response`).
    TopResultFailed,
    /// HTTP 200 with TOP's XML `error_response` (`text/xml`), as TOP answers `format=xml`.
    Xml,
    /// A new-style API error: HTTP `status` with `{"code":code,"message":"injected",
    /// "requestid":..}`, e.g. 401 `InvalidAuthentication`, 429 `Throttling.Api`, 503
    /// `ServiceUnavailable`.
    ApiError {
        /// The HTTP status.
        status: u16,
        /// The `code`.
        code: &'static str,
    },
}

/// What an injected failure does to the request it hits.
pub(super) enum Effect {
    /// Answer with this instead of the real answer.
    Answer(Reply),
    /// Wait, then answer for real.
    Delay(Duration),
    /// Close the connection without an answer.
    Drop,
}

impl Failure {
    pub(super) fn effect(&self) -> Effect {
        match *self {
            Self::Busy => Effect::Answer(oapi::error(oapi::BUSY)),
            Self::ServerError => Effect::Answer(Reply::Text {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: "500 Internal Server Error",
            }),
            Self::RateLimited { wait_secs } => Effect::Answer(Reply::Json {
                status: StatusCode::OK,
                body: json!({ "status": 1111, "wait": wait_secs }),
            }),
            Self::Errcode(errcode) => Effect::Answer(oapi::error((errcode, "injected"))),
            Self::TopError {
                code,
                sub_code,
                sub_msg,
            } => Effect::Answer(Reply::Json {
                status: StatusCode::OK,
                body: top::error_response(code, "injected", Some((sub_code, sub_msg))),
            }),
            Self::TopResultFailed => Effect::Answer(Reply::Json {
                status: StatusCode::OK,
                body: top::result_failed(),
            }),
            Self::Xml => Effect::Answer(Reply::Xml {
                status: StatusCode::OK,
                body: top::XML_ERROR_EXAMPLE.to_owned(),
            }),
            Self::ApiError { status, code } => Effect::Answer(super::jsapi::api_error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                code,
                "injected",
            )),
            Self::Delay(by) => Effect::Delay(by),
            Self::DropConnection => Effect::Drop,
            Self::Json(ref body) => Effect::Answer(Reply::Json {
                status: StatusCode::OK,
                body: body.clone(),
            }),
        }
    }
}

/// The failures queued per endpoint, each with how many more calls it applies to.
#[derive(Debug, Default)]
pub(super) struct FailurePlan {
    queues: HashMap<Endpoint, VecDeque<(usize, Failure)>>,
}

impl FailurePlan {
    /// Queues `failure` for the next `times` calls to `endpoint`, after those already queued.
    /// `usize::MAX` means every call from then on.
    pub(super) fn push(&mut self, endpoint: Endpoint, times: usize, failure: Failure) {
        if times > 0 {
            self.queues
                .entry(endpoint)
                .or_default()
                .push_back((times, failure));
        }
    }

    /// The failure for the call now arriving on `endpoint`, if any, used up by one.
    pub(super) fn next(&mut self, endpoint: Endpoint) -> Option<Failure> {
        let queue = self.queues.get_mut(&endpoint)?;
        let (remaining, failure) = queue.front_mut()?;
        let failure = failure.clone();
        if *remaining != usize::MAX {
            *remaining -= 1;
            if *remaining == 0 {
                queue.pop_front();
            }
        }
        Some(failure)
    }

    pub(super) fn clear(&mut self) {
        self.queues.clear();
    }
}
