//! Revoked sessions in Redis: a sorted set plus pub/sub, mirrored in a local set so that a
//! verified request costs no Redis round trip.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::AbortHandle;

use crate::error::Error;
use crate::metrics;
use crate::store::{Revocation, RevokedSessions, UserCutoffs};
use crate::BoxFuture;

use super::{timed, Conn};

/// How long after its `exp` a revocation is kept: well past any leeway on `exp`.
const KEEP_AFTER_EXP: i64 = 3600;
/// Logouts queued while Redis is unreachable; beyond this the oldest are dropped (logged).
const MAX_PENDING: usize = 100_000;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often the subscriber pings its connection, to notice a network that went silent.
const HEALTH_EVERY: Duration = Duration::from_secs(5);
/// The reload reads the whole set in one reply: allow it more than one plain call.
const RELOAD_TIMEOUT_FACTOR: u32 = 10;

/// The revocation set on Redis: a logout on any instance is refused by every instance within
/// milliseconds, without a Redis round trip per verified request.
///
/// - `revoke` adds the session locally at once, then (one atomic transaction) adds
///   `jti → exp` to the sorted set `<prefix>revoked`, prunes entries more than an hour past
///   their `exp`, and publishes `"<exp>:<jti>"` on the channel `<prefix>revocations`.
/// - `revoke_user` does the same with the member `u:<issued_up_to>:<userid>` and the score
///   `until` (a `jti` never contains `:`, so the two cannot be confused).
/// - `is_revoked` and `is_user_revoked` are lookups in local sets, synchronous and without
///   I/O.
/// - A subscriber task feeds the local set from the channel. After every (re)subscription it
///   first writes the logouts queued while Redis was unreachable, then reloads the sorted set,
///   so revocations made while it was away are enforced too.
/// - Local entries are dropped an hour after their `exp`.
///
/// See the [module docs](super) for what happens while Redis is down. Get one from
/// [`RedisStores::revocation`](super::RedisStores::revocation); the subscriber stops when the
/// last handle is dropped.
pub struct RedisRevocation {
    inner: Arc<Inner>,
    task: AbortHandle,
}

struct Inner {
    conn: Conn,
    set_key: String,
    channel: String,
    sessions: RevokedSessions,
    users: UserCutoffs,
    // `synced` for the hot path, `synced_tx` for those who wait for it.
    synced: AtomicBool,
    synced_tx: watch::Sender<bool>,
    pending: Mutex<VecDeque<(String, i64)>>,
    wake: Notify,
}

impl fmt::Debug for RedisRevocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocation")
            .field("set_key", &self.inner.set_key)
            .field("synced", &self.is_synced())
            .field("local", &self.len())
            .finish_non_exhaustive()
    }
}

impl Drop for RedisRevocation {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RedisRevocation {
    /// Starts the subscriber on the current Tokio runtime.
    pub(super) fn start(conn: Conn, client: redis::Client) -> Self {
        let inner = Arc::new(Inner {
            set_key: conn.key("revoked"),
            channel: conn.key("revocations"),
            conn,
            sessions: RevokedSessions::default(),
            users: UserCutoffs::default(),
            synced: AtomicBool::new(false),
            synced_tx: watch::channel(false).0,
            pending: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
        });
        let task = tokio::spawn(subscribe_forever(inner.clone(), client)).abort_handle();
        Self { inner, task }
    }

    /// Whether the subscriber is connected and the local set was loaded since its last
    /// (re)connection. While it is `false`, revocations made on other instances may be
    /// missing here; a health check can report it.
    pub fn is_synced(&self) -> bool {
        self.inner.synced.load(Ordering::Acquire)
    }

    /// Waits up to `within` for [`is_synced`](Self::is_synced); returns whether it became so.
    pub async fn wait_synced(&self, within: Duration) -> bool {
        let mut rx = self.inner.synced_tx.subscribe();
        let synced = tokio::time::timeout(within, rx.wait_for(|synced| *synced)).await;
        matches!(synced, Ok(Ok(_)))
    }

    /// Logouts made here while Redis was unreachable and not yet written to it.
    pub fn pending(&self) -> usize {
        self.inner.lock_pending().len()
    }

    /// Revocations held in the local set (sessions and users).
    pub fn len(&self) -> usize {
        self.inner.sessions.len() + self.inner.users.len()
    }

    /// Whether the local set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn revoke_everywhere(&self, member: &str, score: i64) -> Result<(), Error> {
        // This instance refuses the session at once, whatever Redis says.
        self.inner.insert_local(member, score);
        match self.inner.write_remote(member, score).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.inner.queue(member, score);
                self.inner.wake.notify_one();
                tracing::warn!(error = %e, "logout recorded on this instance only; it reaches the others when redis is back");
                Err(e)
            }
        }
    }
}

impl Revocation for RedisRevocation {
    fn revoke<'a>(&'a self, jti: &'a str, exp: i64) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.revoke_everywhere(jti, exp))
    }

    fn is_revoked(&self, jti: &str) -> bool {
        if !self.is_synced() && self.inner.conn.may_warn() {
            tracing::warn!(
                "redis unavailable: sessions are verified against this instance's revocation set; logouts on other instances since the outage are not known yet"
            );
        }
        self.inner.sessions.contains(jti)
    }

    fn revoke_user<'a>(
        &'a self,
        userid: &'a str,
        issued_up_to: i64,
        until: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let member = user_member(userid, issued_up_to);
        Box::pin(async move { self.revoke_everywhere(&member, until).await })
    }

    fn is_user_revoked(&self, userid: &str, iat: i64) -> bool {
        self.inner.users.refuses(userid, iat)
    }
}

/// The sorted-set member of a user revocation: `u:<issued_up_to>:<userid>`.
fn user_member(userid: &str, issued_up_to: i64) -> String {
    format!("{USER_MEMBER}{issued_up_to}:{userid}")
}

const USER_MEMBER: &str = "u:";

/// A member's user revocation, if it is one: (`userid`, `issued_up_to`).
fn parse_user_member(member: &str) -> Option<(&str, i64)> {
    let (at, userid) = member.strip_prefix(USER_MEMBER)?.split_once(':')?;
    Some((userid, at.parse().ok()?)).filter(|(u, _)| !u.is_empty())
}

impl Inner {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, i64)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a member of the shared set (a `jti` or a user revocation) to the local sets.
    fn insert_local(&self, member: &str, score: i64) {
        match parse_user_member(member) {
            Some((userid, issued_up_to)) => self.insert_user(userid, issued_up_to, score),
            None => self.insert_session(member, score),
        }
    }

    fn insert_user(&self, userid: &str, issued_up_to: i64, until: i64) {
        self.users
            .insert(userid, issued_up_to, until, self.conn.now());
    }

    fn insert_session(&self, jti: &str, exp: i64) {
        self.sessions.insert(jti, exp, self.conn.now());
    }

    fn queue(&self, jti: &str, exp: i64) {
        let mut pending = self.lock_pending();
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
            tracing::error!("too many logouts queued while redis is unreachable; the oldest reaches only this instance");
        }
        pending.push_back((jti.to_owned(), exp));
    }

    fn set_synced(&self, synced: bool) -> bool {
        self.synced_tx.send_replace(synced);
        self.synced.swap(synced, Ordering::AcqRel)
    }

    /// Adds the revocation (a `jti`, or a user member) to the shared set and tells the other
    /// instances, in one transaction.
    async fn write_remote(&self, member: &str, score: i64) -> Result<(), Error> {
        let prune_before = self.conn.now() - KEEP_AFTER_EXP;
        let message = format!("{score}:{member}");
        self.conn
            .run("ZADD + PUBLISH (revoke)", |mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("ZADD")
                    .arg(&self.set_key)
                    .arg(score)
                    .arg(member)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&self.set_key)
                    .arg("-inf")
                    .arg(format!("({prune_before}"))
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(&self.channel)
                    .arg(&message)
                    .ignore()
                    .exec_async(&mut c)
                    .await
            })
            .await
    }

    /// Writes the logouts queued during an outage, oldest first; stops at the first failure.
    async fn flush_pending(&self) -> Result<(), Error> {
        loop {
            let Some((jti, exp)) = self.lock_pending().pop_front() else {
                return Ok(());
            };
            if let Err(e) = self.write_remote(&jti, exp).await {
                self.lock_pending().push_front((jti, exp));
                return Err(e);
            }
        }
    }

    /// Loads every live revocation of the shared set into the local one.
    async fn reload(&self) -> Result<usize, Error> {
        let min = self.conn.now() - KEEP_AFTER_EXP;
        let entries: Vec<(String, f64)> = timed(
            self.conn.timeout * RELOAD_TIMEOUT_FACTOR,
            "ZRANGEBYSCORE (reload revocations)",
            async {
                let mut c = self.conn.manager.clone();
                redis::cmd("ZRANGEBYSCORE")
                    .arg(&self.set_key)
                    .arg(min)
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
            },
        )
        .await?;
        let count = entries.len();
        for (jti, exp) in entries {
            self.insert_local(&jti, exp as i64);
        }
        Ok(count)
    }

    fn on_message(&self, msg: &redis::Msg) {
        let payload = String::from_utf8_lossy(msg.get_payload_bytes());
        match payload
            .split_once(':')
            .and_then(|(score, member)| Some((score.parse::<i64>().ok()?, member)))
        {
            Some((score, member)) if !member.is_empty() => self.insert_local(member, score),
            _ => tracing::warn!(channel = %self.channel, "ignoring a malformed revocation message"),
        }
    }

    /// One subscription: connect, subscribe, flush, reload, then follow the channel until the
    /// connection fails. Only ever returns an error.
    async fn session(&self, client: &redis::Client) -> Result<Infallible, Error> {
        let t = self.conn.timeout;
        let pubsub = timed(t, "connect (pub/sub)", client.get_async_pubsub()).await?;
        let (mut sink, mut stream) = pubsub.split();
        timed(t, "SUBSCRIBE", sink.subscribe(&self.channel)).await?;
        // Subscribed first, loaded second: a revocation published in between is in one or the
        // other, never lost.
        self.flush_pending().await?;
        let loaded = self.reload().await?;
        self.set_synced(true);
        tracing::debug!(loaded, "revocation set synced with redis");
        let mut health =
            tokio::time::interval_at(tokio::time::Instant::now() + HEALTH_EVERY, HEALTH_EVERY);
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => self.on_message(&msg),
                    None => return Err(Error::StoreUnavailable("redis pub/sub connection closed".into())),
                },
                _ = health.tick() => {
                    timed(t, "PING (pub/sub)", sink.ping::<redis::Value>()).await?;
                    self.flush_pending().await?;
                }
                () = self.wake.notified() => self.flush_pending().await?,
            }
        }
    }
}

async fn subscribe_forever(inner: Arc<Inner>, client: redis::Client) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let Err(e) = inner.session(&client).await;
        // A lost or failed subscription; the calls made through `Conn::run` count themselves.
        metrics::store_error(inner.conn.store);
        if inner.set_synced(false) {
            backoff = MIN_BACKOFF;
            tracing::warn!(error = %e, "revocation subscriber lost redis; reconnecting");
        } else {
            tracing::debug!(error = %e, "revocation subscriber: redis still unavailable");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_members_round_trip_and_jtis_are_not_users() {
        let member = user_member("zhang:san", 1_700_000_000);
        assert_eq!(member, "u:1700000000:zhang:san");
        assert_eq!(
            parse_user_member(&member),
            Some(("zhang:san", 1_700_000_000))
        );
        for not_a_user in ["AbC-_123", "u:", "u:12", "u:x:y", "u:12:"] {
            assert_eq!(parse_user_member(not_a_user), None, "{not_a_user}");
        }
    }
}
