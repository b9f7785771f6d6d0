//! Contract cases of the attack pass: the login rate limit, the single-use state cookie of a
//! failed redirect login, two session cookies on one request, a wrong app secret under load,
//! oversized and redirecting upstream answers, and clients that leave mid-login.

use std::time::Duration;

use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;

/// One `#[tokio::test]` per hardening case, against the app `$start` serves.
macro_rules! hardening_contract_tests {
    ($start:path) => {
        contract_tests!(@cases $start;
            rate_limit_refuses_the_sixth_attempt_before_dingtalk { "LOGIN_RATE_LIMIT_PER_MIN" = "5" },
            no_rate_limit_by_default,
            failed_redirect_login_clears_the_state_cookie,
            an_empty_session_cookie_does_not_hide_a_valid_one,
            public_url_origin_is_allowed { "PUBLIC_URL" = "https://app.test" },
            a_wrong_secret_under_load_costs_a_handful_of_token_fetches { "DINGTALK_APP_SECRET" = "not-the-secret" },
            a_client_that_leaves_mid_exchange_does_not_spend_its_code,
        );
    };
}

/// `LOGIN_RATE_LIMIT_PER_MIN=5`: five logins pass, the sixth answers 429 `too_many_requests`
/// with `Retry-After`, and DingTalk saw five `getuserinfo` calls, not six.
pub async fn rate_limit_refuses_the_sixth_attempt_before_dingtalk(base: &str, fake: &FakeDingTalk) {
    for _ in 0..5 {
        json_ok(post_code(base, &fake.mint_code("staff")).await).await;
    }
    let res = post_code(base, &fake.mint_code("staff")).await;
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .expect("a 429 says when to try again")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_error(res, 429, "too_many_requests").await;
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 5);
    // Malformed codes count too: the limit is on attempts, and is checked first.
    assert_error(post_code(base, "bad code!").await, 429, "too_many_requests").await;
    // The redirect login shares the budget.
    let res = get_with(base, "/auth/dingtalk?code=abc&state=x", &[]).await;
    assert_error(res, 429, "too_many_requests").await;
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 5);
}

/// Without `LOGIN_RATE_LIMIT_PER_MIN` nothing is limited.
pub async fn no_rate_limit_by_default(base: &str, fake: &FakeDingTalk) {
    for _ in 0..8 {
        json_ok(post_code(base, &fake.mint_code("staff")).await).await;
    }
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 8);
}

/// A redirect login whose code DingTalk refuses clears the `dingtalk_state` cookie with the
/// error: the state was single use, and a retry starts from a fresh one.
pub async fn failed_redirect_login_clears_the_state_cookie(base: &str, _fake: &FakeDingTalk) {
    let (state, cookie) = new_state(base).await;
    let res = get_with(
        base,
        &format!("/auth/dingtalk?code=unknown-code&state={state}"),
        &[("cookie", &cookie)],
    )
    .await;
    let cleared = set_cookie(res.headers(), "dingtalk_state");
    assert_eq!(pair(&cleared), "dingtalk_state=", "{cleared}");
    assert_eq!(
        attr_value(&cleared, "max-age").as_deref(),
        Some("0"),
        "{cleared}"
    );
    assert_error(res, 401, "code_rejected").await;
}

/// Two session cookies (say, a stale empty one from another `Path` first): the first
/// non-empty one is the session.
pub async fn an_empty_session_cookie_does_not_hide_a_valid_one(base: &str, fake: &FakeDingTalk) {
    let (token, _) = login(base, fake, "staff").await;
    let both = format!("dingtalk_session=; dingtalk_session={token}");
    let res = get_with(base, "/me", &[("cookie", &both)]).await;
    assert_eq!(json_ok(res).await["userid"], "staff");
}

/// `PUBLIC_URL=https://app.test` behind a TLS terminator that sends no `X-Forwarded-Proto`:
/// a browser on the https page posts with `Origin: https://app.test` over plain http, and is
/// let in; a foreign origin still is not.
pub async fn public_url_origin_is_allowed(base: &str, fake: &FakeDingTalk) {
    let post = |origin: &'static str, code: String| {
        send(
            client()
                .post(format!("{base}/auth/dingtalk"))
                .header("Origin", origin)
                .json(&json!({ "code": code })),
        )
    };
    json_ok(post("https://app.test", fake.mint_code("staff")).await).await;
    assert_error(
        post("https://evil.test", fake.mint_code("staff")).await,
        403,
        "cross_site_request",
    )
    .await;
}

/// A wrong app secret, 30 concurrent logins → each fails with 502 `upstream_error`, and the
/// failed `gettoken` is shared instead of repeated per login. The logins start 10 ms apart
/// (all within well under a second): a cache that shares a failure only with the callers
/// queued behind the fetch in flight would fetch again for nearly every one of them.
pub async fn a_wrong_secret_under_load_costs_a_handful_of_token_fetches(
    base: &str,
    fake: &FakeDingTalk,
) {
    let logins: Vec<_> = (0..30)
        .map(|i| {
            let (base, code) = (base.to_owned(), fake.mint_code("staff"));
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(10 * i)).await;
                post_code(&base, &code).await
            })
        })
        .collect();
    for login in logins {
        assert_error(login.await.unwrap(), 502, "upstream_error").await;
    }
    let fetches = fake.calls(Endpoint::GetToken);
    assert!(
        (1..=3).contains(&fetches),
        "{fetches} gettoken calls for 30 logins"
    );
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
