//! The endpoints the fake serves (DingTalk's, the TOP router's and the employee-info service's), and the routing table from method and path to them.

use http::Method;

/// An endpoint of the fake DingTalk, for [`FakeDingTalk::fail_next`] and
/// [`FakeDingTalk::calls`].
///
/// [`FakeDingTalk::fail_next`]: super::FakeDingTalk::fail_next
/// [`FakeDingTalk::calls`]: super::FakeDingTalk::calls
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /gettoken`: the app's access token.
    GetToken,
    /// `POST /topapi/v2/user/getuserinfo`: exchanges a login code for the user.
    GetUserInfo,
    /// `POST /topapi/v2/user/getbymobile`: finds a user's `userid` by mobile number.
    GetByMobile,
    /// `POST /router/rest`: the TOP router (`alibaba.dc.uc.inner.user.by.account.get`).
    TopRouter,
    /// `POST /api/v1/getUser`: the employee-info service.
    EmployeeGetUser,
    /// `POST /service/get_corp_token`: an ISV app's corp token.
    GetCorpToken,
    /// `POST /v1.0/oauth2/accessToken`: the app's access token from the new-style API.
    AccessTokenV1,
    /// `GET /get_jsapi_ticket`: a JSAPI ticket (OAPI).
    GetJsapiTicket,
    /// `POST /v1.0/oauth2/jsapiTickets`: a JSAPI ticket (new-style API).
    JsapiTicketsV1,
    /// `GET /oauth2/auth`: DingTalk's web (QR code) login page.
    LoginPage,
    /// `POST /v1.0/oauth2/userAccessToken`: a web login's `authCode` for the user's token.
    UserAccessToken,
    /// `GET /v1.0/contact/users/me`: who a user token belongs to.
    UsersMe,
    /// `POST /topapi/user/getbyunionid`: the organisation's `userid` for a `unionid`.
    GetByUnionId,
    /// `POST /topapi/user/listadmin`: the super admins (1) and sub admins (2).
    ListAdmin,
    /// `POST /topapi/v2/user/get`: one user's details (`name`, `boss`, ...) by `userid`.
    UserGet,
}

impl Endpoint {
    /// The endpoint a request is for, or `None` for anything the fake does not serve.
    pub(super) fn route(method: &Method, path: &str) -> Option<Self> {
        match (method, path) {
            (&Method::GET, "/gettoken") => Some(Self::GetToken),
            (&Method::POST, "/topapi/v2/user/getuserinfo") => Some(Self::GetUserInfo),
            (&Method::POST, "/topapi/v2/user/getbymobile") => Some(Self::GetByMobile),
            (&Method::POST, "/router/rest") => Some(Self::TopRouter),
            (&Method::POST, "/api/v1/getUser") => Some(Self::EmployeeGetUser),
            (&Method::POST, "/service/get_corp_token") => Some(Self::GetCorpToken),
            (&Method::POST, "/v1.0/oauth2/accessToken") => Some(Self::AccessTokenV1),
            (&Method::GET, "/get_jsapi_ticket") => Some(Self::GetJsapiTicket),
            (&Method::POST, "/v1.0/oauth2/jsapiTickets") => Some(Self::JsapiTicketsV1),
            (&Method::GET, "/oauth2/auth") => Some(Self::LoginPage),
            (&Method::POST, "/v1.0/oauth2/userAccessToken") => Some(Self::UserAccessToken),
            (&Method::GET, "/v1.0/contact/users/me") => Some(Self::UsersMe),
            (&Method::POST, "/topapi/user/getbyunionid") => Some(Self::GetByUnionId),
            (&Method::POST, "/topapi/user/listadmin") => Some(Self::ListAdmin),
            (&Method::POST, "/topapi/v2/user/get") => Some(Self::UserGet),
            _ => None,
        }
    }
}
