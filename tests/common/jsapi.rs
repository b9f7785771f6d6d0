//! The `dd.config` route's contract (`GET /auth/dingtalk/jsapi?url=`) and the new-style app
//! token, as async cases run against every adapter by [`jsapi_contract_tests!`].
//!
//! Every case starts its own fake and app (`start` turns a contract environment into a base
//! URL), since some need a fake or an environment of their own. Signatures are recomputed here
//! from the fake's current ticket with a reference implementation written independently of the
//! crate's and checked against DingTalk's official vector.

use std::future::Future;
use std::time::Duration;

use dingtalk_login::testing::{Endpoint, Failure, FakeDingTalk};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{assert_error, client, env, fake, login, post_code};

/// One `#[tokio::test]` per JSAPI case, against the app `$start` serves.
macro_rules! jsapi_contract_tests {
    ($start:path) => {
        jsapi_contract_tests!(@cases $start;
            jsapi_signature_over_a_decoded_query_without_fragment,
            jsapi_sha1_signature,
            jsapi_foreign_or_non_http_url_is_refused,
            jsapi_allowed_origins_and_public_url,
            jsapi_without_agent_id_is_not_configured,
            jsapi_cold_requests_fetch_one_ticket,
            jsapi_expired_ticket_is_refetched_once,
            jsapi_refused_token_is_refetched_once,
            jsapi_v1_login_without_gettoken,
            jsapi_v1_invalid_authentication_refetches_once,
            jsapi_v1_wrong_secret_is_upstream_error,
        );
    };
    (@cases $start:path; $( $name:ident ),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                common::jsapi::$name($start).await;
            }
        )*
    };
}

pub const AGENT_ID: &str = "agent-4242";
pub const CORP_ID: &str = "ding-corp-1";

/// The contract environment with the JSAPI settings, then `extra`.
pub fn jsapi_env(fake: &FakeDingTalk, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let url = fake.url();
    let mut vars: Vec<(&str, &str)> = vec![
        ("DINGTALK_API_URL", url.as_str()),
        ("DINGTALK_AGENT_ID", AGENT_ID),
        ("DINGTALK_CORP_ID", CORP_ID),
        ("COOKIE_SECURE", "0"),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k, v));
    }
    env(fake, &vars)
}

/// The page URL, as DingTalk's reference `decodeUrl` sees it: no fragment, query
/// percent-decoded with `+` as a space. Written byte by byte, apart from the crate.
pub fn reference_url(url: &str) -> String {
    let url = url.split('#').next().unwrap();
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let bytes = query.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    format!("{base}?{}", String::from_utf8(out).unwrap())
}

/// The reference signature: lower-case hex of SHA-256 (or SHA-1) of the documented string.
pub fn reference_signature(sha1: bool, ticket: &str, nonce: &str, ts: &str, url: &str) -> String {
    let plain = format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={ts}&url={url}");
    let digest: Vec<u8> = if sha1 {
        Sha1::digest(plain.as_bytes()).to_vec()
    } else {
        Sha256::digest(plain.as_bytes()).to_vec()
    };
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /auth/dingtalk/jsapi?url=<page>` (the page URL form-encoded into the query).
pub async fn get_config(base: &str, page: &str) -> reqwest::Response {
    client()
        .get(format!("{base}/auth/dingtalk/jsapi"))
        .query(&[("url", page)])
        .send()
        .await
        .expect("the app answers")
}

/// A 200 answer: its JSON, with the shape `dd.config` takes.
pub async fn config_ok(res: reqwest::Response) -> Value {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["agentId"], AGENT_ID, "{body}");
    assert_eq!(body["corpId"], CORP_ID, "{body}");
    assert_eq!(body["type"], 0, "{body}");
    let ts = body["timeStamp"].as_str().expect("timeStamp is a string");
    assert!(
        !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()),
        "{body}"
    );
    assert!(!body["nonceStr"].as_str().unwrap().is_empty(), "{body}");
    body
}

/// Asserts `body` is signed for `page` with the fake's current ticket.
pub fn assert_signed(fake: &FakeDingTalk, body: &Value, page: &str, sha1: bool) {
    let ticket = fake.current_jsapi_ticket().expect("a live ticket");
    let expected = reference_signature(
        sha1,
        &ticket,
        body["nonceStr"].as_str().unwrap(),
        body["timeStamp"].as_str().unwrap(),
        &reference_url(page),
    );
    assert_eq!(body["signature"], expected.as_str(), "{body}");
}

pub async fn jsapi_signature_over_a_decoded_query_without_fragment<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[])).await;
    // A percent-encoded UTF-8 query (你好), a `+`, an encoded `&`, and a fragment with a `?`.
    let page = format!("{base}/h5/pick?name=%E4%BD%A0%E5%A5%BD+world&x=a%26b#/route?tab=1");
    assert_eq!(
        reference_url(&page),
        format!("{base}/h5/pick?name=你好 world&x=a&b")
    );
    let body = config_ok(get_config(&base, &page).await).await;
    assert_signed(&fake, &body, &page, false);
    // Signed over the raw URL instead, it would not match: the normalisation matters.
    let raw = reference_signature(
        false,
        &fake.current_jsapi_ticket().unwrap(),
        body["nonceStr"].as_str().unwrap(),
        body["timeStamp"].as_str().unwrap(),
        &page,
    );
    assert_ne!(body["signature"], raw.as_str());
    // The same page without a query signs over the URL as given.
    let plain = format!("{base}/h5/index.html");
    let body = config_ok(get_config(&base, &plain).await).await;
    assert_signed(&fake, &body, &plain, false);
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 1);
}

pub async fn jsapi_sha1_signature<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    // The reference SHA-1 reproduces DingTalk's official vector ...
    assert_eq!(
        reference_signature(
            true,
            "zHoQdGJuH0ZDebwo7sLqLzHGUueLmkWCC4RycYgkuvDu3eoROgN5qhwnQLgfzwEXtuR9SDzh6BdhyVngzAjrxV",
            "abcdefgh",
            "1437027269927",
            &reference_url("http://10.62.53.138:3000/jsapi"),
        ),
        "810e6657e9f411e6491b3e97dfaf7660e89eb874"
    );
    // ... and the app, set to SHA-1, signs as the reference does.
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[("JSAPI_SIGN_METHOD", "sha1")])).await;
    let page = format!("{base}/jsapi?q=a+b%2Bc#top");
    let body = config_ok(get_config(&base, &page).await).await;
    assert_eq!(body["signature"].as_str().unwrap().len(), 40);
    assert_signed(&fake, &body, &page, true);
}

pub async fn jsapi_foreign_or_non_http_url_is_refused<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[])).await;
    let port = base.rsplit(':').next().unwrap();
    for page in [
        "https://evil.example/page".to_owned(),
        format!("https://127.0.0.1:{port}/page"),
        format!("http://127.0.0.1.evil.example:{port}/page"),
        "javascript:alert(1)".to_owned(),
        "ftp://127.0.0.1/page".to_owned(),
        "/relative/page".to_owned(),
        String::new(),
    ] {
        assert_error(get_config(&base, &page).await, 400, "invalid_url").await;
    }
    let res = client()
        .get(format!("{base}/auth/dingtalk/jsapi"))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_url").await;
    assert_eq!(
        fake.calls(Endpoint::GetJsapiTicket),
        0,
        "a refused URL costs no ticket"
    );
}

pub async fn jsapi_allowed_origins_and_public_url<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(
        &fake,
        &[
            ("ALLOWED_ORIGINS", "https://app.test"),
            ("PUBLIC_URL", "https://public.test:8443/app"),
        ],
    ))
    .await;
    for page in ["https://app.test/h5", "https://public.test:8443/h5?x=1"] {
        let body = config_ok(get_config(&base, page).await).await;
        assert_signed(&fake, &body, page, false);
    }
    // Configured origins replace the request's own.
    assert_error(
        get_config(&base, &format!("{base}/h5")).await,
        400,
        "invalid_url",
    )
    .await;
    assert_error(
        get_config(&base, "https://public.test/h5").await,
        400,
        "invalid_url",
    )
    .await;
}

pub async fn jsapi_without_agent_id_is_not_configured<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[("DINGTALK_AGENT_ID", "")])).await;
    let page = format!("{base}/h5");
    assert_error(get_config(&base, &page).await, 503, "not_configured").await;
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 0);
}

pub async fn jsapi_cold_requests_fetch_one_ticket<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[])).await;
    let page = format!("{base}/h5?n=1");
    let answers = concurrent_configs(&base, &page, 50).await;
    for res in answers {
        let body = config_ok(res).await;
        assert_signed(&fake, &body, &page, false);
    }
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 1);
    assert_eq!(fake.calls(Endpoint::GetToken), 1);
}

pub async fn jsapi_expired_ticket_is_refetched_once<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = FakeDingTalk::builder()
        .jsapi_ticket_ttl(Duration::from_secs(2))
        .start()
        .await;
    let base = start(jsapi_env(&fake, &[])).await;
    let page = format!("{base}/h5");
    config_ok(get_config(&base, &page).await).await;
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 1);
    // Past the ticket's whole life: the cached one is gone, at the app and at the fake.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(fake.current_jsapi_ticket(), None);
    let answers = concurrent_configs(&base, &page, 10).await;
    for res in answers {
        let body = config_ok(res).await;
        assert_signed(&fake, &body, &page, false);
    }
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 2);
}

pub async fn jsapi_refused_token_is_refetched_once<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[])).await;
    // The app caches a token through a login; DingTalk then stops accepting it.
    login(&base, &fake, "staff").await;
    assert_eq!(fake.calls(Endpoint::GetToken), 1);
    fake.invalidate_token();
    let page = format!("{base}/h5");
    let body = config_ok(get_config(&base, &page).await).await;
    assert_signed(&fake, &body, &page, false);
    assert_eq!(fake.calls(Endpoint::GetToken), 2, "one token refetch");
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 2, "one retry");
}

pub async fn jsapi_v1_login_without_gettoken<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[("DINGTALK_TOKEN_API", "v1")])).await;
    // The v1 token works as `?access_token=` on OAPI's getuserinfo ...
    let (token, _) = login(&base, &fake, "admin").await;
    let me = client()
        .get(format!("{base}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // ... and as the header on the new-style ticket call.
    let page = format!("{base}/h5");
    let body = config_ok(get_config(&base, &page).await).await;
    assert_signed(&fake, &body, &page, false);
    assert_eq!(fake.calls(Endpoint::GetToken), 0, "no gettoken call at all");
    assert_eq!(fake.calls(Endpoint::AccessTokenV1), 1);
    assert_eq!(fake.calls(Endpoint::JsapiTicketsV1), 1);
    assert_eq!(fake.calls(Endpoint::GetJsapiTicket), 0);
    // A token DingTalk stopped accepting on OAPI is refetched from v1 too.
    fake.invalidate_token();
    login(&base, &fake, "staff").await;
    assert_eq!(fake.calls(Endpoint::AccessTokenV1), 2);
    assert_eq!(fake.calls(Endpoint::GetToken), 0);
}

pub async fn jsapi_v1_invalid_authentication_refetches_once<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(&fake, &[("DINGTALK_TOKEN_API", "v1")])).await;
    let page = format!("{base}/h5");
    fake.fail_next(
        Endpoint::JsapiTicketsV1,
        1,
        Failure::ApiError {
            status: 401,
            code: "InvalidAuthentication",
        },
    );
    let body = config_ok(get_config(&base, &page).await).await;
    assert_signed(&fake, &body, &page, false);
    assert_eq!(fake.calls(Endpoint::AccessTokenV1), 2, "one token refetch");
    assert_eq!(fake.calls(Endpoint::JsapiTicketsV1), 2, "one retry");
    assert_eq!(fake.calls(Endpoint::GetToken), 0);
}

pub async fn jsapi_v1_wrong_secret_is_upstream_error<F, Fut>(start: F)
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = String>,
{
    let fake = fake().await;
    let base = start(jsapi_env(
        &fake,
        &[
            ("DINGTALK_TOKEN_API", "v1"),
            ("DINGTALK_APP_SECRET", "wrong"),
        ],
    ))
    .await;
    assert_error(
        post_code(&base, &fake.mint_code("staff")).await,
        502,
        "upstream_error",
    )
    .await;
    assert_error(
        get_config(&base, &format!("{base}/h5")).await,
        502,
        "upstream_error",
    )
    .await;
    assert_eq!(fake.calls(Endpoint::GetToken), 0);
    assert!(fake.calls(Endpoint::AccessTokenV1) >= 1);
}

/// `n` concurrent GETs of the config for `page`, each in a task of its own.
async fn concurrent_configs(base: &str, page: &str, n: usize) -> Vec<reqwest::Response> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (base, page) = (base.to_owned(), page.to_owned());
            tokio::spawn(async move { get_config(&base, &page).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}
