use std::convert::Infallible;

use ::tower::{service_fn, ServiceExt};
use http::{header, Method, Request, Response, StatusCode};
use serde_json::Value;
use tower_cookies::CookieManagerLayer;
use tower_layer::Layer;

use super::*;
use crate::dingtalk::DingTalkUser;
use crate::guard::SysLevel;
use crate::DingTalkLogin;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn login(oapi: &str) -> DingTalkLogin {
    DingTalkLogin::builder()
        .app_key("key")
        .app_secret("secret")
        .oapi_url(oapi)
        .session_secret(SECRET)
        .build()
        .unwrap()
}

fn user(userid: &str, sys_level: i64) -> DingTalkUser {
    DingTalkUser {
        userid: userid.into(),
        unionid: None,
        associated_unionid: None,
        name: "Name".into(),
        device_id: None,
        sys: sys_level == 1 || sys_level == 2,
        sys_level: SysLevel::from(sys_level),
    }
}

/// An app: `200 inner` with the session's userid, if any.
async fn app(req: Request<String>) -> Result<Response<String>, Infallible> {
    let who = req
        .extensions()
        .get::<SessionOutcome>()
        .and_then(SessionOutcome::claims)
        .map_or("anonymous".to_owned(), |c| c.sub.clone());
    Ok(Response::new(format!("inner {who}")))
}

fn get(uri: &str) -> http::request::Builder {
    Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header("host", "app.test")
}

fn json(res: &Response<String>) -> Value {
    serde_json::from_str(res.body()).unwrap()
}

/// `name=value` of the response's `Set-Cookie` for `name`, ready for a `Cookie` header.
fn cookie_pair(res: &Response<String>, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

fn set_cookie(res: &Response<String>, name: &str) -> String {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
}

#[tokio::test]
async fn other_requests_pass_through() {
    let svc = DingTalkLoginLayer::new(login("http://127.0.0.1:9")).layer(service_fn(app));
    let res = svc
        .oneshot(get("/elsewhere").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.body(), "inner anonymous");
}

#[tokio::test]
async fn state_cookie_is_set_with_or_without_cookie_manager() {
    let login = login("http://127.0.0.1:9");
    let bare = DingTalkLoginLayer::new(login.clone()).layer(service_fn(app));
    let managed =
        CookieManagerLayer::new().layer(DingTalkLoginLayer::new(login).layer(service_fn(app)));
    for res in [
        bare.oneshot(get("/auth/dingtalk/state").body(String::new()).unwrap())
            .await
            .unwrap(),
        managed
            .oneshot(get("/auth/dingtalk/state").body(String::new()).unwrap())
            .await
            .unwrap(),
    ] {
        assert_eq!(res.status(), 200);
        let state = json(&res)["state"].as_str().unwrap().to_owned();
        assert!(state.len() >= 16);
        let cookie = set_cookie(&res, "dingtalk_state");
        assert!(
            cookie.starts_with(&format!("dingtalk_state={state}")),
            "{cookie}"
        );
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=600",
            "Secure",
        ] {
            assert!(cookie.contains(attr), "{attr} missing in {cookie}");
        }
    }
}

#[tokio::test]
async fn session_cookie_round_trip_through_session_and_guard() {
    let login = login("http://127.0.0.1:9");
    let (token, _) = login
        .sessions()
        .issue(&user("u-2", 2), Default::default())
        .unwrap();
    let cookie = format!("{}={token}", login.cookie_settings().name);
    let svc =
        SessionLayer::new(login.clone()).layer(RequireSysLevel::admin().layer(service_fn(app)));

    let res = svc
        .clone()
        .oneshot(
            get("/admin")
                .header("cookie", &cookie)
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.body(), "inner u-2");

    let res = svc
        .clone()
        .oneshot(get("/admin").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(&res)["error"], "unauthenticated");
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");

    let (boss, _) = login
        .sessions()
        .issue(&user("u-100", 100), Default::default())
        .unwrap();
    let res = svc
        .clone()
        .oneshot(
            get("/admin")
                .header("authorization", format!("bearer {boss}"))
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(json(&res)["error"], "forbidden");

    // A CORS preflight is never refused.
    let res = svc
        .oneshot(
            get("/admin")
                .method(Method::OPTIONS)
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_guard_without_session_layer_is_a_clear_500() {
    let svc = RequireSysLevel::admin().layer(service_fn(app));
    let res = svc
        .oneshot(get("/admin").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json(&res)["error"], "internal_error");
    assert!(json(&res)["message"]
        .as_str()
        .unwrap()
        .contains("session layer"));
}

#[tokio::test]
async fn logout_clears_the_cookie_with_its_flags_and_revokes() {
    let login = login("http://127.0.0.1:9");
    let (token, _) = login
        .sessions()
        .issue(&user("u-1", 1), Default::default())
        .unwrap();
    let cookie = format!("dingtalk_session={token}");
    for managed in [false, true] {
        let (token, _) = login
            .sessions()
            .issue(&user("u-1", 1), Default::default())
            .unwrap();
        let cookie = format!("dingtalk_session={token}");
        let svc = DingTalkLoginLayer::new(login.clone()).layer(service_fn(app));
        let req = get("/auth/logout")
            .method(Method::POST)
            .header("cookie", &cookie)
            .body(String::new())
            .unwrap();
        let res = if managed {
            CookieManagerLayer::new()
                .layer(svc)
                .oneshot(req)
                .await
                .unwrap()
        } else {
            svc.oneshot(req).await.unwrap()
        };
        assert_eq!(res.status(), 204);
        let cleared = set_cookie(&res, "dingtalk_session");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0", "Secure"] {
            assert!(cleared.contains(attr), "{attr} missing in {cleared}");
        }
        assert_eq!(login.verify(&token).unwrap_err().code(), "unauthenticated");
    }
    // A foreign origin is refused before anything else.
    let svc = DingTalkLoginLayer::new(login.clone()).layer(service_fn(app));
    let req = get("/auth/logout")
        .method(Method::POST)
        .header("cookie", &cookie)
        .header("origin", "https://evil.test")
        .body(String::new())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(login.verify(&token).is_ok());
}

#[cfg(feature = "testing")]
mod with_fake {
    use super::*;
    use crate::testing::{Endpoint, FakeDingTalk, FakeUser};

    #[tokio::test]
    async fn redirect_login_round_trips_state_and_session_cookies() {
        let fake = FakeDingTalk::builder()
            .user(FakeUser::new("u-1", "Zhang San").super_admin())
            .start()
            .await;
        let login = DingTalkLogin::builder()
            .app_key(fake.app_key())
            .app_secret(fake.app_secret())
            .oapi_url(fake.url())
            .session_secret(SECRET)
            .build()
            .unwrap();
        let svc = CookieManagerLayer::new().layer(DingTalkLoginLayer::new(login.clone()).layer(
            SessionLayer::new(login).layer(RequireSysLevel::super_admin().layer(service_fn(app))),
        ));

        let res = svc
            .clone()
            .oneshot(get("/auth/dingtalk/state").body(String::new()).unwrap())
            .await
            .unwrap();
        let state = json(&res)["state"].as_str().unwrap().to_owned();
        let state_cookie = cookie_pair(&res, "dingtalk_state").unwrap();

        // A wrong state spends nothing.
        let code = fake.mint_code("u-1");
        let res = svc
            .clone()
            .oneshot(
                get(&format!("/auth/dingtalk?code={code}&state=wrong"))
                    .header("cookie", &state_cookie)
                    .body(String::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(json(&res)["error"], "invalid_state");
        assert_eq!(fake.calls(Endpoint::GetUserInfo), 0);

        let res = svc
            .clone()
            .oneshot(
                get(&format!("/auth/dingtalk?code={code}&state={state}"))
                    .header("cookie", &state_cookie)
                    .body(String::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.body());
        let body = json(&res);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["user"]["userid"], "u-1");
        assert!(set_cookie(&res, "dingtalk_state").contains("Max-Age=0"));
        let session = cookie_pair(&res, "dingtalk_session").unwrap();
        assert_eq!(
            session,
            format!("dingtalk_session={}", body["token"].as_str().unwrap())
        );

        let res = svc
            .oneshot(
                get("/admin/super")
                    .header("cookie", &session)
                    .body(String::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.body(), "inner u-1");
    }
}

/// A revocation store that cannot reach its backend (e.g. Redis down).
struct Unreachable;

impl crate::store::Revocation for Unreachable {
    fn revoke<'a>(&'a self, _: &'a str, _: i64) -> crate::BoxFuture<'a, Result<(), crate::Error>> {
        Box::pin(async { Err(crate::Error::StoreUnavailable("down".into())) })
    }
    fn is_revoked(&self, _: &str) -> bool {
        false
    }
}

#[tokio::test]
async fn logout_with_the_store_down_is_503_and_still_clears_the_cookie() {
    let login = DingTalkLogin::builder()
        .app_key("key")
        .app_secret("secret")
        .session_secret(SECRET)
        .revocation(std::sync::Arc::new(Unreachable))
        .build()
        .unwrap();
    let (token, _) = login
        .sessions()
        .issue(&user("u-1", 1), Default::default())
        .unwrap();
    let svc = DingTalkLoginLayer::new(login).layer(service_fn(app));
    let req = get("/auth/logout")
        .method(Method::POST)
        .header("cookie", format!("dingtalk_session={token}"))
        .body(String::new())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(json(&res)["error"], "store_unavailable");
    assert!(set_cookie(&res, "dingtalk_session").contains("Max-Age=0"));
}
