use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use rand::Rng;
use serde_json::Map;

use crate::clock::Clock;
use crate::dingtalk::DingTalkUser;
use crate::error::{ConfigError, Error, SessionRejection};
use crate::session::{Claims, SigningKey, VerifyingKey};
use crate::store::Revocation;

/// Issues and verifies session tokens.
///
/// Verification accepts only the configured keys, each with its one algorithm; requires `exp`
/// and checks it against the injected clock (with the leeway); checks `iss`/`aud` when
/// configured; and refuses a revoked `jti`.
#[derive(Clone)]
pub struct SessionCodec {
    signing: SigningKey,
    verifiers: Arc<[(VerifyingKey, Validation)]>,
    ttl: Duration,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    clock: Arc<dyn Clock>,
    revocation: Arc<dyn Revocation>,
}

impl fmt::Debug for SessionCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCodec")
            .field("signing", &self.signing)
            .field("ttl", &self.ttl)
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
    pub leeway: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub clock: Arc<dyn Clock>,
    pub revocation: Arc<dyn Revocation>,
}

impl SessionCodec {
    pub(crate) fn new(parts: CodecParts) -> Result<Self, ConfigError> {
        let mut keys = vec![parts.signing.verifying.clone()];
        keys.extend(parts.extra_verifiers);
        let verifiers = keys
            .into_iter()
            .map(|key| {
                let mut v = Validation::new(key.alg.jwt());
                v.algorithms = vec![key.alg.jwt()];
                // `exp` is checked against the injected clock below; presence is still required.
                v.validate_exp = false;
                let mut required = vec!["exp"];
                required.extend(parts.issuer.as_ref().map(|_| "iss"));
                required.extend(parts.audience.as_ref().map(|_| "aud"));
                v.set_required_spec_claims(&required);
                v.leeway = 0;
                match &parts.audience {
                    Some(aud) => v.set_audience(&[aud]),
                    None => v.validate_aud = false,
                }
                if let Some(iss) = &parts.issuer {
                    v.set_issuer(&[iss]);
                }
                (key, v)
            })
            .collect();
        let codec = Self {
            signing: parts.signing,
            verifiers,
            ttl: parts.ttl,
            leeway: parts.leeway,
            issuer: parts.issuer,
            audience: parts.audience,
            clock: parts.clock,
            revocation: parts.revocation,
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

    /// Session lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs a new session for `user`, with extension claims `ext`.
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
            exp: iat.saturating_add(self.ttl.as_secs().min(i64::MAX as u64) as i64),
            jti: URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 16]>()),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            ext,
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Signs `claims` as they are.
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        let mut header = Header::new(self.signing.verifying.alg.jwt());
        header.kid = self.signing.verifying.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.signing.encoding)
            .map_err(|_| Error::Internal("could not sign the session"))
    }

    /// Verifies a session token: signature, algorithm, `kid`, `iss`/`aud`, `exp` (with the
    /// leeway) and revocation.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] with the reason.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        let claims = self.decode(token)?;
        self.check_live(&claims)?;
        Ok(claims)
    }

    /// `exp` (with the leeway) and revocation: what must hold on every request, even for a
    /// token whose signature was checked before.
    pub fn check_live(&self, claims: &Claims) -> Result<(), Error> {
        let now = self.clock.unix();
        if now > claims.exp.saturating_add(self.leeway.as_secs() as i64) {
            return Err(Error::Unauthenticated(SessionRejection::Expired));
        }
        if self.revocation.is_revoked(&claims.jti) {
            return Err(Error::Unauthenticated(SessionRejection::Revoked));
        }
        Ok(())
    }

    fn decode(&self, token: &str) -> Result<Claims, Error> {
        let invalid = Error::Unauthenticated(SessionRejection::Invalid);
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid.clone())?;
        let (key, validation) = self
            .verifiers
            .iter()
            .find(|(k, _)| k.kid == header.kid)
            .ok_or_else(|| invalid.clone())?;
        if header.alg != key.alg.jwt() {
            return Err(invalid);
        }
        jsonwebtoken::decode::<Claims>(token, &key.key, validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Error::Unauthenticated(SessionRejection::Expired),
                _ => invalid,
            })
    }

    /// The revocation store.
    pub fn revocation(&self) -> &Arc<dyn Revocation> {
        &self.revocation
    }
}
