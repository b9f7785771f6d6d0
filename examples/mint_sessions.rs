//! Bench-only: prints `N` distinct valid session tokens, one per line, signed with
//! `SESSION_SECRET` exactly as the example apps sign theirs, for the cold-path and memory runs
//! of `benches/load.sh` (more distinct sessions than the verified-session cache holds).
//!
//! ```sh
//! SESSION_SECRET=... cargo run --release --example mint_sessions --features testing -- 60000
//! ```

use std::io::{BufWriter, Write};

use dingtalk_login::dingtalk::DingTalkUser;
use dingtalk_login::guard::SysLevel;
use dingtalk_login::DingTalkLogin;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(60_000);
    let secret = std::env::var("SESSION_SECRET").expect("SESSION_SECRET is required");
    // Only the session key matters for verification; the rest is never used.
    let login = DingTalkLogin::builder()
        .app_key("mint")
        .app_secret("mint")
        .session_secret(secret.into_bytes())
        .build()
        .expect("the session secret is accepted");
    let mut out = BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        let mut user = DingTalkUser::new(format!("user{i:06}"), "Admin", SysLevel::SuperAdmin);
        user.unionid = Some(format!("union-{i:06}"));
        writeln!(
            out,
            "{}",
            dingtalk_login::testing::mint_session(&login, &user)
        )
        .unwrap();
    }
    out.flush().unwrap();
}
