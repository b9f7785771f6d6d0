//! The browser (web, QR code) login's contract: `GET /auth/dingtalk/web[?next=]`, its callback
//! and the HTML redirect of pages without a session, as async cases run against every adapter
//! by [`weblogin_contract_tests!`].
//!
//! Every case gets a fresh fake (the contract users plus an external contact and an outsider)
//! and a fresh app whose `PUBLIC_URL` is [`PUBLIC_URL`]: the app never serves that host, so a
//! case takes DingTalk's redirect back to it and sends it to the app's own base URL instead.

use std::collections::HashMap;

use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk, FakeUser, Quirks};
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::Response;
use serde_json::Value;

use super::{assert_error, attr_value, client, env, has_attr, pair, set_cookie, set_cookies};

/// One `#[tokio::test]` per web-login case, against the app `$start` serves.
macro_rules! weblogin_contract_tests {
    ($start:path) => {
        weblogin_contract_tests!(@cases $start;
            weblogin_authorize_redirect_every_parameter,
            weblogin_authorize_with_corp_id { "DINGTALK_CORP_ID" = "ding-corp-1" },
            weblogin_state_cookie_is_secure_by_default { "COOKIE_SECURE" = "1" },
            weblogin_employee_sub_admin_super_admin_and_boss,
            weblogin_code_fallback,
            weblogin_state_missing_or_wrong_spends_nothing,
            weblogin_replay_is_refused_without_upstream_call,
            weblogin_invalid_code_is_rejected,
            weblogin_declined_is_rejected,
            weblogin_external_contact_and_unknown_unionid_are_not_members,
            weblogin_listadmin_at_most_once_per_minute,
            weblogin_busy_once_then_success,
            weblogin_busy_always_is_503_and_the_code_survives,
            weblogin_wrong_secret_is_upstream_error,
            weblogin_open_redirects_stay_local,
            weblogin_html_redirect_vs_api_401,
            weblogin_html_error_page,
            weblogin_not_configured_without_public_url { "PUBLIC_URL" = "" },
            weblogin_through_the_fake_login_page,
        );
    };
    (@cases $start:path; $( $name:ident $( { $( $k:literal = $v:literal ),* } )? ),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fake = common::weblogin::web_fake().await;
                let vars = common::weblogin::web_env(&fake, &[ $( $( ($k, $v) ),* )? ]);
                let base = $start(vars).await;
                common::weblogin::$name(&base, &fake).await;
            }
        )*
    };
}

/// The app's public URL in these cases: a host nobody serves.
pub const PUBLIC_URL: &str = "https://app.example.test";
/// What DingTalk is told to send the browser back to.
pub const CALLBACK: &str = "https://app.example.test/auth/dingtalk/web/callback";
/// A browser navigation's `Accept`.
pub const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The contract fake, plus `ext` (an external contact) and `stranger` (an account the
/// organisation does not know).
pub async fn web_fake() -> FakeDingTalk {
    let fake = super::fake().await;
    fake.add_external_contact(FakeUser::new("ext", "Ex Ternal"));
    fake.add_outsider(FakeUser::new("stranger", "Stran Ger"));
    fake
}

/// The contract environment with web login on (`PUBLIC_URL`, the fake as API and login
/// page, cookies without `Secure`), then `extra`.
pub fn web_env(fake: &FakeDingTalk, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let url = fake.url();
    let mut vars: Vec<(&str, &str)> = vec![
        ("PUBLIC_URL", PUBLIC_URL),
        ("DINGTALK_API_URL", url.as_str()),
        ("DINGTALK_LOGIN_URL", url.as_str()),
        ("COOKIE_SECURE", "0"),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k, v));
    }
    env(fake, &vars)
}

/// A started web login: DingTalk's URL, its query, and the state cookie's `name=value`.
pub struct Started {
    pub location: String,
    pub params: HashMap<String, String>,
    pub cookie: String,
    pub set_cookie: String,
}

impl Started {
    pub fn state(&self) -> &str {
        &self.params["state"]
    }
}

/// `GET /auth/dingtalk/web` with `raw_query` (already encoded, without `?`).
pub async fn start_raw(base: &str, raw_query: &str) -> Started {
    let url = if raw_query.is_empty() {
        format!("{base}/auth/dingtalk/web")
    } else {
        format!("{base}/auth/dingtalk/web?{raw_query}")
    };
    let res = client().get(url).send().await.unwrap();
    assert_eq!(res.status(), 302, "{:?}", res.text().await);
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let set_cookie = set_cookie(res.headers(), "dingtalk_web_state");
    let query = location.split_once('?').map_or("", |(_, q)| q);
    let params = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    Started {
        cookie: pair(&set_cookie),
        location,
        params,
        set_cookie,
    }
}

/// `GET /auth/dingtalk/web?next=<next>` (`next` form-encoded), or without `next`.
pub async fn start(base: &str, next: Option<&str>) -> Started {
    let query = next.map_or(String::new(), |n| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", n)
            .finish()
    });
    start_raw(base, &query).await
}

/// `GET /auth/dingtalk/web/callback?<query>` with `cookie` (a `Cookie` header value) if any.
pub async fn callback(base: &str, query: &[(&str, &str)], cookie: Option<&str>) -> Response {
    callback_with(base, query, cookie, None).await
}

pub async fn callback_with(
    base: &str,
    query: &[(&str, &str)],
    cookie: Option<&str>,
    accept: Option<&str>,
) -> Response {
    let mut req = client()
        .get(format!("{base}/auth/dingtalk/web/callback"))
        .query(query);
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie);
    }
    if let Some(accept) = accept {
        req = req.header(ACCEPT, accept);
    }
    req.send().await.expect("the app answers")
}

/// Starts a login (to `next`) and comes back with `code` as `authCode`.
pub async fn login_with_code(base: &str, code: &str, next: Option<&str>) -> Response {
    let started = start(base, next).await;
    callback(
        base,
        &[("authCode", code), ("state", started.state())],
        Some(&started.cookie),
    )
    .await
}

/// A whole web login of `userid` to `next`: the callback's answer.
pub async fn web_login(
    base: &str,
    fake: &FakeDingTalk,
    userid: &str,
    next: Option<&str>,
) -> Response {
    login_with_code(base, &fake.mint_web_code(userid), next).await
}

/// Asserts a successful callback: 302 to `next`, a session cookie, the state cookie cleared.
/// Returns the session cookie's `name=value`.
pub fn assert_logged_in(res: &Response, next: &str) -> String {
    assert_eq!(res.status(), 302, "{res:?}");
    assert_eq!(res.headers()[LOCATION], next);
    assert_state_cleared(res);
    pair(&set_cookie(res.headers(), "dingtalk_session"))
}

pub fn assert_state_cleared(res: &Response) {
    let cleared = set_cookie(res.headers(), "dingtalk_web_state");
    assert!(cleared.starts_with("dingtalk_web_state=;"), "{cleared}");
    assert_eq!(attr_value(&cleared, "max-age").as_deref(), Some("0"));
}

/// `GET /me` with a session cookie: its JSON.
pub async fn me(base: &str, session_cookie: &str) -> Value {
    let res = client()
        .get(format!("{base}/me"))
        .header(COOKIE, session_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn no_session(res: &Response) -> bool {
    !set_cookies(res.headers())
        .iter()
        .any(|c| c.starts_with("dingtalk_session=") && !c.starts_with("dingtalk_session=;"))
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// The authorize redirect: DingTalk's login page with every parameter, URL-encoded, and the
/// state cookie.
pub async fn weblogin_authorize_redirect_every_parameter(base: &str, fake: &FakeDingTalk) {
    let started = start(base, Some("/me")).await;
    let page = format!("{}/oauth2/auth?", fake.url());
    assert!(started.location.starts_with(&page), "{}", started.location);
    let query = &started.location[page.len()..];
    let names: Vec<&str> = query
        .split('&')
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert_eq!(
        names,
        [
            "redirect_uri",
            "response_type",
            "client_id",
            "scope",
            "state",
            "prompt"
        ]
    );
    assert!(
        query.starts_with(
            "redirect_uri=https%3A%2F%2Fapp.example.test%2Fauth%2Fdingtalk%2Fweb%2Fcallback&"
        ),
        "the redirect URI is URL-encoded: {query}"
    );
    let p = &started.params;
    assert_eq!(p["redirect_uri"], CALLBACK);
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["client_id"], fake.app_key());
    assert_eq!(p["scope"], "openid");
    assert_eq!(p["prompt"], "consent");
    assert!(!p.contains_key("corpId"));
    let state = started.state();
    assert!(state.len() >= 16, "{state}");

    let cookie = &started.set_cookie;
    assert!(has_attr(cookie, "HttpOnly"), "{cookie}");
    assert!(has_attr(cookie, "SameSite=Lax"), "{cookie}");
    assert!(!has_attr(cookie, "Secure"), "COOKIE_SECURE=0: {cookie}");
    let max_age: u64 = attr_value(cookie, "max-age").unwrap().parse().unwrap();
    assert!(max_age > 0 && max_age <= 600, "{cookie}");
    // The cookie does not carry the state in the clear as its whole value: it is signed.
    assert_ne!(started.cookie, format!("dingtalk_web_state={state}"));

    let again = start(base, Some("/me")).await;
    assert_ne!(again.state(), state, "a fresh random state every time");
    assert_eq!(fake.total_calls(), 0, "starting asks DingTalk nothing");
}

/// With a corpId: `scope=openid corpid` (encoded) and `corpId`.
pub async fn weblogin_authorize_with_corp_id(base: &str, _fake: &FakeDingTalk) {
    let started = start(base, None).await;
    assert_eq!(started.params["scope"], "openid corpid");
    assert_eq!(started.params["corpId"], "ding-corp-1");
    assert!(
        started.location.contains("&scope=openid%20corpid&")
            || started.location.contains("&scope=openid+corpid&"),
        "{}",
        started.location
    );
    assert!(started
        .location
        .ends_with("&prompt=consent&corpId=ding-corp-1"));
}

/// `Secure` as configured.
pub async fn weblogin_state_cookie_is_secure_by_default(base: &str, _fake: &FakeDingTalk) {
    let started = start(base, None).await;
    assert!(
        has_attr(&started.set_cookie, "Secure"),
        "{}",
        started.set_cookie
    );
}

/// An employee (0), a sub admin (2), the super admin (1) and the boss (100) log in into the
/// same session a silent login gives, and land on `next`.
pub async fn weblogin_employee_sub_admin_super_admin_and_boss(base: &str, fake: &FakeDingTalk) {
    for (userid, name, level, sys) in [
        ("staff", "Stu Staff", 0, false),
        ("sub", "Sam Sub", 2, true),
        ("admin", "Ada Admin", 1, true),
        ("boss", "Bo Boss", 100, false),
    ] {
        let res = web_login(base, fake, userid, Some("/me")).await;
        let session = assert_logged_in(&res, "/me");
        let me = me(base, &session).await;
        assert_eq!(me["userid"], userid, "{me}");
        assert_eq!(me["unionid"], format!("union-{userid}"), "{me}");
        assert_eq!(me["name"], name, "{me}");
        assert_eq!(me["sys_level"], level, "{me}");
        assert_eq!(me["sys"], sys, "{me}");
        let admin = client()
            .get(format!("{base}/admin"))
            .header(COOKIE, &session)
            .send()
            .await
            .unwrap();
        let expected = if level == 1 || level == 2 { 200 } else { 403 };
        assert_eq!(admin.status(), expected, "{userid} on /admin");
    }
    assert_eq!(fake.calls(Endpoint::GetUserInfo), 0, "no silent-login call");
    assert_eq!(fake.calls(Endpoint::UserAccessToken), 4);
    assert_eq!(fake.calls(Endpoint::UsersMe), 4);
    assert_eq!(fake.calls(Endpoint::GetByUnionId), 4);
}

/// `code=` is read when there is no `authCode`.
pub async fn weblogin_code_fallback(base: &str, fake: &FakeDingTalk) {
    let started = start(base, None).await;
    let code = fake.mint_web_code("staff");
    let res = callback(
        base,
        &[("code", &code), ("state", started.state())],
        Some(&started.cookie),
    )
    .await;
    let session = assert_logged_in(&res, "/");
    assert_eq!(me(base, &session).await["userid"], "staff");
}

/// A missing or wrong state (or cookie) is 400 `invalid_state` and asks DingTalk nothing; the
/// code is still good afterwards.
pub async fn weblogin_state_missing_or_wrong_spends_nothing(base: &str, fake: &FakeDingTalk) {
    let code = fake.mint_web_code("staff");
    let started = start(base, None).await;
    let other = start(base, None).await;
    let forged = format!("dingtalk_web_state={}", started.state());
    type Query<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Query<'_>, Option<&str>)> = vec![
        (vec![("authCode", &code)], Some(&started.cookie)),
        (
            vec![("authCode", &code), ("state", "")],
            Some(&started.cookie),
        ),
        (vec![("authCode", &code), ("state", started.state())], None),
        (
            vec![("authCode", &code), ("state", "wrong-state-0123456789")],
            Some(&started.cookie),
        ),
        // Another login's cookie.
        (
            vec![("authCode", &code), ("state", started.state())],
            Some(&other.cookie),
        ),
        // A cookie made up by the client, holding the state in the clear.
        (
            vec![("authCode", &code), ("state", started.state())],
            Some(&forged),
        ),
        // `error=` with a wrong state is still a wrong state.
        (
            vec![("error", "access_denied"), ("state", "nope")],
            Some(&started.cookie),
        ),
    ];
    for (query, cookie) in cases {
        let res = callback(base, &query, cookie).await;
        assert_error(res, 400, "invalid_state").await;
    }
    assert_eq!(fake.total_calls(), 0, "no upstream call");
    let res = callback(
        base,
        &[("authCode", &code), ("state", started.state())],
        Some(&started.cookie),
    )
    .await;
    assert_logged_in(&res, "/");
}

/// The same code twice: `code_replayed`, without an upstream call.
pub async fn weblogin_replay_is_refused_without_upstream_call(base: &str, fake: &FakeDingTalk) {
    let code = fake.mint_web_code("staff");
    assert_logged_in(&login_with_code(base, &code, None).await, "/");
    let calls = fake.total_calls();
    let res = login_with_code(base, &code, None).await;
    assert_state_cleared(&res);
    assert_error(res, 401, "code_replayed").await;
    assert_eq!(fake.total_calls(), calls, "no upstream call");
    // Malformed codes are refused locally.
    for bad in ["has space", "x".repeat(129).as_str(), "", "é"] {
        let res = login_with_code(base, bad, None).await;
        assert_eq!(res.status(), 400, "{bad:?}");
    }
    assert_eq!(fake.total_calls(), calls, "no upstream call");
}

/// A code DingTalk does not know: 401 `code_rejected`; the claim is kept.
pub async fn weblogin_invalid_code_is_rejected(base: &str, fake: &FakeDingTalk) {
    // A silent login code is no web authCode.
    let code = fake.mint_code("staff");
    let res = login_with_code(base, &code, None).await;
    assert_state_cleared(&res);
    assert!(no_session(&res));
    assert_error(res, 401, "code_rejected").await;
    assert_eq!(fake.calls(Endpoint::UserAccessToken), 1);
    assert_eq!(fake.calls(Endpoint::UsersMe), 0);
    let res = login_with_code(base, &code, None).await;
    assert_error(res, 401, "code_replayed").await;
    assert_eq!(fake.calls(Endpoint::UserAccessToken), 1);
}

/// `error=` (the person declined on DingTalk's page): 401 `code_rejected`, nothing asked.
pub async fn weblogin_declined_is_rejected(base: &str, fake: &FakeDingTalk) {
    let started = start(base, None).await;
    let res = callback(
        base,
        &[("error", "access_denied"), ("state", started.state())],
        Some(&started.cookie),
    )
    .await;
    assert_state_cleared(&res);
    assert_error(res, 401, "code_rejected").await;
    assert_eq!(fake.total_calls(), 0);
}

/// An external contact, and an account the organisation does not know: 403 `not_a_member`.
pub async fn weblogin_external_contact_and_unknown_unionid_are_not_members(
    base: &str,
    fake: &FakeDingTalk,
) {
    for who in ["ext", "stranger"] {
        let res = web_login(base, fake, who, Some("/me")).await;
        assert!(no_session(&res), "{who}");
        assert_state_cleared(&res);
        assert_error(res, 403, "not_a_member").await;
    }
    assert_eq!(fake.calls(Endpoint::GetByUnionId), 2);
    assert_eq!(
        fake.calls(Endpoint::ListAdmin),
        0,
        "no level asked for a non-member"
    );
    // A `contact_type` sent as a string ("1", "0") counts the same.
    fake.set_quirks(Quirks {
        numbers_as_strings: true,
        lists_as_strings: false,
    });
    let res = web_login(base, fake, "ext", None).await;
    assert_error(res, 403, "not_a_member").await;
    let res = web_login(base, fake, "staff", None).await;
    assert_logged_in(&res, "/");
}

/// `listadmin` is asked at most once a minute, however many web logins there are.
pub async fn weblogin_listadmin_at_most_once_per_minute(base: &str, fake: &FakeDingTalk) {
    for userid in ["admin", "sub", "boss", "staff"] {
        assert_logged_in(&web_login(base, fake, userid, None).await, "/");
    }
    let concurrent = [
        "admin", "sub", "boss", "staff", "admin", "sub", "boss", "staff",
    ]
    .map(|userid| web_login(base, fake, userid, None));
    for res in join_all(concurrent).await {
        assert_logged_in(&res, "/");
    }
    assert_eq!(fake.calls(Endpoint::ListAdmin), 1);
    assert_eq!(fake.calls(Endpoint::UserGet), 12);
}

/// Awaits every future, concurrently (on one task).
async fn join_all<F: std::future::Future>(futures: [F; 8]) -> Vec<F::Output> {
    let [a, b, c, d, e, f, g, h] = futures;
    let (a, b, c, d, e, f, g, h) = tokio::join!(a, b, c, d, e, f, g, h);
    vec![a, b, c, d, e, f, g, h]
}

/// Busy once on each call: retried, and the login succeeds.
pub async fn weblogin_busy_once_then_success(base: &str, fake: &FakeDingTalk) {
    fake.fail_next(
        Endpoint::UserAccessToken,
        1,
        Failure::ApiError {
            status: 503,
            code: "ServiceUnavailable",
        },
    );
    fake.fail_next(
        Endpoint::UsersMe,
        1,
        Failure::ApiError {
            status: 500,
            code: "systemBusy",
        },
    );
    fake.fail_next(Endpoint::GetByUnionId, 1, Failure::Busy);
    let res = web_login(base, fake, "sub", Some("/admin")).await;
    let session = assert_logged_in(&res, "/admin");
    assert_eq!(me(base, &session).await["sys_level"], 2);
    assert_eq!(fake.calls(Endpoint::UserAccessToken), 2);
    assert_eq!(fake.calls(Endpoint::UsersMe), 2);
    assert_eq!(fake.calls(Endpoint::GetByUnionId), 2);
}

/// Busy on every call: 503 (after the bounded retries), the claim released, so the same code
/// logs in once DingTalk is back.
pub async fn weblogin_busy_always_is_503_and_the_code_survives(base: &str, fake: &FakeDingTalk) {
    fake.fail_next(
        Endpoint::UserAccessToken,
        usize::MAX,
        Failure::ApiError {
            status: 503,
            code: "ServiceUnavailable",
        },
    );
    let code = fake.mint_web_code("staff");
    let res = login_with_code(base, &code, None).await;
    assert_error(res, 503, "upstream_unavailable").await;
    assert!(fake.calls(Endpoint::UserAccessToken) > 1, "retried");
    fake.clear_failures();
    // Rate limited: 503 with Retry-After, not retried.
    fake.fail_next(
        Endpoint::UserAccessToken,
        1,
        Failure::ApiError {
            status: 429,
            code: "Throttling.Api",
        },
    );
    let before = fake.calls(Endpoint::UserAccessToken);
    let res = login_with_code(base, &code, None).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 503, "upstream_unavailable").await;
    assert_eq!(fake.calls(Endpoint::UserAccessToken), before + 1);
    assert_logged_in(&login_with_code(base, &code, None).await, "/");
}

/// A wrong app secret: 502 `upstream_error`, not the user's fault.
pub async fn weblogin_wrong_secret_is_upstream_error(base: &str, fake: &FakeDingTalk) {
    fake.fail_next(
        Endpoint::UserAccessToken,
        1,
        Failure::ApiError {
            status: 400,
            code: "invalidClientIdOrSecret",
        },
    );
    let code = fake.mint_web_code("staff");
    assert_error(
        login_with_code(base, &code, None).await,
        502,
        "upstream_error",
    )
    .await;
    // The claim was released: the code still works.
    assert_logged_in(&login_with_code(base, &code, None).await, "/");
}

/// `next` that would leave the site becomes `/`; a local one is kept.
pub async fn weblogin_open_redirects_stay_local(base: &str, fake: &FakeDingTalk) {
    let encoded = |n: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", n)
            .finish()
    };
    let mut queries: Vec<String> = [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "%2F%2Fevil.com",
        "/%2F/evil.com",
        "/%5Cevil.com",
        "http:evil.com",
        "\\\\evil.com",
    ]
    .iter()
    .map(|n| encoded(n))
    .collect();
    // As a browser would send them, unencoded or encoded once.
    queries.extend([
        "next=//evil.com".to_owned(),
        "next=%2F%2Fevil.com".to_owned(),
        "next=/%5Cevil.com".to_owned(),
        "next=%2F%5Cevil.com".to_owned(),
        "next=/%252F%252Fevil.com".to_owned(),
        "next=%0D%0A/x".to_owned(),
    ]);
    for query in queries {
        let started = start_raw(base, &query).await;
        let code = fake.mint_web_code("staff");
        let res = callback(
            base,
            &[("authCode", &code), ("state", started.state())],
            Some(&started.cookie),
        )
        .await;
        assert_logged_in(&res, "/");
    }
    for local in ["/admin?tab=users&x=%2F", "/me"] {
        let res = web_login(base, fake, "staff", Some(local)).await;
        assert_logged_in(&res, local);
    }
}

/// Pages behind guards: a browser navigation without a session is sent to the web login; an
/// API call keeps its 401.
pub async fn weblogin_html_redirect_vs_api_401(base: &str, fake: &FakeDingTalk) {
    let get = |path: &str, accept: Option<&str>| {
        let mut req = client().get(format!("{base}{path}"));
        if let Some(accept) = accept {
            req = req.header(ACCEPT, accept);
        }
        req.send()
    };
    for (path, next) in [
        ("/me", "%2Fme"),
        ("/admin?tab=1", "%2Fadmin%3Ftab%3D1"),
        ("/admin/super", "%2Fadmin%2Fsuper"),
        // A guard middleware (actix) or route layer (axum) rather than an extractor.
        ("/admin/echo?a=b%20c", "%2Fadmin%2Fecho%3Fa%3Db%2520c"),
    ] {
        let res = get(path, Some(HTML)).await.unwrap();
        assert_eq!(res.status(), 302, "{path}");
        assert_eq!(
            res.headers()[LOCATION],
            format!("/auth/dingtalk/web?next={next}").as_str(),
            "{path}"
        );
    }
    for accept in [
        None,
        Some("application/json"),
        Some("text/html, application/json"),
        Some("*/*"),
    ] {
        let res = get("/me", accept).await.unwrap();
        assert_error(res, 401, "unauthenticated").await;
    }
    // Not a GET: 401 whatever it accepts.
    let res = client()
        .post(format!("{base}/admin/echo"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthenticated").await;
    // Following the redirect logs in and lands where the page was.
    let started = start_raw(base, "next=%2Fadmin%3Ftab%3D1").await;
    let code = fake.mint_web_code("admin");
    let res = callback(
        base,
        &[("authCode", &code), ("state", started.state())],
        Some(&started.cookie),
    )
    .await;
    let session = assert_logged_in(&res, "/admin?tab=1");
    // With a session the page answers; a refused level stays 403 even for a browser.
    let res = page(base, "/admin", Some(&session)).await;
    assert_eq!(res.status(), 200);
    let staff = assert_logged_in(&web_login(base, fake, "staff", None).await, "/");
    let res = page(base, "/admin", Some(&staff)).await;
    assert_error(res, 403, "forbidden").await;
}

/// `GET {path}` as a browser navigates to a page (`Accept: text/html`), with the session
/// cookie `session` if any.
async fn page(base: &str, path: &str, session: Option<&str>) -> Response {
    let mut req = client().get(format!("{base}{path}")).header(ACCEPT, HTML);
    if let Some(session) = session {
        req = req.header(COOKIE, session);
    }
    req.send().await.unwrap()
}

/// Errors answer a small HTML page (same status and code, a link to start again) when the
/// browser prefers HTML, JSON otherwise.
pub async fn weblogin_html_error_page(base: &str, fake: &FakeDingTalk) {
    let res = callback_with(
        base,
        &[("authCode", "abc"), ("state", "x")],
        None,
        Some(HTML),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains("invalid_state"), "{page}");
    assert!(page.contains("href=\"/auth/dingtalk/web\""), "{page}");

    let started = start(base, Some("/me")).await;
    let code = fake.mint_web_code("ext");
    let res = callback_with(
        base,
        &[("authCode", &code), ("state", started.state())],
        Some(&started.cookie),
        Some(HTML),
    )
    .await;
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(page.contains("not_a_member"), "{page}");
    assert!(
        page.contains("href=\"/auth/dingtalk/web?next=%2Fme\""),
        "{page}"
    );
}

/// Without `PUBLIC_URL` both routes answer 503 `not_configured`, and pages keep their 401.
pub async fn weblogin_not_configured_without_public_url(base: &str, fake: &FakeDingTalk) {
    let res = client()
        .get(format!("{base}/auth/dingtalk/web?next=/me"))
        .send()
        .await
        .unwrap();
    assert_error(res, 503, "not_configured").await;
    let res = callback(
        base,
        &[("authCode", &fake.mint_web_code("staff")), ("state", "s")],
        None,
    )
    .await;
    assert_error(res, 503, "not_configured").await;
    let res = page(base, "/me", None).await;
    assert_error(res, 401, "unauthenticated").await;
    assert_eq!(fake.total_calls(), 0);
}

/// The whole flow through the fake's login page: pick a person, come back, land on `next`;
/// the page's cancel link comes back with `error=`.
pub async fn weblogin_through_the_fake_login_page(base: &str, fake: &FakeDingTalk) {
    let started = start(base, Some("/me")).await;
    let page = client().get(&started.location).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for who in ["Ada Admin", "Sam Sub", "Stu Staff", "Ex Ternal"] {
        assert!(html.contains(who), "{who} on the page: {html}");
    }
    let href = |id: &str| -> String {
        let marker = format!("id=\"{id}\" href=\"");
        let from = html.find(&marker).unwrap_or_else(|| panic!("{id}: {html}")) + marker.len();
        let raw = &html[from..from + html[from..].find('"').unwrap()];
        format!("{}{}", fake.url(), raw.replace("&amp;", "&"))
    };
    let back = |location: &str| -> Vec<(String, String)> {
        assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
        let query = location.split_once('?').unwrap().1;
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    let picked = client().get(href("pick-sub")).send().await.unwrap();
    assert_eq!(picked.status(), 302);
    let query = back(picked.headers()[LOCATION].to_str().unwrap());
    assert_eq!(query[0].0, "authCode");
    assert_eq!(query[1], ("state".to_owned(), started.state().to_owned()));
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = callback(base, &query, Some(&started.cookie)).await;
    let session = assert_logged_in(&res, "/me");
    assert_eq!(me(base, &session).await["userid"], "sub");

    let declined = client().get(href("decline")).send().await.unwrap();
    let query = back(declined.headers()[LOCATION].to_str().unwrap());
    assert_eq!(query[0], ("error".to_owned(), "access_denied".to_owned()));
    assert_eq!(fake.calls(Endpoint::LoginPage), 3);
}
