//! The one authorization decision: a request's session outcome and a route's policy become a
//! [`CurrentUser`] or the 401/403 error. Every extractor, guard service and guard middleware
//! calls [`authorize`] (extractors) or [`gate`] (guards).

use std::sync::Arc;

use http::StatusCode;

use super::{Reply, RequestHead};
use crate::error::Error;
use crate::guard::SysLevelPolicy;
use crate::session::Claims;
use crate::user::CurrentUser;

/// What a guard or an extractor answers when the session layer is not installed in front of it.
pub(crate) const MISSING_SESSION: &str =
    "Can't extract CurrentUser. Is the session layer installed?";

/// What the session check found on a request: valid claims, or why there are none.
pub(crate) type SessionOutcome = Result<Arc<Claims>, Error>;

/// The decision: `session` must be valid (else its 401), and pass `policy` when there is one
/// (else 403 `forbidden`).
pub(crate) fn authorize(
    session: Option<&SessionOutcome>,
    policy: Option<&SysLevelPolicy>,
) -> Result<CurrentUser, Error> {
    let claims = match session {
        None => return Err(Error::Internal(MISSING_SESSION)),
        Some(Err(e)) => return Err(e.clone()),
        Some(Ok(claims)) => claims,
    };
    match policy {
        Some(policy) if !claims.satisfies(policy) => Err(Error::Forbidden),
        _ => Ok(CurrentUser(claims.clone())),
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. It carries no
/// credentials, so it is the one request a guard lets by without a session — and answers
/// itself, without calling the handler.
fn is_preflight(head: &impl RequestHead) -> bool {
    head.method() == "OPTIONS"
        && head.header("origin").is_some()
        && head.header("access-control-request-method").is_some()
}

/// The guard: `Ok(())` to call the handler, or the answer instead of it — 204 for a CORS
/// preflight, else the refusal of [`authorize`]. Every other `OPTIONS` is authorized like any
/// method.
pub(crate) fn gate(
    head: &impl RequestHead,
    policy: &SysLevelPolicy,
    session: Option<&SessionOutcome>,
) -> Result<(), Reply> {
    if is_preflight(head) {
        return Err(Reply::empty(StatusCode::NO_CONTENT));
    }
    match authorize(session, Some(policy)) {
        Ok(_) => Ok(()),
        Err(e) => Err(Reply::error(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::head::tests::FakeHead;
    use super::*;
    use crate::error::SessionRejection;

    fn claims(level: i64) -> SessionOutcome {
        Ok(Arc::new(
            serde_json::from_value(serde_json::json!({
                "sub": "u", "sys_level": level, "iat": 1, "exp": 2, "jti": "j"
            }))
            .unwrap(),
        ))
    }

    #[test]
    fn the_decision() {
        let admin = SysLevelPolicy::admin();
        assert!(authorize(Some(&claims(2)), Some(&admin)).is_ok());
        assert_eq!(
            authorize(Some(&claims(100)), Some(&admin))
                .unwrap_err()
                .code(),
            "forbidden"
        );
        assert!(authorize(Some(&claims(100)), None).is_ok());
        let missing = Err(Error::Unauthenticated(SessionRejection::Missing));
        assert_eq!(
            authorize(Some(&missing), None).unwrap_err().code(),
            "unauthenticated"
        );
        assert_eq!(authorize(None, None).unwrap_err().code(), "internal_error");
    }

    #[test]
    fn only_a_real_preflight_passes_without_a_session() {
        let admin = SysLevelPolicy::admin();
        let missing = Err(Error::Unauthenticated(SessionRejection::Missing));
        let no_session = Some(&missing);
        let preflight = FakeHead {
            method: "OPTIONS",
            headers: vec![
                ("origin", "https://a.test"),
                ("access-control-request-method", "POST"),
            ],
            ..FakeHead::default()
        };
        let answer = gate(&preflight, &admin, no_session).unwrap_err();
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        let plain_options = FakeHead {
            method: "OPTIONS",
            ..FakeHead::default()
        };
        assert_eq!(
            gate(&plain_options, &admin, no_session).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert!(gate(&plain_options, &admin, Some(&claims(1))).is_ok());
    }
}
