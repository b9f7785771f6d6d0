//! The crate's HTTP contract, framework-free: which routes exist, how each one answers, the
//! one authorization decision, the one error answer, and the cookies.
//!
//! The tower service and the actix routes only translate: they read the body under
//! `MAX_BODY_BYTES` (16 KiB), hand the request head to this module, and turn the `Reply` it returns
//! into their response type. A route is added here, once, and both frameworks serve it.
//!
//! | route | answer |
//! |---|---|
//! | `POST /auth/dingtalk` (JSON `{"code"}`, form `code=`, or header `X-DingTalk-Code`, which wins) | 200 `{token, token_type, expires_at, user}` + session cookie |
//! | `GET /auth/dingtalk?code&state` | the same, when `state` equals the `dingtalk_state` cookie |
//! | `GET /auth/dingtalk/state` | 200 `{state}` + the `dingtalk_state` cookie |
//! | `POST /auth/logout` | 204; the session is revoked and its cookie cleared |
//! | `GET /auth/dingtalk/jsapi?url=<page url>` | 200 `{agentId, corpId, timeStamp, nonceStr, signature, type: 0}` for `dd.config` ([`crate::jsapi`]) |
//! | `GET /auth/dingtalk/web[?next=PATH]` | 302 to DingTalk's web (QR code) login page + the `dingtalk_web_state` cookie |
//! | `GET /auth/dingtalk/web/callback?authCode&state` | 302 to `next` + session cookie, when `state` matches the cookie's |
//! | `POST /auth/refresh` (a session) | 200 like the login, with the successor token and cookie; the presented session is revoked |
//! | `POST /admin/users/{userid}/revoke` (a super admin's session) | 204; every session of `userid` issued up to now is refused |
//!
//! Paths and allowed origins come from [`LoginRoutes`]. The web login's two paths are fixed:
//! the callback's URL is what the DingTalk developer console is told.

mod authorize;
mod cookies;
mod head;
mod jsapi;
mod lifecycle;
mod limit;
mod reply;
mod weblogin;

use std::future::Future;
use std::num::NonZeroU32;

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::code::AuthCode;
use crate::error::Error;
use crate::login::{DingTalkLogin, Login};
use crate::metrics;

pub(crate) use authorize::{authorize, gate, SessionOutcome};
#[cfg(feature = "actix")]
pub(crate) use head::header_str;
use head::session_token;
pub(crate) use head::RequestHead;
pub(crate) use reply::Reply;

/// The largest request body the login routes read, in bytes. A code is at most 128 bytes;
/// anything much larger is not a login, and is refused before it is read in full.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// How long a login body may take to arrive once its head is in. A stalled client otherwise
/// holds a worker for as long as the server lets its connection live.
pub(crate) const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The header a client may carry the code in; it wins over a body code.
pub(crate) const CODE_HEADER: &str = "x-dingtalk-code";

/// Where the login routes live and which origins may POST to them.
///
/// ```
/// use dingtalk_login::web::LoginRoutes;
///
/// let routes = LoginRoutes::default()
///     .login_path_at("/api/login")
///     .allowed_origins(["https://app.example.com/"]);
/// # let _ = routes;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRoutes {
    login: String,
    state: String,
    logout: String,
    jsapi: String,
    refresh: String,
    revoke_user: String,
    allowed_origins: Option<Vec<String>>,
    rate_limit: Option<limit::LoginRateLimit>,
    trust_forwarded_for: bool,
    #[cfg(feature = "testing")]
    echo: Option<String>,
}

impl Default for LoginRoutes {
    fn default() -> Self {
        Self {
            login: "/auth/dingtalk".into(),
            state: "/auth/dingtalk/state".into(),
            logout: "/auth/logout".into(),
            jsapi: "/auth/dingtalk/jsapi".into(),
            refresh: "/auth/refresh".into(),
            revoke_user: "/admin/users/{userid}/revoke".into(),
            allowed_origins: None,
            rate_limit: None,
            trust_forwarded_for: false,
            #[cfg(feature = "testing")]
            echo: None,
        }
    }
}

impl LoginRoutes {
    /// The login path (POST, and GET for the redirect login). Default `/auth/dingtalk`.
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

    /// The JSAPI signature path (GET). Default `/auth/dingtalk/jsapi`.
    pub fn jsapi_path_at(mut self, path: impl Into<String>) -> Self {
        self.jsapi = path.into();
        self
    }

    /// The session refresh path (POST). Default `/auth/refresh`.
    pub fn refresh_path_at(mut self, path: impl Into<String>) -> Self {
        self.refresh = path.into();
        self
    }

    /// The revoke-a-user path (POST, super admins only). It must contain the segment
    /// `{userid}`. Default `/admin/users/{userid}/revoke`.
    ///
    /// ```
    /// use dingtalk_login::web::LoginRoutes;
    /// let routes = LoginRoutes::default().revoke_user_path_at("/ops/users/{userid}/sign-out");
    /// # let _ = routes;
    /// ```
    pub fn revoke_user_path_at(mut self, path: impl Into<String>) -> Self {
        self.revoke_user = path.into();
        self
    }

    /// The configured allowed origins, without trailing `/`.
    pub(crate) fn allowed_origin_list(&self) -> Option<&[String]> {
        self.allowed_origins.as_deref()
    }

    /// Origins allowed to POST login, logout, refresh and revoke-user, replacing the default
    /// (the request's own origin). Matched exactly, ignoring case; a trailing `/` is tolerated.
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

    /// Limits login attempts to `per_minute` per client (a burst of that many, refilled
    /// evenly over the minute). Over the limit a login answers 429 `too_many_requests` with
    /// `Retry-After`, before its code is read, so it costs no DingTalk call. Off by default.
    ///
    /// The client is the socket peer's address (with axum, serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without a peer address nothing
    /// is limited and a warning is logged once). Behind a reverse proxy every client has the
    /// proxy's address: see [`trust_forwarded_for`](Self::trust_forwarded_for).
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use dingtalk_login::web::LoginRoutes;
    ///
    /// let routes = LoginRoutes::default().login_rate_limit(NonZeroU32::new(10).unwrap());
    /// # let _ = routes;
    /// ```
    pub fn login_rate_limit(mut self, per_minute: NonZeroU32) -> Self {
        self.rate_limit = Some(limit::LoginRateLimit::per_minute(per_minute));
        self
    }

    /// Takes the client's address for the rate limit from the right-most `X-Forwarded-For`
    /// entry (the one your proxy appended) instead of the socket peer. Only set this when
    /// every request comes through a proxy you run, which sets that header: otherwise a client
    /// can pick its own address. Default `false`.
    pub fn trust_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }

    /// Counts one login attempt of the request's client against the rate limit, if any.
    pub(crate) fn check_rate(&self, head: &impl RequestHead) -> Result<(), Error> {
        self.rate_limit
            .as_ref()
            .map_or(Ok(()), |l| l.check(head, self.trust_forwarded_for))
    }

    /// Serves `GET {path}` answering `{"route":"echo","method","query"}`: a route that exists
    /// only to show that a route added to the core is served by every adapter.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn test_echo_at(mut self, path: impl Into<String>) -> Self {
        self.echo = Some(path.into());
        self
    }

    /// Every route the crate answers: (method, path, route). The actix adapter registers each
    /// one; the tower service matches requests against them through a [`RouteTable`].
    pub(crate) fn table(&self) -> Vec<(&'static str, &str, Route)> {
        #[allow(unused_mut)]
        let mut table = vec![
            ("POST", self.login.as_str(), Route::Login),
            ("GET", self.login.as_str(), Route::RedirectLogin),
            ("GET", self.state.as_str(), Route::State),
            ("POST", self.logout.as_str(), Route::Logout),
            ("GET", self.jsapi.as_str(), Route::Jsapi),
            ("GET", weblogin::WEB_LOGIN_PATH, Route::WebLogin),
            ("GET", weblogin::WEB_CALLBACK_PATH, Route::WebCallback),
            ("POST", self.refresh.as_str(), Route::Refresh),
            ("POST", self.revoke_user.as_str(), Route::RevokeUser),
        ];
        #[cfg(feature = "testing")]
        if let Some(echo) = &self.echo {
            table.push(("GET", echo.as_str(), Route::Echo));
        }
        table
    }

    /// Refuses a POST whose `Origin` is not allowed ([`Error::CrossSiteRequest`]).
    ///
    /// No `Origin` is allowed (non-browser clients send none; browsers always send one on a
    /// cross-site POST). `Origin: null` is foreign. The default allowed origin is the request's
    /// own: its scheme (`X-Forwarded-Proto`, else the URI's, else `http`) and `Host`. The
    /// configured public URL's origin (`public`) is always allowed too, so an app behind a TLS
    /// terminator that sends no `X-Forwarded-Proto` still accepts its own https pages.
    pub(crate) fn check_origin(
        &self,
        req: &impl RequestHead,
        public: Option<&str>,
    ) -> Result<(), Error> {
        let Some(origin) = req.header("origin") else {
            return Ok(());
        };
        let origin = origin.trim().trim_end_matches('/');
        let listed = match &self.allowed_origins {
            Some(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            None => own_origin(req).is_some_and(|own| own.eq_ignore_ascii_case(origin)),
        };
        let allowed = listed || public.is_some_and(|p| p.eq_ignore_ascii_case(origin));
        if allowed && origin != "null" {
            Ok(())
        } else {
            Err(Error::CrossSiteRequest)
        }
    }
}

/// [`LoginRoutes::table`], built once, so that matching a request against it allocates
/// nothing: the tower service asks it about every request it sees.
#[derive(Debug)]
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) struct RouteTable {
    routes: LoginRoutes,
    // What every route's path begins with (`/a` for the defaults, `/auth/…` and
    // `/admin/users/…`): most requests are for none of the routes, and fail this one test.
    common_prefix: Box<str>,
    table: Box<[(&'static str, Pattern, Route)]>,
}

#[cfg_attr(not(feature = "tower"), allow(dead_code))]
impl RouteTable {
    pub(crate) fn new(routes: LoginRoutes) -> Self {
        let entries = routes.table();
        let mut common_prefix = entries.first().map_or("", |(_, path, _)| *path);
        for (_, path, _) in &entries {
            let shared = common_prefix
                .char_indices()
                .zip(path.chars())
                .find(|((_, a), b)| a != b)
                .map_or(common_prefix.len().min(path.len()), |((i, _), _)| i);
            common_prefix = &common_prefix[..shared];
        }
        // A `{param}` matches any segment: the prefix stops before one.
        let common_prefix = common_prefix.split('{').next().unwrap_or_default().into();
        let table = entries
            .into_iter()
            .map(|(method, path, route)| (method, Pattern::new(path), route))
            .collect();
        Self {
            routes,
            common_prefix,
            table,
        }
    }

    /// The routes this table was built from.
    pub(crate) fn routes(&self) -> &LoginRoutes {
        &self.routes
    }

    /// The route a request is for, if the crate answers it.
    pub(crate) fn recognize(&self, method: &str, path: &str) -> Option<Route> {
        if !path.starts_with(&*self.common_prefix) {
            return None;
        }
        self.table
            .iter()
            .find(|(m, pattern, _)| *m == method && pattern.matches(path))
            .map(|(_, _, route)| *route)
    }
}

/// A route path, with whether it has a `{param}` segment decided once.
#[derive(Debug)]
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
enum Pattern {
    /// No `{param}`: the path itself.
    Exact(Box<str>),
    /// Matched segment by segment with [`path_param`].
    Param(Box<str>),
}

#[cfg_attr(not(feature = "tower"), allow(dead_code))]
impl Pattern {
    fn new(pattern: &str) -> Self {
        if pattern.contains('{') {
            Self::Param(pattern.into())
        } else {
            Self::Exact(pattern.into())
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => **exact == *path,
            Self::Param(pattern) => path_param(pattern, path).is_some(),
        }
    }
}

/// Whether `path` matches the route `pattern`, where a segment `{name}` stands for any one
/// non-empty segment (as in actix and axum): `Some` with that segment (raw, not decoded), or
/// `Some("")` for a pattern without one.
pub(crate) fn path_param<'p>(pattern: &str, path: &'p str) -> Option<&'p str> {
    if !pattern.contains('{') {
        return (pattern == path).then_some("");
    }
    let mut param = "";
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(param),
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') && !h.is_empty() => {
                param = h;
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return None,
        }
    }
}

fn own_origin(req: &impl RequestHead) -> Option<String> {
    let host = req.header("host")?.trim();
    let scheme = req
        .header("x-forwarded-proto")
        .map(|p| p.split(',').next().unwrap_or(p).trim())
        .or(req.scheme())
        .unwrap_or("http");
    Some(format!("{scheme}://{host}"))
}

/// A route the crate answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Login,
    RedirectLogin,
    State,
    Logout,
    Jsapi,
    WebLogin,
    WebCallback,
    Refresh,
    RevokeUser,
    #[cfg(feature = "testing")]
    Echo,
}

/// Answers `route` for the request `head`. `body` reads the request body under
/// `MAX_BODY_BYTES` (16 KiB); it is awaited only by a route that needs the body, and only after the
/// checks that must come first (a cross-site login must not spend its code).
pub(crate) async fn answer<H, B>(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    route: Route,
    head: &H,
    body: B,
) -> Reply
where
    H: RequestHead,
    B: Future<Output = Result<Bytes, Error>>,
{
    let answered = match route {
        // One count and one span per attempt, refusals before the exchange included.
        Route::Login => metrics::observe_login("code", post_login(login, routes, head, body)).await,
        Route::RedirectLogin => return redirect_login(login, routes, head).await,
        Route::State => Ok(state(login)),
        Route::Logout => return logout(login, routes, head).await,
        Route::Jsapi => jsapi::jsapi_config(login, routes, head).await,
        Route::WebLogin => return weblogin::start(login, head),
        Route::WebCallback => return weblogin::callback(login, routes, head).await,
        Route::Refresh => return lifecycle::refresh(login, routes, head).await,
        Route::RevokeUser => lifecycle::revoke_user(login, routes, head).await,
        #[cfg(feature = "testing")]
        Route::Echo => Ok(Reply::json(
            StatusCode::OK,
            &json!({ "route": "echo", "method": head.method(), "query": head.query() }),
        )),
    };
    answered.unwrap_or_else(|e| Reply::error(&e))
}

async fn post_login<B>(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
    body: B,
) -> Result<Reply, Error>
where
    B: Future<Output = Result<Bytes, Error>>,
{
    // Before the body is read: a cross-site POST must not spend the code.
    routes.check_origin(head, login.public_origin())?;
    routes.check_rate(head)?;
    let code = if let Some(code) = head.header(CODE_HEADER) {
        // The header wins; the body need not be read at all.
        AuthCode::parse(code.trim())?
    } else {
        let body = tokio::time::timeout(BODY_READ_TIMEOUT, body)
            .await
            .map_err(|_| Error::RequestTimeout)??;
        code_from_body(head, &body)?
    };
    let session = login.exchange(&code).await?;
    Ok(logged_in(login, session))
}

/// The code of a login POST body: a form when it says so, else JSON.
fn code_from_body(head: &impl RequestHead, body: &[u8]) -> Result<AuthCode, Error> {
    let form = head.header("content-type").is_some_and(|ct| {
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

/// The redirect login: its attempt counted and spanned like a POST's, and the state cookie
/// cleared whatever the outcome after the state check.
async fn redirect_login(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Reply {
    let clear_state = || cookies::clear_state(login.cookie_settings(), cookies::STATE_COOKIE);
    match metrics::observe_login("code", redirect_exchange(login, routes, head)).await {
        Ok(session) => logged_in(login, session).with_cookie(clear_state()),
        // Refused before the state was checked: the state is still unused.
        Err(e @ (Error::TooManyRequests { .. } | Error::InvalidState)) => Reply::error(&e),
        Err(e) => Reply::error(&e).with_cookie(clear_state()),
    }
}

async fn redirect_exchange(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Result<Login, Error> {
    routes.check_rate(head)?;
    let query = head.query().unwrap_or("");
    // The state first, so a forged request spends no code.
    let state = crate::code::form_value(query.as_bytes(), "state");
    let cookie = head.cookie(cookies::STATE_COOKIE);
    let matches = match (state, cookie) {
        (Some(s), Some(c)) if !s.is_empty() => s.as_bytes().ct_eq(c.as_bytes()).into(),
        _ => false,
    };
    if !matches {
        return Err(Error::InvalidState);
    }
    // The state is single use, like the code it protected: cleared (by the caller) whether
    // the login works or not, so a failed attempt starts again from a fresh state.
    let code = AuthCode::from_form(query.as_bytes())?;
    login.exchange(&code).await
}

/// 200 with the login JSON and the session cookie, living as long as the token.
fn logged_in(login: &DingTalkLogin, session: Login) -> Reply {
    let cookie = logged_in_cookie(login, &session);
    Reply::json(StatusCode::OK, &session.to_json()).with_cookie(cookie)
}

/// The session cookie of a login, living as long as its token.
fn logged_in_cookie(login: &DingTalkLogin, session: &Login) -> cookie::Cookie<'static> {
    let lifetime = session.expires_at.saturating_sub(session.claims.iat).max(0) as u64;
    cookies::session(
        login.cookie_settings(),
        session.token.clone(),
        std::time::Duration::from_secs(lifetime),
    )
}

/// The request's session token (the Bearer header, else the cookie), verified.
fn verified_session(login: &DingTalkLogin, head: &impl RequestHead) -> SessionOutcome {
    session_token(head, &login.cookie_settings().name).and_then(|token| login.verify(&token))
}

/// The session of a request the crate does not answer itself, for the guards and extractors:
/// the Bearer token, else the session cookie, verified.
///
/// With [`redirect_html_to_web_login`](crate::ConfigBuilder::redirect_html_to_web_login) on
/// and web login configured, a `GET` page navigation (`Accept` prefers `text/html`) without a
/// valid session is [`Error::LoginRequired`]: whoever would answer 401 answers 302 to the web
/// login instead, with the page as `next`.
pub(crate) fn check_session(login: &DingTalkLogin, head: &impl RequestHead) -> SessionOutcome {
    match verified_session(login, head) {
        Err(Error::Unauthenticated(why))
            if login.web().redirect_html
                && login.web().configured().is_some()
                && head.method() == "GET"
                && head::prefers_html(head) =>
        {
            Err(Error::LoginRequired {
                why,
                location: weblogin::login_redirect(head.path_and_query()),
            })
        }
        outcome => outcome,
    }
}

fn state(login: &DingTalkLogin) -> Reply {
    let state = new_state();
    let cookie = cookies::state(
        login.cookie_settings(),
        cookies::STATE_COOKIE,
        state.clone(),
    );
    Reply::json(StatusCode::OK, &json!({ "state": state })).with_cookie(cookie)
}

/// A fresh random `state`: 32 URL-safe characters (192 bits).
fn new_state() -> String {
    use base64::Engine;
    use rand::Rng;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 24]>())
}

async fn logout(login: &DingTalkLogin, routes: &LoginRoutes, head: &impl RequestHead) -> Reply {
    let claims = match routes
        .check_origin(head, login.public_origin())
        .and_then(|()| verified_session(login, head))
    {
        Ok(claims) => claims,
        Err(e) => return Reply::error(&e),
    };
    let clear = cookies::clear_session(login.cookie_settings());
    match login.logout(&claims).await {
        Ok(()) => {
            tracing::info!(userid = %claims.sub.escape_debug(), "dingtalk logout");
            Reply::empty(StatusCode::NO_CONTENT).with_cookie(clear)
        }
        // Revoked here already, but other instances may not know yet: say so, and still clear
        // the cookie (a retry would meet an already-revoked session).
        Err(e @ Error::StoreUnavailable(_)) => Reply::error(&e).with_cookie(clear),
        Err(e) => Reply::error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::head::tests::head;
    use super::*;

    impl LoginRoutes {
        fn check_origin_default(&self, req: &impl RequestHead) -> Result<(), Error> {
            self.check_origin(req, None)
        }
    }

    #[test]
    fn the_public_origin_is_allowed_besides_the_own() {
        let routes = LoginRoutes::default();
        let https_page = head(&[("host", "a.test"), ("origin", "https://a.test")]);
        assert!(routes.check_origin(&https_page, None).is_err());
        assert!(routes
            .check_origin(&https_page, Some("https://a.test"))
            .is_ok());
        let own = head(&[("host", "a.test"), ("origin", "http://a.test")]);
        assert!(routes.check_origin(&own, Some("https://a.test")).is_ok());
        let evil = head(&[("host", "a.test"), ("origin", "https://evil.test")]);
        assert!(routes.check_origin(&evil, Some("https://a.test")).is_err());
    }

    #[test]
    fn origin_rules() {
        let routes = LoginRoutes::default();
        assert!(routes
            .check_origin_default(&head(&[("host", "a.test")]))
            .is_ok());
        assert!(routes
            .check_origin_default(&head(&[("host", "a.test"), ("origin", "http://a.test")]))
            .is_ok());
        assert!(routes
            .check_origin_default(&head(&[("host", "a.test"), ("origin", "https://a.test")]))
            .is_err());
        assert!(routes
            .check_origin_default(&head(&[
                ("host", "a.test"),
                ("origin", "https://a.test"),
                ("x-forwarded-proto", "https")
            ]))
            .is_ok());
        assert!(routes
            .check_origin_default(&head(&[("host", "a.test"), ("origin", "null")]))
            .is_err());
        let listed = LoginRoutes::default().allowed_origins(["https://app.test/"]);
        assert!(listed
            .check_origin_default(&head(&[("host", "a.test"), ("origin", "https://app.test")]))
            .is_ok());
        assert!(listed
            .check_origin_default(&head(&[("origin", "https://app.test.evil")]))
            .is_err());
    }

    #[test]
    fn routes_are_recognized_by_method_and_path() {
        let routes = RouteTable::new(LoginRoutes::default());
        assert_eq!(
            routes.recognize("POST", "/auth/dingtalk"),
            Some(Route::Login)
        );
        assert_eq!(
            routes.recognize("GET", "/auth/dingtalk"),
            Some(Route::RedirectLogin)
        );
        assert_eq!(routes.recognize("PUT", "/auth/dingtalk"), None);
        assert_eq!(routes.recognize("GET", "/auth/logout"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_login_body_times_out_without_an_upstream_call() {
        // No fake is needed: a login that reached DingTalk would fail on the unroutable URL
        // with an upstream error, not with 408.
        let login = DingTalkLogin::builder()
            .app_key("k")
            .app_secret("s")
            .oapi_url("http://127.0.0.1:9")
            .session_secret("a session key of at least 32 bytes!!")
            .build()
            .unwrap();
        let routes = LoginRoutes::default();
        let mut post = head(&[("content-type", "application/json")]);
        post.method = "POST";
        let stalled = std::future::pending::<Result<Bytes, Error>>();
        // Paused time: the minute passes at once, and a missing timeout fails, not hangs.
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            answer(&login, &routes, Route::Login, &post, stalled),
        )
        .await
        .expect("a stalled body is answered, not waited for forever");
        assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
        assert!(reply.body.contains("request_timeout"), "{}", reply.body);
    }

    #[test]
    fn path_patterns_match_one_segment_per_parameter() {
        let p = "/admin/users/{userid}/revoke";
        assert_eq!(path_param(p, "/admin/users/u-1/revoke"), Some("u-1"));
        assert_eq!(path_param(p, "/admin/users/a%20b/revoke"), Some("a%20b"));
        for no in [
            "/admin/users//revoke",
            "/admin/users/a/b/revoke",
            "/admin/users/u-1",
            "/admin/users/u-1/revoke/",
            "/admin/users/by-mobile/1",
        ] {
            assert_eq!(path_param(p, no), None, "{no}");
        }
        assert_eq!(path_param("/auth/refresh", "/auth/refresh"), Some(""));
        assert_eq!(path_param("/auth/refresh", "/auth/refresh/"), None);
        let routes = RouteTable::new(LoginRoutes::default());
        assert_eq!(
            routes.recognize("POST", "/admin/users/x/revoke"),
            Some(Route::RevokeUser)
        );
        assert_eq!(routes.recognize("GET", "/admin/users/x/revoke"), None);
        assert_eq!(
            routes.recognize("POST", "/auth/refresh"),
            Some(Route::Refresh)
        );
    }

    #[test]
    fn the_common_prefix_lets_no_route_by() {
        let table = RouteTable::new(LoginRoutes::default());
        assert_eq!(&*table.common_prefix, "/a");
        // Routes that share nothing but `/`, and a parameter right after it.
        let routes = LoginRoutes::default()
            .login_path_at("/login")
            .revoke_user_path_at("/{userid}/revoke");
        let table = RouteTable::new(routes);
        assert_eq!(&*table.common_prefix, "/");
        assert_eq!(table.recognize("POST", "/login"), Some(Route::Login));
        assert_eq!(
            table.recognize("POST", "/u-1/revoke"),
            Some(Route::RevokeUser)
        );
        assert_eq!(table.recognize("GET", "/healthz"), None);
    }

    #[test]
    fn form_and_json_bodies() {
        let form = head(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )]);
        assert_eq!(code_from_body(&form, b"code=abc").unwrap().as_str(), "abc");
        let json = head(&[("content-type", "application/json")]);
        assert_eq!(
            code_from_body(&json, br#"{"code":"xyz"}"#)
                .unwrap()
                .as_str(),
            "xyz"
        );
    }
}
