//! The HTTP contract of the login routes, framework-neutral.
//!
//! The tower and actix adapters read a request through [`RequestParts`], call these functions
//! in the same order, and turn the results into their framework's response, so the two
//! behave identically:
//!
//! - `POST {login}`: origin check (before the body is read), then the code from the
//!   `X-DingTalk-Code` header, else a form body (`code=..`), else a JSON body (`{"code": ..}`);
//! - `GET {login}?code&state`: `state` must equal the `dingtalk_state` cookie, checked before
//!   the code is claimed;
//! - `GET {state}`: a fresh random state and its cookie;
//! - `POST {logout}`: origin check, a valid session, revocation, the cookie cleared.

use std::borrow::Cow;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use subtle::ConstantTimeEq;

use crate::code::AuthCode;
use crate::error::{Error, SessionRejection};
use crate::session::{CookieSettings, SameSite, STATE_COOKIE};

/// The header a client may carry the code in; it wins over a body code.
pub const CODE_HEADER: &str = "x-dingtalk-code";

/// How long the redirect login's `state` cookie lives.
pub const STATE_LIFETIME: Duration = Duration::from_secs(600);

/// Where the login routes live and which origins may POST to them.
///
/// ```
/// use dingtalk_login::web::LoginRoutes;
///
/// let routes = LoginRoutes::default().allowed_origins(["https://app.example.com/"]);
/// assert_eq!(routes.login_path(), "/auth/dingtalk");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRoutes {
    login: String,
    state: String,
    logout: String,
    allowed_origins: Option<Vec<String>>,
}

impl Default for LoginRoutes {
    fn default() -> Self {
        Self {
            login: "/auth/dingtalk".into(),
            state: "/auth/dingtalk/state".into(),
            logout: "/auth/logout".into(),
            allowed_origins: None,
        }
    }
}

impl LoginRoutes {
    /// The login path (POST and GET). Default `/auth/dingtalk`.
    pub fn login_path_at(mut self, path: impl Into<String>) -> Self {
        self.login = path.into();
        self
    }

    /// The state path (GET). Default `/auth/dingtalk/state`.
    pub fn state_path_at(mut self, path: impl Into<String>) -> Self {
        self.state = path.into();
        self
    }

    /// The logout path (POST). Default `/auth/logout`.
    pub fn logout_path_at(mut self, path: impl Into<String>) -> Self {
        self.logout = path.into();
        self
    }

    /// Origins allowed to POST login and logout, replacing the default (the request's own
    /// origin). Matched exactly; a trailing `/` is tolerated.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(
            origins
                .into_iter()
                .map(|o| o.into().trim_end_matches('/').to_owned())
                .collect(),
        );
        self
    }

    /// The login path.
    pub fn login_path(&self) -> &str {
        &self.login
    }

    /// The state path.
    pub fn state_path(&self) -> &str {
        &self.state
    }

    /// The logout path.
    pub fn logout_path(&self) -> &str {
        &self.logout
    }

    /// Refuses a POST whose `Origin` is not allowed ([`Error::CrossSiteRequest`]).
    ///
    /// No `Origin` is allowed (non-browser clients send none; browsers always send one on a
    /// cross-site POST). `Origin: null` is foreign. The default allowed origin is the request's
    /// own: its scheme (`X-Forwarded-Proto`, else the URI's, else `http`) and `Host`.
    pub fn check_origin(&self, req: &impl RequestParts) -> Result<(), Error> {
        let Some(origin) = req.header("origin") else {
            return Ok(());
        };
        let origin = origin.trim().trim_end_matches('/');
        let allowed = match &self.allowed_origins {
            Some(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            None => own_origin(req).is_some_and(|own| own.eq_ignore_ascii_case(origin)),
        };
        if allowed && origin != "null" {
            Ok(())
        } else {
            Err(Error::CrossSiteRequest)
        }
    }
}

fn own_origin(req: &impl RequestParts) -> Option<String> {
    let host = req.header("host")?.trim();
    let scheme = req
        .header("x-forwarded-proto")
        .map(|p| p.split(',').next().unwrap_or(p).trim())
        .or(req.scheme())
        .unwrap_or("http");
    Some(format!("{scheme}://{host}"))
}

/// Read access to a request, implemented by each adapter.
pub trait RequestParts {
    /// A header's value, if present and valid UTF-8 (name in lower case).
    fn header(&self, name: &str) -> Option<&str>;

    /// The URI's scheme, when the server knows it.
    fn scheme(&self) -> Option<&str> {
        None
    }

    /// A cookie's value from the `Cookie` header(s).
    fn cookie(&self, name: &str) -> Option<String> {
        cookie_value(self.header("cookie")?, name)
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The Bearer token of an `Authorization` header (scheme case-insensitive).
///
/// ```
/// use dingtalk_login::web::bearer_token;
/// assert_eq!(bearer_token("bearer abc"), Some("abc"));
/// assert_eq!(bearer_token("Basic abc"), None);
/// ```
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The session token of a request: the Bearer header wins over the cookie. Borrowed from the
/// header when it comes from there: this runs on every request.
pub fn session_token<'r>(
    req: &'r impl RequestParts,
    cookie_name: &str,
) -> Result<Cow<'r, str>, Error> {
    if let Some(auth) = req.header("authorization") {
        return bearer_token(auth)
            .map(Cow::Borrowed)
            .ok_or(Error::Unauthenticated(SessionRejection::Invalid));
    }
    req.cookie(cookie_name)
        .filter(|v| !v.is_empty())
        .map(Cow::Owned)
        .ok_or(Error::Unauthenticated(SessionRejection::Missing))
}

/// The code of a login POST: the `X-DingTalk-Code` header, else a form body, else a JSON body.
pub fn code_from_post(req: &impl RequestParts, body: &[u8]) -> Result<AuthCode, Error> {
    if let Some(code) = req.header(CODE_HEADER) {
        return AuthCode::parse(code.trim());
    }
    let form = req.header("content-type").is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if form {
        AuthCode::from_form(body)
    } else {
        AuthCode::from_json_body(body)
    }
}

/// The code of a redirect login (`GET ?code&state`), after the state check.
///
/// # Errors
/// [`Error::InvalidState`] when `state` is missing or differs from the `dingtalk_state`
/// cookie (checked first, so a forged request spends no code); then the code errors.
pub fn code_from_redirect(req: &impl RequestParts, query: &str) -> Result<AuthCode, Error> {
    let state = crate::code::form_value(query.as_bytes(), "state");
    let cookie = req.cookie(STATE_COOKIE);
    let matches = match (state, cookie) {
        (Some(s), Some(c)) if !s.is_empty() => s.as_bytes().ct_eq(c.as_bytes()).into(),
        _ => false,
    };
    if !matches {
        return Err(Error::InvalidState);
    }
    AuthCode::from_form(query.as_bytes())
}

/// A fresh random `state`: 32 URL-safe characters (192 bits).
pub fn new_state() -> String {
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 24]>())
}

/// A cookie to set, independent of any cookie crate; the adapters convert it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    /// Name.
    pub name: String,
    /// Value (empty when clearing).
    pub value: String,
    /// `Max-Age`; zero clears the cookie.
    pub max_age: Duration,
    /// `Path`.
    pub path: String,
    /// `Domain`.
    pub domain: Option<String>,
    /// `Secure`.
    pub secure: bool,
    /// `SameSite`.
    pub same_site: SameSite,
}

impl CookieSpec {
    /// The `Set-Cookie` header value (always `HttpOnly`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use dingtalk_login::session::CookieSettings;
    /// use dingtalk_login::web::CookieSpec;
    ///
    /// let c = CookieSpec::session(&CookieSettings::default(), "t".into(), Duration::from_secs(60));
    /// assert_eq!(c.header_value(), "dingtalk_session=t; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
    /// ```
    pub fn header_value(&self) -> String {
        let mut s = format!(
            "{}={}; Max-Age={}; Path={}",
            self.name,
            self.value,
            self.max_age.as_secs(),
            self.path
        );
        if let Some(d) = &self.domain {
            s.push_str("; Domain=");
            s.push_str(d);
        }
        s.push_str("; HttpOnly; SameSite=");
        s.push_str(match self.same_site {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        });
        if self.secure {
            s.push_str("; Secure");
        }
        if self.max_age.is_zero() {
            s.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        s
    }

    /// The session cookie for `token`, living `ttl`.
    pub fn session(settings: &CookieSettings, token: String, ttl: Duration) -> Self {
        Self {
            name: settings.name.clone(),
            value: token,
            max_age: ttl,
            path: settings.path.clone(),
            domain: settings.domain.clone(),
            secure: settings.secure,
            same_site: settings.same_site,
        }
    }

    /// Clears the session cookie, with the same Path, Domain and flags it was set with.
    pub fn clear_session(settings: &CookieSettings) -> Self {
        Self::session(settings, String::new(), Duration::ZERO)
    }

    /// The `dingtalk_state` cookie: HttpOnly, SameSite=Lax, Path=/, Secure as configured,
    /// 10 minutes.
    pub fn state(settings: &CookieSettings, state: String) -> Self {
        Self {
            name: STATE_COOKIE.into(),
            value: state,
            max_age: STATE_LIFETIME,
            path: "/".into(),
            domain: settings.domain.clone(),
            secure: settings.secure,
            same_site: SameSite::Lax,
        }
    }

    /// Clears the `dingtalk_state` cookie once used.
    pub fn clear_state(settings: &CookieSettings) -> Self {
        Self {
            max_age: Duration::ZERO,
            ..Self::state(settings, String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Req(HashMap<&'static str, &'static str>);
    impl RequestParts for Req {
        fn header(&self, name: &str) -> Option<&str> {
            self.0.get(name).copied()
        }
    }
    fn req(h: &[(&'static str, &'static str)]) -> Req {
        Req(h.iter().copied().collect())
    }

    #[test]
    fn origin_rules() {
        let routes = LoginRoutes::default();
        assert!(routes.check_origin(&req(&[("host", "a.test")])).is_ok());
        assert!(routes
            .check_origin(&req(&[("host", "a.test"), ("origin", "http://a.test")]))
            .is_ok());
        assert!(routes
            .check_origin(&req(&[("host", "a.test"), ("origin", "https://a.test")]))
            .is_err());
        assert!(routes
            .check_origin(&req(&[
                ("host", "a.test"),
                ("origin", "https://a.test"),
                ("x-forwarded-proto", "https")
            ]))
            .is_ok());
        assert!(routes
            .check_origin(&req(&[("host", "a.test"), ("origin", "null")]))
            .is_err());
        assert!(routes
            .check_origin(&req(&[("host", "a.test"), ("origin", "http://evil.test")]))
            .is_err());
        let listed = LoginRoutes::default().allowed_origins(["https://app.test/"]);
        assert!(listed
            .check_origin(&req(&[("host", "a.test"), ("origin", "https://app.test")]))
            .is_ok());
        assert!(listed
            .check_origin(&req(&[("host", "a.test"), ("origin", "http://a.test")]))
            .is_err());
        assert!(listed
            .check_origin(&req(&[("origin", "https://app.test.evil")]))
            .is_err());
    }

    #[test]
    fn header_code_wins_over_body() {
        let r = req(&[
            ("x-dingtalk-code", "fromheader"),
            ("content-type", "application/json"),
        ]);
        assert_eq!(
            code_from_post(&r, br#"{"code":"frombody"}"#)
                .unwrap()
                .as_str(),
            "fromheader"
        );
        let form = req(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )]);
        assert_eq!(code_from_post(&form, b"code=abc").unwrap().as_str(), "abc");
    }

    #[test]
    fn state_must_match_its_cookie() {
        let r = req(&[("cookie", "a=1; dingtalk_state=s123")]);
        assert!(code_from_redirect(&r, "code=abc&state=s123").is_ok());
        assert_eq!(
            code_from_redirect(&r, "code=abc&state=other")
                .unwrap_err()
                .code(),
            "invalid_state"
        );
        assert_eq!(
            code_from_redirect(&req(&[]), "code=abc&state=")
                .unwrap_err()
                .code(),
            "invalid_state"
        );
        assert_eq!(
            code_from_redirect(&r, "state=s123").unwrap_err().code(),
            "missing_code"
        );
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let r = req(&[
            ("authorization", "BEARER tok"),
            ("cookie", "dingtalk_session=c"),
        ]);
        assert_eq!(session_token(&r, "dingtalk_session").unwrap(), "tok");
        let c = req(&[("cookie", "dingtalk_session=c")]);
        assert_eq!(session_token(&c, "dingtalk_session").unwrap(), "c");
        assert!(session_token(&req(&[]), "dingtalk_session").is_err());
    }
}
