//! The framework-neutral login flow: code → replay claim → `getuserinfo` → session.
//!
//! The tower and actix adapters are thin layers over [`DingTalkLogin::login`],
//! [`DingTalkLogin::verify`] and [`DingTalkLogin::logout`], so both frameworks behave the same.

use std::fmt;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::code::AuthCode;
use crate::config::ConfigBuilder;
use crate::dingtalk::transport::Transport;
use crate::dingtalk::{DingTalkClient, DingTalkUser};
use crate::enrich::EnrichHook;
use crate::error::Error;
use crate::jsapi::Jsapi;
use crate::metrics;
use crate::session::{Claims, CookieSettings, SessionCodec};
use crate::store::ReplayGuard;

/// The login service: holds the DingTalk client, the session codec and the stores. Cheap to
/// clone (an `Arc`).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use dingtalk_login::{AuthCode, DingTalkLogin};
///
/// let login = DingTalkLogin::builder()
///     .app_key("dingxxxxxxxx")
///     .app_secret("app-secret")
///     .session_secret("a session key of at least 32 bytes!")
///     .build()?;
/// let code = AuthCode::parse("code-from-dd.getAuthCode")?;
/// let session = login.login(&code).await?;
/// let claims = login.verify(&session.token)?;
/// assert_eq!(claims.sub, session.user.userid);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DingTalkLogin {
    inner: Arc<Inner>,
}

struct Inner {
    client: DingTalkClient,
    transport: Transport,
    sessions: SessionCodec,
    replay: Arc<dyn ReplayGuard>,
    cookie: CookieSettings,
    enrich: Option<EnrichHook>,
    jsapi: Jsapi,
    public_origin: Option<String>,
}

impl fmt::Debug for DingTalkLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DingTalkLogin")
            .field("client", &self.inner.client)
            .field("sessions", &self.inner.sessions)
            .field("cookie", &self.inner.cookie)
            .finish_non_exhaustive()
    }
}

/// A successful login: the session token and who logged in.
#[derive(Debug, Clone)]
pub struct Login {
    /// The signed session (a JWT): send it as `Authorization: Bearer ..` or keep the cookie.
    pub token: String,
    /// The token's `exp` (Unix seconds).
    pub expires_at: i64,
    /// The token's claims.
    pub claims: Claims,
    /// What DingTalk said about the user.
    pub user: DingTalkUser,
}

impl Login {
    /// The login answer: `{token, token_type: "Bearer", expires_at, user: {userid, unionid,
    /// name, sys, sys_level}}`.
    pub fn to_json(&self) -> Value {
        json!({
            "token": self.token,
            "token_type": "Bearer",
            "expires_at": self.expires_at,
            "user": self.claims.user_json(),
        })
    }
}

impl DingTalkLogin {
    /// Starts a configuration.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    // One argument per part of the login; a struct of them would only be built here.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        client: DingTalkClient,
        transport: Transport,
        sessions: SessionCodec,
        replay: Arc<dyn ReplayGuard>,
        cookie: CookieSettings,
        enrich: Option<EnrichHook>,
        jsapi: Jsapi,
        public_origin: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                transport,
                sessions,
                replay,
                cookie,
                enrich,
                jsapi,
                public_origin,
            }),
        }
    }

    /// Logs a user in with a silent login code.
    ///
    /// The code is claimed in the replay guard first (a second presentation is
    /// [`Error::CodeReplayed`] with no upstream call), then exchanged with `getuserinfo`, then
    /// a session is signed, with the extension claims of the enricher if one is configured
    /// ([`crate::enrich`]). The claim is kept when DingTalk refused the code or accepted it,
    /// and released after any other failure so the same code can be tried again.
    ///
    /// With the `metrics` feature each call counts as one `dingtalk_login_logins_total`
    /// `{method="code"}`; it runs inside a `dingtalk.login` span either way.
    pub async fn login(&self, code: &AuthCode) -> Result<Login, Error> {
        metrics::observe_login("code", self.exchange(code)).await
    }

    /// [`login`](Self::login) without its span and count: for the login routes, which count
    /// the attempt themselves, refusals before the exchange included.
    pub(crate) async fn exchange(&self, code: &AuthCode) -> Result<Login, Error> {
        let claim = self.inner.replay.claim(code).await?;
        let user = match self.inner.client.get_user_info(code).await {
            Ok(user) => user,
            Err(e) => {
                if !matches!(e, Error::CodeRejected(_)) {
                    self.inner.replay.release(claim).await;
                }
                return Err(e);
            }
        };
        metrics::login_userid(&user.userid);
        // After the exchange the code is spent at DingTalk: an enrichment failure keeps the claim.
        let ext = match &self.inner.enrich {
            Some(hook) => hook.run(&user).await?,
            None => Map::new(),
        };
        let (token, claims) = self.inner.sessions.issue(&user, ext)?;
        tracing::info!(userid = %user.userid, sys_level = %user.sys_level, "dingtalk login");
        Ok(Login {
            token,
            expires_at: claims.exp,
            claims,
            user,
        })
    }

    /// Verifies a session token (signature, algorithm, `exp`, `iss`/`aud`, revocation). The
    /// claims are shared, not copied: this runs on every request, and a token seen before is
    /// answered from a cache of verified tokens (expiry and revocation are still checked).
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, Error> {
        self.inner.sessions.verify(token)
    }

    /// Logs a session out: its `jti` is refused until its `exp`.
    pub async fn logout(&self, claims: &Claims) -> Result<(), Error> {
        self.inner
            .sessions
            .revocation()
            .revoke(&claims.jti, claims.exp)
            .await
    }

    /// The DingTalk client (for `getbymobile` and other OAPI calls).
    pub fn client(&self) -> &DingTalkClient {
        &self.inner.client
    }

    /// The session codec.
    pub(crate) fn sessions(&self) -> &SessionCodec {
        &self.inner.sessions
    }

    /// How the session cookie is set.
    pub(crate) fn cookie_settings(&self) -> &CookieSettings {
        &self.inner.cookie
    }

    /// The `dd.config` settings and the ticket cache.
    pub(crate) fn jsapi(&self) -> &Jsapi {
        &self.inner.jsapi
    }

    /// The origin of the configured public URL, if any.
    pub(crate) fn public_origin(&self) -> Option<&str> {
        self.inner.public_origin.as_deref()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }
}
