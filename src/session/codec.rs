//! Signing and verifying session tokens, with the bounded cache of verified tokens.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Header;
use rand::Rng;
use serde_json::Map;

use crate::clock::Clock;
use crate::dingtalk::DingTalkUser;
use crate::error::{ConfigError, Error, SessionRejection};
use crate::metrics;
use crate::session::verifier::{self, PreparedKey, VerifiedCache};
use crate::session::{Claims, SigningKey, VerifyingKey};
use crate::store::Revocation;

/// Issues and verifies session tokens.
///
/// Verification accepts only the configured keys, each with its one algorithm; requires `exp`
/// and checks it against the injected clock (with the leeway); checks `iss`/`aud` when
/// configured; and refuses a revoked `jti`.
///
/// Tokens that verified once are kept in a bounded cache keyed by their exact bytes (see
/// [`crate::config::ConfigBuilder::session_cache_capacity`]); a hit skips the signature and
/// JSON work but still checks `exp` and revocation, so a logout or an expiry is honoured at
/// once.
#[derive(Clone)]
pub struct SessionCodec {
    signing: SigningKey,
    keys: Arc<[PreparedKey]>,
    cache: Option<Arc<VerifiedCache>>,
    ttl: Duration,
    max_age: Duration,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    clock: Arc<dyn Clock>,
    revocation: Arc<dyn Revocation>,
    verifications: metrics::Verifications,
}

impl fmt::Debug for SessionCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCodec")
            .field("signing", &self.signing)
            .field("ttl", &self.ttl)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Everything a [`SessionCodec`] is made of.
pub(crate) struct CodecParts {
    pub signing: SigningKey,
    pub extra_verifiers: Vec<VerifyingKey>,
    pub ttl: Duration,
    pub max_age: Duration,
    pub leeway: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub clock: Arc<dyn Clock>,
    pub revocation: Arc<dyn Revocation>,
    pub cache_capacity: usize,
}

impl SessionCodec {
    pub(crate) fn new(parts: CodecParts) -> Result<Self, ConfigError> {
        // A `kid` must name one key: with two, a token would verify against whichever came
        // first, and a rotation could silently refuse the sessions of the other.
        let mut kids: Vec<&str> = std::iter::once(&parts.signing.verifying)
            .chain(parts.extra_verifiers.iter())
            .filter_map(VerifyingKey::kid)
            .collect();
        kids.sort_unstable();
        if let Some(pair) = kids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ConfigError::InvalidKey(format!(
                "two session keys share the kid {:?}; give every key its own",
                pair[0]
            )));
        }
        let keys: Arc<[PreparedKey]> = std::iter::once(&parts.signing.verifying)
            .chain(parts.extra_verifiers.iter())
            .map(PreparedKey::new)
            .collect();
        let cache =
            (parts.cache_capacity > 0).then(|| Arc::new(VerifiedCache::new(parts.cache_capacity)));
        let codec = Self {
            signing: parts.signing,
            keys,
            cache,
            ttl: parts.ttl,
            max_age: parts.max_age,
            leeway: parts.leeway,
            issuer: parts.issuer,
            audience: parts.audience,
            clock: parts.clock,
            revocation: parts.revocation,
            verifications: metrics::Verifications::register(),
        };
        codec.self_test()?;
        Ok(codec)
    }

    // jsonwebtoken panics at first use when no crypto backend is enabled; find out at build
    // time, with a clear error, instead of on the first login.
    fn self_test(&self) -> Result<(), ConfigError> {
        let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let user = DingTalkUser {
                userid: "self-test".into(),
                unionid: None,
                associated_unionid: None,
                name: String::new(),
                device_id: None,
                sys: false,
                sys_level: Default::default(),
            };
            let (token, _) = self.issue(&user, Map::new())?;
            self.decode(&token).map(|_| ())
        }));
        match probe {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ConfigError::CryptoSelfTest(e.to_string())),
            Err(_) => Err(ConfigError::CryptoSelfTest(
                "the JWT crypto backend panicked; enable a jsonwebtoken crypto feature".into(),
            )),
        }
    }

    /// Signs a new session for `user`, with extension claims `ext`: `auth_time` is now, and
    /// `exp` is now plus the TTL (or the max age, when that is shorter).
    ///
    /// # Errors
    /// [`Error::Internal`] if signing fails (it does not with a key that passed `build()`).
    pub fn issue(
        &self,
        user: &DingTalkUser,
        ext: Map<String, serde_json::Value>,
    ) -> Result<(String, Claims), Error> {
        let iat = self.clock.unix();
        let claims = Claims {
            sub: user.userid.clone(),
            unionid: user.unionid.clone(),
            name: user.name.clone(),
            sys: user.sys,
            sys_level: user.sys_level,
            iat,
            exp: iat.saturating_add(secs(self.ttl.min(self.max_age))),
            auth_time: Some(iat),
            jti: new_jti(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            ext,
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Signs the successor of `old` at a refresh: the same identity, `auth_time` and extension
    /// claims, the name and level DingTalk reports now (`live`), a new `jti`, and `exp` =
    /// min(now + TTL, `auth_time` + max age).
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] ([`SessionRejection::Expired`]) once the max age is reached:
    /// the person logs in again. [`Error::Internal`] if signing fails.
    pub(crate) fn reissue(
        &self,
        old: &Claims,
        live: &DingTalkUser,
    ) -> Result<(String, Claims), Error> {
        let now = self.clock.unix();
        let deadline = self.max_age_deadline(old);
        if now >= deadline {
            return Err(Error::Unauthenticated(SessionRejection::Expired));
        }
        let claims = Claims {
            sub: old.sub.clone(),
            unionid: old.unionid.clone(),
            name: live.name.clone(),
            sys: live.sys,
            sys_level: live.sys_level,
            iat: now,
            exp: now.saturating_add(secs(self.ttl)).min(deadline),
            auth_time: Some(old.logged_in_at()),
            jti: new_jti(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            ext: old.ext.clone(),
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// When a session that began at `claims`' `auth_time` must end, refreshes included.
    pub(crate) fn max_age_deadline(&self, claims: &Claims) -> i64 {
        claims.logged_in_at().saturating_add(secs(self.max_age))
    }

    /// How long any session, refreshes included, can live: the max age (or the TTL, were it
    /// longer), plus the leeway on `exp`. A user revocation is kept that long.
    pub(crate) fn longest_session(&self) -> i64 {
        secs(self.max_age.max(self.ttl)).saturating_add(secs(self.leeway))
    }

    /// Signs `claims` as they are.
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        self.sign_value(claims)
    }

    /// Verifies a session token: signature, algorithm, `kid`, `iss`/`aud`, `exp` (with the
    /// leeway) and revocation.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] with the reason.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, Error> {
        let Some(cache) = &self.cache else {
            let verified = self.verify_uncached(token);
            self.verifications.record(&verified, false);
            return verified;
        };
        if let Some(claims) = cache.get(token) {
            let verified = self.check_live(&claims).map(|()| claims);
            self.verifications.record(&verified, true);
            return verified;
        }
        let verified = self.verify_uncached(token);
        if let Ok(claims) = &verified {
            cache.insert(token, claims.clone());
        }
        self.verifications.record(&verified, false);
        verified
    }

    fn verify_uncached(&self, token: &str) -> Result<Arc<Claims>, Error> {
        let claims = Arc::new(self.decode(token)?);
        self.check_live(&claims)?;
        Ok(claims)
    }

    /// `exp` (with the leeway) and revocation (of the `jti`, or of every session of the user
    /// issued up to a second): what must hold on every request, even for a token whose
    /// signature was checked before.
    pub fn check_live(&self, claims: &Claims) -> Result<(), Error> {
        let now = self.clock.unix();
        if now > claims.exp.saturating_add(self.leeway.as_secs() as i64) {
            return Err(Error::Unauthenticated(SessionRejection::Expired));
        }
        if self.revocation.is_revoked(&claims.jti)
            || self.revocation.is_user_revoked(&claims.sub, claims.iat)
        {
            return Err(Error::Unauthenticated(SessionRejection::Revoked));
        }
        Ok(())
    }

    fn decode(&self, token: &str) -> Result<Claims, Error> {
        verifier::decode(
            &self.keys,
            token,
            self.issuer.as_deref(),
            self.audience.as_deref(),
        )
    }

    /// Signs `value` with the session key (and its `kid`): a session's claims, or a
    /// short-lived token such as the web login's state, which every instance sharing the key
    /// can check.
    pub(crate) fn sign_value(&self, value: &impl serde::Serialize) -> Result<String, Error> {
        let mut header = Header::new(self.signing.verifying.alg.jwt());
        header.kid = self.signing.verifying.kid.clone();
        jsonwebtoken::encode(&header, value, &self.signing.encoding)
            .map_err(|_| Error::Internal("could not sign a token"))
    }

    /// Checks the signature of a token made by [`sign_value`](Self::sign_value) and parses
    /// its payload; `None` when either fails. Its meaning (type, expiry) is the caller's.
    pub(crate) fn verify_value<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        let payload = verifier::verified_payload(&self.keys, token).ok()?;
        serde_json::from_slice(&payload).ok()
    }

    /// Now, by the codec's clock (Unix seconds).
    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// The revocation store.
    pub fn revocation(&self) -> &Arc<dyn Revocation> {
        &self.revocation
    }
}

fn secs(d: Duration) -> i64 {
    d.as_secs().min(i64::MAX as u64) as i64
}

/// A random token id: 128 bits, URL-safe base64 (never contains `:`).
fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 16]>())
}
