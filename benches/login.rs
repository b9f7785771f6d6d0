//! A whole login against the in-process fake DingTalk, with a warm token cache: µs per login
//! and upstream calls per login (must be 1: the `getuserinfo` exchange).
//!
//! Run: `cargo bench --bench login --features testing`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dingtalk_login::testing::{Endpoint, FakeDingTalk, FakeUser};
use dingtalk_login::AuthCode;
use dingtalk_login::DingTalkLogin;

fn login(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(
        FakeDingTalk::builder()
            .user(FakeUser::new("u1", "Zhang San").sub_admin())
            .start(),
    );
    let login = DingTalkLogin::builder()
        .app_key(fake.app_key())
        .app_secret(fake.app_secret())
        .oapi_url(fake.url())
        .session_secret("0123456789abcdef0123456789abcdef")
        .upstream_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // Warm the access token.
    rt.block_on(login.client().tokens().token()).unwrap();
    let calls_before = fake.total_calls();
    let mut logins = 0u64;

    c.bench_function("login/whole_login_warm_token", |b| {
        b.iter_batched(
            || AuthCode::parse(&fake.mint_code("u1")).unwrap(),
            |code| {
                logins += 1;
                rt.block_on(login.login(&code)).unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    let upstream = fake.total_calls() - calls_before;
    let per_login = upstream as f64 / logins as f64;
    eprintln!(
        "upstream calls per login: {per_login} ({upstream} calls / {logins} logins; gettoken: {})",
        fake.calls(Endpoint::GetToken)
    );
    assert_eq!(
        upstream as u64, logins,
        "a login with a warm token is exactly one upstream call"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = login
}
criterion_main!(benches);
