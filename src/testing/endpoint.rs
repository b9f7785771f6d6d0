//! The DingTalk endpoints the fake serves, and the routing table from method and path to them.

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
}

impl Endpoint {
    /// The endpoint a request is for, or `None` for anything the fake does not serve.
    pub(super) fn route(method: &Method, path: &str) -> Option<Self> {
        match (method, path) {
            (&Method::GET, "/gettoken") => Some(Self::GetToken),
            (&Method::POST, "/topapi/v2/user/getuserinfo") => Some(Self::GetUserInfo),
            (&Method::POST, "/topapi/v2/user/getbymobile") => Some(Self::GetByMobile),
            _ => None,
        }
    }
}
