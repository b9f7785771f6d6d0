//! `CurrentUser` and the guard extractors.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::session;
use crate::error::Error;
use crate::guard::{Policy, SysLevelPolicy};
use crate::web;

use crate::user::{CurrentUser, RequireAdmin, RequirePolicy, RequireSuperAdmin};

fn user(req: &HttpRequest, policy: Option<&SysLevelPolicy>) -> Result<CurrentUser, Error> {
    match session(req) {
        Some(outcome) => web::authorize(Some(&outcome), policy),
        None => Err(Error::Internal(super::NOT_REGISTERED)),
    }
}

impl FromRequest for CurrentUser {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(user(req, None))
    }
}

impl FromRequest for RequireAdmin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(user(req, Some(&SysLevelPolicy::admin())).map(Self))
    }
}

impl FromRequest for RequireSuperAdmin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(user(req, Some(&SysLevelPolicy::super_admin())).map(Self))
    }
}

impl<P: Policy> FromRequest for RequirePolicy<P> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(user(req, Some(&P::policy())).map(Self::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::{test, web as aweb, App};

    async fn me(user: CurrentUser) -> String {
        user.sub.clone()
    }

    #[actix_web::test]
    async fn a_missing_dingtalk_login_is_a_500_not_a_panic() {
        let app = test::init_service(App::new().route("/me", aweb::get().to(me))).await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        assert!(body["message"].as_str().unwrap().contains("App::app_data"));
    }
}
