//! DingTalk errcodes and what the crate does with them. Classification is by `errcode` (and
//! `sub_code`), never by `errmsg`.

use std::time::Duration;

use crate::dingtalk::wire::Envelope;

/// `errcode` -1: system busy; retried with backoff.
pub const BUSY: i64 = -1;
/// The access token is invalid.
pub const INVALID_TOKEN_40001: i64 = 40001;
/// The access token is invalid (不合法的access_token).
pub const INVALID_TOKEN: i64 = 40014;
/// The access token has expired.
pub const TOKEN_EXPIRED: i64 = 42001;
/// The access token is invalid (another spelling).
pub const INVALID_TOKEN_33001: i64 = 33001;
/// A gateway error whose `sub_code` says why (`"40014"` for an invalid token).
pub const GATEWAY_ERROR: i64 = 88;
/// The login code is unknown, expired or already used.
pub const CODE_REJECTED: i64 = 40078;
/// Invalid parameter.
pub const INVALID_PARAMETER: i64 = 400002;
/// Invalid mobile number.
pub const INVALID_MOBILE: i64 = 40104;
/// No such user in the organisation: for a mobile number (`getbymobile`), a userid
/// (`user/get`) or a unionid (`getbyunionid`).
pub const NO_SUCH_USER: i64 = 60121;
/// No such user (employee-info service).
#[cfg(feature = "directory")]
pub const USER_NOT_FOUND: i64 = 60111;
/// Flow-control errcodes: the app or the platform is over its rate.
pub const RATE_LIMITED: [i64; 5] = [90002, 90005, 90006, 90018, 90019];

/// What an answer means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// `errcode` 0 (or absent).
    Ok,
    /// The access token is invalid or expired: drop it, refetch, retry once.
    TokenInvalid,
    /// -1: retry with backoff.
    Busy,
    /// Flow control: do not retry now; `wait` when the body said so.
    RateLimited(Option<Duration>),
    /// Any other errcode: the API decides (a refused code, a missing user, ...).
    Refused(i64),
}

pub(crate) fn classify(env: &Envelope) -> Class {
    // The gateway's flow-control body has no errcode: {"status":1111,"wait":5}.
    let Some(errcode) = env.errcode else {
        if env.status.is_some() || env.wait.is_some() {
            return Class::RateLimited(wait(env));
        }
        return Class::Ok;
    };
    match errcode {
        0 => Class::Ok,
        BUSY => Class::Busy,
        INVALID_TOKEN_40001 | INVALID_TOKEN | TOKEN_EXPIRED | INVALID_TOKEN_33001 => {
            Class::TokenInvalid
        }
        GATEWAY_ERROR if env.sub_code.as_deref() == Some("40014") => Class::TokenInvalid,
        c if RATE_LIMITED.contains(&c) => Class::RateLimited(wait(env)),
        c => Class::Refused(c),
    }
}

fn wait(env: &Envelope) -> Option<Duration> {
    env.wait
        .filter(|w| *w > 0)
        .map(|w| Duration::from_secs(w.unsigned_abs()))
}
