//! The session lifecycle's contract: `POST /auth/refresh` with its absolute
//! lifetime and live re-check, `POST /admin/users/{userid}/revoke`, and RFC 6750
//! `WWW-Authenticate` answers, as async cases run against every adapter by
//! [`lifecycle_contract_tests!`].
//!
//! The apps run on the system clock, so the two cases about time (past the max age, a login
//! after a revocation) wait a little over a second; nothing asserts how long anything took.

use std::time::Duration;

use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::Response;
use serde_json::Value;

use super::{
    assert_error, attr_value, bearer, client, get_with, json_ok, jwt_claims, login, pair,
    post_code, send, set_cookie,
};

/// One `#[tokio::test]` per lifecycle case, against the app `$start` serves; a case may set
/// contract variables (`{ "SESSION_MAX_AGE_SECS" = "100" }`).
macro_rules! lifecycle_contract_tests {
    ($start:path) => {
        contract_tests!(@cases $start;
            refresh_answers_like_login_and_spends_the_old_token,
            refresh_keeps_auth_time_and_caps_exp_at_the_max_age { "SESSION_MAX_AGE_SECS" = "100" },
            refresh_past_the_max_age_is_401 { "SESSION_MAX_AGE_SECS" = "1" },
            refresh_shows_a_level_change_made_at_dingtalk,
            refresh_of_a_user_dingtalk_no_longer_knows_is_401_and_revokes,
            refresh_when_dingtalk_is_down_is_503_and_keeps_the_session,
            refresh_from_a_foreign_origin_is_403,
            revoke_user_is_for_super_admins_only,
            revoke_user_refuses_every_session_of_that_user_until_a_new_login,
            www_authenticate_on_every_refusal,
        );
    };
}

/// POSTs an empty body to `path` with `headers`.
async fn post(base: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = client().post(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req).await
}

async fn refresh(base: &str, token: &str) -> Response {
    post(base, "/auth/refresh", &[("authorization", &bearer(token))]).await
}

async fn me(base: &str, token: &str) -> Response {
    get_with(base, "/me", &[("authorization", &bearer(token))]).await
}

/// `/me` answers 401 `unauthenticated` with `error="invalid_token"`: a presented token refused.
async fn assert_refused(base: &str, token: &str, why: &str) {
    let res = me(base, token).await;
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some(r#"Bearer error="invalid_token""#),
        "{why}"
    );
    assert_error(res, 401, "unauthenticated").await;
}

/// Refreshes `token`; the new token and the answer's body.
async fn refreshed(base: &str, token: &str) -> (String, Value) {
    let body = json_ok(refresh(base, token).await).await;
    (body["token"].as_str().unwrap().to_owned(), body)
}

async fn revoke(base: &str, admin: &str, userid: &str) -> Response {
    let path = format!("/admin/users/{userid}/revoke");
    post(base, &path, &[("authorization", &bearer(admin))]).await
}

/// Refresh: 200 with the login's JSON shape and a new session cookie; the new token works, has
/// a new `jti` and the same identity; the presented token is refused from then on, by Bearer
/// and by cookie; refreshing with the cookie alone works too.
pub async fn refresh_answers_like_login_and_spends_the_old_token(base: &str, fake: &FakeDingTalk) {
    let (old, old_cookie) = login(base, fake, "staff").await;
    let res = refresh(base, &old).await;
    let cookie = set_cookie(res.headers(), "dingtalk_session");
    let body = json_ok(res).await;
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["expires_at", "token", "token_type", "user"],
        "{body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["userid"], "staff");
    assert_eq!(body["user"]["unionid"], "union-staff");
    assert_eq!(body["user"]["name"], "Stu Staff");
    assert_eq!(body["user"]["sys_level"], 0);
    let new = body["token"].as_str().unwrap();
    assert_eq!(pair(&cookie), format!("dingtalk_session={new}"));
    let (before, after) = (jwt_claims(&old), jwt_claims(new));
    assert_ne!(before["jti"], after["jti"]);
    assert_eq!(before["sub"], after["sub"]);
    assert_eq!(after["exp"], body["expires_at"]);

    assert_eq!(json_ok(me(base, new).await).await["userid"], "staff");
    assert_refused(base, &old, "the refreshed token").await;
    let res = get_with(base, "/me", &[("cookie", &pair(&old_cookie))]).await;
    assert_error(res, 401, "unauthenticated").await;
    assert_error(refresh(base, &old).await, 401, "unauthenticated").await;

    // The cookie alone (what a page sends) refreshes as well.
    let res = post(base, "/auth/refresh", &[("cookie", &pair(&cookie))]).await;
    let newer = json_ok(res).await["token"].as_str().unwrap().to_owned();
    assert_eq!(json_ok(me(base, &newer).await).await["userid"], "staff");
    assert_refused(base, new, "the token refreshed by its cookie").await;
}

/// `SESSION_MAX_AGE_SECS=100`: a login's `auth_time` is its `iat` and its `exp` is capped at
/// `auth_time + 100` (not the 8-hour TTL); refreshes keep `auth_time` and the cap, and the
/// cookie lives no longer than the token.
pub async fn refresh_keeps_auth_time_and_caps_exp_at_the_max_age(base: &str, fake: &FakeDingTalk) {
    let (first, _) = login(base, fake, "sub").await;
    let claims = jwt_claims(&first);
    let auth_time = claims["auth_time"]
        .as_i64()
        .expect("auth_time is set at login");
    assert_eq!(claims["iat"].as_i64(), Some(auth_time));
    assert_eq!(claims["exp"].as_i64(), Some(auth_time + 100));

    let res = refresh(base, &first).await;
    let cookie = set_cookie(res.headers(), "dingtalk_session");
    let max_age: i64 = attr_value(&cookie, "max-age").unwrap().parse().unwrap();
    assert!((1..=100).contains(&max_age), "{cookie}");
    let second = json_ok(res).await["token"].as_str().unwrap().to_owned();
    let (third, body) = refreshed(base, &second).await;
    for token in [&second, &third] {
        let claims = jwt_claims(token);
        assert_eq!(claims["auth_time"].as_i64(), Some(auth_time), "{claims}");
        assert_eq!(claims["exp"].as_i64(), Some(auth_time + 100), "{claims}");
    }
    assert_eq!(body["expires_at"].as_i64(), Some(auth_time + 100));
}

/// `SESSION_MAX_AGE_SECS=1`: once the max age is reached, a refresh answers 401
/// `unauthenticated` (and clears the cookie) without asking DingTalk; the client logs in again.
pub async fn refresh_past_the_max_age_is_401(base: &str, fake: &FakeDingTalk) {
    let (token, _) = login(base, fake, "staff").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = fake.total_calls();
    let res = refresh(base, &token).await;
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let cleared = set_cookie(res.headers(), "dingtalk_session");
    assert_eq!(pair(&cleared), "dingtalk_session=");
    assert_error(res, 401, "unauthenticated").await;
    assert_eq!(
        fake.total_calls(),
        calls,
        "no upstream call past the max age"
    );
    // A new login starts a new max age.
    let (fresh, _) = login(base, fake, "staff").await;
    json_ok(refresh(base, &fresh).await).await;
}

/// A promotion and a demotion made at DingTalk (the fake) show in the refreshed token, and the
/// guards follow the new token: `listadmin` for admins, `user/get`'s `boss` for the boss.
pub async fn refresh_shows_a_level_change_made_at_dingtalk(base: &str, fake: &FakeDingTalk) {
    let (staff, _) = login(base, fake, "staff").await;
    let (sub, _) = login(base, fake, "sub").await;
    let (boss, _) = login(base, fake, "boss").await;
    let admin = |t: String| async move {
        get_with(base, "/admin", &[("authorization", &bearer(&t))])
            .await
            .status()
            .as_u16()
    };
    assert_eq!(admin(staff.clone()).await, 403);
    assert_eq!(admin(sub.clone()).await, 200);

    fake.set_level("staff", 2);
    fake.set_level("sub", 0);
    fake.set_level("boss", 0);
    let (staff2, body) = refreshed(base, &staff).await;
    assert_eq!(body["user"]["sys_level"], 2, "{body}");
    assert_eq!(body["user"]["sys"], true, "{body}");
    assert_eq!(jwt_claims(&staff2)["sys_level"], 2);
    assert_eq!(admin(staff2).await, 200, "promoted");
    let (sub2, body) = refreshed(base, &sub).await;
    assert_eq!(body["user"]["sys_level"], 0, "{body}");
    assert_eq!(body["user"]["sys"], false, "{body}");
    assert_eq!(admin(sub2).await, 403, "demoted");
    let (_, body) = refreshed(base, &boss).await;
    assert_eq!(body["user"]["sys_level"], 0, "no longer the boss: {body}");
    assert!(fake.calls(Endpoint::ListAdmin) >= 1);
    assert_eq!(fake.calls(Endpoint::UserGet), 3);
}

/// A user DingTalk no longer knows (60121): the refresh answers 401 `unauthenticated` and the
/// presented session is revoked; other users are unaffected.
pub async fn refresh_of_a_user_dingtalk_no_longer_knows_is_401_and_revokes(
    base: &str,
    fake: &FakeDingTalk,
) {
    let (staff, _) = login(base, fake, "staff").await;
    let (boss, _) = login(base, fake, "boss").await;
    json_ok(me(base, &staff).await).await;
    assert!(fake.remove_user("staff"));
    assert_error(refresh(base, &staff).await, 401, "unauthenticated").await;
    assert_refused(base, &staff, "the session of a removed user").await;
    json_ok(refresh(base, &boss).await).await;
}

/// DingTalk failing the re-check (busy on every `user/get`): 503 `upstream_unavailable`, and
/// the presented session stays valid (the refresh never keeps the old level silently, and
/// never logs the user out for DingTalk's trouble); once DingTalk answers, the refresh works.
pub async fn refresh_when_dingtalk_is_down_is_503_and_keeps_the_session(
    base: &str,
    fake: &FakeDingTalk,
) {
    let (token, _) = login(base, fake, "sub").await;
    fake.fail_next(Endpoint::UserGet, usize::MAX, Failure::Busy);
    assert_error(refresh(base, &token).await, 503, "upstream_unavailable").await;
    assert_eq!(json_ok(me(base, &token).await).await["userid"], "sub");
    fake.clear_failures();
    fake.fail_next(Endpoint::UserGet, 1, Failure::Errcode(60011));
    assert_error(refresh(base, &token).await, 502, "upstream_error").await;
    let (_, body) = refreshed(base, &token).await;
    assert_eq!(body["user"]["sys_level"], 2);
}

/// A refresh from a foreign `Origin` → 403 `cross_site_request`; nothing is asked of DingTalk
/// and the session is not spent. The app's own origin is fine.
pub async fn refresh_from_a_foreign_origin_is_403(base: &str, fake: &FakeDingTalk) {
    let (token, set) = login(base, fake, "staff").await;
    let calls = fake.total_calls();
    for headers in [
        vec![
            ("origin", "https://evil.test".to_owned()),
            ("cookie", pair(&set)),
        ],
        vec![
            ("origin", "null".to_owned()),
            ("authorization", bearer(&token)),
        ],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = post(base, "/auth/refresh", &headers).await;
        assert_error(res, 403, "cross_site_request").await;
    }
    assert_eq!(fake.total_calls(), calls);
    assert_eq!(json_ok(me(base, &token).await).await["userid"], "staff");
    let res = post(
        base,
        "/auth/refresh",
        &[("origin", base), ("authorization", &bearer(&token))],
    )
    .await;
    json_ok(res).await;
}

/// `POST /admin/users/{userid}/revoke` is for super admins: a sub admin and an employee get 403
/// `forbidden`, no session 401, a foreign `Origin` 403 `cross_site_request`; the target's
/// session lives on after each refusal.
pub async fn revoke_user_is_for_super_admins_only(base: &str, fake: &FakeDingTalk) {
    let (target, _) = login(base, fake, "boss").await;
    let (sub, _) = login(base, fake, "sub").await;
    let (staff, _) = login(base, fake, "staff").await;
    let (admin, _) = login(base, fake, "admin").await;
    assert_error(revoke(base, &sub, "boss").await, 403, "forbidden").await;
    assert_error(revoke(base, &staff, "boss").await, 403, "forbidden").await;
    let res = post(base, "/admin/users/boss/revoke", &[]).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_error(res, 401, "unauthenticated").await;
    let res = post(
        base,
        "/admin/users/boss/revoke",
        &[
            ("origin", "https://evil.test"),
            ("authorization", &bearer(&admin)),
        ],
    )
    .await;
    assert_error(res, 403, "cross_site_request").await;
    assert_eq!(json_ok(me(base, &target).await).await["userid"], "boss");
}

/// Revoking a user: 204; both of that user's sessions (one of them already verified, so in the
/// verified-session cache) are refused, refresh included; other users are unaffected; a login
/// 1.1 s later works.
pub async fn revoke_user_refuses_every_session_of_that_user_until_a_new_login(
    base: &str,
    fake: &FakeDingTalk,
) {
    let (first, cookie) = login(base, fake, "staff").await;
    let (second, _) = login(base, fake, "staff").await;
    let (other, _) = login(base, fake, "boss").await;
    let (admin, _) = login(base, fake, "admin").await;
    // Verified once: in the cache from now on.
    json_ok(me(base, &first).await).await;
    json_ok(me(base, &first).await).await;

    let res = revoke(base, &admin, "staff").await;
    assert_eq!(res.status(), 204, "{:?}", res.text().await);
    assert_refused(base, &first, "a cached session of the revoked user").await;
    assert_refused(base, &second, "another session of the revoked user").await;
    let res = get_with(base, "/me", &[("cookie", &pair(&cookie))]).await;
    assert_error(res, 401, "unauthenticated").await;
    assert_error(refresh(base, &second).await, 401, "unauthenticated").await;
    assert_eq!(json_ok(me(base, &other).await).await["userid"], "boss");
    assert_eq!(json_ok(me(base, &admin).await).await["userid"], "admin");
    // Revoking is idempotent, and a userid that needs encoding is fine.
    assert_eq!(revoke(base, &admin, "staff").await.status(), 204);
    assert_eq!(revoke(base, &admin, "some%20one").await.status(), 204);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (again, _) = login(base, fake, "staff").await;
    assert_eq!(json_ok(me(base, &again).await).await["userid"], "staff");
    json_ok(refresh(base, &again).await).await;
}

/// RFC 6750: a 401 without a presented token carries `WWW-Authenticate: Bearer`; one whose
/// token was presented and refused (tampered, logged out, refreshed away, revoked) carries
/// `Bearer error="invalid_token"` — from the extractor, the guard and the refresh route alike.
/// A 403 carries none.
pub async fn www_authenticate_on_every_refusal(base: &str, fake: &FakeDingTalk) {
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/admin"),
        ("GET", "/admin/super"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
    ] {
        let res = if method == "GET" {
            get_with(base, path, &[]).await
        } else {
            post(base, path, &[]).await
        };
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer",
            "{method} {path}"
        );
        assert_error(res, 401, "unauthenticated").await;
    }

    let (logged_out, _) = login(base, fake, "sub").await;
    let res = post(
        base,
        "/auth/logout",
        &[("authorization", &bearer(&logged_out))],
    )
    .await;
    assert!(res.status().is_success());
    let (refreshed_away, _) = login(base, fake, "sub").await;
    json_ok(refresh(base, &refreshed_away).await).await;
    let (live, _) = login(base, fake, "staff").await;
    let tampered = format!("{live}x");
    for token in [&logged_out, &refreshed_away, &tampered] {
        for (method, path) in [("GET", "/me"), ("GET", "/admin"), ("POST", "/auth/refresh")] {
            let auth = [("authorization", bearer(token))];
            let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = if method == "GET" {
                get_with(base, path, &auth).await
            } else {
                post(base, path, &auth).await
            };
            assert_eq!(
                res.headers()["www-authenticate"],
                r#"Bearer error="invalid_token""#,
                "{method} {path}"
            );
            assert_error(res, 401, "unauthenticated").await;
        }
    }
    // A refused login code is a 401 too: it asks for a login, like a missing session.
    let code = fake.mint_code("staff");
    json_ok(post_code(base, &code).await).await;
    let res = post_code(base, &code).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_error(res, 401, "code_replayed").await;

    let res = get_with(base, "/admin", &[("authorization", &bearer(&live))]).await;
    assert!(res.headers().get("www-authenticate").is_none());
    assert_error(res, 403, "forbidden").await;
    let res = client()
        .post(format!("{base}/auth/refresh"))
        .header(AUTHORIZATION, "Basic abc")
        .header(COOKIE, "dingtalk_session=junk")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_error(res, 401, "unauthenticated").await;
}
