//! The browser (web, QR code) login: `GET /auth/dingtalk/web[?next=PATH]` sends the browser to
//! DingTalk's login page with a fresh `state` bound to a signed cookie, and
//! `GET /auth/dingtalk/web/callback?authCode=..&state=..` checks that state, logs the person in
//! ([`DingTalkLogin::web_login`]) and sends the browser on to `next` with the session cookie.
//!
//! `next` is kept only when it is a local path (open-redirect protection); errors answer the
//! usual JSON, or a small HTML page with a link to start again when the browser asked for HTML.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::head::prefers_html;
use super::{cookies, logged_in_cookie, new_state, LoginRoutes, Reply, RequestHead};
use crate::code::{form_value, AuthCode};
use crate::error::{Error, UpstreamDetail};
use crate::login::{DingTalkLogin, WEB_LOGIN};
use crate::metrics;

/// Where the web login starts.
pub(crate) const WEB_LOGIN_PATH: &str = "/auth/dingtalk/web";
/// Where DingTalk's login page sends the browser back: register
/// `{public_url}/auth/dingtalk/web/callback` in the DingTalk developer console.
pub(crate) const WEB_CALLBACK_PATH: &str = "/auth/dingtalk/web/callback";

/// What the state cookie carries, signed with the session key: the state, the `next` path
/// and an expiry. `typ` keeps it apart from any other token signed with the same key.
#[derive(Serialize, Deserialize)]
struct WebState {
    typ: String,
    state: String,
    next: String,
    exp: i64,
}

const WEB_STATE_TYP: &str = "dingtalk_web_state";

/// Percent-decodes the query value `name`, if present.
fn query_value(head: &impl RequestHead, name: &str) -> Option<String> {
    form_value(head.query().unwrap_or("").as_bytes(), name)
}

/// `GET /auth/dingtalk/web[?next=PATH]`: 302 to DingTalk's login page, with the state cookie.
pub(crate) fn start(login: &DingTalkLogin, head: &impl RequestHead) -> Reply {
    let html = prefers_html(head);
    let web = login.web();
    let Some((public_url, client_id, _)) = web.configured() else {
        return Reply::error_page(&Error::NotConfigured(WEB_LOGIN), html, WEB_LOGIN_PATH);
    };
    let next = local_next(query_value(head, "next").as_deref());
    let state = new_state();
    let sessions = login.sessions();
    let claims = WebState {
        typ: WEB_STATE_TYP.into(),
        state: state.clone(),
        next,
        exp: sessions
            .now()
            .saturating_add(cookies::STATE_LIFETIME.as_secs() as i64),
    };
    let signed = match sessions.sign_value(&claims) {
        Ok(signed) => signed,
        Err(e) => return Reply::error_page(&e, html, WEB_LOGIN_PATH),
    };
    let redirect_uri = format!("{public_url}{WEB_CALLBACK_PATH}");
    let scope = if web.corp_id.is_some() {
        "openid corpid"
    } else {
        "openid"
    };
    let mut location = format!(
        "{}/oauth2/auth?redirect_uri={}&response_type=code&client_id={}&scope={}&state={}&prompt=consent",
        web.login_url,
        encode(&redirect_uri),
        encode(client_id),
        encode(scope),
        encode(&state),
    );
    if let Some(corp_id) = &web.corp_id {
        location.push_str("&corpId=");
        location.push_str(&encode(corp_id));
    }
    Reply::redirect(&location).with_cookie(cookies::state(
        login.cookie_settings(),
        cookies::WEB_STATE_COOKIE,
        signed,
    ))
}

/// `GET /auth/dingtalk/web/callback?authCode=C&state=S` (or `code=C`): the state must match
/// the cookie's (400 `invalid_state`, nothing spent), `error=` is a declined login (401
/// `code_rejected`), then the code is claimed and exchanged like a silent code. Success is 302
/// to `next` with the session cookie; the state cookie is cleared once the state matched,
/// whatever the outcome.
pub(crate) async fn callback(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Reply {
    let html = prefers_html(head);
    // Set once the state matched: where an error page sends the person to start again.
    let mut retry = None;
    // One count and one span per attempt (`method="web"`), refusals included.
    let attempt = async {
        if login.web().configured().is_none() {
            return Err(Error::NotConfigured(WEB_LOGIN));
        }
        routes.check_rate(head)?;
        // The state first, so a forged request spends no code and asks DingTalk nothing.
        let web_state = matching_state(login, head).ok_or(Error::InvalidState)?;
        retry = Some(retry_link(&web_state.next));
        Ok((exchange(login, head).await?, web_state.next))
    };
    let outcome = metrics::observe_login("web", attempt).await;
    let clear = || cookies::clear_state(login.cookie_settings(), cookies::WEB_STATE_COOKIE);
    match (outcome, retry) {
        (Ok((session, next)), _) => {
            let cookie = logged_in_cookie(login, &session);
            Reply::redirect(&next)
                .with_cookie(cookie)
                .with_cookie(clear())
        }
        (Err(e), Some(retry)) => Reply::error_page(&e, html, &retry).with_cookie(clear()),
        (Err(e), None) => Reply::error_page(&e, html, WEB_LOGIN_PATH),
    }
}

/// The state cookie's content, when it is genuine, unexpired and matches the query's `state`.
fn matching_state(login: &DingTalkLogin, head: &impl RequestHead) -> Option<WebState> {
    let state = query_value(head, "state").filter(|s| !s.is_empty())?;
    let cookie = head.cookie(cookies::WEB_STATE_COOKIE)?;
    let sessions = login.sessions();
    let web_state: WebState = sessions.verify_value(&cookie)?;
    let genuine = web_state.typ == WEB_STATE_TYP
        && web_state.exp >= sessions.now()
        && bool::from(state.as_bytes().ct_eq(web_state.state.as_bytes()));
    // Signed when it was checked, but checked again: it becomes a `Location`.
    (genuine && is_local_path(&web_state.next)).then_some(web_state)
}

/// The callback after its state matched: a declined login, the code's local checks, then the
/// login itself.
async fn exchange(
    login: &DingTalkLogin,
    head: &impl RequestHead,
) -> Result<crate::login::Login, Error> {
    if query_value(head, "error").is_some() {
        let mut detail = UpstreamDetail::api("user_access_token");
        detail.errmsg = Some("the person declined on DingTalk's login page".into());
        return Err(Error::CodeRejected(Box::new(detail)));
    }
    // DingTalk's documents name it `authCode`, some also show `code`.
    let code = query_value(head, "authCode")
        .filter(|c| !c.is_empty())
        .or_else(|| query_value(head, "code"))
        .ok_or(Error::MissingCode)?;
    let code = AuthCode::parse(&code)?;
    login.web_login(&code).await
}

/// The link an error page offers: the start route, back to the same `next`.
fn retry_link(next: &str) -> String {
    if next == "/" {
        WEB_LOGIN_PATH.to_owned()
    } else {
        login_redirect(next)
    }
}

/// Where a guard sends a browser page without a session: the start route, with the page's
/// path and query as `next`.
pub(crate) fn login_redirect(path_and_query: &str) -> String {
    format!("{WEB_LOGIN_PATH}?next={}", encode(path_and_query))
}

/// Unreserved characters stay, everything else is percent-encoded (a space as `%20`).
const COMPONENT: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// What a `Location` path may not carry raw: controls, spaces, quotes, angle brackets,
/// backticks and non-ASCII (percent-encoded instead).
const LOCATION: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');

/// `next` when it is a local path, else `/`; percent-encoded where a `Location` needs it.
pub(crate) fn local_next(raw: Option<&str>) -> String {
    match raw {
        Some(next) if is_local_path(next) => {
            let encoded = utf8_percent_encode(next, LOCATION).to_string();
            if is_local_path(&encoded) {
                encoded
            } else {
                "/".to_owned()
            }
        }
        _ => "/".to_owned(),
    }
}

/// A local path: starts with exactly one `/` (not `//`, not `/\`), no scheme, no control
/// characters — in the value as given and in each of its percent-decoded forms, so
/// `/%2F/evil.com` and `%2F%2Fevil.com` fail like `//evil.com`.
fn is_local_path(next: &str) -> bool {
    if next.is_empty() || next.len() > 2048 {
        return false;
    }
    let mut current: Cow<'_, str> = Cow::Borrowed(next);
    // Three rounds of decoding catch double and triple encoding; a value that still
    // decodes further after that is refused.
    for _ in 0..4 {
        if !one_leading_slash(&current) {
            return false;
        }
        let decoded = percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == *current {
            return stays_on_this_host(next);
        }
        current = Cow::Owned(decoded);
    }
    false
}

fn one_leading_slash(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !path.chars().any(char::is_control)
}

/// The last word: resolved against a host, the path stays on that host.
fn stays_on_this_host(next: &str) -> bool {
    const BASE: &str = "http://this-host.invalid/";
    url::Url::parse(BASE)
        .and_then(|base| base.join(next))
        .is_ok_and(|u| u.host_str() == Some("this-host.invalid") && u.scheme() == "http")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Whatever arrives as `next`, what comes out stays on this host and makes a valid
        // `Location` header.
        #[test]
        fn next_always_stays_local(raw in prop_oneof![
            "\\PC{0,40}",
            "[/\\\\%25fFcC:.a-z\t\r\n]{0,16}",
        ]) {
            let next = local_next(Some(&raw));
            prop_assert!(next.starts_with('/'));
            prop_assert!(!next.starts_with("//") && !next.starts_with("/\\"));
            prop_assert!(stays_on_this_host(&next), "{next:?}");
            prop_assert!(http::HeaderValue::from_str(&next).is_ok(), "{next:?}");
        }
    }

    #[test]
    fn only_local_paths_survive() {
        for ok in ["/", "/me", "/me?x=1&y=%2F", "/a/b#frag", "/search?q=//x"] {
            assert_eq!(local_next(Some(ok)), ok, "{ok}");
        }
        for bad in [
            "//evil.com",
            "https://evil.com",
            "/\\evil.com",
            "%2F%2Fevil.com",
            "/%2F/evil.com",
            "/%5Cevil.com",
            "/%5cevil.com",
            "/%252F%252Fevil.com",
            "/\t/evil.com",
            "/me\r\nSet-Cookie: x=1",
            "/%0d%0aSet-Cookie:x",
            "evil.com",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(local_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_next(None), "/");
        assert_eq!(local_next(Some("/报表 1")), "/%E6%8A%A5%E8%A1%A8%201");
    }

    #[test]
    fn the_state_cookie_is_no_session_and_a_session_is_no_state() {
        let login = DingTalkLogin::builder()
            .app_key("k")
            .app_secret("s")
            .public_url("https://app.test")
            .session_secret("a session key of at least 32 bytes!!")
            .build()
            .unwrap();
        let reply = start(&login, &super::super::head::tests::head(&[]));
        assert_eq!(reply.status, http::StatusCode::FOUND);
        let set_cookie = reply.header("set-cookie").unwrap();
        let value = set_cookie
            .strip_prefix("dingtalk_web_state=")
            .and_then(|c| c.split(';').next())
            .unwrap();
        assert!(login.verify(value).is_err(), "a state is not a session");
        let state: WebState = login.sessions().verify_value(value).unwrap();
        assert_eq!(state.next, "/");
        let user = crate::dingtalk::DingTalkUser::new("u", "U", Default::default());
        let (session, _) = login.sessions().issue(&user, Default::default()).unwrap();
        assert!(
            login
                .sessions()
                .verify_value::<WebState>(&session)
                .is_none(),
            "a session is not a state"
        );
    }

    #[test]
    fn the_html_redirect_carries_path_and_query() {
        assert_eq!(
            login_redirect("/me?x=1"),
            "/auth/dingtalk/web?next=%2Fme%3Fx%3D1"
        );
        assert_eq!(retry_link("/"), "/auth/dingtalk/web");
    }
}
