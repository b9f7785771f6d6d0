//! The crate's cookies — the session, and the two login `state` cookies — built in one place
//! with the `cookie` crate, with the same flags when set and when cleared.

use std::time::Duration;

use cookie::{Cookie, SameSite as CookieSameSite};
use time::OffsetDateTime;

use crate::session::{CookieSettings, SameSite};

/// The cookie of the in-app redirect login's `state` (`GET /auth/dingtalk?code&state`).
pub(crate) const STATE_COOKIE: &str = "dingtalk_state";

/// The cookie of the browser (QR) login's signed state and `next` path.
pub(crate) const WEB_STATE_COOKIE: &str = "dingtalk_web_state";

/// How long either state cookie lives: DingTalk's login page must be finished within it.
pub(crate) const STATE_LIFETIME: Duration = Duration::from_secs(600);

/// An `HttpOnly` cookie with the settings' flags, living `max_age` (zero clears it, with an
/// `Expires` in the past for old browsers).
fn build(
    settings: &CookieSettings,
    name: String,
    value: String,
    path: String,
    same_site: SameSite,
    max_age: Duration,
) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(settings.secure)
        .same_site(match same_site {
            SameSite::Strict => CookieSameSite::Strict,
            SameSite::Lax => CookieSameSite::Lax,
            SameSite::None => CookieSameSite::None,
        })
        .max_age(time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build();
    if let Some(domain) = &settings.domain {
        cookie.set_domain(domain.clone());
    }
    if max_age.is_zero() {
        cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
    }
    cookie
}

/// The session cookie for `token`, living `ttl`.
pub(crate) fn session(settings: &CookieSettings, token: String, ttl: Duration) -> Cookie<'static> {
    build(
        settings,
        settings.name.clone(),
        token,
        settings.path.clone(),
        settings.same_site,
        ttl,
    )
}

/// Clears the session cookie, with the Path, Domain and flags it was set with.
pub(crate) fn clear_session(settings: &CookieSettings) -> Cookie<'static> {
    session(settings, String::new(), Duration::ZERO)
}

/// A state cookie (`name` is [`STATE_COOKIE`] or [`WEB_STATE_COOKIE`]): `Path=/`,
/// `SameSite=Lax` (it must come back on DingTalk's top-level redirect), ten minutes.
pub(crate) fn state(settings: &CookieSettings, name: &str, value: String) -> Cookie<'static> {
    build(
        settings,
        name.into(),
        value,
        "/".into(),
        SameSite::Lax,
        STATE_LIFETIME,
    )
}

/// Clears a state cookie once used (or once its login failed).
pub(crate) fn clear_state(settings: &CookieSettings, name: &str) -> Cookie<'static> {
    build(
        settings,
        name.into(),
        String::new(),
        "/".into(),
        SameSite::Lax,
        Duration::ZERO,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_carry_every_flag_when_set_and_cleared() {
        let mut settings = CookieSettings {
            domain: Some("a.test".into()),
            path: "/app".into(),
            same_site: SameSite::Strict,
            ..Default::default()
        };
        let set = session(&settings, "t".into(), Duration::from_secs(60)).to_string();
        assert_eq!(
            set,
            "dingtalk_session=t; HttpOnly; SameSite=Strict; Secure; Path=/app; Domain=a.test; Max-Age=60"
        );
        settings.secure = false;
        let cleared = clear_session(&settings).to_string();
        assert!(cleared.starts_with("dingtalk_session=; HttpOnly; SameSite=Strict; Path=/app"));
        assert!(cleared.contains("Max-Age=0"));
        assert!(cleared.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    }

    #[test]
    fn state_cookies_are_lax_short_and_http_only() {
        let c = state(&CookieSettings::default(), WEB_STATE_COOKIE, "s".into()).to_string();
        assert_eq!(
            c,
            "dingtalk_web_state=s; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=600"
        );
    }
}
