//! The login routes as a tower service.

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use tower_cookies::{Cookie, Cookies};
use tower_layer::Layer;
use tower_service::Service;

use super::{error_response, json_response, Head, ResponseFuture};
use crate::error::Error;
use crate::web::{self, CookieSpec, LoginRoutes, RequestParts, CODE_HEADER};
use crate::DingTalkLogin;

/// The largest login body read, in bytes. A code is at most 128 bytes; anything much bigger is
/// not a login.
const MAX_BODY: usize = 16 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies [`DingTalkLoginService`]: answers the login routes, passes everything else through.
///
/// The routes (paths from [`LoginRoutes`], defaults shown):
///
/// | route | answer |
/// |---|---|
/// | `POST /auth/dingtalk` (JSON `{"code"}`, form `code=`, or header `X-DingTalk-Code`, which wins) | 200 `{token, token_type, expires_at, user}` + session cookie |
/// | `GET /auth/dingtalk?code&state` | the same, when `state` equals the `dingtalk_state` cookie |
/// | `GET /auth/dingtalk/state` | 200 `{state}` + the `dingtalk_state` cookie |
/// | `POST /auth/logout` | 204; the session is revoked and its cookie cleared |
///
/// A login or logout POST from a foreign `Origin` is refused with 403 `cross_site_request`
/// before its body is read, so the code is not spent. Paths are matched against the request
/// URI as this layer sees it (inside a nested axum `Router`, without the nest prefix).
///
/// ```
/// use dingtalk_login::tower::DingTalkLoginLayer;
/// use dingtalk_login::web::LoginRoutes;
/// use dingtalk_login::DingTalkLogin;
///
/// let login = DingTalkLogin::builder()
///     .app_key("dingxxxxxxxx")
///     .app_secret("app-secret")
///     .session_secret("a session key of at least 32 bytes!")
///     .build()
///     .unwrap();
/// let layer = DingTalkLoginLayer::new(login)
///     .routes(LoginRoutes::default().allowed_origins(["https://app.example.com"]));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct DingTalkLoginLayer {
    login: DingTalkLogin,
    routes: LoginRoutes,
}

impl DingTalkLoginLayer {
    /// The login routes at their default paths, allowing the request's own origin.
    pub fn new(login: DingTalkLogin) -> Self {
        Self {
            login,
            routes: LoginRoutes::default(),
        }
    }

    /// Where the routes live and which origins may POST to them. Default
    /// [`LoginRoutes::default`].
    pub fn routes(mut self, routes: LoginRoutes) -> Self {
        self.routes = routes;
        self
    }
}

impl<S> Layer<S> for DingTalkLoginLayer {
    type Service = DingTalkLoginService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DingTalkLoginService {
            inner,
            login: self.login.clone(),
            routes: self.routes.clone(),
        }
    }
}

/// Answers the login routes (see [`DingTalkLoginLayer`]) and passes every other request to
/// the inner service.
#[derive(Debug, Clone)]
pub struct DingTalkLoginService<S> {
    inner: S,
    login: DingTalkLogin,
    routes: LoginRoutes,
}

impl<S> DingTalkLoginService<S> {
    /// Wraps `inner`, with the routes at their default paths.
    pub fn new(inner: S, login: DingTalkLogin) -> Self {
        DingTalkLoginLayer::new(login).layer(inner)
    }

    /// A [`DingTalkLoginLayer`]; the same as [`DingTalkLoginLayer::new`].
    pub fn layer(login: DingTalkLogin) -> DingTalkLoginLayer {
        DingTalkLoginLayer::new(login)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    PostLogin,
    RedirectLogin,
    State,
    Logout,
}

impl<S> DingTalkLoginService<S> {
    fn route(&self, method: &Method, path: &str) -> Option<Route> {
        let r = &self.routes;
        match *method {
            Method::POST if path == r.login_path() => Some(Route::PostLogin),
            Method::GET if path == r.login_path() => Some(Route::RedirectLogin),
            Method::GET if path == r.state_path() => Some(Route::State),
            Method::POST if path == r.logout_path() => Some(Route::Logout),
            _ => None,
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DingTalkLoginService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(route) = self.route(req.method(), req.uri().path()) else {
            // `inner` is called here, synchronously, so the service that was polled ready is
            // the one called: no clone + `mem::replace` is needed.
            return ResponseFuture::inner(self.inner.call(req));
        };
        // The login routes are answered here; the inner service is not called for them.
        let login = self.login.clone();
        let routes = self.routes.clone();
        ResponseFuture::answer(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let cookies = parts.extensions.get::<Cookies>().cloned();
            let head = Head::new(&parts.uri, &parts.headers);
            let answer = match route {
                Route::PostLogin => post_login(&login, &routes, &head, body).await,
                Route::RedirectLogin => redirect_login(&login, &head, parts.uri.query()).await,
                Route::State => Ok(state(&login)),
                Route::Logout => logout(&login, &routes, &head).await,
            };
            match answer {
                Ok(answer) => answer.into_response(cookies.as_ref()),
                Err(e) => error_response(&e),
            }
        }))
    }
}

/// A successful answer: status, JSON body (none for 204) and cookies to set.
struct Answer {
    status: StatusCode,
    body: Option<serde_json::Value>,
    cookies: Vec<CookieSpec>,
}

impl Answer {
    fn into_response<B: From<String>>(self, jar: Option<&Cookies>) -> Response<B> {
        let mut res = match &self.body {
            Some(body) => json_response(self.status, body),
            None => {
                let mut res = Response::new(B::from(String::new()));
                *res.status_mut() = self.status;
                res
            }
        };
        for spec in &self.cookies {
            set_cookie(jar, &mut res, spec);
        }
        res
    }
}

/// Sets a cookie through tower-cookies when a `CookieManagerLayer` runs in front of us (its
/// response future writes the header), else as a `Set-Cookie` header directly.
fn set_cookie<B>(jar: Option<&Cookies>, res: &mut Response<B>, spec: &CookieSpec) {
    let value = spec.header_value();
    if let Some(jar) = jar {
        // `add` rather than `remove` for clearing: a removal cookie would drop the Secure,
        // HttpOnly and SameSite flags, and the contract clears with the same flags it set.
        if let Ok(cookie) = Cookie::parse(value.clone()) {
            jar.add(cookie);
            return;
        }
    }
    match HeaderValue::from_str(&value) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        Err(_) => tracing::warn!(cookie = %spec.name, "cookie not set: not a valid header value"),
    }
}

async fn post_login<B>(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &Head<'_>,
    body: B,
) -> Result<Answer, Error>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    // Before the body is read: a cross-site POST must not spend the code.
    routes.check_origin(head)?;
    let body = if head.header(CODE_HEADER).is_some() {
        // The header wins; the body need not be read at all.
        Bytes::new()
    } else {
        read_body(body).await?
    };
    let code = web::code_from_post(head, &body)?;
    let session = login.login(&code).await?;
    Ok(logged_in(login, session, Vec::new()))
}

async fn redirect_login(
    login: &DingTalkLogin,
    head: &Head<'_>,
    query: Option<&str>,
) -> Result<Answer, Error> {
    let code = web::code_from_redirect(head, query.unwrap_or(""))?;
    let session = login.login(&code).await?;
    // The state is single use, like the code it protected.
    let clear_state = CookieSpec::clear_state(login.cookie_settings());
    Ok(logged_in(login, session, vec![clear_state]))
}

fn logged_in(login: &DingTalkLogin, session: crate::Login, mut cookies: Vec<CookieSpec>) -> Answer {
    let lifetime = session.expires_at.saturating_sub(session.claims.iat).max(0) as u64;
    let body = session.to_json();
    cookies.push(CookieSpec::session(
        login.cookie_settings(),
        session.token,
        Duration::from_secs(lifetime),
    ));
    Answer {
        status: StatusCode::OK,
        body: Some(body),
        cookies,
    }
}

fn state(login: &DingTalkLogin) -> Answer {
    let state = web::new_state();
    Answer {
        status: StatusCode::OK,
        body: Some(json!({ "state": state })),
        cookies: vec![CookieSpec::state(login.cookie_settings(), state)],
    }
}

async fn logout(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &Head<'_>,
) -> Result<Answer, Error> {
    routes.check_origin(head)?;
    let token = web::session_token(head, &login.cookie_settings().name)?;
    let claims = login.verify(&token)?;
    let clear = vec![CookieSpec::clear_session(login.cookie_settings())];
    match login.logout(&claims).await {
        Ok(()) => {}
        // Revoked here already, but other instances may not know yet: say so, and still
        // clear the cookie (a retry would meet an already-revoked session).
        Err(e @ Error::StoreUnavailable(_)) => {
            return Ok(Answer {
                status: e.status(),
                body: Some(e.body()),
                cookies: clear,
            })
        }
        Err(e) => return Err(e),
    }
    tracing::info!(userid = %claims.sub, "dingtalk logout");
    Ok(Answer {
        status: StatusCode::NO_CONTENT,
        body: None,
        cookies: clear,
    })
}

async fn read_body<B>(body: B) -> Result<Bytes, Error>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => {
            Err(Error::InvalidCode("the request body is too large"))
        }
        Err(_) => Err(Error::InvalidCode("the request body could not be read")),
    }
}
