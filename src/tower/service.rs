//! The login layer: answers the crate's routes, and checks the session of everything else.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use super::{attach, into_response, Head, ResponseFuture};
use crate::error::Error;
use crate::web::{self, LoginRoutes, RouteTable, MAX_BODY_BYTES};
use crate::DingTalkLogin;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies [`DingTalkLoginService`]: answers the crate's routes and checks the session of
/// every other request.
///
/// The routes are listed in [`crate::web`]; their paths and allowed origins come from
/// [`LoginRoutes`]. Paths are matched against the request URI as this layer sees it (inside a
/// nested axum `Router`, without the nest prefix).
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
    shared: Arc<Shared>,
}

/// What every copy of the service reads: one reference count to bump per clone.
#[derive(Debug)]
struct Shared {
    login: DingTalkLogin,
    // Built once: the paths and origins are strings, and matching them allocates nothing.
    routes: RouteTable,
}

impl DingTalkLoginLayer {
    /// The routes at their default paths, allowing the request's own origin.
    pub fn new(login: DingTalkLogin) -> Self {
        Self {
            shared: Arc::new(Shared {
                login,
                routes: RouteTable::new(LoginRoutes::default()),
            }),
        }
    }

    /// Where the routes live and which origins may POST to them. Default
    /// [`LoginRoutes::default`].
    pub fn routes(self, routes: LoginRoutes) -> Self {
        Self {
            shared: Arc::new(Shared {
                login: self.shared.login.clone(),
                routes: RouteTable::new(routes),
            }),
        }
    }
}

impl<S> Layer<S> for DingTalkLoginLayer {
    type Service = DingTalkLoginService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DingTalkLoginService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Answers the crate's routes (see [`DingTalkLoginLayer`]); passes every other request to the
/// inner service with its session checked, for the guards and extractors behind it. It never
/// refuses a passed-on request itself.
///
/// Cloning it costs the inner service's clone and one reference count: axum clones every
/// layer's service once per request.
#[derive(Debug, Clone)]
pub struct DingTalkLoginService<S> {
    inner: S,
    shared: Arc<Shared>,
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

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(route) = self
            .shared
            .routes
            .recognize(req.method().as_str(), req.uri().path())
        else {
            let outcome = web::check_session(&self.shared.login, &Head::of(&req));
            attach(req.extensions_mut(), outcome);
            // Called here, synchronously: the service that was polled ready is the one called,
            // so no clone + `mem::replace` is needed.
            return ResponseFuture::inner(self.inner.call(req));
        };
        // The crate's routes are answered here; the inner service is not called for them.
        let shared = self.shared.clone();
        ResponseFuture::answer(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let head = Head::of_parts(&parts);
            let reply = web::answer(
                &shared.login,
                shared.routes.routes(),
                route,
                &head,
                read_body(body),
            )
            .await;
            into_response(reply)
        }))
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
async fn read_body<B>(body: B) -> Result<Bytes, Error>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => {
            Err(Error::InvalidCode("the request body is too large"))
        }
        Err(_) => Err(Error::InvalidCode("the request body could not be read")),
    }
}
