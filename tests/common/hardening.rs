//! Contract cases of the attack pass: the login rate limit, the single-use state cookie of a
//! failed redirect login, and two session cookies on one request.

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
