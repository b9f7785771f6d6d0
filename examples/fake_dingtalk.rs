//! The fake DingTalk as a standalone process, for load tests and manual poking.
//!
//! ```sh
//! cargo run --example fake_dingtalk --features testing
//! ```
//!
//! Prints `listening on http://ADDR`, the app key and secret to configure the example apps
//! with, then `code <userid> <code>` lines: fresh login codes (valid 5 minutes, single use)
//! for `admin` (super admin), `sub` (sub admin) and `employee`. It listens on a free port of
//! 127.0.0.1; `CODES` sets how many codes per user (default 4).

use std::io::Write;

use dingtalk_login::testing::{FakeDingTalk, FakeUser};

#[tokio::main]
async fn main() {
    let codes: usize = std::env::var("CODES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let fake = FakeDingTalk::builder()
        .user(FakeUser::new("admin", "Admin").super_admin())
        .user(FakeUser::new("sub", "Sub Admin").sub_admin())
        .user(FakeUser::new("employee", "Employee").mobile("13800138000"))
        .start()
        .await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", fake.url()).unwrap();
    writeln!(out, "app_key {}", fake.app_key()).unwrap();
    writeln!(out, "app_secret {}", fake.app_secret()).unwrap();
    for user in ["admin", "sub", "employee"] {
        for _ in 0..codes {
            writeln!(out, "code {user} {}", fake.mint_code(user)).unwrap();
        }
    }
    out.flush().unwrap();
    drop(out);
    // Serve until killed.
    std::future::pending::<()>().await;
}
