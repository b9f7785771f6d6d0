//! Session verification: raw `jsonwebtoken::decode` (the reference) against ours, cold and warm.
//!
//! Targets: cold ≤ 1.0 × raw, revocation check included; warm ≤ 0.2 × raw.
//! Run: `cargo bench --bench verify --features testing`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dingtalk_login::dingtalk::DingTalkUser;
use dingtalk_login::guard::SysLevel;
use dingtalk_login::session::Claims;
use dingtalk_login::DingTalkLogin;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Map};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn login(cache: usize) -> DingTalkLogin {
    DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .session_secret(KEY)
        .session_cache_capacity(cache)
        .build()
        .unwrap()
}

/// A realistic user, with enough extension claims that the token is about 500 bytes.
fn user() -> (DingTalkUser, Map<String, serde_json::Value>) {
    let user = DingTalkUser {
        userid: "manager4321".into(),
        unionid: Some("gliiW0piiii02zBUjUxxxx".into()),
        associated_unionid: None,
        name: "张三 (Zhang San)".into(),
        device_id: None,
        sys: true,
        sys_level: SysLevel::SubAdmin,
    };
    let mut ext = Map::new();
    ext.insert("dept_id_list".into(), json!([100234, 100235, 100981]));
    ext.insert("org_code".into(), json!("ding123abc456def"));
    ext.insert(
        "title".into(),
        json!("Senior Engineer, Platform Infrastructure"),
    );
    ext.insert("email".into(), json!("zhangsan@example.com"));
    (user, ext)
}

/// A fresh session for `user` with the extension claims `ext`, as a login with an enricher
/// would sign it.
fn mint(
    login: &DingTalkLogin,
    user: &DingTalkUser,
    ext: &Map<String, serde_json::Value>,
) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims: Claims = serde_json::from_value(json!({
        "sub": user.userid, "unionid": user.unionid, "name": user.name, "sys": user.sys,
        "sys_level": user.sys_level, "iat": now, "exp": now + 8 * 3600,
        "jti": format!("{:032x}", rand::random::<u128>()), "ext": ext,
    }))
    .unwrap();
    dingtalk_login::testing::sign_claims(login, &claims).unwrap()
}

fn verify(c: &mut Criterion) {
    let cached = login(10_000);
    let (user, ext) = user();
    let token = mint(&cached, &user, &ext);
    eprintln!("token length: {} bytes", token.len());

    let key = DecodingKey::from_secret(KEY.as_bytes());
    let validation = Validation::new(Algorithm::HS256);
    c.bench_function("verify/raw_jsonwebtoken_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<Claims>(black_box(&token), &key, &validation).unwrap())
    });

    let uncached = login(0);
    c.bench_function("verify/ours_cold", |b| {
        b.iter(|| uncached.verify(black_box(&token)).unwrap())
    });

    // First sight of each token with the cache on: verification plus the cache insert.
    c.bench_function("verify/ours_cold_first_sight", |b| {
        b.iter_batched(
            || mint(&cached, &user, &ext),
            |t| cached.verify(&t).unwrap(),
            BatchSize::SmallInput,
        )
    });

    cached.verify(&token).unwrap();
    c.bench_function("verify/ours_warm", |b| {
        b.iter(|| cached.verify(black_box(&token)).unwrap())
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
