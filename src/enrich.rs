//! Enrichment at login: extra claims (department ids, an org code, …) fetched from other
//! services after the code exchange and stored in the session's [`Claims::ext`].
//!
//! An [`Enricher`] turns the [`DingTalkUser`] who just logged in into a JSON map;
//! [`ConfigBuilder::enrich`] installs it. Wrap it in a [`CachedEnricher`] so a login costs at
//! most one extra upstream call per user per TTL.
//!
//! **When the enricher fails**, the login still succeeds, without extension claims, and a
//! warning is logged: a directory outage should not lock everybody out. Install it with
//! [`ConfigBuilder::enrich_required`] to make the failure fail the login instead (the login
//! code is then spent: DingTalk accepted it, so the user needs a new one).
//!
//! Keep the map small: it travels in every session token (and cookie).
//!
//! ```
//! use std::time::Duration;
//! use dingtalk_login::enrich::{from_fn, CachedEnricher};
//! use dingtalk_login::DingTalkLogin;
//! use serde_json::{json, Map};
//!
//! let departments = from_fn(|user| async move {
//!     // Ask a directory service about `user.userid` here.
//!     let mut ext = Map::new();
//!     ext.insert("department".into(), json!([1, 2]));
//!     Ok(ext)
//! });
//! let login = DingTalkLogin::builder()
//!     .app_key("dingxxxxxxxx")
//!     .app_secret("app-secret")
//!     .session_secret("a session key of at least 32 bytes!")
//!     .enrich(CachedEnricher::new(departments, Duration::from_secs(600)))
//!     .build()
//!     .unwrap();
//! # let _ = login;
//! ```
//!
//! [`Claims::ext`]: crate::session::Claims::ext
//! [`ConfigBuilder::enrich`]: crate::config::ConfigBuilder::enrich
//! [`ConfigBuilder::enrich_required`]: crate::config::ConfigBuilder::enrich_required

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Expiring, ExpiringCache};
use crate::clock::{Clock, SystemClock};
use crate::dingtalk::DingTalkUser;
use crate::error::Error;
use crate::BoxFuture;
use quick_cache::sync::Cache;
use serde_json::{Map, Value};

/// Adds extension claims to a session at login.
///
/// Called once per login, after DingTalk confirmed the user and before the session is signed.
/// Implemented by [`EmployeeClient`](crate::employee::EmployeeClient), by [`from_fn`] closures
/// and by [`CachedEnricher`].
pub trait Enricher: Send + Sync + 'static {
    /// The claims to add for `user` (merged into [`Claims::ext`](crate::session::Claims::ext)).
    fn enrich<'a>(
        &'a self,
        user: &'a DingTalkUser,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Error>>;
}

impl<E: Enricher + ?Sized> Enricher for Arc<E> {
    fn enrich<'a>(
        &'a self,
        user: &'a DingTalkUser,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Error>> {
        (**self).enrich(user)
    }
}

/// An [`Enricher`] from an async closure that receives (a clone of) the user.
///
/// ```
/// use dingtalk_login::enrich::from_fn;
/// use serde_json::{json, Map};
///
/// let enricher = from_fn(|user| async move {
///     Ok(Map::from_iter([("org".to_owned(), json!(format!("org-of-{}", user.userid)))]))
/// });
/// # let _ = enricher;
/// ```
pub fn from_fn<F, Fut>(f: F) -> impl Enricher
where
    F: Fn(DingTalkUser) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Map<String, Value>, Error>> + Send + 'static,
{
    FnEnricher(f)
}

/// The [`Enricher`] [`from_fn`] makes.
#[derive(Clone)]
struct FnEnricher<F>(F);

impl<F> fmt::Debug for FnEnricher<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnEnricher")
    }
}

impl<F, Fut> Enricher for FnEnricher<F>
where
    F: Fn(DingTalkUser) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Map<String, Value>, Error>> + Send + 'static,
{
    fn enrich<'a>(
        &'a self,
        user: &'a DingTalkUser,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Error>> {
        Box::pin((self.0)(user.clone()))
    }
}

/// Caches another enricher's answer per `userid` for a TTL.
///
/// Concurrent logins of the same user share one upstream call (the others wait for it). In
/// the last part of the TTL (5 minutes, or half of it when shorter) one login refreshes the
/// answer while the others keep the cached one. A failure is shared with that user's logins
/// for about a second, then asked again. The cache is bounded (default
/// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) users), evicting the least useful entries.
///
/// ```
/// use std::time::Duration;
/// use dingtalk_login::enrich::{from_fn, CachedEnricher};
/// use serde_json::Map;
///
/// let cached = CachedEnricher::new(from_fn(|_| async { Ok(Map::new()) }), Duration::from_secs(300));
/// assert_eq!(cached.ttl(), Duration::from_secs(300));
/// ```
pub struct CachedEnricher<E> {
    inner: E,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    // quick_cache (already a dependency of the crate) bounds the number of users; each user's
    // answer sits in its own expiring single-flight cell.
    cache: Cache<String, Arc<ExpiringCache<Map<String, Value>>>>,
}

impl<E> fmt::Debug for CachedEnricher<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedEnricher")
            .field("ttl", &self.ttl)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl<E: Enricher> CachedEnricher<E> {
    /// How many users are cached unless told otherwise.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// Caches `inner`'s answers for `ttl`, for up to [`Self::DEFAULT_CAPACITY`] users.
    pub fn new(inner: E, ttl: Duration) -> Self {
        Self::with_capacity(inner, ttl, Self::DEFAULT_CAPACITY)
    }

    /// Caches `inner`'s answers for `ttl`, for up to `capacity` users.
    pub fn with_capacity(inner: E, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner,
            ttl,
            clock: Arc::new(SystemClock),
            cache: Cache::new(capacity.max(1)),
        }
    }

    /// The clock the TTL is measured with. Default the system clock.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How long an answer is reused.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Forgets what was cached for `userid` (e.g. after their departments changed).
    pub fn invalidate(&self, userid: &str) {
        self.cache.remove(userid);
    }

    /// The wrapped enricher.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    async fn cached(&self, user: &DingTalkUser) -> Result<Map<String, Value>, Error> {
        let cell = self
            .cache
            .get_or_insert_with(&user.userid, || {
                Ok::<_, Infallible>(Arc::new(ExpiringCache::new(self.clock.clone())))
            })
            .unwrap_or_else(|never| match never {});
        cell.get_or_fetch(|| async { Ok(Expiring::new(self.inner.enrich(user).await?, self.ttl)) })
            .await
    }
}

impl<E: Enricher> Enricher for CachedEnricher<E> {
    fn enrich<'a>(
        &'a self,
        user: &'a DingTalkUser,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Error>> {
        Box::pin(self.cached(user))
    }
}

/// The installed enricher and its failure policy.
#[derive(Clone)]
pub(crate) struct EnrichHook {
    enricher: Arc<dyn Enricher>,
    required: bool,
}

impl fmt::Debug for EnrichHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrichHook")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl EnrichHook {
    pub(crate) fn new(enricher: impl Enricher, required: bool) -> Self {
        Self {
            enricher: Arc::new(enricher),
            required,
        }
    }

    /// The extension claims for `user`: the enricher's answer; on its failure an empty map
    /// (logged) or, when required, the error.
    pub(crate) async fn run(&self, user: &DingTalkUser) -> Result<Map<String, Value>, Error> {
        match self.enricher.enrich(user).await {
            Ok(ext) => Ok(ext),
            Err(e) if self.required => Err(e),
            Err(e) => {
                tracing::warn!(
                    userid = %user.userid.escape_debug(),
                    error = %e,
                    "login enrichment failed; the session carries no extension claims"
                );
                Ok(Map::new())
            }
        }
    }
}
