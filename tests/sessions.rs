//! Session tokens: what verification accepts and what it refuses.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dingtalk_login::clock::ManualClock;
use dingtalk_login::guard::{SysLevel, SysLevelPolicy};
use dingtalk_login::session::{Claims, SigningKey, VerifyingKey};
use dingtalk_login::testing::sign_claims;
use dingtalk_login::SessionRejection;
use dingtalk_login::{DingTalkLogin, Error};
use serde_json::{json, Map};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const OTHER_KEY: &str = "fedcba9876543210fedcba9876543210";

fn login_with(key: SigningKey, clock: &ManualClock) -> DingTalkLogin {
    DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .signing_key(key)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn claims(clock: &ManualClock, level: i64) -> Claims {
    let now = dingtalk_login::clock::Clock::unix(clock);
    Claims {
        sub: "u1".into(),
        unionid: Some("un1".into()),
        name: "Li".into(),
        sys: level == 1 || level == 2,
        sys_level: SysLevel::from(level),
        iat: now,
        exp: now + 3600,
        auth_time: Some(now),
        jti: "jti-1".into(),
        iss: None,
        aud: None,
        ext: Map::new(),
    }
}

fn rejection(err: Error) -> SessionRejection {
    match err {
        Error::Unauthenticated(why) => why,
        other => panic!("expected unauthenticated, got {other:?}"),
    }
}

fn hs(key: &str) -> SigningKey {
    SigningKey::hs256(key).unwrap()
}

#[test]
fn a_signed_session_verifies() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let token = sign_claims(&login, &claims(&clock, 2)).unwrap();
    let back = login.verify(&token).unwrap();
    assert_eq!(*back, claims(&clock, 2));
}

#[test]
fn a_tampered_token_is_invalid() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let token = sign_claims(&login, &claims(&clock, 0)).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    // Promote oneself to super admin in the payload, keep the signature.
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sys_level"] = json!(1);
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    assert_eq!(
        rejection(login.verify(&parts.join(".")).unwrap_err()),
        SessionRejection::Invalid
    );
    // A flipped signature byte.
    let mut sig = token.clone().into_bytes();
    let last = sig.len() - 2;
    sig[last] = if sig[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        rejection(
            login
                .verify(std::str::from_utf8(&sig).unwrap())
                .unwrap_err()
        ),
        SessionRejection::Invalid
    );
}

#[test]
fn alg_none_is_refused() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&clock, 1)).unwrap());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert_eq!(
            rejection(login.verify(&token).unwrap_err()),
            SessionRejection::Invalid
        );
    }
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let clock = ManualClock::starting_now();
    let ours = login_with(hs(KEY), &clock);
    let theirs = login_with(hs(OTHER_KEY), &clock);
    let token = sign_claims(&theirs, &claims(&clock, 1)).unwrap();
    assert_eq!(
        rejection(ours.verify(&token).unwrap_err()),
        SessionRejection::Invalid
    );
}

#[test]
fn hs_rs_confusion_is_refused() {
    // An attacker signs HS256 with the RS256 *public* key as the secret.
    let clock = ManualClock::starting_now();
    let rsa = SigningKey::rs256_pem(
        include_bytes!("keys/rsa_private.pem"),
        include_bytes!("keys/rsa_public.pem"),
    )
    .unwrap();
    let login = login_with(rsa, &clock);
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&clock, 1),
        &jsonwebtoken::EncodingKey::from_secret(include_bytes!("keys/rsa_public.pem")),
    )
    .unwrap();
    assert_eq!(
        rejection(login.verify(&forged).unwrap_err()),
        SessionRejection::Invalid
    );
}

#[test]
fn expiry_is_checked_with_the_leeway() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let token = sign_claims(&login, &claims(&clock, 0)).unwrap();
    clock.advance(Duration::from_secs(3600 + 60));
    assert!(login.verify(&token).is_ok(), "within the 60 s leeway");
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        rejection(login.verify(&token).unwrap_err()),
        SessionRejection::Expired
    );
}

#[test]
fn a_token_without_exp_is_refused() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let mut c = serde_json::to_value(claims(&clock, 0)).unwrap();
    c.as_object_mut().unwrap().remove("exp");
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &c,
        &jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        rejection(login.verify(&token).unwrap_err()),
        SessionRejection::Invalid
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let c = claims(&clock, 0);
    let token = sign_claims(&login, &c).unwrap();
    login.logout(&c).await.unwrap();
    assert_eq!(
        rejection(login.verify(&token).unwrap_err()),
        SessionRejection::Revoked
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let clock = ManualClock::starting_now();
    let strict = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .session_secret(KEY)
        .issuer("our-app")
        .audience("our-web")
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut c = claims(&clock, 0);
    c.iss = Some("our-app".into());
    c.aud = Some("our-web".into());
    assert!(strict.verify(&sign_claims(&strict, &c).unwrap()).is_ok());
    c.aud = Some("someone-else".into());
    assert!(strict.verify(&sign_claims(&strict, &c).unwrap()).is_err());
    c.aud = Some("our-web".into());
    c.iss = None;
    assert!(strict.verify(&sign_claims(&strict, &c).unwrap()).is_err());
}

#[test]
fn rotation_keeps_old_tokens_valid_by_kid() {
    let clock = ManualClock::starting_now();
    let old = login_with(hs(OTHER_KEY).with_kid("2025"), &clock);
    let old_token = sign_claims(&old, &claims(&clock, 0)).unwrap();
    let rotated = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .signing_key(hs(KEY).with_kid("2026"))
        .verification_key(VerifyingKey::hs256(OTHER_KEY).unwrap().with_kid("2025"))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(rotated.verify(&old_token).is_ok());
    let new_token = sign_claims(&rotated, &claims(&clock, 0)).unwrap();
    assert!(rotated.verify(&new_token).is_ok());
    // An unknown kid is refused.
    let stranger = login_with(hs(KEY).with_kid("9999"), &clock);
    let t = sign_claims(&stranger, &claims(&clock, 0)).unwrap();
    assert!(rotated.verify(&t).is_err());
}

#[test]
fn rotation_without_kid_tries_every_key_of_the_algorithm() {
    let clock = ManualClock::starting_now();
    const THIRD_KEY: &str = "a third key, also of 32 bytes or more";
    let older = sign_claims(&login_with(hs(THIRD_KEY), &clock), &claims(&clock, 0)).unwrap();
    let old = sign_claims(&login_with(hs(OTHER_KEY), &clock), &claims(&clock, 0)).unwrap();
    let rotated = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .signing_key(hs(KEY))
        .verification_key(VerifyingKey::hs256(OTHER_KEY).unwrap())
        .verification_key(VerifyingKey::hs256(THIRD_KEY).unwrap())
        .clock(clock.clone())
        .build()
        .unwrap();
    let new = sign_claims(&rotated, &claims(&clock, 0)).unwrap();
    for token in [&new, &old, &older] {
        assert!(rotated.verify(token).is_ok(), "a token of a configured key");
    }
    // A key nobody configured still verifies nothing.
    let stranger = login_with(hs("a stranger's key of at least 32 bytes"), &clock);
    let t = sign_claims(&stranger, &claims(&clock, 0)).unwrap();
    assert_eq!(
        rejection(rotated.verify(&t).unwrap_err()),
        SessionRejection::Invalid
    );
    // Nor does another algorithm: an RS256 key among HS256 ones is not tried on an HS256
    // token, and an HS256 token signed with the RSA public key (the classic confusion) fails.
    let rsa_public = include_bytes!("keys/rsa_public.pem");
    let mixed = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .signing_key(hs(KEY))
        .verification_key(VerifyingKey::rs256_pem(rsa_public).unwrap())
        .clock(clock.clone())
        .build()
        .unwrap();
    let confused = sign_claims(
        &login_with(hs(std::str::from_utf8(rsa_public).unwrap()), &clock),
        &claims(&clock, 0),
    )
    .unwrap();
    assert!(mixed.verify(&confused).is_err());
}

#[test]
fn duplicate_kids_are_refused_at_build() {
    let build = |signing: SigningKey, extra: Vec<VerifyingKey>| {
        extra
            .into_iter()
            .fold(
                DingTalkLogin::builder()
                    .app_key("k")
                    .app_secret("s")
                    .signing_key(signing),
                |b, key| b.verification_key(key),
            )
            .build()
    };
    let err = build(
        hs(KEY).with_kid("2026"),
        vec![VerifyingKey::hs256(OTHER_KEY).unwrap().with_kid("2026")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("2026"), "{err}");
    let err = build(
        hs(KEY).with_kid("2026"),
        vec![
            VerifyingKey::hs256(OTHER_KEY).unwrap().with_kid("2025"),
            VerifyingKey::hs256(KEY).unwrap().with_kid("2025"),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("2025"), "{err}");
    // Distinct kids, and several keys without one, are fine.
    assert!(build(
        hs(KEY).with_kid("2026"),
        vec![VerifyingKey::hs256(OTHER_KEY).unwrap().with_kid("2025")],
    )
    .is_ok());
    assert!(build(
        hs(KEY),
        vec![
            VerifyingKey::hs256(OTHER_KEY).unwrap(),
            VerifyingKey::hs256(OTHER_KEY).unwrap(),
        ],
    )
    .is_ok());
}

#[test]
fn asymmetric_algorithms_round_trip() {
    let clock = ManualClock::starting_now();
    let keys = [
        SigningKey::rs256_pem(
            include_bytes!("keys/rsa_private.pem"),
            include_bytes!("keys/rsa_public.pem"),
        ),
        SigningKey::es256_pem(
            include_bytes!("keys/ec_private.pem"),
            include_bytes!("keys/ec_public.pem"),
        ),
        SigningKey::ed25519_pem(
            include_bytes!("keys/ed_private.pem"),
            include_bytes!("keys/ed_public.pem"),
        ),
    ];
    for key in keys {
        let login = login_with(key.unwrap(), &clock);
        let token = sign_claims(&login, &claims(&clock, 1)).unwrap();
        assert_eq!(login.verify(&token).unwrap().sub, "u1");
    }
}

#[test]
fn guards_are_sets_not_scales() {
    let admin = SysLevelPolicy::admin();
    let superadmin = SysLevelPolicy::super_admin();
    let level = |n: i64| SysLevel::from(n);
    assert!(admin.allows(level(1), true) && admin.allows(level(2), true));
    assert!(!admin.allows(level(100), false), "boss is not admin");
    assert!(!admin.allows(level(0), false));
    assert!(
        !admin.allows(level(3), false),
        "unknown levels are not admin"
    );
    assert!(superadmin.allows(level(1), true));
    assert!(
        !superadmin.allows(level(2), true),
        "sub admin is not super admin"
    );
    assert!(!superadmin.allows(level(100), false));
    let bosses = SysLevelPolicy::any_of([SysLevel::Boss]);
    assert!(bosses.allows(level(100), false) && !bosses.allows(level(1), true));
}

#[test]
fn secrets_stay_out_of_debug() {
    let login = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("the-app-secret")
        .session_secret(KEY)
        .build()
        .unwrap();
    let shown = format!("{login:?} {:?}", hs(KEY));
    assert!(!shown.contains("the-app-secret"));
    assert!(!shown.contains(KEY));
}

#[tokio::test]
async fn a_cached_token_is_still_refused_once_revoked() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let c = claims(&clock, 1);
    let token = sign_claims(&login, &c).unwrap();
    // Verified twice: the second is served from the cache.
    login.verify(&token).unwrap();
    login.verify(&token).unwrap();
    login.logout(&c).await.unwrap();
    assert_eq!(
        rejection(login.verify(&token).unwrap_err()),
        SessionRejection::Revoked
    );
}

#[test]
fn a_cached_token_is_still_refused_once_expired() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let token = sign_claims(&login, &claims(&clock, 1)).unwrap();
    login.verify(&token).unwrap();
    clock.advance(Duration::from_secs(3600 + 61));
    assert_eq!(
        rejection(login.verify(&token).unwrap_err()),
        SessionRejection::Expired
    );
}

#[test]
fn a_token_differing_in_any_byte_is_not_served_from_the_cache() {
    let clock = ManualClock::starting_now();
    let login = login_with(hs(KEY), &clock);
    let token = sign_claims(&login, &claims(&clock, 1)).unwrap();
    login.verify(&token).unwrap();
    // Same signature segment (the cache key), another payload byte.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let (header, payload) = head.split_once('.').unwrap();
    let mut p = payload.as_bytes().to_vec();
    p[5] = if p[5] == b'A' { b'B' } else { b'A' };
    let forged = format!("{header}.{}.{sig}", String::from_utf8(p).unwrap());
    assert_eq!(
        rejection(login.verify(&forged).unwrap_err()),
        SessionRejection::Invalid
    );
    // Appended bytes too.
    assert!(login.verify(&format!("{token}x")).is_err());
    assert!(login.verify(&token).is_ok());
}

#[test]
fn verification_works_with_the_cache_off() {
    let clock = ManualClock::starting_now();
    let login = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .session_secret(KEY)
        .session_cache_capacity(0)
        .clock(clock.clone())
        .build()
        .unwrap();
    let token = sign_claims(&login, &claims(&clock, 1)).unwrap();
    assert!(login.verify(&token).is_ok());
    assert!(login.verify(&token).is_ok());
}
