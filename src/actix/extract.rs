//! `CurrentUser` and the guard extractors.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::DingTalkExt;
use crate::error::Error;
use crate::guard::SysLevelPolicy;

/// The session's claims: extracting it answers 401 `unauthenticated` when the request carries
/// no valid session (none, malformed, expired or logged out).
///
/// The session is the `Authorization: Bearer` token when there is one (scheme
/// case-insensitive), else the session cookie. `Option<CurrentUser>` is `None` instead of a
/// 401; `Result<CurrentUser, dingtalk_login::Error>` hands the reason to the handler.
///
/// ```
/// use actix_web::{web, Responder};
/// use dingtalk_login::actix::CurrentUser;
///
/// async fn me(user: CurrentUser) -> impl Responder {
///     web::Json(user.user_json())
/// }
///
/// async fn greeting(user: Option<CurrentUser>) -> String {
///     match user {
///         Some(user) => format!("hello, {}", user.name),
///         None => "hello, stranger".into(),
///     }
/// }
/// ```
pub use crate::user::CurrentUser;

impl FromRequest for CurrentUser {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.current_user())
    }
}

fn require(req: &HttpRequest, policy: &SysLevelPolicy) -> Result<CurrentUser, Error> {
    let user = req.current_user()?;
    if user.satisfies(policy) {
        Ok(user)
    } else {
        Err(Error::Forbidden)
    }
}

/// A user with `sys_level` 1 or 2 (super or sub admin): 401 `unauthenticated` without a valid
/// session, 403 `forbidden` for anyone else, including the boss (100).
///
/// ```
/// use dingtalk_login::actix::RequireAdmin;
///
/// async fn settings(RequireAdmin(admin): RequireAdmin) -> String {
///     format!("settings, for {}", admin.userid())
/// }
/// ```
pub use crate::user::RequireAdmin;

impl FromRequest for RequireAdmin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(req, &SysLevelPolicy::admin()).map(Self))
    }
}

/// A user with `sys_level` 1 (the super admin): 401 `unauthenticated` without a valid
/// session, 403 `forbidden` for anyone else.
///
/// ```
/// use dingtalk_login::actix::RequireSuperAdmin;
///
/// async fn billing(RequireSuperAdmin(owner): RequireSuperAdmin) -> String {
///     format!("billing, for {}", owner.name)
/// }
/// ```
pub use crate::user::RequireSuperAdmin;

impl FromRequest for RequireSuperAdmin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(req, &SysLevelPolicy::super_admin()).map(Self))
    }
}

pub use crate::guard::Policy;

/// A user passing the policy `P`: 401 `unauthenticated` without a valid session, 403
/// `forbidden` for anyone else.
///
/// ```
/// use dingtalk_login::actix::{Policy, RequirePolicy};
/// use dingtalk_login::guard::{SysLevel, SysLevelPolicy};
///
/// struct Bosses;
/// impl Policy for Bosses {
///     fn policy() -> SysLevelPolicy {
///         SysLevelPolicy::any_of([SysLevel::Boss])
///     }
/// }
///
/// async fn numbers(boss: RequirePolicy<Bosses>) -> String {
///     format!("numbers, for {}", boss.user.name)
/// }
/// ```
pub use crate::user::RequirePolicy;

impl<P: Policy> FromRequest for RequirePolicy<P> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.current_user()
                .and_then(|user| Self::check(user).ok_or(Error::Forbidden)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actix::tests_support::{login, token_for};
    use crate::guard::SysLevel;
    use actix_web::http::{header, StatusCode};
    use actix_web::{test, web, App, HttpResponse};

    async fn me(user: CurrentUser) -> HttpResponse {
        HttpResponse::Ok().json(user.user_json())
    }

    async fn maybe(user: Option<CurrentUser>) -> String {
        user.map_or("anonymous".into(), |u| u.sub.clone())
    }

    async fn reason(user: Result<CurrentUser, Error>) -> String {
        match user {
            Ok(u) => u.sub.clone(),
            Err(e) => e.code().into(),
        }
    }

    async fn admin(RequireAdmin(admin): RequireAdmin) -> String {
        admin.userid().to_owned()
    }

    async fn super_admin(RequireSuperAdmin(admin): RequireSuperAdmin) -> String {
        admin.userid().to_owned()
    }

    struct Bosses;
    impl Policy for Bosses {
        fn policy() -> SysLevelPolicy {
            SysLevelPolicy::any_of([SysLevel::Boss])
        }
    }

    async fn boss(boss: RequirePolicy<Bosses>) -> String {
        boss.user.userid().to_owned()
    }

    async fn body_json(res: actix_web::dev::ServiceResponse) -> serde_json::Value {
        serde_json::from_slice(&test::read_body(res).await).unwrap()
    }

    #[actix_web::test]
    async fn extractors_answer_401_403_200() {
        let login = login();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(login.clone()))
                .route("/me", web::get().to(me))
                .route("/maybe", web::get().to(maybe))
                .route("/reason", web::get().to(reason))
                .route("/admin", web::get().to(admin))
                .route("/super", web::get().to(super_admin))
                .route("/boss", web::get().to(boss)),
        )
        .await;
        let employee = token_for(&login, "emp", SysLevel::Other);
        let sub = token_for(&login, "sub", SysLevel::SubAdmin);
        let boss = token_for(&login, "boss", SysLevel::Boss);
        let root = token_for(&login, "root", SysLevel::SuperAdmin);

        let res = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(res).await["error"], "unauthenticated");

        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("bEaReR {employee}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_json(res).await["userid"], "emp");

        // The cookie works; the Bearer header wins over it.
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::COOKIE, format!("dingtalk_session={employee}")))
            .to_request();
        assert_eq!(
            body_json(test::call_service(&app, req).await).await["userid"],
            "emp"
        );
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {sub}")))
            .insert_header((header::COOKIE, format!("dingtalk_session={employee}")))
            .to_request();
        assert_eq!(
            body_json(test::call_service(&app, req).await).await["userid"],
            "sub"
        );

        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, "Bearer not.a.jwt"))
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            StatusCode::UNAUTHORIZED
        );

        let res =
            test::call_service(&app, test::TestRequest::get().uri("/maybe").to_request()).await;
        assert_eq!(test::read_body(res).await, "anonymous");
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/reason").to_request()).await;
        assert_eq!(test::read_body(res).await, "unauthenticated");

        let call = |uri: &'static str, token: Option<&String>| {
            let mut req = test::TestRequest::get().uri(uri);
            if let Some(t) = token {
                req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
            }
            test::call_service(&app, req.to_request())
        };
        assert_eq!(
            call("/admin", None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let res = call("/admin", Some(&employee)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(body_json(res).await["error"], "forbidden");
        assert_eq!(
            call("/admin", Some(&boss)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(call("/admin", Some(&sub)).await.status(), StatusCode::OK);
        assert_eq!(call("/admin", Some(&root)).await.status(), StatusCode::OK);
        assert_eq!(
            call("/super", Some(&sub)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(call("/super", Some(&root)).await.status(), StatusCode::OK);
        assert_eq!(call("/boss", None).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            call("/boss", Some(&root)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(call("/boss", Some(&boss)).await.status(), StatusCode::OK);
    }

    #[actix_web::test]
    async fn a_logged_out_session_is_refused() {
        let login = login();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(login.clone()))
                .route("/me", web::get().to(me)),
        )
        .await;
        let token = token_for(&login, "emp", SysLevel::Other);
        login.logout(&login.verify(&token).unwrap()).await.unwrap();
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(res).await["error"], "unauthenticated");
    }

    #[actix_web::test]
    async fn a_plain_dingtalk_login_in_app_data_works_too() {
        let login = login();
        let app = test::init_service(
            App::new()
                .app_data(login.clone())
                .route("/me", web::get().to(me)),
        )
        .await;
        let token = token_for(&login, "emp", SysLevel::Other);
        let req = test::TestRequest::get()
            .uri("/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);
    }

    #[actix_web::test]
    async fn a_missing_dingtalk_login_is_a_500_not_a_panic() {
        let app = test::init_service(
            App::new()
                .route("/me", web::get().to(me))
                .route("/admin", web::get().to(admin)),
        )
        .await;
        for uri in ["/me", "/admin"] {
            let req = test::TestRequest::get()
                .uri(uri)
                .insert_header((header::AUTHORIZATION, "Bearer x.y.z"))
                .to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let body = body_json(res).await;
            assert_eq!(body["error"], "internal_error");
            assert!(body["message"]
                .as_str()
                .unwrap()
                .contains("DingTalkLogin is not registered"));
        }
    }
}
