//! The fake DingTalk server: its handle, its builder, and the HTTP plumbing that routes each
//! request to an endpoint handler.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::contact;
use super::employee::{self, FakeEmployee, FakeEmployees};
use super::endpoint::Endpoint;
use super::failure::{Effect, Failure};
use super::isv::{self, FakeSuite};
use super::jsapi;
use super::oapi::{self, Params, Reply};
use super::quirks::Quirks;
use super::state::{Directory, State, TokenRejection};
use super::top::{self, FakeAccount, FakeTop};
use super::users::FakeUser;
use super::weblogin::{self, Relation};
use crate::clock::{Clock, SystemClock};

/// The largest request body the fake reads; DingTalk's requests are tiny.
const MAX_BODY: usize = 1 << 20;

/// A fake DingTalk server running in this process, on `127.0.0.1` and a free port.
///
/// It answers `gettoken`, `getuserinfo` and `getbymobile` with DingTalk's real semantics
/// (single-use login codes valid for five minutes, one shared access token renewed on each
/// `gettoken`, the real errcodes), plus an ISV's `get_corp_token`, the TOP router and the
/// employee-info service (see the [module docs](super)), and lets a test expire tokens, inject
/// failures, switch on DingTalk's JSON quirks and count calls. Lifetimes are measured with the
/// builder's [`Clock`], so a [`ManualClock`](crate::clock::ManualClock) can expire codes and
/// tokens.
///
/// The server stops when this handle is dropped. See the [module docs](super) for an example.
pub struct FakeDingTalk {
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    app_key: String,
    app_secret: String,
    server: JoinHandle<()>,
}

// The state holds live codes, tokens and tickets: a test that prints the fake must not
// teach anyone to print the real thing's.
impl fmt::Debug for FakeDingTalk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDingTalk")
            .field("addr", &self.addr)
            .field("app_key", &self.app_key)
            .finish_non_exhaustive()
    }
}

impl FakeDingTalk {
    /// Starts a fake with the default settings and no users; the same as
    /// `FakeDingTalk::builder().start()`.
    ///
    /// # Panics
    ///
    /// If it cannot bind a port on `127.0.0.1`, or is called outside a Tokio runtime.
    pub async fn start() -> FakeDingTalk {
        Self::builder().start().await
    }

    /// A builder, to set the app credentials, token lifetime, clock and users.
    pub fn builder() -> FakeDingTalkBuilder {
        FakeDingTalkBuilder::default()
    }

    /// The base URL to point a DingTalk client at: `http://127.0.0.1:PORT`, without a
    /// trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `appkey` `gettoken` accepts.
    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    /// The `appsecret` `gettoken` accepts.
    pub fn app_secret(&self) -> &str {
        &self.app_secret
    }

    /// Adds a user, replacing any user with the same `userid`.
    pub fn add_user(&self, user: FakeUser) {
        self.lock().add_user(user);
    }

    /// Changes a user's admin level from now on, as when an admin promotes or demotes them in
    /// DingTalk: `sys_level` becomes `level` (1 super admin, 2 sub admin, 100 boss, 0 other)
    /// and `sys` follows (true for 1 and 2). `listadmin`, `user/get` and later login codes
    /// answer the new level; sessions already issued keep theirs until they are refreshed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use dingtalk_login::testing::{FakeDingTalk, FakeUser};
    ///
    /// let fake = FakeDingTalk::builder().user(FakeUser::new("staff", "Li Si")).start().await;
    /// fake.set_level("staff", 2); // promoted to sub admin
    /// fake.set_level("staff", 0); // and back
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If there is no user with this `userid`: a test that changes nobody is wrong.
    pub fn set_level(&self, userid: &str, level: i64) {
        if !self.lock().set_level(userid, level) {
            panic!("FakeDingTalk::set_level: no user {userid:?}; add it with `add_user` first");
        }
    }

    /// Removes a user, as when an employee leaves the organisation: `user/get` answers errcode
    /// 60121 for them, `listadmin` no longer lists them, and codes minted for them before are
    /// refused. Returns whether the user existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use dingtalk_login::testing::{FakeDingTalk, FakeUser};
    ///
    /// let fake = FakeDingTalk::builder().user(FakeUser::new("staff", "Li Si")).start().await;
    /// assert!(fake.remove_user("staff"));
    /// assert!(!fake.remove_user("staff"));
    /// # }
    /// ```
    pub fn remove_user(&self, userid: &str) -> bool {
        self.lock().remove_user(userid)
    }

    /// The TOP router URL to point a TOP client at: `http://127.0.0.1:PORT/router/rest`.
    pub fn top_gateway_url(&self) -> String {
        format!("{}/router/rest", self.url())
    }

    /// The `app_key` the TOP router accepts.
    pub fn top_app_key(&self) -> String {
        self.lock().top.app_key.clone()
    }

    /// The secret the TOP router checks every `sign` with.
    pub fn top_app_secret(&self) -> String {
        self.lock().top.app_secret.clone()
    }

    /// Adds a TOP account, replacing one with the same `account_id` and `namespace`.
    pub fn add_account(&self, account: FakeAccount) {
        self.lock().top.add_account(account);
    }

    /// The `corpId` the employee-info service accepts. Its base URL is [`Self::url`].
    pub fn employee_corp_id(&self) -> String {
        self.lock().employees.corp_id.clone()
    }

    /// Adds an employee, replacing one with the same `userid`.
    pub fn add_employee(&self, employee: FakeEmployee) {
        self.lock().employees.add(employee);
    }

    /// The ISV suite `get_corp_token` checks against.
    pub fn suite(&self) -> FakeSuite {
        self.lock().suite.clone()
    }

    /// "Pushes" a new suite ticket: from now on only it is accepted (853005 for the old one).
    pub fn set_suite_ticket(&self, ticket: impl Into<String>) {
        self.lock().suite.suite_ticket = ticket.into();
    }

    /// Mints a login code for `userid`, as DingTalk's JSAPI would hand the browser: 32
    /// characters of `[A-Za-z0-9]`, redeemable once with `getuserinfo`, within five minutes
    /// of now by the fake's clock.
    ///
    /// # Panics
    ///
    /// If no user with this `userid` was added: a test that mints a code for nobody is wrong.
    pub fn mint_code(&self, userid: &str) -> String {
        let code = self.lock().mint_code(userid);
        code.unwrap_or_else(|| {
            panic!("FakeDingTalk::mint_code: no user {userid:?}; add it with `add_user` first")
        })
    }

    /// Mints a web (QR code) login's `authCode` for `userid`, as DingTalk's login page hands
    /// the browser when that person signs in: redeemable once with `userAccessToken`, within
    /// five minutes of now by the fake's clock. `userid` may be an employee, an external
    /// contact or an outsider.
    ///
    /// # Panics
    ///
    /// If the fake knows nobody with this `userid`.
    pub fn mint_web_code(&self, userid: &str) -> String {
        let code = self.lock().mint_web_code(userid);
        code.unwrap_or_else(|| {
            panic!("FakeDingTalk::mint_web_code: no account {userid:?}; add it first")
        })
    }

    /// Adds an external contact of the organisation: they can sign in on the web login page,
    /// and `getbyunionid` reports them with `contact_type` 1.
    pub fn add_external_contact(&self, user: FakeUser) {
        self.lock().web.add(user, Relation::ExternalContact);
    }

    /// Adds a DingTalk account the organisation does not know: it can sign in on the web
    /// login page, and `getbyunionid` answers 60121 for it.
    pub fn add_outsider(&self, user: FakeUser) {
        self.lock().web.add(user, Relation::Outsider);
    }

    /// The `corpId` `userAccessToken` reports.
    pub fn corp_id(&self) -> &'static str {
        weblogin::FAKE_CORP_ID
    }

    /// The access token `gettoken` would hand out now, or `None` if it would mint a new one
    /// (none issued yet, or the last one expired or was invalidated).
    pub fn current_token(&self) -> Option<String> {
        self.lock().current_token()
    }

    /// Expires the current access token: calls made with it now answer errcode 42001
    /// (`access_token超时`), and the next `gettoken` mints a new one.
    pub fn expire_token(&self) {
        self.lock().retire_token(TokenRejection::Expired);
    }

    /// Invalidates the current access token: calls made with it now answer errcode 40014
    /// (`不合法的access_token`), and the next `gettoken` mints a new one.
    pub fn invalidate_token(&self) {
        self.lock().retire_token(TokenRejection::Invalid);
    }

    /// The JSAPI ticket a page's `dd.config` signature must be made with now: the one handed
    /// out last, while it lives. Each ticket fetch replaces it, as at DingTalk.
    pub fn current_jsapi_ticket(&self) -> Option<String> {
        self.lock().current_jsapi_ticket()
    }

    /// Expires the current JSAPI ticket: signatures made with it no longer match, and the
    /// next ticket fetch mints a new one.
    pub fn expire_jsapi_ticket(&self) {
        self.lock().expire_jsapi_ticket();
    }

    /// Makes the next `times` calls to `endpoint` fail with `failure`, after any failures
    /// already queued for it. `usize::MAX` means every call from now on (until
    /// [`clear_failures`](Self::clear_failures)); `0` queues nothing.
    ///
    /// Injected failures replace the real handling, so they change no state: a login code
    /// sent in a failed call is not used up. [`Failure::Delay`] is the exception: after the
    /// delay the call is handled normally.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use dingtalk_login::testing::{Endpoint, FakeDingTalk, Failure};
    ///
    /// let fake = FakeDingTalk::start().await;
    /// // DingTalk is busy twice, then rate-limits once, then answers.
    /// fake.fail_next(Endpoint::GetToken, 2, Failure::Busy);
    /// fake.fail_next(Endpoint::GetToken, 1, Failure::Errcode(90018));
    /// # }
    /// ```
    pub fn fail_next(&self, endpoint: Endpoint, times: usize, failure: Failure) {
        self.lock().failures_mut().push(endpoint, times, failure);
    }

    /// Forgets every queued failure, on every endpoint.
    pub fn clear_failures(&self) {
        self.lock().failures_mut().clear();
    }

    /// Switches DingTalk's JSON quirks on or off for the answers sent from now on.
    pub fn set_quirks(&self, quirks: Quirks) {
        self.lock().set_quirks(quirks);
    }

    /// How many requests arrived on `endpoint`, including those answered with an injected
    /// failure or an error.
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        self.lock().calls(endpoint)
    }

    /// How many requests arrived in all, including those for paths the fake does not serve.
    pub fn total_calls(&self) -> usize {
        self.lock().total_calls()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FakeDingTalk {
    fn drop(&mut self) {
        // Aborting the accept task drops the listener and the `JoinSet` of connections, which
        // aborts them too: nothing of the server outlives the handle.
        self.server.abort();
    }
}

/// Configures a [`FakeDingTalk`] before it starts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use dingtalk_login::clock::ManualClock;
/// use dingtalk_login::testing::{FakeDingTalk, FakeUser};
///
/// let clock = ManualClock::new(1_700_000_000);
/// let fake = FakeDingTalk::builder()
///     .app_key("my-key")
///     .app_secret("my-secret")
///     .token_ttl(Duration::from_secs(600))
///     .clock(clock.clone())
///     .user(FakeUser::new("u-1", "Zhang San").boss())
///     .start()
///     .await;
/// assert_eq!(fake.app_key(), "my-key");
/// # }
/// ```
#[derive(Debug)]
pub struct FakeDingTalkBuilder {
    app_key: String,
    app_secret: String,
    token_ttl: Duration,
    clock: Arc<dyn Clock>,
    users: Vec<FakeUser>,
    top_app_key: String,
    top_app_secret: String,
    accounts: Vec<FakeAccount>,
    employee_corp_id: String,
    employees: Vec<FakeEmployee>,
    suite: FakeSuite,
    jsapi_ticket_ttl: Option<Duration>,
    others: Vec<(FakeUser, Relation)>,
}

impl Default for FakeDingTalkBuilder {
    fn default() -> Self {
        Self {
            app_key: "fake-app-key".to_owned(),
            app_secret: "fake-app-secret".to_owned(),
            token_ttl: Duration::from_secs(7200),
            clock: Arc::new(SystemClock),
            users: Vec::new(),
            top_app_key: "fake-top-app-key".to_owned(),
            top_app_secret: "fake-top-app-secret".to_owned(),
            accounts: Vec::new(),
            employee_corp_id: "wx-fake-corp".to_owned(),
            employees: Vec::new(),
            suite: FakeSuite::default(),
            jsapi_ticket_ttl: None,
            others: Vec::new(),
        }
    }
}

impl FakeDingTalkBuilder {
    /// The `appkey` `gettoken` accepts. Default: `"fake-app-key"`.
    pub fn app_key(mut self, app_key: impl Into<String>) -> Self {
        self.app_key = app_key.into();
        self
    }

    /// The `appsecret` `gettoken` accepts. Default: `"fake-app-secret"`.
    pub fn app_secret(mut self, app_secret: impl Into<String>) -> Self {
        self.app_secret = app_secret.into();
        self
    }

    /// How long an access token lives, reported as `expires_in` (whole seconds) and enforced
    /// with the clock. Default: 7200 seconds, as DingTalk.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// How long a JSAPI ticket lives, reported as `expires_in`/`expireIn`. Default: the
    /// access token's lifetime.
    pub fn jsapi_ticket_ttl(mut self, ttl: Duration) -> Self {
        self.jsapi_ticket_ttl = Some(ttl);
        self
    }

    /// The clock that measures code and token lifetimes. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds a user; call it once per user. A later user with the same `userid` replaces the
    /// earlier one.
    pub fn user(mut self, user: FakeUser) -> Self {
        self.users.push(user);
        self
    }

    /// Adds an external contact (see [`FakeDingTalk::add_external_contact`]).
    pub fn external_contact(mut self, user: FakeUser) -> Self {
        self.others.push((user, Relation::ExternalContact));
        self
    }

    /// Adds an account the organisation does not know (see [`FakeDingTalk::add_outsider`]).
    pub fn outsider(mut self, user: FakeUser) -> Self {
        self.others.push((user, Relation::Outsider));
        self
    }

    /// The TOP app the router accepts: its `app_key`, and the secret every `sign` is checked
    /// with. Default: `"fake-top-app-key"` and `"fake-top-app-secret"`.
    pub fn top_app(mut self, app_key: impl Into<String>, app_secret: impl Into<String>) -> Self {
        self.top_app_key = app_key.into();
        self.top_app_secret = app_secret.into();
        self
    }

    /// Adds an account the TOP router's `alibaba.dc.uc.inner.user.by.account.get` finds.
    pub fn account(mut self, account: FakeAccount) -> Self {
        self.accounts.push(account);
        self
    }

    /// The `corpId` the employee-info service accepts. Default: `"wx-fake-corp"`.
    pub fn employee_corp_id(mut self, corp_id: impl Into<String>) -> Self {
        self.employee_corp_id = corp_id.into();
        self
    }

    /// Adds an employee the employee-info service knows.
    pub fn employee(mut self, employee: FakeEmployee) -> Self {
        self.employees.push(employee);
        self
    }

    /// The ISV suite `get_corp_token` checks against. Default: [`FakeSuite::default`].
    pub fn suite(mut self, suite: FakeSuite) -> Self {
        self.suite = suite;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving in a background task.
    ///
    /// # Panics
    ///
    /// If it cannot bind a port on `127.0.0.1`, or is called outside a Tokio runtime.
    pub async fn start(self) -> FakeDingTalk {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("FakeDingTalk: cannot bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("FakeDingTalk: the bound listener has no local address");
        let mut top = FakeTop {
            app_key: self.top_app_key,
            app_secret: self.top_app_secret,
            accounts: Vec::new(),
        };
        self.accounts.into_iter().for_each(|a| top.add_account(a));
        let mut employees = FakeEmployees {
            corp_id: self.employee_corp_id,
            employees: Default::default(),
        };
        self.employees.into_iter().for_each(|e| employees.add(e));
        let directory = Directory {
            top,
            employees,
            suite: self.suite,
        };
        let mut state = State::new(
            self.app_key.clone(),
            self.app_secret.clone(),
            self.token_ttl,
            self.clock,
            self.users,
            directory,
        );
        if let Some(ttl) = self.jsapi_ticket_ttl {
            state.set_jsapi_ticket_ttl(ttl);
        }
        for (user, relation) in self.others {
            state.web.add(user, relation);
        }
        let state = Arc::new(Mutex::new(state));
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        tracing::debug!(%addr, "fake DingTalk listening");
        FakeDingTalk {
            state,
            addr,
            app_key: self.app_key,
            app_secret: self.app_secret,
            server,
        }
    }
}

/// Accepts connections until aborted; each connection is served in a task of `connections`,
/// so they all end when this task does.
async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set does not grow over a long test.
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(serve_connection(stream, Arc::clone(&state)));
            }
            Err(error) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(%error, "fake DingTalk: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let service = service_fn(move |request| handle(Arc::clone(&state), request));
    if let Err(error) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%error, "fake DingTalk: connection ended");
    }
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected failure: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

/// Serves one request: count it, inject a planned failure, else route it to its handler.
async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let endpoint = Endpoint::route(&parts.method, parts.uri.path());
    // The path only: the query carries the app secret and access tokens.
    tracing::debug!(
        method = %parts.method,
        path = parts.uri.path(),
        ?endpoint,
        "fake DingTalk request"
    );

    let (failure, quirks) = {
        let mut state = lock(&state);
        (state.record_call(endpoint), state.quirks())
    };
    let Some(endpoint) = endpoint else {
        let body = json!({ "errcode": 404, "errmsg": "not found" });
        let reply = Reply::Json {
            status: StatusCode::NOT_FOUND,
            body,
        };
        return Ok(response(reply, Quirks::default()));
    };
    match failure.as_ref().map(Failure::effect) {
        None => {}
        Some(Effect::Answer(reply)) => return Ok(response(reply, quirks)),
        Some(Effect::Delay(by)) => tokio::time::sleep(by).await,
        Some(Effect::Drop) => return Err(DropConnection),
    }

    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = Params::parse(parts.uri.query(), content_type, &body);
    let header_token = parts
        .headers
        .get("x-acs-dingtalk-access-token")
        .and_then(|v| v.to_str().ok());
    let mut state = lock(&state);
    let reply = match endpoint {
        Endpoint::GetToken => oapi::gettoken(&mut state, &params),
        Endpoint::GetUserInfo => oapi::getuserinfo(&mut state, &params),
        Endpoint::GetByMobile => oapi::getbymobile(&mut state, &params),
        Endpoint::TopRouter => top::router(&mut state, &params),
        Endpoint::EmployeeGetUser => employee::get_user(&state.employees, &params),
        Endpoint::GetCorpToken => isv::get_corp_token(&mut state, &params),
        Endpoint::AccessTokenV1 => jsapi::access_token(&mut state, &params),
        Endpoint::GetJsapiTicket => jsapi::get_jsapi_ticket(&mut state, &params),
        Endpoint::JsapiTicketsV1 => jsapi::jsapi_tickets(&mut state, header_token),
        Endpoint::LoginPage => weblogin::login_page(&mut state, parts.uri.query(), &params),
        Endpoint::UserAccessToken => weblogin::user_access_token(&mut state, content_type, &params),
        Endpoint::UsersMe => weblogin::users_me(&state, header_token),
        Endpoint::GetByUnionId => weblogin::getbyunionid(&state, &params),
        Endpoint::ListAdmin => contact::listadmin(&state, &params),
        Endpoint::UserGet => contact::user_get(&state, &params),
    };
    Ok(response(reply, state.quirks()))
}

fn response(reply: Reply, quirks: Quirks) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match reply {
        Reply::Json { status, body } => (
            status,
            "application/json; charset=utf-8",
            Bytes::from(quirks.apply(body).to_string()),
        ),
        Reply::Text { status, body } => (
            status,
            "text/plain; charset=utf-8",
            Bytes::from_static(body.as_bytes()),
        ),
        Reply::Xml { status, body } => (status, "text/xml; charset=utf-8", Bytes::from(body)),
        Reply::Html { status, body } => (status, "text/html; charset=utf-8", Bytes::from(body)),
        Reply::Redirect { location } => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::FOUND;
            match HeaderValue::try_from(location) {
                Ok(location) => {
                    response
                        .headers_mut()
                        .insert(http::header::LOCATION, location);
                }
                Err(_) => *response.status_mut() = StatusCode::BAD_REQUEST,
            }
            return response;
        }
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Locks the state, ignoring poisoning: every change to the state is a single step, so a
/// panic while it was held leaves nothing half-done, and one failed test thread should not
/// turn every later call into a second panic.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::*;
    use crate::clock::ManualClock;

    const GETUSERINFO: &str = "/topapi/v2/user/getuserinfo";
    const GETBYMOBILE: &str = "/topapi/v2/user/getbymobile";

    async fn fake_with_users() -> FakeDingTalk {
        FakeDingTalk::builder()
            .user(FakeUser::new("admin", "Zhang San").super_admin())
            .user(
                FakeUser::new("staff", "Li Si")
                    .mobile("13800000000")
                    .exclusive_accounts(vec!["ea-1".into(), "ea-2".into()]),
            )
            .start()
            .await
    }

    async fn gettoken_with(fake: &FakeDingTalk, key: &str, secret: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}/gettoken", fake.url()))
            .query(&[("appkey", key), ("appsecret", secret)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn token(fake: &FakeDingTalk) -> String {
        let answer = gettoken_with(fake, fake.app_key(), fake.app_secret()).await;
        answer["access_token"].as_str().unwrap().to_owned()
    }

    async fn post(fake: &FakeDingTalk, path: &str, token: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", fake.url()))
            .query(&[("access_token", token)])
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn redeem(fake: &FakeDingTalk, token: &str, code: &str) -> Value {
        post(fake, GETUSERINFO, token, json!({ "code": code })).await
    }

    #[tokio::test]
    async fn gettoken_hands_out_one_token_until_it_is_replaced() {
        let fake = FakeDingTalk::start().await;
        assert_eq!(fake.current_token(), None);

        let answer = gettoken_with(&fake, "fake-app-key", "fake-app-secret").await;
        assert_eq!(answer["errcode"], 0);
        assert_eq!(answer["errmsg"], "ok");
        assert_eq!(answer["expires_in"], 7200);
        assert!(answer["request_id"].is_string());
        let first = answer["access_token"].as_str().unwrap().to_owned();
        assert_eq!(first.len(), 32);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fake.current_token().as_deref(), Some(first.as_str()));

        assert_eq!(token(&fake).await, first, "same token within its life");
    }

    #[tokio::test]
    async fn gettoken_refuses_wrong_credentials() {
        let fake = FakeDingTalk::start().await;
        let wrong_secret = gettoken_with(&fake, fake.app_key(), "nope").await;
        assert_eq!(wrong_secret["errcode"], 40089);
        assert_eq!(wrong_secret["errmsg"], "不合法的appKey或appSecret");
        assert!(wrong_secret.get("access_token").is_none());
        let wrong_key = gettoken_with(&fake, "nope", fake.app_secret()).await;
        assert_eq!(wrong_key["errcode"], 40089);
        assert_eq!(fake.current_token(), None);
    }

    #[tokio::test]
    async fn getuserinfo_exchanges_a_code_once() {
        let fake = fake_with_users().await;
        let token = token(&fake).await;
        let code = fake.mint_code("admin");
        assert_eq!(code.len(), 32);
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));

        let answer = redeem(&fake, &token, &code).await;
        assert_eq!(answer["errcode"], 0);
        assert!(answer["request_id"].is_string());
        assert_eq!(
            answer["result"],
            json!({
                "userid": "admin",
                "unionid": "union-admin",
                "name": "Zhang San",
                "sys": true,
                "sys_level": 1,
            }),
            "optional fields that are None are left out"
        );

        let again = redeem(&fake, &token, &code).await;
        assert_eq!(again["errcode"], 40078);
        assert_eq!(again["errmsg"], "不存在的临时授权码");
        assert_eq!(
            redeem(&fake, &token, "no-such-code").await["errcode"],
            40078
        );
    }

    #[tokio::test]
    async fn getuserinfo_accepts_a_form_with_the_token_in_it() {
        let fake = fake_with_users().await;
        let token = token(&fake).await;
        let code = fake.mint_code("staff");
        let answer: Value = reqwest::Client::new()
            .post(format!("{}{GETUSERINFO}", fake.url()))
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(format!("access_token={token}&code={code}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["errcode"], 0);
        assert_eq!(answer["result"]["userid"], "staff");
        assert_eq!(answer["result"]["sys"], false);
        assert_eq!(answer["result"]["sys_level"], 0);
    }

    #[tokio::test]
    async fn getuserinfo_checks_the_token_then_the_code() {
        let fake = fake_with_users().await;
        let code = fake.mint_code("admin");
        let no_token = redeem(&fake, "", &code).await;
        assert_eq!(no_token["errcode"], 40014);
        assert_eq!(no_token["errmsg"], "不合法的access_token");
        assert_eq!(redeem(&fake, "bogus", &code).await["errcode"], 40014);

        let token = token(&fake).await;
        let missing = post(&fake, GETUSERINFO, &token, json!({})).await;
        assert_eq!(missing["errcode"], 400002);
        assert_eq!(
            redeem(&fake, &token, &code).await["errcode"],
            0,
            "refused calls did not use the code up"
        );
    }

    #[tokio::test]
    async fn codes_expire_after_five_minutes_by_the_clock() {
        let clock = ManualClock::new(1_700_000_000);
        let fake = FakeDingTalk::builder()
            .clock(clock.clone())
            .user(FakeUser::new("admin", "Zhang San"))
            .start()
            .await;
        let token = token(&fake).await;
        let fresh = fake.mint_code("admin");
        let stale = fake.mint_code("admin");

        clock.advance(Duration::from_secs(299));
        assert_eq!(redeem(&fake, &token, &fresh).await["errcode"], 0);

        clock.advance(Duration::from_secs(2));
        assert_eq!(redeem(&fake, &token, &stale).await["errcode"], 40078);
    }

    #[tokio::test]
    async fn expire_token_answers_42001_and_gettoken_mints_a_new_one() {
        let fake = fake_with_users().await;
        let old = token(&fake).await;
        fake.expire_token();
        assert_eq!(fake.current_token(), None);

        let code = fake.mint_code("admin");
        let answer = redeem(&fake, &old, &code).await;
        assert_eq!(answer["errcode"], 42001);
        assert_eq!(answer["errmsg"], "access_token超时");

        let new = token(&fake).await;
        assert_ne!(new, old);
        assert_eq!(fake.current_token().as_deref(), Some(new.as_str()));
        assert_eq!(redeem(&fake, &new, &code).await["errcode"], 0);
        assert_eq!(
            redeem(&fake, &old, "x").await["errcode"],
            42001,
            "still expired"
        );
    }

    #[tokio::test]
    async fn invalidate_token_answers_40014_and_gettoken_mints_a_new_one() {
        let fake = fake_with_users().await;
        let old = token(&fake).await;
        fake.invalidate_token();
        let code = fake.mint_code("admin");
        assert_eq!(redeem(&fake, &old, &code).await["errcode"], 40014);
        let new = token(&fake).await;
        assert_ne!(new, old);
        assert_eq!(redeem(&fake, &new, &code).await["errcode"], 0);
    }

    #[tokio::test]
    async fn tokens_expire_by_the_clock_and_gettoken_renews_them() {
        let clock = ManualClock::new(1_700_000_000);
        let fake = FakeDingTalk::builder()
            .clock(clock.clone())
            .token_ttl(Duration::from_secs(600))
            .user(FakeUser::new("admin", "Zhang San"))
            .start()
            .await;
        let answer = gettoken_with(&fake, fake.app_key(), fake.app_secret()).await;
        assert_eq!(answer["expires_in"], 600);
        let first = answer["access_token"].as_str().unwrap().to_owned();

        // Asking again within its life returns the same token and renews it, as DingTalk.
        clock.advance(Duration::from_secs(500));
        assert_eq!(token(&fake).await, first);
        clock.advance(Duration::from_secs(500));
        assert_eq!(fake.current_token().as_deref(), Some(first.as_str()));
        let code = fake.mint_code("admin");
        assert_eq!(redeem(&fake, &first, &code).await["errcode"], 0);

        clock.advance(Duration::from_secs(600));
        assert_eq!(fake.current_token(), None);
        assert_eq!(redeem(&fake, &first, "x").await["errcode"], 42001);
        let second = token(&fake).await;
        assert_ne!(second, first);
        assert_eq!(redeem(&fake, &first, "x").await["errcode"], 42001);
    }

    #[tokio::test]
    async fn getbymobile_finds_users_by_mobile() {
        let fake = fake_with_users().await;
        let token = token(&fake).await;

        let plain = post(
            &fake,
            GETBYMOBILE,
            &token,
            json!({ "mobile": "13800000000" }),
        )
        .await;
        assert_eq!(plain["errcode"], 0);
        assert!(plain["request_id"].is_string());
        assert_eq!(plain["result"], json!({ "userid": "staff" }));

        let with_accounts = post(
            &fake,
            GETBYMOBILE,
            &token,
            json!({ "mobile": "13800000000", "support_exclusive_account_search": true }),
        )
        .await;
        assert_eq!(
            with_accounts["result"],
            json!({ "userid": "staff", "exclusive_account_userid_list": ["ea-1", "ea-2"] })
        );

        let nobody = post(
            &fake,
            GETBYMOBILE,
            &token,
            json!({ "mobile": "+86-139-0000" }),
        )
        .await;
        assert_eq!(nobody["errcode"], 60121);
        assert_eq!(nobody["errmsg"], "找不到该用户");

        let malformed = post(&fake, GETBYMOBILE, &token, json!({ "mobile": "138abc" })).await;
        assert_eq!(malformed["errcode"], 40104);

        let missing = post(&fake, GETBYMOBILE, &token, json!({})).await;
        assert_eq!(missing["errcode"], 400002);

        let bad_token = post(&fake, GETBYMOBILE, "bogus", json!({ "mobile": "1" })).await;
        assert_eq!(bad_token["errcode"], 40014);
    }

    #[tokio::test]
    async fn getbymobile_accepts_a_form() {
        let fake = fake_with_users().await;
        let token = token(&fake).await;
        let answer: Value = reqwest::Client::new()
            .post(format!("{}{GETBYMOBILE}", fake.url()))
            .form(&[
                ("access_token", token.as_str()),
                ("mobile", "13800000000"),
                ("support_exclusive_account_search", "true"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["result"]["exclusive_account_userid_list"],
            json!(["ea-1", "ea-2"])
        );
    }

    #[tokio::test]
    async fn injected_failures_come_in_order_then_stop() {
        let fake = FakeDingTalk::start().await;
        fake.fail_next(Endpoint::GetToken, 2, Failure::Busy);
        fake.fail_next(Endpoint::GetToken, 1, Failure::RateLimited { wait_secs: 3 });
        fake.fail_next(Endpoint::GetToken, 1, Failure::Errcode(90018));
        fake.fail_next(Endpoint::GetToken, 1, Failure::ServerError);
        let url = format!(
            "{}/gettoken?appkey=fake-app-key&appsecret=fake-app-secret",
            fake.url()
        );
        let client = reqwest::Client::new();

        for _ in 0..2 {
            let busy: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
            assert_eq!(busy["errcode"], -1);
            assert_eq!(busy["errmsg"], "系统繁忙");
            assert!(busy["request_id"].is_string());
        }
        let limited = client.get(&url).send().await.unwrap();
        assert_eq!(limited.status(), 200);
        assert_eq!(
            limited.json::<Value>().await.unwrap(),
            json!({ "status": 1111, "wait": 3 })
        );
        let errcode: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(errcode["errcode"], 90018);
        assert_eq!(errcode["errmsg"], "injected");
        let server_error = client.get(&url).send().await.unwrap();
        assert_eq!(server_error.status(), 500);
        assert!(server_error.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        assert!(!server_error.text().await.unwrap().is_empty());

        assert_eq!(fake.current_token(), None, "failures change no state");
        let ok: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(ok["errcode"], 0);
        assert_eq!(fake.calls(Endpoint::GetToken), 6);
    }

    #[tokio::test]
    async fn failures_are_per_endpoint_and_can_be_forever_and_cleared() {
        let fake = fake_with_users().await;
        fake.fail_next(Endpoint::GetUserInfo, usize::MAX, Failure::Errcode(60121));
        let token = token(&fake).await;
        let code = fake.mint_code("admin");
        for _ in 0..3 {
            assert_eq!(redeem(&fake, &token, &code).await["errcode"], 60121);
        }
        fake.clear_failures();
        assert_eq!(
            redeem(&fake, &token, &code).await["errcode"],
            0,
            "the code was not used up by the failed calls"
        );
        fake.fail_next(Endpoint::GetByMobile, 0, Failure::Busy);
        let answer = post(
            &fake,
            GETBYMOBILE,
            &token,
            json!({ "mobile": "13800000000" }),
        )
        .await;
        assert_eq!(answer["errcode"], 0, "zero times queues nothing");
    }

    #[tokio::test]
    async fn drop_connection_closes_without_an_answer() {
        let fake = FakeDingTalk::start().await;
        fake.fail_next(Endpoint::GetToken, 1, Failure::DropConnection);
        let url = format!(
            "{}/gettoken?appkey=fake-app-key&appsecret=fake-app-secret",
            fake.url()
        );
        let error = reqwest::get(&url).await.unwrap_err();
        assert!(error.is_request() || error.is_connect(), "{error:?}");
        assert_eq!(fake.calls(Endpoint::GetToken), 1);

        let ok: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(ok["errcode"], 0);
    }

    #[tokio::test(start_paused = true)]
    async fn delay_waits_on_tokio_time_then_answers() {
        let fake = FakeDingTalk::start().await;
        fake.fail_next(
            Endpoint::GetToken,
            1,
            Failure::Delay(Duration::from_secs(3600)),
        );
        let started = tokio::time::Instant::now();
        let answer = gettoken_with(&fake, fake.app_key(), fake.app_secret()).await;
        assert!(started.elapsed() >= Duration::from_secs(3600));
        assert_eq!(answer["errcode"], 0);
        assert!(answer["access_token"].is_string());
    }

    #[tokio::test]
    async fn quirks_stringify_numbers_and_lists() {
        let fake = fake_with_users().await;
        fake.set_quirks(Quirks {
            numbers_as_strings: true,
            lists_as_strings: false,
        });
        let answer = gettoken_with(&fake, fake.app_key(), fake.app_secret()).await;
        assert_eq!(answer["errcode"], "0");
        assert_eq!(answer["expires_in"], "7200");
        let token = answer["access_token"].as_str().unwrap().to_owned();

        let user = redeem(&fake, &token, &fake.mint_code("admin")).await;
        assert_eq!(user["result"]["sys_level"], "1");
        assert_eq!(user["result"]["sys"], true, "booleans are left alone");

        fake.set_quirks(Quirks {
            numbers_as_strings: false,
            lists_as_strings: true,
        });
        let body = json!({ "mobile": "13800000000", "support_exclusive_account_search": true });
        let answer = post(&fake, GETBYMOBILE, &token, body).await;
        assert_eq!(answer["errcode"], 0);
        assert_eq!(
            answer["result"]["exclusive_account_userid_list"],
            "[\"ea-1\",\"ea-2\"]"
        );

        fake.fail_next(Endpoint::GetToken, 1, Failure::RateLimited { wait_secs: 2 });
        fake.set_quirks(Quirks {
            numbers_as_strings: true,
            lists_as_strings: true,
        });
        let limited = gettoken_with(&fake, fake.app_key(), fake.app_secret()).await;
        assert_eq!(limited, json!({ "status": "1111", "wait": "2" }));
    }

    #[tokio::test]
    async fn unknown_routes_answer_404_and_everything_is_counted() {
        let fake = fake_with_users().await;
        let client = reqwest::Client::new();
        let missing = client
            .get(format!("{}/nope", fake.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert!(missing.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(missing.json::<Value>().await.unwrap()["errcode"], 404);
        let wrong_method = client
            .get(format!("{}{GETUSERINFO}", fake.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_method.status(), 404);

        let token = token(&fake).await;
        redeem(&fake, &token, "bad").await;
        post(&fake, GETBYMOBILE, &token, json!({ "mobile": "1" })).await;
        post(&fake, GETBYMOBILE, &token, json!({ "mobile": "2" })).await;
        assert_eq!(fake.calls(Endpoint::GetToken), 1);
        assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
        assert_eq!(fake.calls(Endpoint::GetByMobile), 2);
        assert_eq!(fake.total_calls(), 6);
    }

    #[tokio::test]
    async fn add_user_replaces_a_user_with_the_same_id() {
        let fake = fake_with_users().await;
        fake.add_user(
            FakeUser::new("admin", "Wang Wu")
                .sub_admin()
                .without_unionid(),
        );
        let token = token(&fake).await;
        let answer = redeem(&fake, &token, &fake.mint_code("admin")).await;
        assert_eq!(
            answer["result"],
            json!({ "userid": "admin", "name": "Wang Wu", "sys": true, "sys_level": 2 })
        );
    }

    #[tokio::test]
    #[should_panic(expected = "no user \"ghost\"")]
    async fn mint_code_panics_for_an_unknown_user() {
        let fake = FakeDingTalk::start().await;
        fake.mint_code("ghost");
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_server() {
        let fake = FakeDingTalk::start().await;
        let addr = fake.addr();
        assert_eq!(fake.url(), format!("http://{addr}"));
        // An open keep-alive connection must not keep the server alive either.
        let client = reqwest::Client::new();
        let url = format!("{}/gettoken", fake.url());
        client.get(&url).send().await.unwrap();
        drop(fake);

        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if TcpStream::connect(addr).await.is_err() && client.get(&url).send().await.is_err() {
                return;
            }
        }
        panic!("the fake still answers after its handle was dropped");
    }
}
