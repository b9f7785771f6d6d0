//! The login, state and logout routes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::time::{Duration as CookieDuration, OffsetDateTime};
use actix_web::cookie::{Cookie, SameSite as CookieSameSite};
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::{json_response, verify_request};
use crate::error::Error;
use crate::login::{DingTalkLogin, Login};
use crate::session::SameSite;
use crate::web::{
    code_from_post, code_from_redirect, new_state, CookieSpec, LoginRoutes, RequestParts,
    CODE_HEADER,
};

/// The largest login body read, in bytes. A code is at most 128 bytes; anything much larger is
/// not a login.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

struct Routes {
    login: DingTalkLogin,
    routes: LoginRoutes,
}

/// Mounts the login routes on an `App` or `Scope` and registers `login` as
/// `web::Data<DingTalkLogin>` there, for [`CurrentUser`](super::CurrentUser), the guards and
/// [`RequireSysLevel`](super::RequireSysLevel):
///
/// - `POST {login}`: the code from the `X-DingTalk-Code` header (it wins), else a form body
///   (`code=..`), else a JSON body (`{"code": ..}`); an `Origin` that is not allowed is refused
///   with 403 `cross_site_request` before the body is read, so the code is not spent;
/// - `GET {login}?code&state`: `state` must equal the `dingtalk_state` cookie, checked before
///   the code is claimed;
/// - both answer 200 `{token, token_type, expires_at, user}` and set the session cookie;
/// - `GET {state}`: 200 `{state}` and the `dingtalk_state` cookie;
/// - `POST {logout}`: the same `Origin` check, then a valid session (401 `unauthenticated`
///   without), which is revoked; 204 and the cookie cleared with the Path, Domain and flags it
///   was set with.
///
/// Paths and allowed origins come from [`LoginRoutes`]. When configured on a `Scope`, the
/// paths are relative to it and the `web::Data` is visible inside it only: register the login
/// on the `App` too (`App::app_data(web::Data::new(login))`) for extractors elsewhere.
///
/// ```
/// use actix_web::App;
/// use dingtalk_login::actix::routes;
/// use dingtalk_login::{web::LoginRoutes, DingTalkLogin};
///
/// let login = DingTalkLogin::builder()
///     .app_key("dingxxxxxxxx")
///     .app_secret("app-secret")
///     .session_secret("a session key of at least 32 bytes!")
///     .build()
///     .unwrap();
/// let paths = LoginRoutes::default().allowed_origins(["https://app.example.com"]);
/// let app = App::new().configure(routes(login, paths));
/// # let _ = app;
/// ```
pub fn routes(login: DingTalkLogin, routes: LoginRoutes) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        let st = Arc::new(Routes { login, routes });
        cfg.app_data(web::Data::new(st.login.clone()));
        let (post, get, state, logout) = (st.clone(), st.clone(), st.clone(), st.clone());
        // One route per method, like the tower layer's pass-through: another method on these
        // paths reaches whatever else the app registered there.
        cfg.route(
            st.routes.login_path(),
            web::post().to(move |req, body| post_login(post.clone(), req, body)),
        )
        .route(
            st.routes.login_path(),
            web::get().to(move |req| get_login(get.clone(), req)),
        )
        .route(
            st.routes.state_path(),
            web::get().to(move || get_state(state.clone())),
        )
        .route(
            st.routes.logout_path(),
            web::post().to(move |req| post_logout(logout.clone(), req)),
        );
    }
}

async fn post_login(
    st: Arc<Routes>,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    // Before anything is read, so a refused request spends no code.
    st.routes.check_origin(&req)?;
    let body = if RequestParts::header(&req, CODE_HEADER).is_some() {
        // The header wins; the body is not needed.
        web::Bytes::new()
    } else {
        match body.to_bytes_limited(MAX_BODY_BYTES).await {
            Ok(Ok(read)) => read,
            Ok(Err(_)) => {
                return Err(Error::InvalidCode("the request body could not be read").into())
            }
            Err(_) => return Err(Error::InvalidCode("the request body is too large").into()),
        }
    };
    let code = code_from_post(&req, &body)?;
    let session = st.login.login(&code).await?;
    Ok(logged_in(&st.login, &session))
}

async fn get_login(st: Arc<Routes>, req: HttpRequest) -> actix_web::Result<HttpResponse> {
    let code = code_from_redirect(&req, req.query_string())?;
    let session = st.login.login(&code).await?;
    let mut res = logged_in(&st.login, &session);
    // The state is single use, like the code it protected.
    add_cookie(
        &mut res,
        CookieSpec::clear_state(st.login.cookie_settings()),
    );
    Ok(res)
}

async fn get_state(st: Arc<Routes>) -> HttpResponse {
    let state = new_state();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie(CookieSpec::state(
            st.login.cookie_settings(),
            state.clone(),
        )))
        .json(json!({ "state": state }))
}

async fn post_logout(st: Arc<Routes>, req: HttpRequest) -> actix_web::Result<HttpResponse> {
    st.routes.check_origin(&req)?;
    // Verified before the `.await`; no borrow of the request's extensions is held across it.
    let claims = verify_request(&st.login, &req)?;
    let clear = CookieSpec::clear_session(st.login.cookie_settings());
    match st.login.logout(&claims).await {
        Ok(()) => {}
        // Revoked here already, but other instances may not know yet: say so, and still
        // clear the cookie (a retry would meet an already-revoked session).
        Err(e @ Error::StoreUnavailable(_)) => {
            let mut res = actix_web::ResponseError::error_response(&e);
            add_cookie(&mut res, clear);
            return Ok(res);
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(userid = %claims.sub, "dingtalk logout");
    Ok(HttpResponse::NoContent().cookie(cookie(clear)).finish())
}

/// 200 with the login JSON and the session cookie, living as long as the token.
fn logged_in(login: &DingTalkLogin, session: &Login) -> HttpResponse {
    let lifetime = session.expires_at.saturating_sub(session.claims.iat).max(0) as u64;
    let mut res = json_response(StatusCode::OK, &session.to_json());
    add_cookie(
        &mut res,
        CookieSpec::session(
            login.cookie_settings(),
            session.token.clone(),
            Duration::from_secs(lifetime),
        ),
    );
    res
}

fn add_cookie(res: &mut HttpResponse, spec: CookieSpec) {
    let name = spec.name.clone();
    if res.add_cookie(&cookie(spec)).is_err() {
        tracing::warn!(cookie = %name, "cookie not set: not a valid header value");
    }
}

/// The actix cookie for a [`CookieSpec`]: always `HttpOnly`; a zero `max_age` also expires it
/// in the past, like [`CookieSpec::header_value`].
fn cookie(spec: CookieSpec) -> Cookie<'static> {
    let max_age = i64::try_from(spec.max_age.as_secs()).unwrap_or(i64::MAX);
    let mut c = Cookie::build(spec.name, spec.value)
        .path(spec.path)
        .http_only(true)
        .secure(spec.secure)
        .same_site(match spec.same_site {
            SameSite::Strict => CookieSameSite::Strict,
            SameSite::Lax => CookieSameSite::Lax,
            SameSite::None => CookieSameSite::None,
        })
        .max_age(CookieDuration::seconds(max_age))
        .finish();
    if let Some(domain) = spec.domain {
        c.set_domain(domain);
    }
    if spec.max_age.is_zero() {
        c.set_expires(OffsetDateTime::UNIX_EPOCH);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actix::tests_support::{login, token_for};
    use crate::actix::CurrentUser;
    use crate::guard::SysLevel;
    use actix_web::dev::ServiceResponse;
    use actix_web::http::StatusCode;
    use actix_web::{test, App};

    async fn me(user: CurrentUser) -> String {
        user.sub.clone()
    }

    fn set_cookies(res: &ServiceResponse) -> Vec<String> {
        res.headers()
            .get_all(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    async fn error_code(res: ServiceResponse) -> String {
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        body["error"].as_str().unwrap().to_owned()
    }

    #[actix_web::test]
    async fn cookies_carry_every_flag() {
        let mut settings = crate::session::CookieSettings {
            domain: Some("a.test".into()),
            path: "/app".into(),
            same_site: SameSite::Strict,
            ..Default::default()
        };
        let c = cookie(CookieSpec::session(
            &settings,
            "t".into(),
            std::time::Duration::from_secs(60),
        ));
        assert_eq!(
            c.to_string(),
            "dingtalk_session=t; HttpOnly; SameSite=Strict; Secure; Path=/app; Domain=a.test; Max-Age=60"
        );
        settings.secure = false;
        settings.same_site = SameSite::None;
        let c = cookie(CookieSpec::clear_session(&settings));
        assert_eq!(
            c.to_string(),
            "dingtalk_session=; HttpOnly; SameSite=None; Path=/app; Domain=a.test; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[actix_web::test]
    async fn state_route_sets_a_short_lived_cookie() {
        let app =
            test::init_service(App::new().configure(routes(login(), LoginRoutes::default()))).await;
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/auth/dingtalk/state")
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let cookies = set_cookies(&res);
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        let state = body["state"].as_str().unwrap();
        assert!(state.len() >= 16);
        assert_eq!(cookies.len(), 1);
        assert!(cookies[0].starts_with(&format!("dingtalk_state={state}; HttpOnly; SameSite=Lax")));
        assert!(cookies[0].contains("Max-Age=600"));
    }

    #[actix_web::test]
    async fn foreign_origins_and_forged_states_are_refused() {
        let app =
            test::init_service(App::new().configure(routes(login(), LoginRoutes::default()))).await;
        for origin in ["http://evil.test", "null", "https://a.test"] {
            let req = test::TestRequest::post()
                .uri("/auth/dingtalk")
                .insert_header((header::HOST, "a.test"))
                .insert_header((header::ORIGIN, origin))
                .set_json(json!({"code": "abc"}))
                .to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin}");
            assert_eq!(error_code(res).await, "cross_site_request");
        }
        let req = test::TestRequest::get()
            .uri("/auth/dingtalk?code=abc&state=s1")
            .insert_header((header::COOKIE, "dingtalk_state=s2"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(res).await, "invalid_state");

        let req = test::TestRequest::post()
            .uri("/auth/dingtalk")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(vec![b' '; MAX_BODY_BYTES + 1])
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(res).await, "invalid_code");
        let req = test::TestRequest::post().uri("/auth/dingtalk").to_request();
        assert_eq!(
            error_code(test::call_service(&app, req).await).await,
            "missing_code"
        );
    }

    /// A revocation store that cannot reach its backend (e.g. Redis down).
    struct Unreachable;

    impl crate::store::Revocation for Unreachable {
        fn revoke<'a>(
            &'a self,
            _: &'a str,
            _: i64,
        ) -> crate::BoxFuture<'a, Result<(), crate::Error>> {
            Box::pin(async { Err(crate::Error::StoreUnavailable("down".into())) })
        }
        fn is_revoked(&self, _: &str) -> bool {
            false
        }
    }

    #[actix_web::test]
    async fn logout_with_the_store_down_is_503_and_still_clears_the_cookie() {
        let login = crate::DingTalkLogin::builder()
            .app_key("key")
            .app_secret("secret")
            .session_secret("0123456789abcdef0123456789abcdef")
            .revocation(Arc::new(Unreachable))
            .build()
            .unwrap();
        let app =
            test::init_service(App::new().configure(routes(login.clone(), LoginRoutes::default())))
                .await;
        let token = token_for(&login, "emp", SysLevel::Other);
        let req = test::TestRequest::post()
            .uri("/auth/logout")
            .insert_header((header::COOKIE, format!("dingtalk_session={token}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let cleared = res
            .headers()
            .get_all(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("dingtalk_session="))
            .expect("the session cookie is cleared");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(error_code(res).await, "store_unavailable");
    }

    #[actix_web::test]
    async fn logout_revokes_and_clears_the_cookie() {
        let login = crate::DingTalkLogin::builder()
            .app_key("key")
            .app_secret("secret")
            .session_secret("0123456789abcdef0123456789abcdef")
            .cookie_domain("a.test")
            .cookie_path("/")
            .build()
            .unwrap();
        let app = test::init_service(
            App::new()
                .configure(routes(login.clone(), LoginRoutes::default()))
                .route("/me", web::get().to(me)),
        )
        .await;
        let req = test::TestRequest::post().uri("/auth/logout").to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(res).await, "unauthenticated");

        let token = token_for(&login, "emp", SysLevel::Other);
        let req = test::TestRequest::post()
            .uri("/auth/logout")
            .insert_header((header::HOST, "a.test"))
            .insert_header((header::ORIGIN, "http://evil.test"))
            .insert_header((header::COOKIE, format!("dingtalk_session={token}")))
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            StatusCode::FORBIDDEN
        );

        let req = test::TestRequest::post()
            .uri("/auth/logout")
            .insert_header((header::HOST, "a.test"))
            .insert_header((header::ORIGIN, "http://a.test"))
            .insert_header((header::COOKIE, format!("dingtalk_session={token}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let cookies = set_cookies(&res);
        assert_eq!(
            cookies,
            ["dingtalk_session=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=a.test; Max-Age=0; \
              Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
        );
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    /// Checks a login answer; returns the token and the `Set-Cookie`s.
    #[cfg(feature = "testing")]
    async fn check(login: &DingTalkLogin, res: ServiceResponse) -> (String, Vec<String>) {
        assert_eq!(res.status(), StatusCode::OK);
        let cookies = set_cookies(&res);
        assert_eq!(
            res.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["user"]["userid"], "u-1");
        assert_eq!(body["user"]["sys_level"], 2);
        let token = body["token"].as_str().unwrap().to_owned();
        assert_eq!(body["expires_at"], login.verify(&token).unwrap().exp);
        let session = cookies
            .iter()
            .find(|c| c.starts_with("dingtalk_session="))
            .unwrap();
        assert!(session.starts_with(&format!(
            "dingtalk_session={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=28800"
        )));
        (token, cookies)
    }

    #[cfg(feature = "testing")]
    #[actix_web::test]
    async fn logs_in_by_json_form_header_and_redirect() {
        use crate::actix::tests_support::login_with;
        use crate::testing::{Endpoint, FakeDingTalk, FakeUser};

        let fake = FakeDingTalk::builder()
            .user(FakeUser::new("u-1", "Zhang San").sub_admin())
            .start()
            .await;
        let login = login_with(&fake.url(), fake.app_key(), fake.app_secret());
        let app = test::init_service(
            App::new()
                .configure(routes(login.clone(), LoginRoutes::default()))
                .route("/me", web::get().to(me)),
        )
        .await;
        // A refused origin spends no code.
        let code = fake.mint_code("u-1");
        let req = test::TestRequest::post()
            .uri("/auth/dingtalk")
            .insert_header((header::HOST, "a.test"))
            .insert_header((header::ORIGIN, "http://evil.test"))
            .set_json(json!({ "code": code }))
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(fake.calls(Endpoint::GetUserInfo), 0);
        let req = test::TestRequest::post()
            .uri("/auth/dingtalk")
            .insert_header((header::HOST, "a.test"))
            .insert_header((header::ORIGIN, "http://a.test"))
            .set_json(json!({ "code": code }))
            .to_request();
        check(&login, test::call_service(&app, req).await).await;
        // Replayed.
        let req = test::TestRequest::post()
            .uri("/auth/dingtalk")
            .set_json(json!({ "code": code }))
            .to_request();
        assert_eq!(
            error_code(test::call_service(&app, req).await).await,
            "code_replayed"
        );

        let req = test::TestRequest::post()
            .uri("/auth/dingtalk")
            .set_form([("code", fake.mint_code("u-1"))])
            .to_request();
        check(&login, test::call_service(&app, req).await).await;

        // The header wins over a body code.
        let req = test::TestRequest::post()
            .uri("/auth/dingtalk")
            .insert_header(("X-DingTalk-Code", fake.mint_code("u-1")))
            .set_json(json!({ "code": "not-a-real-code" }))
            .to_request();
        let (token, _) = check(&login, test::call_service(&app, req).await).await;
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        assert_eq!(
            test::read_body(test::call_service(&app, req).await).await,
            "u-1"
        );

        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/auth/dingtalk/state")
                .to_request(),
        )
        .await;
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        let state = body["state"].as_str().unwrap();
        let req = test::TestRequest::get()
            .uri(&format!(
                "/auth/dingtalk?code={}&state={state}",
                fake.mint_code("u-1")
            ))
            .insert_header((header::COOKIE, format!("dingtalk_state={state}")))
            .to_request();
        let (_, cookies) = check(&login, test::call_service(&app, req).await).await;
        assert!(cookies
            .iter()
            .any(|c| c.starts_with("dingtalk_state=; ") && c.contains("Max-Age=0")));
    }
}
