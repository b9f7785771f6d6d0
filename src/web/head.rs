//! A framework-neutral, read-only view of a request head, and what the core reads through it:
//! the session token, cookies and the client's address.

use std::net::IpAddr;

use cookie::Cookie;

use crate::error::{Error, SessionRejection};

/// Read access to a request head, implemented by each adapter over its own request type.
pub(crate) trait RequestHead {
    /// The first value of a header, if present and valid UTF-8 (name in lower case).
    fn header(&self, name: &str) -> Option<&str>;

    /// Every `Cookie` header (HTTP/2 clients may split cookies over several).
    fn cookie_headers(&self) -> impl Iterator<Item = &str>;

    /// The request method, upper case.
    fn method(&self) -> &str;

    /// The URI's scheme, when the server knows it.
    fn scheme(&self) -> Option<&str>;

    /// The query string, without `?`.
    fn query(&self) -> Option<&str>;

    /// The path and query, as the client sent them (for a `next=` redirect).
    fn path_and_query(&self) -> &str;

    /// The socket peer's address, when the server provides it.
    fn peer_ip(&self) -> Option<IpAddr>;

    /// The value of cookie `name`: the first one with a non-empty value, so that a stale empty
    /// cookie (say, from another `Path`) cannot hide a valid one.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookie_headers().find_map(|header| {
            Cookie::split_parse(header)
                .filter_map(Result::ok)
                .find(|c| c.name() == name && !c.value().is_empty())
                .map(|c| c.value().to_owned())
        })
    }
}

/// A header value as text when it is visible ASCII or tab — what `HeaderValue::to_str`
/// accepts — checked without an early exit, so the compiler checks many bytes at once. A
/// session token is a few hundred bytes on every request; `http` 0.2's byte-at-a-time
/// `to_str` (actix-web's) cost about ten instructions per byte of it. (The tower adapter
/// reads `Authorization` with `from_utf8` alone.)
#[cfg_attr(not(feature = "actix"), allow(dead_code))]
pub(crate) fn header_str(value: &[u8]) -> Option<&str> {
    let visible = value.iter().fold(true, |ok, &b| {
        ok & ((b'\x20'..b'\x7f').contains(&b) | (b == b'\t'))
    });
    if visible {
        // Visible ASCII is UTF-8; the check is a single fast pass over ASCII.
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// The Bearer token of an `Authorization` header (scheme case-insensitive).
pub(crate) fn bearer_token(authorization: &str) -> Option<&str> {
    // Read on every request: the scheme is compared in place rather than found by a search
    // through the whole header.
    let authorization = authorization.trim_ascii_start();
    let scheme = authorization.get(..7)?;
    let token = authorization[7..].trim_ascii();
    (scheme.eq_ignore_ascii_case("bearer ") && !token.is_empty()).then_some(token)
}

/// A session token as found on a request: borrowed from the `Authorization` header, or owned
/// when it came from a cookie.
pub(crate) enum Token<'r> {
    Bearer(&'r str),
    Cookie(String),
}

impl std::ops::Deref for Token<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Token::Bearer(t) => t,
            Token::Cookie(t) => t,
        }
    }
}

/// The session token of a request: the Bearer header wins over the cookie. A malformed
/// `Authorization` header is an invalid token, not a missing one.
pub(crate) fn session_token<'r>(
    req: &'r impl RequestHead,
    cookie_name: &str,
) -> Result<Token<'r>, Error> {
    if let Some(auth) = req.header("authorization") {
        return bearer_token(auth)
            .map(Token::Bearer)
            .ok_or(Error::Unauthenticated(SessionRejection::Invalid));
    }
    req.cookie(cookie_name)
        .map(Token::Cookie)
        .ok_or(Error::Unauthenticated(SessionRejection::Missing))
}

/// The client's address for rate limiting: the socket peer, or — only when the deployment
/// trusts its proxy — the right-most `X-Forwarded-For` entry, the one that proxy appended.
pub(crate) fn client_ip(req: &impl RequestHead, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = req
            .header("x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.peer_ip()
}

/// Whether the client prefers an HTML page to JSON: its `Accept` names `text/html` and not
/// `application/json` (what a browser's navigation sends, not what `fetch` sends).
pub(crate) fn prefers_html(req: &impl RequestHead) -> bool {
    req.header("accept").is_some_and(|accept| {
        let accept = accept.to_ascii_lowercase();
        accept.contains("text/html") && !accept.contains("application/json")
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A request head built by hand.
    #[derive(Default)]
    pub(crate) struct FakeHead {
        pub(crate) method: &'static str,
        pub(crate) headers: Vec<(&'static str, &'static str)>,
        pub(crate) query: Option<&'static str>,
        pub(crate) peer: Option<IpAddr>,
    }

    impl RequestHead for FakeHead {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
        }
        fn cookie_headers(&self) -> impl Iterator<Item = &str> {
            self.headers
                .iter()
                .filter(|(k, _)| *k == "cookie")
                .map(|(_, v)| *v)
        }
        fn method(&self) -> &str {
            if self.method.is_empty() {
                "GET"
            } else {
                self.method
            }
        }
        fn scheme(&self) -> Option<&str> {
            None
        }
        fn query(&self) -> Option<&str> {
            self.query
        }
        fn path_and_query(&self) -> &str {
            "/"
        }
        fn peer_ip(&self) -> Option<IpAddr> {
            self.peer
        }
    }

    impl FakeHead {
        /// The same head, from socket peer `ip`.
        pub(crate) fn peer(mut self, ip: &str) -> Self {
            self.peer = Some(ip.parse().unwrap());
            self
        }
    }

    pub(crate) fn head(headers: &[(&'static str, &'static str)]) -> FakeHead {
        FakeHead {
            headers: headers.to_vec(),
            ..FakeHead::default()
        }
    }

    #[test]
    fn header_text_is_what_to_str_accepts() {
        for bytes in [
            &b"Bearer abc.def-_"[..],
            b"a\tb",
            b"",
            b"caf\xc3\xa9",
            b"a\x7fb",
            b"a\x01b",
            b"\xff",
        ] {
            let expected = http::HeaderValue::from_bytes(bytes)
                .ok()
                .and_then(|v| v.to_str().ok().map(str::to_owned));
            assert_eq!(header_str(bytes).map(str::to_owned), expected, "{bytes:?}");
        }
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let r = head(&[
            ("authorization", "BEARER tok"),
            ("cookie", "dingtalk_session=c"),
        ]);
        assert_eq!(&*session_token(&r, "dingtalk_session").unwrap(), "tok");
        let c = head(&[("cookie", "dingtalk_session=c")]);
        assert_eq!(&*session_token(&c, "dingtalk_session").unwrap(), "c");
        assert!(matches!(
            session_token(&head(&[]), "dingtalk_session"),
            Err(Error::Unauthenticated(SessionRejection::Missing))
        ));
        assert!(matches!(
            session_token(&head(&[("authorization", "Basic x")]), "s"),
            Err(Error::Unauthenticated(SessionRejection::Invalid))
        ));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("  BEARER   abc  "), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        for no in [
            "Bearer",
            "Bearerabc",
            "Bearer\tabc",
            "Basic abc",
            "Bearé abc",
            "",
        ] {
            assert_eq!(bearer_token(no), None, "{no:?}");
        }
    }

    #[test]
    fn an_empty_cookie_does_not_hide_a_valid_one() {
        let r = head(&[
            ("cookie", "dingtalk_session=; a=1"),
            ("cookie", "dingtalk_session=good"),
        ]);
        assert_eq!(r.cookie("dingtalk_session").as_deref(), Some("good"));
        let first = head(&[("cookie", "dingtalk_session=one; dingtalk_session=two")]);
        assert_eq!(first.cookie("dingtalk_session").as_deref(), Some("one"));
    }

    #[test]
    fn forwarded_for_only_when_trusted() {
        let mut r = head(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        r.peer = Some("127.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&r, false), r.peer);
        assert_eq!(client_ip(&r, true), Some("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn html_preference() {
        assert!(prefers_html(&head(&[(
            "accept",
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )])));
        assert!(!prefers_html(&head(&[(
            "accept",
            "application/json, text/html"
        )])));
        assert!(!prefers_html(&head(&[])));
    }
}
