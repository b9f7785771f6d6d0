//! The framework-neutral login flow: code → replay claim → `getuserinfo` → session.
//!
//! The tower and actix adapters are thin layers over [`DingTalkLogin::login`],
//! [`DingTalkLogin::verify`] and [`DingTalkLogin::logout`], so both frameworks behave the same.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::code::AuthCode;
use crate::config::ConfigBuilder;
use crate::dingtalk::transport::Transport;
use crate::dingtalk::{DingTalkClient, DingTalkUser};
use crate::enrich::EnrichHook;
use crate::error::{Error, SessionRejection};
use crate::jsapi::Jsapi;
use crate::metrics;
use crate::secret::AppSecret;
use crate::session::{Claims, CookieSettings, SessionCodec};
use crate::store::{CodeClaim, ReplayGuard};

/// What [`Error::NotConfigured`] names when the web login lacks its public URL (or the app's
/// own key and secret).
pub(crate) const WEB_LOGIN: &str = "web login (the public URL)";

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
    #[cfg_attr(not(feature = "directory"), allow(dead_code))]
    transport: Transport,
    sessions: SessionCodec,
    replay: Arc<dyn ReplayGuard>,
    cookie: CookieSettings,
    enrich: Option<EnrichHook>,
    jsapi: Jsapi,
    public_origin: Option<String>,
    web: WebLogin,
}

/// The browser (web, QR code) login's settings, from the builder.
#[derive(Debug, Clone)]
pub(crate) struct WebLogin {
    /// The app's public URL, without a trailing `/`: web login is on only with it.
    pub(crate) public_url: Option<String>,
    /// DingTalk's login page base, without a trailing `/`.
    pub(crate) login_url: String,
    /// The app key and secret (`clientId`, `clientSecret`); none with a custom token source.
    pub(crate) client: Option<(String, AppSecret)>,
    /// The organisation the login page is limited to, when configured.
    pub(crate) corp_id: Option<String>,
    /// Whether guards send a browser page without a session to the web login.
    pub(crate) redirect_html: bool,
}

impl WebLogin {
    /// The public URL and the app key, when web login can run.
    pub(crate) fn configured(&self) -> Option<(&str, &str, &AppSecret)> {
        let public = self.public_url.as_deref()?;
        let (key, secret) = self.client.as_ref()?;
        Some((public, key, secret))
    }
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
///
/// Its `Debug` shows who logged in, never the token:
///
/// ```
/// # fn show(login: &dingtalk_login::Login) {
/// // Safe to log: `token: "<redacted>"`.
/// tracing::info!(?login, "logged in");
/// # }
/// ```
#[derive(Clone)]
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

// The token is a bearer credential: a `{:?}` in a log line must not hand it out.
impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("claims", &self.claims)
            .field("user", &self.user)
            .finish()
    }
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
        web: WebLogin,
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
                web,
            }),
        }
    }

    /// Logs a user in with a silent login code.
    ///
    /// The code is claimed in the replay guard first (a second presentation is
    /// [`Error::CodeReplayed`] with no upstream call), then exchanged with `getuserinfo`, then
    /// a session is signed, with the extension claims of the enricher if one is configured
    /// ([`crate::enrich`]). The claim is kept when DingTalk refused the code or accepted it,
    /// and released after any other failure so the same code can be tried again — also when
    /// this future is dropped during the exchange (a client that disconnected), so every
    /// framework behaves alike.
    ///
    /// With the `metrics` feature each call counts as one `dingtalk_login_logins_total`
    /// `{method="code"}`; it runs inside a `dingtalk.login` span either way.
    pub async fn login(&self, code: &AuthCode) -> Result<Login, Error> {
        metrics::observe_login("code", self.exchange(code)).await
    }

    /// Claims `code` in the replay guard, then runs `exchange`, the call that spends it at
    /// DingTalk. The claim is kept once DingTalk accepted or refused the code, and released
    /// after any other failure, or when this future is dropped before the exchange finished
    /// (a client that disconnects makes axum drop it): then the code may be tried again.
    async fn claimed<T>(
        &self,
        code: &AuthCode,
        exchange: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let claim = ClaimGuard {
            replay: &self.inner.replay,
            claim: Some(self.inner.replay.claim(code).await?),
        };
        match exchange.await {
            Ok(value) => {
                claim.keep();
                Ok(value)
            }
            Err(e) => {
                if matches!(e, Error::CodeRejected(_)) {
                    claim.keep();
                } else {
                    claim.release().await;
                }
                Err(e)
            }
        }
    }

    /// [`login`](Self::login) without its span and count: for the login routes, which count
    /// the attempt themselves, refusals before the exchange included.
    pub(crate) async fn exchange(&self, code: &AuthCode) -> Result<Login, Error> {
        let user = self
            .claimed(code, self.inner.client.get_user_info(code))
            .await?;
        metrics::login_userid(&user.userid);
        // After the exchange the code is spent at DingTalk: an enrichment failure keeps the claim.
        self.issue(user, "dingtalk login").await
    }

    /// Logs a user in with a web (QR code) login's `authCode`, into the same session as
    /// [`login`](Self::login).
    ///
    /// The code is claimed in the replay guard first, exactly as a silent code. Then the
    /// user's token (`userAccessToken`), who they are (`users/me`), whether they are an
    /// employee (`getbyunionid`: an external contact or an unknown account is
    /// [`Error::NotAMember`]) and their admin level. The claim is released only when
    /// `userAccessToken` failed without refusing the code; after it the code is spent at
    /// DingTalk, and any failure fails the login (never a silent level 0).
    pub(crate) async fn web_login(&self, code: &AuthCode) -> Result<Login, Error> {
        let (_, client_id, client_secret) = self
            .inner
            .web
            .configured()
            .ok_or(Error::NotConfigured(WEB_LOGIN))?;
        let client = &self.inner.client;
        let user_token = self
            .claimed(
                code,
                client.user_access_token(client_id, client_secret, code),
            )
            .await?;
        // The code is spent at DingTalk now: whatever follows keeps the claim.
        let me = client.users_me(&user_token).await?;
        let userid = client.get_by_unionid(&me.union_id).await?;
        metrics::login_userid(&userid);
        // The level and the name, live: a failure fails the login, never a silent level 0.
        // A user DingTalk stopped knowing between the two calls is no member either.
        let live = self.lookup_user(&userid).await.map_err(|e| match e {
            Error::UserNotFound(d) => Error::NotAMember(d),
            e => e,
        })?;
        let mut user = DingTalkUser::new(userid, live.name.unwrap_or(me.nick), live.sys_level);
        user.unionid = Some(me.union_id);
        self.issue(user, "dingtalk web login").await
    }

    /// Enriches and signs the session of a user DingTalk vouched for.
    async fn issue(&self, user: DingTalkUser, what: &'static str) -> Result<Login, Error> {
        let ext = match &self.inner.enrich {
            Some(hook) => hook.run(&user).await?,
            None => Map::new(),
        };
        let (token, claims) = self.inner.sessions.issue(&user, ext)?;
        tracing::info!(userid = %user.userid.escape_debug(), sys_level = %user.sys_level, "{what}");
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

    /// The user's current admin level and name, asked of DingTalk now: `listadmin` (cached at
    /// most 60 s, one call in flight), then `user/get`. See
    /// [`DingTalkClient::lookup_user`](crate::dingtalk::DingTalkClient).
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when DingTalk no longer knows the user (60121); the upstream
    /// errors (502/503/504) when a call fails, never a silent level 0.
    pub(crate) async fn lookup_user(
        &self,
        userid: &str,
    ) -> Result<crate::dingtalk::lookup::LiveUser, Error> {
        self.inner.client.lookup_user(userid).await
    }

    /// Refreshes a session: checks it against DingTalk again and issues its successor.
    ///
    /// - A session revoked or expired since it was verified, or past the max age
    ///   ([`ConfigBuilder::session_max_age`], counted from `auth_time`):
    ///   [`Error::Unauthenticated`]; the person logs in again.
    /// - The user's level and name are read from DingTalk now (`listadmin`, cached at most
    ///   60 s, then `user/get`), so a promotion or demotion is in the new token. A user
    ///   DingTalk no longer knows (60121) gets [`Error::Unauthenticated`] and `claims` is
    ///   revoked. A transient failure fails the refresh (503) and leaves `claims` valid: the
    ///   old level is never carried over silently.
    /// - The new token has a new `jti`, the same `sub`, `unionid`, `auth_time` and extension
    ///   claims, and `exp` = min(now + TTL, `auth_time` + max age). `claims` is revoked.
    /// - A token is refreshed once: its `jti` is claimed in the replay guard (shared through
    ///   Redis when configured), so a concurrent second refresh of it is refused, and released
    ///   again when the re-check failed transiently.
    ///
    /// ```no_run
    /// # async fn demo(login: dingtalk_login::DingTalkLogin, token: &str) -> Result<(), dingtalk_login::Error> {
    /// let claims = login.verify(token)?;
    /// let next = login.refresh(&claims).await?;
    /// assert!(login.verify(token).is_err()); // the old token is spent
    /// assert_eq!(next.claims.auth_time, claims.auth_time);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] as above; the upstream errors (502/503/504) of the re-check;
    /// [`Error::StoreUnavailable`] when the old session cannot be revoked everywhere (it is
    /// revoked on this instance, and no new token is issued).
    pub async fn refresh(&self, claims: &Claims) -> Result<Login, Error> {
        let sessions = &self.inner.sessions;
        // Claims verified a while ago may have been revoked or expired since.
        sessions.check_live(claims)?;
        if sessions.now() >= sessions.max_age_deadline(claims) {
            return Err(Error::Unauthenticated(SessionRejection::Expired));
        }
        // One refresh per token, across instances: the `jti` is claimed in the replay guard
        // like a login code, so two concurrent refreshes of one token cannot both succeed.
        let key = AuthCode::parse(&format!("refresh-{}", claims.jti))
            .map_err(|_| Error::Unauthenticated(SessionRejection::Invalid))?;
        let claim = ClaimGuard {
            replay: &self.inner.replay,
            claim: Some(match self.inner.replay.claim(&key).await {
                Ok(claim) => claim,
                Err(Error::CodeReplayed) => {
                    return Err(Error::Unauthenticated(SessionRejection::Revoked))
                }
                Err(e) => return Err(e),
            }),
        };
        let userid = claims.sub.escape_debug();
        let live = match self.lookup_user(&claims.sub).await {
            Ok(live) => live,
            Err(Error::UserNotFound(detail)) => {
                claim.keep();
                tracing::info!(userid = %userid, detail = %detail, "refresh refused: DingTalk no longer knows the user; session revoked");
                if let Err(e) = self.logout(claims).await {
                    tracing::warn!(error = %e, "the refused session is revoked on this instance only");
                }
                return Err(Error::Unauthenticated(SessionRejection::Revoked));
            }
            Err(e) => {
                // Nothing was spent: the same token may try again.
                claim.release().await;
                return Err(e);
            }
        };
        claim.keep();
        let mut user = DingTalkUser::new(
            claims.sub.clone(),
            live.name.clone().unwrap_or_else(|| claims.name.clone()),
            live.sys_level,
        );
        user.unionid = claims.unionid.clone();
        // The presented session is spent first: no two live successors from one refresh
        // that half-failed.
        self.logout(claims).await?;
        let (token, next) = sessions.reissue(claims, &user)?;
        tracing::info!(userid = %userid, sys_level = %user.sys_level, "session refreshed");
        Ok(Login {
            token,
            expires_at: next.exp,
            claims: next,
            user,
        })
    }

    /// Revokes every session of `userid` issued up to now (this second), on every instance
    /// sharing the revocation store, including tokens already in the verified-session cache.
    /// A login after this second works again. For apps that react to DingTalk's
    /// employee-leave events themselves; `POST /admin/users/{userid}/revoke` calls it too.
    ///
    /// The entry is kept as long as the longest possible session (the max age).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use dingtalk_login::dingtalk::DingTalkUser;
    /// use dingtalk_login::guard::SysLevel;
    /// use dingtalk_login::DingTalkLogin;
    ///
    /// let login = DingTalkLogin::builder()
    ///     .app_key("k")
    ///     .app_secret("s")
    ///     .session_secret("a session key of at least 32 bytes!")
    ///     .build()
    ///     .unwrap();
    /// let token = dingtalk_login::testing::mint_session(&login, &DingTalkUser::new("u1", "Li", SysLevel::Other));
    /// login.revoke_user("u1").await.unwrap();
    /// assert_eq!(login.verify(&token).unwrap_err().code(), "unauthenticated");
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`Error::StoreUnavailable`] when the shared store (Redis) cannot be reached: the
    /// revocation holds on this instance at once and reaches the others when Redis is back.
    pub async fn revoke_user(&self, userid: &str) -> Result<(), Error> {
        let sessions = &self.inner.sessions;
        let now = sessions.now();
        let until = now.saturating_add(sessions.longest_session());
        sessions
            .revocation()
            .revoke_user(userid, now, until)
            .await?;
        tracing::info!(userid = %userid.escape_debug(), "every session of the user revoked");
        Ok(())
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

    /// The web login's settings.
    pub(crate) fn web(&self) -> &WebLogin {
        &self.inner.web
    }

    #[cfg_attr(not(feature = "directory"), allow(dead_code))]
    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }
}

/// A claim that is released unless [`keep`](Self::keep) is called: when the login fails
/// without DingTalk refusing the code, or when the login future is dropped mid-exchange.
struct ClaimGuard<'a> {
    replay: &'a Arc<dyn ReplayGuard>,
    claim: Option<CodeClaim>,
}

impl ClaimGuard<'_> {
    /// The code is spent (or refused) at DingTalk: the claim stays until it expires.
    fn keep(mut self) {
        self.claim = None;
    }

    /// Releases the claim and waits for the store to answer.
    async fn release(mut self) {
        if let Some(claim) = self.claim.take() {
            self.replay.release(claim).await;
        }
    }
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        // Dropped mid-exchange: release without waiting. A store whose release needs I/O
        // (Redis) finishes it on the runtime; the in-memory guard releases at the call.
        let release = self.replay.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { release.release(claim).await });
            }
            Err(_) => drop(release.release(claim)),
        }
    }
}
