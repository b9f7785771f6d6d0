//! Contract cases of the second hardening pass: a client that leaves in the middle of a login
//! must not leave its code claimed. Run against both apps by `harden2_contract_tests!(start)`.

use std::time::Duration;

use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{assert_error, json_ok, post_code};

/// One `#[tokio::test]` per case, against the app `$start` serves.
macro_rules! harden2_contract_tests {
    ($start:path) => {
        harden2_contract_tests!(@cases $start;
            a_client_that_leaves_mid_exchange_does_not_spend_its_code,
        );
    };
    (@cases $start:path; $( $name:ident ),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fake = common::fake().await;
                let vars = common::env(&fake, &[]);
                let base = $start(vars).await;
                common::harden2::$name(&base, &fake).await;
            }
        )*
    };
}

/// A login whose client disconnects while `getuserinfo` is in flight leaves no claim behind:
/// a retry of the same code logs in, instead of meeting `code_replayed` for five minutes.
///
/// The first exchange hangs for a minute, far beyond the app's 3 s upstream timeout. An
/// adapter that drops the login when its client leaves (axum) must release the claim as it
/// drops; one that runs the login to its end (a 504 nobody reads) releases it after the
/// timeout. Either way the retry, tried until it stops meeting `code_replayed`, logs in well
/// before the claim's five minutes are up.
pub async fn a_client_that_leaves_mid_exchange_does_not_spend_its_code(
    base: &str,
    fake: &FakeDingTalk,
) {
    fake.fail_next(
        Endpoint::GetUserInfo,
        1,
        Failure::Delay(Duration::from_secs(60)),
    );
    let code = fake.mint_code("staff");
    let addr = base.strip_prefix("http://").expect("an http base URL");
    let mut client = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /auth/dingtalk HTTP/1.1\r\nHost: {addr}\r\nX-DingTalk-Code: {code}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    client.write_all(request.as_bytes()).await.unwrap();
    // The exchange is under way once the fake has seen it.
    wait_for("the first getuserinfo call", || {
        fake.calls(Endpoint::GetUserInfo) == 1
    })
    .await;
    drop(client);

    // Tried for 20 s: without the release the claim lives five minutes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let res = post_code(base, &code).await;
        if res.status() == 200 {
            assert_eq!(json_ok(res).await["user"]["userid"], "staff");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the code is still claimed 20 s after its client left"
        );
        assert_error(res, 401, "code_replayed").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 2, "one exchange per try");
}

/// Polls `done` every 10 ms, for at most 10 s.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "waited for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
