//! [`Reply`]: the one framework-neutral answer every route, guard and extractor produces, and
//! the one mapping from [`Error`] to it. The adapters only translate a `Reply` into their
//! response type.

use std::fmt;

use cookie::Cookie;
use http::StatusCode;
use serde::Serialize;

use crate::error::{Error, SessionRejection};

/// A status, headers and a body (JSON, HTML or none), ready for any framework.
#[derive(Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    /// Header names in lower case; `set-cookie` may repeat.
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

// Set-Cookie values carry session tokens and states: never print them.
impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Reply {
    /// No body.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A JSON body that no cache keeps (login answers carry a session token).
    pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Self {
        let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
            ],
            body,
        }
    }

    /// A small HTML page that no cache keeps.
    pub(crate) fn html(status: StatusCode, body: String) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "text/html; charset=utf-8".into()),
                ("cache-control", "no-store".into()),
            ],
            body,
        }
    }

    /// 302 to `location`, uncached.
    pub(crate) fn redirect(location: &str) -> Self {
        let mut reply = Self::empty(StatusCode::FOUND);
        reply.headers.push(("location", location.to_owned()));
        reply.headers.push(("cache-control", "no-store".into()));
        reply
    }

    /// The one mapping from [`Error`]: its status, the JSON body `{"error", "message"}`,
    /// `Cache-Control: no-store`, `Retry-After` when known, and on 401 the RFC 6750
    /// `WWW-Authenticate: Bearer` — with `error="invalid_token"` when a token was presented and
    /// refused, so a front end can tell "log in" from "log in again".
    ///
    /// Server-side failures (5xx) are logged at `warn` with the upstream detail the body leaves
    /// out; the others at `debug`.
    pub(crate) fn error(error: &Error) -> Self {
        let status = error.status();
        if status.is_server_error() {
            tracing::warn!(code = error.code(), error = %error, "dingtalk-login request failed");
        } else {
            tracing::debug!(code = error.code(), error = %error, "dingtalk-login request refused");
        }
        let mut reply = Self::json(status, &error.body());
        if let Some(after) = error.retry_after_secs() {
            reply.headers.push(("retry-after", after.to_string()));
        }
        // RFC 7235: every 401 names its scheme. Only a presented, refused session token is
        // `invalid_token`; a refused login code asks for a login like a missing session does.
        if status == StatusCode::UNAUTHORIZED {
            let value = match error {
                Error::Unauthenticated(why) if *why != SessionRejection::Missing => {
                    r#"Bearer error="invalid_token""#
                }
                _ => "Bearer",
            };
            reply.headers.push(("www-authenticate", value.into()));
        }
        if let Error::LoginRequired { location, .. } = error {
            reply.headers.push(("location", location.clone()));
        }
        reply
    }

    /// [`error`](Self::error), or for a browser navigation (`Accept` prefers `text/html`) a
    /// small page with the same status and code and a link to start again at `retry`.
    pub(crate) fn error_page(error: &Error, html: bool, retry: &str) -> Self {
        let reply = Self::error(error);
        if !html {
            return reply;
        }
        let page = format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Login failed</title>\
             <h1>Login failed</h1><p><code>{}</code>: {}</p>\
             <p><a href=\"{}\">Log in again</a></p>",
            error.code(),
            escape_html(&error.message()),
            escape_html(retry),
        );
        let mut page = Self::html(reply.status, page);
        // `Retry-After`, `WWW-Authenticate`, `Location`: everything but the body's own headers.
        page.headers.extend(
            reply
                .headers
                .into_iter()
                .filter(|(name, _)| !matches!(*name, "content-type" | "cache-control")),
        );
        page
    }

    /// Adds a `Set-Cookie` header.
    pub(crate) fn with_cookie(mut self, cookie: Cookie<'_>) -> Self {
        self.headers.push(("set-cookie", cookie.to_string()));
        self
    }

    /// The body as JSON, for tests.
    #[cfg(test)]
    pub(crate) fn json_body(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// A header's first value, for tests.
    #[cfg(test)]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::{Unavailable, UpstreamDetail};

    #[test]
    fn errors_map_status_body_and_headers() {
        let e = Error::UpstreamUnavailable {
            reason: Unavailable::RateLimited,
            retry_after: Some(Duration::from_millis(1500)),
            detail: Box::new(UpstreamDetail::default()),
        };
        let r = Reply::error(&e);
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.json_body()["error"], "upstream_unavailable");

        let missing = Reply::error(&Error::Unauthenticated(SessionRejection::Missing));
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
        let refused = Reply::error(&Error::Unauthenticated(SessionRejection::Expired));
        assert_eq!(
            refused.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(
            Reply::error(&Error::Forbidden).header("www-authenticate"),
            None
        );
        for login_refused in [Error::CodeReplayed, Error::CodeRejected(Box::default())] {
            let r = Reply::error(&login_refused);
            assert_eq!(r.status, 401);
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer"),
                "{login_refused}"
            );
        }
    }

    #[test]
    fn error_pages_escape_and_link_back() {
        let r = Reply::error_page(&Error::InvalidState, true, "/auth/dingtalk/web?next=%2F");
        assert_eq!(r.status, 400);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(r.body.contains("invalid_state"));
        assert!(r.body.contains("href=\"/auth/dingtalk/web?next=%2F\""));
        assert_eq!(escape_html("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
        let json = Reply::error_page(&Error::InvalidState, false, "/");
        assert_eq!(json.json_body()["error"], "invalid_state");
    }

    #[test]
    fn debug_hides_cookie_values() {
        let r = Reply::empty(StatusCode::OK).with_cookie(Cookie::new("s", "secret-token"));
        assert!(!format!("{r:?}").contains("secret-token"));
    }
}
