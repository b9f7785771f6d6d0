//! Session verification, fast: keys prepared once, one pass of JSON, and a cache of tokens
//! already verified.
//!
//! Why not `jsonwebtoken::decode` per request: it parses the header twice (ours needs the
//! `kid` first), builds the HMAC key state on every call, and deserializes the claims twice.
//! Here the HS256 key is keyed into an `Hmac<Sha256>` once at start-up and cloned per request,
//! the header is read with borrowed strings, and the claims are parsed once into [`Claims`].
//! The primitives are the RustCrypto `hmac`/`sha2` crates jsonwebtoken itself uses; asymmetric
//! algorithms still verify through `jsonwebtoken::crypto::verify`.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use sha2::Sha256;

use crate::error::{Error, SessionRejection};
use crate::session::{Algorithm, Claims, VerifyingKey};

const INVALID: Error = Error::Unauthenticated(SessionRejection::Invalid);

/// A verifying key, prepared for repeated use.
pub(crate) struct PreparedKey {
    kid: Option<String>,
    alg: Algorithm,
    check: Check,
}

enum Check {
    // The keyed state; cloning it skips the key schedule.
    Hs256(Hmac<Sha256>),
    Jwt(DecodingKey),
}

impl PreparedKey {
    pub(crate) fn new(key: &VerifyingKey) -> Self {
        let check = match key.alg {
            Algorithm::HS256 => match key.key.try_get_hmac_secret() {
                Ok(secret) => Check::Hs256(
                    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length"),
                ),
                Err(_) => Check::Jwt(key.key.clone()),
            },
            _ => Check::Jwt(key.key.clone()),
        };
        Self {
            kid: key.kid.clone(),
            alg: key.alg,
            check,
        }
    }

    fn signature_ok(&self, message: &[u8], signature_b64: &str) -> bool {
        match &self.check {
            Check::Hs256(keyed) => {
                // Room for base64's length estimate; a valid signature is exactly 32 bytes.
                let mut sig = [0u8; 48];
                match URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut sig) {
                    Ok(32) => {}
                    _ => return false,
                }
                let mut mac = keyed.clone();
                mac.update(message);
                // Constant-time comparison.
                mac.verify_slice(&sig[..32]).is_ok()
            }
            Check::Jwt(key) => {
                jsonwebtoken::crypto::verify(signature_b64, message, key, self.alg.jwt())
                    .unwrap_or(false)
            }
        }
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
    }
}

#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
}

/// Checks a token's structure, header, key and signature, and parses its claims. Liveness
/// (`exp`, revocation) is the caller's, because it must be checked on every request.
pub(crate) fn decode(
    keys: &[PreparedKey],
    token: &str,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<Claims, Error> {
    let payload = verified_payload(keys, token)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| INVALID)?;
    if issuer.is_some_and(|iss| claims.iss.as_deref() != Some(iss)) {
        return Err(INVALID);
    }
    if audience.is_some_and(|aud| claims.aud.as_deref() != Some(aud)) {
        return Err(INVALID);
    }
    Ok(claims)
}

/// Checks a token's structure, header, key and signature, and returns its payload's bytes.
pub(crate) fn verified_payload(keys: &[PreparedKey], token: &str) -> Result<Vec<u8>, Error> {
    let (message, signature) = token.rsplit_once('.').ok_or(INVALID)?;
    let (header_b64, payload_b64) = message.split_once('.').ok_or(INVALID)?;
    if payload_b64.contains('.') {
        return Err(INVALID);
    }
    let mut header_buf = [0u8; 512];
    let header_len = URL_SAFE_NO_PAD
        .decode_slice(header_b64, &mut header_buf)
        .map_err(|_| INVALID)?;
    let header: JoseHeader<'_> =
        serde_json::from_slice(&header_buf[..header_len]).map_err(|_| INVALID)?;
    // A `kid` names one key (kids are unique, checked at build). Without one, every key of
    // the token's algorithm is tried, so a rotation without kids keeps old sessions valid.
    // One algorithm per key: `none`, or HS256 presented to an RS256 key, matches no key.
    let mut candidates = keys.iter().filter(|k| match header.kid.as_deref() {
        Some(kid) => k.kid.as_deref() == Some(kid),
        None => true,
    });
    if !candidates
        .any(|k| header.alg == alg_name(k.alg) && k.signature_ok(message.as_bytes(), signature))
    {
        return Err(INVALID);
    }
    URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| INVALID)
}

/// Tokens already verified, by the exact token bytes, so a repeat costs a hash, a compare
/// and the liveness checks instead of the signature and JSON work.
///
/// Keyed by a hash of the token's last [`KEY_BYTES`] bytes, which lie in the signature for
/// every algorithm we accept (an HS256 signature is 43 characters) and so already differ per
/// token; the full token is stored and compared on a hit, so a token that differs in any byte
/// is a miss. The hash is foldhash, seeded per process: SipHash over the signature, and a
/// second SipHash of that key inside the map, was a tenth of a warm request. Bounded by entry
/// count (`quick_cache`, which evicts with CLOCK-Pro).
pub(crate) struct VerifiedCache {
    hasher: foldhash::fast::RandomState,
    entries: quick_cache::sync::Cache<
        u64,
        (Arc<str>, Arc<Claims>),
        quick_cache::UnitWeighter,
        foldhash::fast::RandomState,
    >,
}

/// How much of a token's end [`VerifiedCache`] hashes.
const KEY_BYTES: usize = 32;

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            hasher: foldhash::fast::RandomState::default(),
            entries: quick_cache::sync::Cache::with(
                capacity,
                capacity as u64,
                quick_cache::UnitWeighter,
                foldhash::fast::RandomState::default(),
                Default::default(),
            ),
        }
    }

    fn key(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        self.hasher
            .hash_one(&bytes[bytes.len().saturating_sub(KEY_BYTES)..])
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<Claims>> {
        let (stored, claims) = self.entries.get(&self.key(token))?;
        (*stored == *token).then_some(claims)
    }

    pub(crate) fn insert(&self, token: &str, claims: Arc<Claims>) {
        self.entries
            .insert(self.key(token), (Arc::from(token), claims));
    }
}
