//! The session lifecycle routes: `POST /auth/refresh` (a session's successor, re-checked
//! against DingTalk) and `POST /admin/users/{userid}/revoke` (every session of a user, on
//! every instance).

use http::StatusCode;

use super::RequestHead;
use super::{authorize, cookies, logged_in, path_param, verified_session, LoginRoutes, Reply};
use crate::error::Error;
use crate::guard::SysLevelPolicy;
use crate::login::DingTalkLogin;

/// `POST /auth/refresh`: Origin checked like logout, then the session, then
/// [`DingTalkLogin::refresh`]. A 401 also clears the session cookie: that session is over.
pub(super) async fn refresh(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Reply {
    let answered = async {
        routes.check_origin(head, login.public_origin())?;
        let claims = verified_session(login, head)?;
        login.refresh(&claims).await
    };
    match answered.await {
        Ok(session) => logged_in(login, session),
        Err(e @ Error::Unauthenticated(_)) => {
            Reply::error(&e).with_cookie(cookies::clear_session(login.cookie_settings()))
        }
        Err(e) => Reply::error(&e),
    }
}

/// `POST /admin/users/{userid}/revoke`: Origin checked, a super admin's session, then
/// [`DingTalkLogin::revoke_user`]; 204.
pub(super) async fn revoke_user(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Result<Reply, Error> {
    routes.check_origin(head, login.public_origin())?;
    let session = verified_session(login, head);
    let admin = authorize(Some(&session), Some(&SysLevelPolicy::super_admin()))?;
    let path = head.path_and_query();
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    // The route was recognized by this pattern, so the segment is there, unless the pattern
    // was configured without one (a mis-wired application).
    let raw = path_param(&routes.revoke_user, path)
        .filter(|raw| !raw.is_empty())
        .ok_or(Error::Internal(
            "the revoke-user path has no {userid} segment",
        ))?;
    let userid = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    login.revoke_user(&userid).await?;
    tracing::info!(userid = %userid.escape_debug(), by = %admin.sub.escape_debug(), "user revoked by an admin");
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
