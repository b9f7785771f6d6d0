//! `GET /auth/dingtalk/jsapi?url=<page url>`: the values a page hands to `dd.config`.
//!
//! Anonymous, since `dd.config` runs before the login. The page URL must be an absolute
//! http(s) URL of an allowed origin, so the route never signs for another site; the ticket
//! comes from the login's cache, so no caller can make the app fetch it more than once per
//! expiry.

use http::StatusCode;
use rand::Rng;
use serde_json::json;

use super::{own_origin, LoginRoutes, Reply, RequestHead};
use crate::config::origin_of;
use crate::error::Error;
use crate::jsapi::{normalize_url, sign};
use crate::login::DingTalkLogin;

/// 200 `{"agentId","corpId","timeStamp","nonceStr","signature","type":0}`.
pub(super) async fn jsapi_config(
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Result<Reply, Error> {
    let jsapi = login.jsapi();
    let (Some(agent_id), Some(corp_id)) = (&jsapi.agent_id, &jsapi.corp_id) else {
        return Err(Error::NotConfigured("the JSAPI agentId and corpId"));
    };
    let url = crate::code::form_value(head.query().unwrap_or("").as_bytes(), "url")
        .ok_or(Error::InvalidUrl)?;
    check_page_url(&url, login, routes, head)?;
    let ticket = jsapi.tickets.token().await?;
    // Milliseconds, as DingTalk's demo; a string of digits, signed exactly as answered.
    let time_stamp = (jsapi.clock.now().unix_timestamp_nanos() / 1_000_000).to_string();
    let nonce_str = nonce();
    let signature = sign(
        jsapi.method,
        ticket.expose(),
        &nonce_str,
        &time_stamp,
        &normalize_url(&url),
    );
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "agentId": agent_id,
            "corpId": corp_id,
            "timeStamp": time_stamp,
            "nonceStr": nonce_str,
            "signature": signature,
            "type": 0,
        }),
    ))
}

/// The page URL must be absolute http(s), and its origin one the app serves: the public
/// URL's, one of the allowed origins, or, when neither is configured, the request's own.
fn check_page_url(
    url: &str,
    login: &DingTalkLogin,
    routes: &LoginRoutes,
    head: &impl RequestHead,
) -> Result<(), Error> {
    let parsed = url::Url::parse(url).map_err(|_| Error::InvalidUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::InvalidUrl);
    }
    let origin = parsed.origin().ascii_serialization();
    let same = |allowed: &str| origin_of(allowed).eq_ignore_ascii_case(&origin);
    let public = login.public_origin();
    let listed = routes.allowed_origin_list();
    let allowed = if public.is_none() && listed.is_none() {
        own_origin(head).is_some_and(|own| same(&own))
    } else {
        public.is_some_and(same) || listed.is_some_and(|list| list.iter().any(|o| same(o)))
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::InvalidUrl)
    }
}

/// 16 random characters of `[A-Za-z0-9]`.
fn nonce() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::head::tests::head;
    use super::*;

    fn login(public: Option<&str>) -> DingTalkLogin {
        let b = DingTalkLogin::builder()
            .app_key("k")
            .app_secret("s")
            .session_secret("a session key of at least 32 bytes!");
        match public {
            Some(p) => b.public_url(p),
            None => b,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn page_urls_of_allowed_origins_only() {
        let own = head(&[("host", "app.test")]);
        let routes = LoginRoutes::default();
        let l = login(None);
        assert!(check_page_url("http://app.test/p?q#f", &l, &routes, &own).is_ok());
        assert!(check_page_url("http://app.test:80/p", &l, &routes, &own).is_ok());
        for bad in [
            "https://app.test/p",
            "http://evil.test/p",
            "javascript:alert(1)",
            "/relative",
            "ftp://app.test/",
            "http://app.test.evil/",
        ] {
            assert!(check_page_url(bad, &l, &routes, &own).is_err(), "{bad}");
        }
        let l = login(Some("https://public.test/base/"));
        assert!(check_page_url("https://public.test/x", &l, &routes, &own).is_ok());
        assert!(check_page_url("http://app.test/x", &l, &routes, &own).is_err());
        let listed = LoginRoutes::default().allowed_origins(["https://other.test"]);
        assert!(check_page_url("https://other.test/x", &l, &listed, &own).is_ok());
        assert!(check_page_url("https://public.test/x", &l, &listed, &own).is_ok());
    }

    #[test]
    fn nonces_are_alphanumeric() {
        let n = nonce();
        assert_eq!(n.len(), 16);
        assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(n, nonce());
    }
}
