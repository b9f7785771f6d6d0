//! Property tests: arbitrary input to the parsers, the code validator and the session verifier
//! never panics, and what they accept is what they should.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dingtalk_login::dingtalk::{DingTalkUser, MobileLookup};
use dingtalk_login::AuthCode;
use dingtalk_login::DingTalkLogin;
use proptest::prelude::*;

fn login() -> DingTalkLogin {
    DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .session_secret("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn code_validator_accepts_exactly_the_charset(s in "\\PC{0,200}") {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(AuthCode::parse(&s).is_ok(), ok);
    }

    #[test]
    fn request_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = AuthCode::from_json_body(&body);
        let _ = AuthCode::from_form(&body);
    }

    #[test]
    fn json_bodies_never_panic(code in prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,300}".prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
    ]) {
        let body = serde_json::json!({ "code": code }).to_string();
        let _ = AuthCode::from_json_body(body.as_bytes());
    }

    #[test]
    fn wire_parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<DingTalkUser>(&body);
        let _ = serde_json::from_slice::<MobileLookup>(&body);
    }

    #[test]
    fn wire_parsers_never_panic_on_json_shapes(
        userid in "\\PC{0,20}",
        level in prop_oneof![any::<i64>().prop_map(|n| serde_json::json!(n)), "\\PC{0,10}".prop_map(|s| serde_json::json!(s))],
        list in prop_oneof![
            proptest::collection::vec("\\PC{0,8}", 0..4).prop_map(|v| serde_json::json!(v)),
            "\\PC{0,30}".prop_map(|s| serde_json::json!(s)),
        ],
    ) {
        let user = serde_json::json!({"userid": userid, "sys_level": level, "sys": level});
        let _ = serde_json::from_value::<DingTalkUser>(user);
        let found = serde_json::json!({"userid": userid, "exclusive_account_userid_list": list});
        let _ = serde_json::from_value::<MobileLookup>(found);
    }

    #[test]
    fn the_verifier_never_panics_and_never_accepts_garbage(token in "\\PC{0,400}") {
        let login = login();
        prop_assert!(login.verify(&token).is_err());
    }

    #[test]
    fn the_verifier_never_accepts_forged_structures(
        header in proptest::collection::vec(any::<u8>(), 0..80),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        sig in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        );
        prop_assert!(login().verify(&token).is_err());
    }
}
