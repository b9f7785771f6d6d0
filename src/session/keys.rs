//! Session signing and verification keys: one algorithm per key, prepared once at start-up.

use std::fmt;

use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::error::ConfigError;
use crate::secret::SessionSecret;

/// The shortest HS256 key accepted, in bytes (the size of the SHA-256 output).
pub const MIN_HS256_KEY_LEN: usize = 32;

/// The session signing algorithms on offer. Each key has exactly one: a token whose header
/// names another algorithm than its key's is refused (no `none`, no HS/RS confusion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

fn bad_key(e: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::InvalidKey(e.to_string())
}

fn hs256_secret(secret: SessionSecret) -> Result<SessionSecret, ConfigError> {
    if secret.len() < MIN_HS256_KEY_LEN {
        return Err(ConfigError::InvalidKey(format!(
            "an HS256 session key needs at least {MIN_HS256_KEY_LEN} bytes, got {}",
            secret.len()
        )));
    }
    Ok(secret)
}

/// A key that verifies sessions (and knows its algorithm and optional `kid`).
///
/// Add retired keys with [`crate::config::ConfigBuilder::verification_key`] so tokens signed
/// before a rotation keep verifying until they expire.
///
/// ```
/// use dingtalk_login::session::VerifyingKey;
///
/// let old = VerifyingKey::hs256([1u8; 32].to_vec()).unwrap().with_kid("2025-01");
/// assert_eq!(old.kid(), Some("2025-01"));
/// assert!(VerifyingKey::hs256(b"short".to_vec()).is_err());
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
}

impl VerifyingKey {
    /// An HS256 key (at least 32 bytes).
    pub fn hs256(secret: impl Into<SessionSecret>) -> Result<Self, ConfigError> {
        let secret = hs256_secret(secret.into())?;
        Ok(Self {
            alg: Algorithm::HS256,
            kid: None,
            key: DecodingKey::from_secret(secret.expose()),
        })
    }

    /// An RS256 public key in PEM.
    pub fn rs256_pem(public_pem: &[u8]) -> Result<Self, ConfigError> {
        Self::from_pem(Algorithm::RS256, DecodingKey::from_rsa_pem(public_pem))
    }

    /// An ES256 public key in PEM.
    pub fn es256_pem(public_pem: &[u8]) -> Result<Self, ConfigError> {
        Self::from_pem(Algorithm::ES256, DecodingKey::from_ec_pem(public_pem))
    }

    /// An Ed25519 public key in PEM.
    pub fn ed25519_pem(public_pem: &[u8]) -> Result<Self, ConfigError> {
        Self::from_pem(Algorithm::EdDSA, DecodingKey::from_ed_pem(public_pem))
    }

    fn from_pem(
        alg: Algorithm,
        key: jsonwebtoken::errors::Result<DecodingKey>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            alg,
            kid: None,
            key: key.map_err(bad_key)?,
        })
    }

    /// Names the key: tokens whose header carries this `kid` are verified with it.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The key new sessions are signed with, and its verifying half.
///
/// ```
/// use dingtalk_login::session::{Algorithm, SigningKey};
///
/// let key = SigningKey::hs256(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// assert_eq!(format!("{key:?}"), r#"SigningKey { alg: HS256, kid: None, .. }"#);
/// ```
#[derive(Clone)]
pub struct SigningKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) verifying: VerifyingKey,
}

impl SigningKey {
    /// An HS256 key (at least 32 bytes).
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] for a key shorter than 32 bytes.
    pub fn hs256(secret: impl Into<SessionSecret>) -> Result<Self, ConfigError> {
        let secret = hs256_secret(secret.into())?;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            verifying: VerifyingKey::hs256(secret)?,
        })
    }

    /// An RS256 key pair in PEM (PKCS#1 or PKCS#8 private key, SPKI public key).
    pub fn rs256_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self {
            encoding: EncodingKey::from_rsa_pem(private_pem).map_err(bad_key)?,
            verifying: VerifyingKey::rs256_pem(public_pem)?,
        })
    }

    /// An ES256 key pair in PEM (PKCS#8 private key).
    pub fn es256_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self {
            encoding: EncodingKey::from_ec_pem(private_pem).map_err(bad_key)?,
            verifying: VerifyingKey::es256_pem(public_pem)?,
        })
    }

    /// An Ed25519 key pair in PEM (PKCS#8 private key).
    pub fn ed25519_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self {
            encoding: EncodingKey::from_ed_pem(private_pem).map_err(bad_key)?,
            verifying: VerifyingKey::ed25519_pem(public_pem)?,
        })
    }

    /// Names the key; its `kid` goes into every token's header.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.verifying.kid = Some(kid.into());
        self
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.verifying.alg
    }

    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.verifying.kid()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.verifying.alg)
            .field("kid", &self.verifying.kid)
            .finish_non_exhaustive()
    }
}
