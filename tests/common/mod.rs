//! The HTTP contract as plain async cases, shared by every adapter's test.
//!
//! Each case takes the base URL of an app serving the contract and the [`FakeDingTalk`] that
//! app talks to. An adapter's test file provides `async fn start(vars) -> String` that starts
//! its app from the contract environment `vars` on `127.0.0.1:0` and returns the base URL,
//! then runs every case with
//!
//! ```ignore
//! #[macro_use]
//! mod common;
//! contract_tests!(start);
//! ```
//!
//! Every case gets a fresh fake (with the users of [`fake`]) and a fresh app.
#![allow(dead_code, unused_macros)]

#[macro_use]
pub mod hardening;
#[allow(unused_imports)]
pub use hardening::*;
#[macro_use]
pub mod jsapi;
#[macro_use]
pub mod weblogin;
#[macro_use]
pub mod lifecycle;
#[allow(unused_imports)]
pub use lifecycle::*;
#[macro_use]
pub mod metrics;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dingtalk_login::testing::{Endpoint, Failure, FakeAccount, FakeDingTalk, FakeEmployee};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};

/// One `#[tokio::test]` per contract case, against the app `$start` serves: the cases here and
/// every group's (hardening, JSAPI, web login, session lifecycle).
macro_rules! contract_tests {
    ($start:path) => {
        hardening_contract_tests!($start);
        jsapi_contract_tests!($start);
        weblogin_contract_tests!($start);
        lifecycle_contract_tests!($start);
        contract_tests!(@cases $start;
            healthz,
            login_json_answer_and_cookie,
            cookie_not_secure { "COOKIE_SECURE" = "0" },
            login_form,
            login_header,
            header_code_wins_over_body,
            missing_code,
            malformed_codes_cost_no_upstream_call,
            unparsable_json_body_is_a_json_error,
            replayed_code,
            foreign_origin_is_refused_and_spends_nothing,
            allowed_origins_list_matches_exactly { "ALLOWED_ORIGINS" = "https://app.test, https://other.test/" },
            state_route,
            redirect_login_with_state,
            redirect_login_with_bad_state_spends_nothing,
            me_with_bearer_or_cookie,
            bearer_wins_over_cookie,
            me_without_session,
            tampered_token,
            admin_guard,
            super_admin_guard,
            logout_revokes_and_clears_cookie,
            logout_without_session,
            options_is_never_401,
            options_on_an_any_method_admin_route_is_authorized,
            www_authenticate_tells_login_from_login_again,
            directory_routes_not_configured,
            directory_routes_configured { "DIRECTORY" = "fake" },
            upstream_busy,
            unknown_path_is_404,
        );
    };
    (@cases $start:path; $( $name:ident $( { $( $k:literal = $v:literal ),* } )? ),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fake = common::fake().await;
                let vars = common::env(&fake, &[ $( $( ($k, $v) ),* )? ]);
                let base = $start(vars).await;
                common::$name(&base, &fake).await;
            }
        )*
    };
}

pub use crate::support::SESSION_SECRET;

/// The fake with the shared users (`crate::support`), the seed account and the seed employee.
pub async fn fake() -> FakeDingTalk {
    crate::support::fake_builder()
        .account(FakeAccount::seed_example())
        .employee(FakeEmployee::seed_example())
        .start()
        .await
}

/// `vars` as the example apps' `AppEnv::from_vars` reads its environment.
pub fn lookup(vars: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The contract environment pointing at `fake`, with `extra` added or overriding.
/// `("DIRECTORY", "fake")` in `extra` stands for the TOP and employee variables pointing at the
/// fake's router and employee service.
pub fn env(fake: &FakeDingTalk, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let directory;
    let extra: Vec<(&str, &str)> = if extra.contains(&("DIRECTORY", "fake")) {
        directory = [
            ("TOP_GATEWAY_URL", fake.top_gateway_url()),
            ("TOP_APP_KEY", fake.top_app_key()),
            ("TOP_APP_SECRET", fake.top_app_secret()),
            ("TOP_SIGN_METHOD", "hmac".to_owned()),
            ("EMPLOYEE_API_URL", fake.url()),
            ("EMPLOYEE_CORP_ID", fake.employee_corp_id()),
        ];
        extra
            .iter()
            .copied()
            .filter(|(k, _)| *k != "DIRECTORY")
            .chain(directory.iter().map(|(k, v)| (*k, v.as_str())))
            .collect()
    } else {
        extra.to_vec()
    };
    let extra = extra.as_slice();
    let mut vars: Vec<(String, String)> = [
        ("DINGTALK_APP_KEY", fake.app_key()),
        ("DINGTALK_APP_SECRET", fake.app_secret()),
        ("DINGTALK_OAPI_URL", fake.url().as_str()),
        ("SESSION_SECRET", SESSION_SECRET),
        ("UPSTREAM_TIMEOUT_MS", "3000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

/// A client that follows no redirect and keeps no cookies: every cookie is explicit.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(req: reqwest::RequestBuilder) -> Response {
    req.send().await.expect("the app answers")
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Set-Cookie` header for cookie `name`.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> String {
    set_cookies(headers)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name} in {headers:?}"))
}

/// The cookie's attributes, lower-cased, without the `name=value` pair.
pub fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

pub fn has_attr(set_cookie: &str, attr: &str) -> bool {
    attributes(set_cookie)
        .iter()
        .any(|a| a == &attr.to_ascii_lowercase())
}

pub fn attr_value(set_cookie: &str, name: &str) -> Option<String> {
    attributes(set_cookie).into_iter().find_map(|a| {
        let (k, v) = a.split_once('=')?;
        (k.trim() == name.to_ascii_lowercase()).then(|| v.trim().to_owned())
    })
}

/// The `name=value` part of a `Set-Cookie`, for a `Cookie` header.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

/// Asserts an error answer: status, `application/json`, `{"error": code, "message": ..}`.
pub async fn assert_error(res: Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "expected {status} {code}, got {got}: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "error body is not JSON ({content_type:?}): {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
}

async fn json_ok(res: Response) -> Value {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// POSTs `{"code": code}` to the login route.
pub async fn post_code(base: &str, code: &str) -> Response {
    send(
        client()
            .post(format!("{base}/auth/dingtalk"))
            .json(&json!({ "code": code })),
    )
    .await
}

/// Logs `userid` in; returns the token and the session cookie's `Set-Cookie`.
pub async fn login(base: &str, fake: &FakeDingTalk, userid: &str) -> (String, String) {
    let res = post_code(base, &fake.mint_code(userid)).await;
    let cookie = set_cookie(res.headers(), "dingtalk_session");
    let body = json_ok(res).await;
    (body["token"].as_str().unwrap().to_owned(), cookie)
}

async fn get_with(base: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = client().get(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The JWT's claims, decoded without verification.
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// `GET /healthz` → 200 `ok`.
pub async fn healthz(base: &str, _fake: &FakeDingTalk) {
    let res = get_with(base, "/healthz", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

/// A JSON login (no `Origin`: allowed) answers the login JSON and sets the session cookie.
pub async fn login_json_answer_and_cookie(base: &str, fake: &FakeDingTalk) {
    let res = post_code(base, &fake.mint_code("nounion")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let cookie = set_cookie(res.headers(), "dingtalk_session");
    let body: Value = res.json().await.unwrap();

    let token = body["token"].as_str().expect("a token");
    assert_eq!(body["token_type"], "Bearer");
    let claims = jwt_claims(token);
    assert_eq!(
        body["expires_at"], claims["exp"],
        "expires_at is the JWT's exp"
    );
    assert_eq!(claims["sub"], "nounion");
    for claim in [
        "sub",
        "unionid",
        "name",
        "sys",
        "sys_level",
        "iat",
        "exp",
        "jti",
    ] {
        assert!(
            claims.get(claim).is_some(),
            "claim {claim} missing: {claims}"
        );
    }
    let user = body["user"].as_object().expect("a user object");
    assert_eq!(user["userid"], "nounion");
    assert!(user.contains_key("unionid"), "unionid is kept as null");
    assert_eq!(user["unionid"], Value::Null);
    assert_eq!(user["name"], "Nu Nounion");
    assert_eq!(user["sys"], false);
    assert_eq!(user["sys_level"], 0);

    assert_eq!(pair(&cookie), format!("dingtalk_session={token}"));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(has_attr(&cookie, attr), "{attr} missing in {cookie}");
    }
    let max_age: i64 = attr_value(&cookie, "max-age").unwrap().parse().unwrap();
    assert_eq!(max_age, 28_800);

    let body = json_ok(post_code(base, &fake.mint_code("admin")).await).await;
    assert_eq!(body["user"]["unionid"], "union-admin");
    assert_eq!(body["user"]["sys"], true);
    assert_eq!(body["user"]["sys_level"], 1);
}

/// With `COOKIE_SECURE=0` the cookies carry no `Secure`.
pub async fn cookie_not_secure(base: &str, fake: &FakeDingTalk) {
    let res = post_code(base, &fake.mint_code("staff")).await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(res.headers(), "dingtalk_session");
    assert!(!has_attr(&cookie, "Secure"), "{cookie}");
    assert!(
        has_attr(&cookie, "HttpOnly") && has_attr(&cookie, "SameSite=Lax"),
        "{cookie}"
    );
    let res = get_with(base, "/auth/dingtalk/state", &[]).await;
    let state = set_cookie(res.headers(), "dingtalk_state");
    assert!(!has_attr(&state, "Secure"), "{state}");
}

/// A form login (`code=..`), as DingTalk mini-programs post by default.
pub async fn login_form(base: &str, fake: &FakeDingTalk) {
    let res = send(
        client()
            .post(format!("{base}/auth/dingtalk"))
            .form(&[("code", fake.mint_code("staff"))]),
    )
    .await;
    assert_eq!(json_ok(res).await["user"]["userid"], "staff");
}

/// A login with the code in `X-DingTalk-Code` and no body.
pub async fn login_header(base: &str, fake: &FakeDingTalk) {
    let res = send(
        client()
            .post(format!("{base}/auth/dingtalk"))
            .header("X-DingTalk-Code", fake.mint_code("sub")),
    )
    .await;
    assert_eq!(json_ok(res).await["user"]["userid"], "sub");
}

/// `X-DingTalk-Code` wins over a body code, and the body's code is not spent.
pub async fn header_code_wins_over_body(base: &str, fake: &FakeDingTalk) {
    let body_code = fake.mint_code("staff");
    let res = send(
        client()
            .post(format!("{base}/auth/dingtalk"))
            .header("X-DingTalk-Code", fake.mint_code("admin"))
            .json(&json!({ "code": body_code })),
    )
    .await;
    assert_eq!(json_ok(res).await["user"]["userid"], "admin");
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
    assert_eq!(
        json_ok(post_code(base, &body_code).await).await["user"]["userid"],
        "staff"
    );
}

/// No code → 400 `missing_code`.
pub async fn missing_code(base: &str, _fake: &FakeDingTalk) {
    let url = format!("{base}/auth/dingtalk");
    assert_error(
        send(client().post(&url).json(&json!({}))).await,
        400,
        "missing_code",
    )
    .await;
    assert_error(
        send(client().post(&url).json(&json!({ "code": null }))).await,
        400,
        "missing_code",
    )
    .await;
    assert_error(
        send(client().post(&url).header(CONTENT_TYPE, "application/json")).await,
        400,
        "missing_code",
    )
    .await;
    assert_error(
        send(client().post(&url).form(&[("other", "1")])).await,
        400,
        "missing_code",
    )
    .await;
}

/// Malformed codes → 400 `invalid_code`, without a single upstream call.
pub async fn malformed_codes_cost_no_upstream_call(base: &str, fake: &FakeDingTalk) {
    let url = format!("{base}/auth/dingtalk");
    let long = "a".repeat(129);
    for code in [
        json!(""),
        json!("a b"),
        json!("abc!"),
        json!("ça"),
        json!(long),
        json!(42),
        json!(["x"]),
    ] {
        let res = send(client().post(&url).json(&json!({ "code": code }))).await;
        assert_error(res, 400, "invalid_code").await;
    }
    let res = send(client().post(&url).form(&[("code", "a/b")])).await;
    assert_error(res, 400, "invalid_code").await;
    let res = send(client().post(&url).header("X-DingTalk-Code", "bad code")).await;
    assert_error(res, 400, "invalid_code").await;
    let res = send(
        client()
            .get(format!("{url}?code=a%20b&state=s"))
            .header(COOKIE, "dingtalk_state=s"),
    )
    .await;
    assert_error(res, 400, "invalid_code").await;
    assert_eq!(fake.total_calls(), 0, "no call reached DingTalk");
}

/// A body that is not JSON answers the crate's JSON error, not a framework's plain text.
pub async fn unparsable_json_body_is_a_json_error(base: &str, fake: &FakeDingTalk) {
    for body in ["{not json", "[1,2]", "\"code\""] {
        let res = send(
            client()
                .post(format!("{base}/auth/dingtalk"))
                .header(CONTENT_TYPE, "application/json")
                .body(body),
        )
        .await;
        assert_error(res, 400, "invalid_code").await;
    }
    assert_eq!(fake.total_calls(), 0);
}

/// A code presented twice → 401 `code_replayed`, with no second upstream call.
pub async fn replayed_code(base: &str, fake: &FakeDingTalk) {
    let code = fake.mint_code("staff");
    json_ok(post_code(base, &code).await).await;
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
    assert_error(post_code(base, &code).await, 401, "code_replayed").await;
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 1);
}

/// A foreign `Origin` (or `Origin: null`) → 403 `cross_site_request`, and the code is not
/// spent: the same code then works from the app's own origin.
pub async fn foreign_origin_is_refused_and_spends_nothing(base: &str, fake: &FakeDingTalk) {
    let code = fake.mint_code("staff");
    for origin in ["https://evil.test", "null", "http://127.0.0.1:1"] {
        let res = send(
            client()
                .post(format!("{base}/auth/dingtalk"))
                .header("Origin", origin)
                .json(&json!({ "code": code })),
        )
        .await;
        assert_error(res, 403, "cross_site_request").await;
    }
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 0);
    let res = send(
        client()
            .post(format!("{base}/auth/dingtalk"))
            .header("Origin", base)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(json_ok(res).await["user"]["userid"], "staff");
}

/// `ALLOWED_ORIGINS` replaces the default and matches exactly (a trailing `/` tolerated).
pub async fn allowed_origins_list_matches_exactly(base: &str, fake: &FakeDingTalk) {
    let post = |origin: String, code: String| {
        send(
            client()
                .post(format!("{base}/auth/dingtalk"))
                .header("Origin", origin)
                .json(&json!({ "code": code })),
        )
    };
    for origin in [
        base,
        "https://app.test.evil",
        "http://app.test",
        "https://sub.app.test",
    ] {
        let res = post(origin.to_owned(), fake.mint_code("staff")).await;
        assert_error(res, 403, "cross_site_request").await;
    }
    for origin in [
        "https://app.test",
        "https://other.test",
        "https://app.test/",
    ] {
        let res = post(origin.to_owned(), fake.mint_code("staff")).await;
        assert_eq!(res.status(), 200, "{origin}");
    }
}

/// `GET /auth/dingtalk/state` → `{state}` (≥ 16 characters) and its short-lived cookie.
pub async fn state_route(base: &str, _fake: &FakeDingTalk) {
    let res = get_with(base, "/auth/dingtalk/state", &[]).await;
    let cookie = set_cookie(res.headers(), "dingtalk_state");
    let body = json_ok(res).await;
    let state = body["state"].as_str().unwrap();
    assert!(state.len() >= 16, "{state}");
    assert_eq!(pair(&cookie), format!("dingtalk_state={state}"));
    assert!(
        has_attr(&cookie, "HttpOnly") && has_attr(&cookie, "SameSite=Lax"),
        "{cookie}"
    );
    let max_age: u64 = attr_value(&cookie, "max-age").unwrap().parse().unwrap();
    assert!(max_age > 0 && max_age <= 3600, "{cookie}");
    let other = json_ok(get_with(base, "/auth/dingtalk/state", &[]).await).await;
    assert_ne!(other["state"], body["state"], "a fresh state each time");
}

async fn new_state(base: &str) -> (String, String) {
    let res = get_with(base, "/auth/dingtalk/state", &[]).await;
    let cookie = pair(&set_cookie(res.headers(), "dingtalk_state"));
    let state = json_ok(res).await["state"].as_str().unwrap().to_owned();
    (state, cookie)
}

/// `GET /auth/dingtalk?code&state` with the matching state cookie logs in.
pub async fn redirect_login_with_state(base: &str, fake: &FakeDingTalk) {
    let (state, cookie) = new_state(base).await;
    let code = fake.mint_code("sub");
    let res = get_with(
        base,
        &format!("/auth/dingtalk?code={code}&state={state}"),
        &[("cookie", &cookie)],
    )
    .await;
    let session = set_cookie(res.headers(), "dingtalk_session");
    let body = json_ok(res).await;
    assert_eq!(body["user"]["userid"], "sub");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        pair(&session),
        format!("dingtalk_session={}", body["token"].as_str().unwrap())
    );
}

/// A mismatched or missing state → 400 `invalid_state`, and the code is not spent.
pub async fn redirect_login_with_bad_state_spends_nothing(base: &str, fake: &FakeDingTalk) {
    let (state, cookie) = new_state(base).await;
    let code = fake.mint_code("staff");
    let tries = [
        (
            format!("/auth/dingtalk?code={code}&state=not-{state}"),
            Some(cookie.clone()),
        ),
        (format!("/auth/dingtalk?code={code}"), Some(cookie.clone())),
        (format!("/auth/dingtalk?code={code}&state={state}"), None),
        (
            format!("/auth/dingtalk?code={code}&state="),
            Some("dingtalk_state=".to_owned()),
        ),
    ];
    for (path, cookie) in tries {
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        assert_error(get_with(base, &path, &headers).await, 400, "invalid_state").await;
    }
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 0);
    let res = get_with(
        base,
        &format!("/auth/dingtalk?code={code}&state={state}"),
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(json_ok(res).await["user"]["userid"], "staff");
}

fn assert_user(me: &Value, userid: &str) {
    assert_eq!(me["userid"], userid, "{me}");
    for key in ["userid", "unionid", "name", "sys", "sys_level"] {
        assert!(me.get(key).is_some(), "{key} missing in {me}");
    }
}

/// `/me` with a Bearer token (scheme in any case) or with the cookie.
pub async fn me_with_bearer_or_cookie(base: &str, fake: &FakeDingTalk) {
    let (token, cookie) = login(base, fake, "boss").await;
    let me = json_ok(get_with(base, "/me", &[("authorization", &bearer(&token))]).await).await;
    assert_user(&me, "boss");
    assert_eq!(me["sys_level"], 100);
    let me = json_ok(
        get_with(
            base,
            "/me",
            &[("authorization", &format!("bearer {token}"))],
        )
        .await,
    )
    .await;
    assert_user(&me, "boss");
    let me = json_ok(
        get_with(
            base,
            "/me",
            &[("authorization", &format!("BEARER {token}"))],
        )
        .await,
    )
    .await;
    assert_user(&me, "boss");
    let me = json_ok(
        get_with(
            base,
            "/me",
            &[("cookie", &format!("other=1; {}", pair(&cookie)))],
        )
        .await,
    )
    .await;
    assert_user(&me, "boss");
}

/// The Bearer token wins over the cookie, even when the Bearer is bad.
pub async fn bearer_wins_over_cookie(base: &str, fake: &FakeDingTalk) {
    let (admin, _) = login(base, fake, "admin").await;
    let (_, staff_cookie) = login(base, fake, "staff").await;
    let staff_cookie = pair(&staff_cookie);
    let me = json_ok(
        get_with(
            base,
            "/me",
            &[
                ("authorization", &bearer(&admin)),
                ("cookie", &staff_cookie),
            ],
        )
        .await,
    )
    .await;
    assert_user(&me, "admin");
    let res = get_with(
        base,
        "/me",
        &[
            ("authorization", "Bearer not.a.token"),
            ("cookie", &staff_cookie),
        ],
    )
    .await;
    assert_error(res, 401, "unauthenticated").await;
}

/// `/me` without a session → 401 `unauthenticated` (JSON), also with junk credentials.
pub async fn me_without_session(base: &str, _fake: &FakeDingTalk) {
    assert_error(get_with(base, "/me", &[]).await, 401, "unauthenticated").await;
    assert_error(
        get_with(base, "/me", &[("authorization", "Basic dTpw")]).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        get_with(base, "/me", &[("cookie", "dingtalk_session=junk")]).await,
        401,
        "unauthenticated",
    )
    .await;
}

/// A token whose payload or signature was changed → 401.
pub async fn tampered_token(base: &str, fake: &FakeDingTalk) {
    let (token, _) = login(base, fake, "staff").await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt_claims(&token);
    claims["sys_level"] = json!(1);
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let mut sig = parts[2].to_owned();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'B' } else { 'A' });
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], sig);
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    for t in [forged, bad_sig, none_alg] {
        let res = get_with(base, "/me", &[("authorization", &bearer(&t))]).await;
        assert_error(res, 401, "unauthenticated").await;
        let res = get_with(base, "/admin", &[("authorization", &bearer(&t))]).await;
        assert_error(res, 401, "unauthenticated").await;
    }
}

/// `/admin`: `sys_level` 1 or 2 → 200; 100 (boss) and 0 → 403; no session → 401.
pub async fn admin_guard(base: &str, fake: &FakeDingTalk) {
    for (user, status) in [("admin", 200), ("sub", 200), ("boss", 403), ("staff", 403)] {
        let (token, _) = login(base, fake, user).await;
        let res = get_with(base, "/admin", &[("authorization", &bearer(&token))]).await;
        if status == 200 {
            let body = json_ok(res).await;
            assert!(body.is_object(), "{body}");
        } else {
            assert_error(res, status, "forbidden").await;
        }
    }
    assert_error(get_with(base, "/admin", &[]).await, 401, "unauthenticated").await;
}

/// `/admin/super`: `sys_level` 1 → 200; 2 → 403.
pub async fn super_admin_guard(base: &str, fake: &FakeDingTalk) {
    let (admin, _) = login(base, fake, "admin").await;
    let (sub, _) = login(base, fake, "sub").await;
    let body =
        json_ok(get_with(base, "/admin/super", &[("authorization", &bearer(&admin))]).await).await;
    assert!(body.is_object());
    let res = get_with(base, "/admin/super", &[("authorization", &bearer(&sub))]).await;
    assert_error(res, 403, "forbidden").await;
    assert_error(
        get_with(base, "/admin/super", &[]).await,
        401,
        "unauthenticated",
    )
    .await;
}

/// Logout → 200/204; the token is refused from then on; the cookie is cleared with the same
/// Path and flags it was set with.
pub async fn logout_revokes_and_clears_cookie(base: &str, fake: &FakeDingTalk) {
    let (token, set) = login(base, fake, "sub").await;
    let res = send(
        client()
            .post(format!("{base}/auth/logout"))
            .header(COOKIE, pair(&set)),
    )
    .await;
    let status = res.status().as_u16();
    assert!(status == 200 || status == 204, "logout answered {status}");
    let cleared = set_cookie(res.headers(), "dingtalk_session");
    assert_eq!(pair(&cleared), "dingtalk_session=");
    assert_eq!(
        attr_value(&cleared, "max-age").as_deref(),
        Some("0"),
        "{cleared}"
    );
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert_eq!(
            has_attr(&set, attr),
            has_attr(&cleared, attr),
            "{attr}: set {set}, cleared {cleared}"
        );
    }
    assert_eq!(attr_value(&set, "path"), attr_value(&cleared, "path"));
    assert_eq!(attr_value(&set, "domain"), attr_value(&cleared, "domain"));

    assert_error(
        get_with(base, "/me", &[("authorization", &bearer(&token))]).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        get_with(base, "/me", &[("cookie", &pair(&set))]).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        get_with(base, "/admin", &[("authorization", &bearer(&token))]).await,
        401,
        "unauthenticated",
    )
    .await;

    // With the Bearer token too; other sessions live on.
    let (t1, _) = login(base, fake, "staff").await;
    let (t2, _) = login(base, fake, "staff").await;
    let res = send(
        client()
            .post(format!("{base}/auth/logout"))
            .header(AUTHORIZATION, bearer(&t1)),
    )
    .await;
    assert!(res.status().is_success());
    assert_error(
        get_with(base, "/me", &[("authorization", &bearer(&t1))]).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_user(
        &json_ok(get_with(base, "/me", &[("authorization", &bearer(&t2))]).await).await,
        "staff",
    );
}

/// Logout without a session → 401 `unauthenticated`.
pub async fn logout_without_session(base: &str, _fake: &FakeDingTalk) {
    let res = send(client().post(format!("{base}/auth/logout"))).await;
    assert_error(res, 401, "unauthenticated").await;
    let res = send(
        client()
            .post(format!("{base}/auth/logout"))
            .header(COOKIE, "dingtalk_session=junk"),
    )
    .await;
    assert_error(res, 401, "unauthenticated").await;
}

/// A CORS preflight is never answered 401.
pub async fn options_is_never_401(base: &str, _fake: &FakeDingTalk) {
    for path in ["/admin", "/admin/super", "/me", "/auth/dingtalk"] {
        let res = send(
            client()
                .request(Method::OPTIONS, format!("{base}{path}"))
                .header("Origin", "https://app.test")
                .header("Access-Control-Request-Method", "GET"),
        )
        .await;
        assert_ne!(res.status(), 401, "OPTIONS {path}");
        assert_ne!(res.status(), 403, "OPTIONS {path}");
    }
}

/// `ANY /admin/echo`: every method is authorized, `OPTIONS` included; only a real CORS
/// preflight passes without a session, and it never reaches the handler.
pub async fn options_on_an_any_method_admin_route_is_authorized(base: &str, fake: &FakeDingTalk) {
    let url = format!("{base}/admin/echo");
    let res = send(client().request(Method::OPTIONS, &url)).await;
    assert_error(res, 401, "unauthenticated").await;
    let res = send(client().request(Method::DELETE, &url)).await;
    assert_error(res, 401, "unauthenticated").await;
    let res = send(
        client()
            .request(Method::OPTIONS, &url)
            .header("Origin", "https://app.test")
            .header("Access-Control-Request-Method", "DELETE"),
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert!(
        !res.text().await.unwrap().contains("echo"),
        "the handler ran"
    );
    let (staff, _) = login(base, fake, "staff").await;
    let res = send(
        client()
            .request(Method::OPTIONS, &url)
            .header(AUTHORIZATION, bearer(&staff)),
    )
    .await;
    assert_error(res, 403, "forbidden").await;
    let (sub, _) = login(base, fake, "sub").await;
    for method in [Method::OPTIONS, Method::GET, Method::PUT] {
        let res = send(
            client()
                .request(method.clone(), &url)
                .header(AUTHORIZATION, bearer(&sub)),
        )
        .await;
        assert_eq!(
            json_ok(res).await,
            json!({ "handler": "echo", "method": method.as_str() })
        );
    }
}

/// RFC 6750: every 401 carries `WWW-Authenticate: Bearer`, with `error="invalid_token"` when a
/// token was presented and refused.
pub async fn www_authenticate_tells_login_from_login_again(base: &str, fake: &FakeDingTalk) {
    let res = get_with(base, "/me", &[]).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let (token, _) = login(base, fake, "staff").await;
    let tampered = format!("{token}x");
    for headers in [
        vec![("authorization", bearer(&tampered))],
        vec![("cookie", format!("dingtalk_session={tampered}"))],
        vec![("authorization", "Basic abc".to_owned())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = get_with(base, "/me", &headers).await;
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert_error(res, 401, "unauthenticated").await;
    }
    let res = get_with(base, "/admin", &[]).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}

/// The directory routes without their environment: 503 `not_configured` for admins (the
/// by-mobile lookup uses the DingTalk app itself, so it works), 403 for other sessions, 401
/// without one.
pub async fn directory_routes_not_configured(base: &str, fake: &FakeDingTalk) {
    let (admin, _) = login(base, fake, "sub").await;
    let (staff, _) = login(base, fake, "staff").await;
    for path in [
        "/admin/users/by-mobile/13800138000",
        "/admin/accounts/01234",
        "/admin/employees/zhangsan",
    ] {
        let res = get_with(base, path, &[("authorization", &bearer(&admin))]).await;
        if path.contains("by-mobile") {
            assert_eq!(res.status(), 200, "{path}");
        } else {
            assert_error(res, 503, "not_configured").await;
        }
        let res = get_with(base, path, &[("authorization", &bearer(&staff))]).await;
        assert_error(res, 403, "forbidden").await;
        assert_error(get_with(base, path, &[]).await, 401, "unauthenticated").await;
    }
}

/// The directory routes against the fake's TOP router and employee service: the admin gets
/// the upstream data, errors map to the core's codes, other sessions 403, none 401.
pub async fn directory_routes_configured(base: &str, fake: &FakeDingTalk) {
    let (admin, _) = login(base, fake, "sub").await;
    let (staff, _) = login(base, fake, "staff").await;
    let auth = [("authorization", bearer(&admin))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let found = json_ok(get_with(base, "/admin/users/by-mobile/13800138000", &auth).await).await;
    assert_eq!(found["userid"], "staff");
    assert_eq!(
        found["exclusive_account_userid_list"],
        json!(["zxxxx", "lixxxi"])
    );
    let account = json_ok(get_with(base, "/admin/accounts/01234", &auth).await).await;
    assert_eq!(account["account_id"], "01234");
    assert_eq!(account["org_code"], "ding123abc");
    let profile = json_ok(get_with(base, "/admin/employees/zhangsan", &auth).await).await;
    assert_eq!(profile["userid"], "zhangsan");
    assert_eq!(profile["name"], "张三");

    let res = get_with(base, "/admin/users/by-mobile/13900000000", &auth).await;
    assert_error(res, 404, "user_not_found").await;
    let calls = fake.total_calls();
    let res = get_with(base, "/admin/users/by-mobile/not-a-phone", &auth).await;
    assert_error(res, 400, "invalid_mobile").await;
    assert_eq!(
        fake.total_calls(),
        calls,
        "a malformed mobile costs no upstream call"
    );
    let res = get_with(base, "/admin/accounts/99999", &auth).await;
    assert_error(res, 404, "user_not_found").await;
    let res = get_with(base, "/admin/employees/nobody", &auth).await;
    assert_error(res, 404, "user_not_found").await;

    for path in [
        "/admin/users/by-mobile/13800138000",
        "/admin/accounts/01234",
        "/admin/employees/zhangsan",
    ] {
        let res = get_with(base, path, &[("authorization", &bearer(&staff))]).await;
        assert_error(res, 403, "forbidden").await;
        assert_error(get_with(base, path, &[]).await, 401, "unauthenticated").await;
    }
}

/// DingTalk busy on every call → 503 `upstream_unavailable` (JSON); the code is not spent.
pub async fn upstream_busy(base: &str, fake: &FakeDingTalk) {
    fake.fail_next(Endpoint::GetUserInfo, usize::MAX, Failure::Busy);
    let code = fake.mint_code("staff");
    assert_error(post_code(base, &code).await, 503, "upstream_unavailable").await;
    fake.clear_failures();
    assert_eq!(
        json_ok(post_code(base, &code).await).await["user"]["userid"],
        "staff"
    );
}

/// An unknown path → 404, also under the guarded `/admin`.
pub async fn unknown_path_is_404(base: &str, fake: &FakeDingTalk) {
    assert_eq!(get_with(base, "/nope", &[]).await.status(), 404);
    assert_eq!(get_with(base, "/admin/nope", &[]).await.status(), 404);
    let (token, _) = login(base, fake, "admin").await;
    let res = get_with(base, "/admin/nope", &[("authorization", &bearer(&token))]).await;
    assert_eq!(res.status(), 404);
}
