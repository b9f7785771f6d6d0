//! What every integration test shares: the session secret, the fake's users, a fake-backed
//! builder, a real `redis-server` ([`redis`]) and an in-process actix server (`actix`).
//!
//! A test file includes it with `mod support;`. Users, by level:
//!
//! | userid | name | `sys_level` | notes |
//! |---|---|---|---|
//! | `admin` | Ada Admin | 1 (super admin) | |
//! | `sub` | Sam Sub | 2 (sub admin) | |
//! | `boss` | Bo Boss | 100 (boss) | |
//! | `staff` | Stu Staff | 0 | mobile `13800138000`, exclusive accounts `zxxxx`, `lixxxi` |
//! | `nounion` | Nu Nounion | 0 | no unionid |
#![allow(dead_code)]

#[cfg(feature = "actix")]
pub mod actix;
pub mod redis;

use std::time::Duration;

use dingtalk_login::dingtalk::RetryPolicy;
use dingtalk_login::testing::{FakeDingTalk, FakeDingTalkBuilder, FakeUser};
use dingtalk_login::{AuthCode, ConfigBuilder, DingTalkLogin};

/// The session key of every app under test (HS256, 40 bytes).
pub const SESSION_SECRET: &str = "contract-test-session-secret-0123456789!";

/// The mobile number of `staff`.
pub const STAFF_MOBILE: &str = "13800138000";

/// The fake's users (see the module docs).
pub fn users() -> Vec<FakeUser> {
    vec![
        FakeUser::new("admin", "Ada Admin").super_admin(),
        FakeUser::new("sub", "Sam Sub").sub_admin(),
        FakeUser::new("boss", "Bo Boss").boss(),
        FakeUser::new("staff", "Stu Staff")
            .mobile(STAFF_MOBILE)
            .exclusive_accounts(vec!["zxxxx".into(), "lixxxi".into()]),
        FakeUser::new("nounion", "Nu Nounion").without_unionid(),
    ]
}

/// A fake builder with [`users`], to add accounts, employees or quirks to.
pub fn fake_builder() -> FakeDingTalkBuilder {
    users()
        .into_iter()
        .fold(FakeDingTalk::builder(), |b, u| b.user(u))
}

/// A started fake with [`users`].
pub async fn fake() -> FakeDingTalk {
    fake_builder().start().await
}

/// Retries that finish quickly: 3 attempts, 10-20 ms apart.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(20))
}

/// A login builder pointing at `fake`, with [`SESSION_SECRET`], a 2 s upstream timeout and
/// the default retries 10 ms apart.
pub fn builder(fake: &FakeDingTalk) -> ConfigBuilder {
    DingTalkLogin::builder()
        .app_key(fake.app_key())
        .app_secret(fake.app_secret())
        .oapi_url(fake.url())
        .session_secret(SESSION_SECRET)
        .upstream_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
}

/// A fresh login code for `userid`.
pub fn code(fake: &FakeDingTalk, userid: &str) -> AuthCode {
    AuthCode::parse(&fake.mint_code(userid)).expect("the fake mints valid codes")
}
