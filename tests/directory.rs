//! The directory clients — getbymobile, the TOP router, the employee-info service and the ISV
//! corp token — and the login enrichment hook, over real loopback sockets against the crate's
//! fake DingTalk. Signatures are checked against digests computed here, independently of the
//! crate's own signing code.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dingtalk_login::clock::{Clock, ManualClock, SystemClock};
use dingtalk_login::dingtalk::{AccessTokenCache, TokenFetcher};
use dingtalk_login::dingtalk::{CorpTokenFetcher, SuiteTicket};
use dingtalk_login::employee::{EmployeeClient, EmployeeProfile, Gender};
use dingtalk_login::enrich::{from_fn, CachedEnricher};
use dingtalk_login::testing::{
    Endpoint, Failure, FakeAccount, FakeDingTalk, FakeEmployee, FakeSuite, FakeUser, Quirks,
};
use dingtalk_login::top::{AccountQuery, SignMethod, TopClient};
use dingtalk_login::ConfigBuilder;
use dingtalk_login::Unavailable;
use dingtalk_login::{DingTalkLogin, Error};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use support::{code, fast_retries};

async fn fake() -> FakeDingTalk {
    support::fake_builder()
        .user(FakeUser::new("zhangsan", "张三"))
        .user(FakeUser::new("nobody-knows", "Unlisted"))
        .account(FakeAccount::seed_example())
        .account(
            FakeAccount::new("98765", "李四")
                .user_id(2)
                .org_code("ding999")
                .departments(vec![7]),
        )
        .employee(FakeEmployee::seed_example())
        .employee(FakeEmployee::new("staff", "Stu Staff").departments(vec![5]))
        .start()
        .await
}

fn builder(fake: &FakeDingTalk) -> ConfigBuilder {
    support::builder(fake).retry_policy(fast_retries())
}

fn top_client(fake: &FakeDingTalk, method: SignMethod) -> TopClient {
    TopClient::builder(fake.top_app_key(), fake.top_app_secret())
        .gateway_url(fake.top_gateway_url())
        .sign_method(method)
        .upstream_timeout(Duration::from_secs(2))
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

fn employees(fake: &FakeDingTalk) -> EmployeeClient {
    EmployeeClient::builder(fake.url(), fake.employee_corp_id())
        .upstream_timeout(Duration::from_secs(2))
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

fn status_and_code(e: &Error) -> (u16, &'static str) {
    (e.status().as_u16(), e.code())
}

// ---- independent digests: the RustCrypto primitives used directly, no crate code ----

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn hmac_sha256(secret: &str, s: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(s);
    mac.finalize().into_bytes().to_vec()
}

/// Now as TOP wants it: `yyyy-MM-dd HH:mm:ss` in GMT+8, written out by hand.
fn gmt8_now() -> String {
    let t = time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

// ================================ getbymobile ================================

#[tokio::test]
async fn getbymobile_finds_the_user_and_the_exclusive_accounts_in_either_encoding() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();

    let plain = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, false)
        .await
        .unwrap();
    assert_eq!(plain.userid.as_deref(), Some("staff"));
    assert!(plain.exclusive_account_userid_list.is_empty());

    let listed = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, true)
        .await
        .unwrap();
    assert_eq!(
        listed.exclusive_account_userid_list,
        vec!["zxxxx", "lixxxi"]
    );

    // The documented shape: `"errcode":"0"` and the list as a JSON-encoded string.
    fake.set_quirks(Quirks {
        numbers_as_strings: true,
        lists_as_strings: true,
    });
    let quirky = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, true)
        .await
        .unwrap();
    assert_eq!(quirky, listed);
}

#[tokio::test]
async fn getbymobile_maps_60121_40104_and_400002() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();

    let err = login
        .client()
        .get_by_mobile("+86-139-0000-0000", false)
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (404, "user_not_found"));
    assert_eq!(err.upstream().unwrap().errcode, Some(60121));

    for errcode in [40104, 400002] {
        fake.fail_next(Endpoint::GetByMobile, 1, Failure::Errcode(errcode));
        let err = login
            .client()
            .get_by_mobile(support::STAFF_MOBILE, false)
            .await
            .unwrap_err();
        assert_eq!(status_and_code(&err), (400, "invalid_mobile"), "{errcode}");
        assert_eq!(err.upstream().unwrap().errcode, Some(errcode));
    }

    let calls = fake.total_calls();
    for bad in [
        "",
        "1234",
        "138 0013 8000",
        "+",
        "abc12345",
        "123456789012345678901",
    ] {
        let err = login.client().get_by_mobile(bad, true).await.unwrap_err();
        assert_eq!(status_and_code(&err), (400, "invalid_mobile"), "{bad:?}");
        assert!(err.upstream().is_none(), "refused locally: {bad:?}");
    }
    assert_eq!(
        fake.total_calls(),
        calls,
        "malformed numbers cost no upstream call"
    );
}

#[tokio::test]
async fn getbymobile_shares_the_token_cache_and_the_retries() {
    let fake = fake().await;
    let login = builder(&fake).build().unwrap();
    login.login(&code(&fake, "zhangsan")).await.unwrap();

    fake.fail_next(Endpoint::GetByMobile, 1, Failure::Busy);
    let found = login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, false)
        .await
        .unwrap();
    assert_eq!(found.userid.as_deref(), Some("staff"));
    assert_eq!(
        fake.calls(Endpoint::GetByMobile),
        2,
        "busy once, then retried"
    );
    assert_eq!(
        fake.calls(Endpoint::GetToken),
        1,
        "the login's token was reused"
    );

    fake.invalidate_token();
    login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, false)
        .await
        .unwrap();
    assert_eq!(
        fake.calls(Endpoint::GetToken),
        2,
        "a refused token is refetched once"
    );
}

// ================================ TOP signing ================================

/// POSTs a hand-signed request to the fake router; `secret` signs it with HMAC-SHA256.
async fn raw_top(fake: &FakeDingTalk, secret: &str, extra: &[(&str, &str)]) -> (String, String) {
    let ts = gmt8_now();
    let mut params: Vec<(&str, &str)> = vec![
        ("method", "alibaba.dc.uc.inner.user.by.account.get"),
        ("app_key", "fake-top-app-key"),
        ("timestamp", &ts),
        ("v", "2.0"),
        ("sign_method", "hmac-sha256"),
        ("account_id", "01234"),
    ];
    params.extend_from_slice(extra);
    let mut sorted = params.clone();
    sorted.sort();
    let s: String = sorted.iter().map(|(k, v)| format!("{k}{v}")).collect();
    let sign = upper_hex(&hmac_sha256(secret, s.as_bytes()));
    params.push(("sign", &sign));
    let response = reqwest::Client::new()
        .post(fake.top_gateway_url())
        .form(&params)
        .send()
        .await
        .unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn the_fake_router_checks_the_signature() {
    let fake = fake().await;
    assert_eq!(fake.top_app_key(), "fake-top-app-key");
    let secret = fake.top_app_secret();

    let (_, ok) = raw_top(&fake, &secret, &[("format", "json")]).await;
    let ok: Value = serde_json::from_str(&ok).unwrap();
    let data = &ok["alibaba_dc_uc_inner_user_by_account_get_response"]["result"]["data"];
    assert_eq!(data["account_id"], "01234");

    let (_, wrong) = raw_top(&fake, "not-the-secret", &[("format", "json")]).await;
    let wrong: Value = serde_json::from_str(&wrong).unwrap();
    assert_eq!(wrong["error_response"]["code"], 25);
    assert_eq!(wrong["error_response"]["msg"], "Invalid signature");

    // TOP answers in XML unless asked for JSON.
    let (content_type, xml) = raw_top(&fake, "not-the-secret", &[]).await;
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(xml.starts_with("<error_response><code>25</code>"), "{xml}");
}

#[tokio::test]
async fn a_client_with_the_wrong_secret_is_refused_with_code_25() {
    let fake = fake().await;
    let top = TopClient::builder(fake.top_app_key(), "not-the-secret")
        .gateway_url(fake.top_gateway_url())
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let err = top
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (502, "upstream_error"));
    assert_eq!(err.upstream().unwrap().errcode, Some(25));
    assert_eq!(fake.calls(Endpoint::TopRouter), 1, "not retried");
}

// ================================ TOP router ================================

#[tokio::test]
async fn top_user_by_account_works_with_every_sign_method() {
    let fake = fake().await;
    for method in [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256] {
        let top = top_client(&fake, method);
        let user = top
            .user_by_account(&AccountQuery::by_account_id("01234").org_code("ding123abc"))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(user.account_id.as_deref(), Some("01234"));
        assert_eq!(user.account_name.as_deref(), Some("张三"));
        assert_eq!(user.nick_name.as_deref(), Some("张三"));
        assert_eq!(user.full_name.as_deref(), Some("张三"));
        assert_eq!(user.org_code.as_deref(), Some("ding123abc"));
        assert_eq!(user.namespace.as_deref(), Some("dd"));
        assert_eq!(user.user_type.as_deref(), Some("C"));
        assert_eq!(user.status.as_deref(), Some("CREATED"));
        assert_eq!((user.id, user.tenant_id), (Some(1), Some(1)));
        assert_eq!(user.dept_id_list, vec![1, 2, 3]);
        assert_eq!(user.extra, Some(json!("{}")));
        assert!(user.avatar.unwrap().ends_with("_225_225.png"));
    }
    let by_id = top_client(&fake, SignMethod::default())
        .user_by_account(&AccountQuery::by_user_id(2))
        .await
        .unwrap();
    assert_eq!(by_id.account_id.as_deref(), Some("98765"));
    assert_eq!(by_id.dept_id_list, vec![7]);
}

#[tokio::test]
async fn top_quirky_encodings_are_parsed() {
    let fake = fake().await;
    fake.set_quirks(Quirks {
        numbers_as_strings: true,
        lists_as_strings: true,
    });
    let user = top_client(&fake, SignMethod::HmacSha256)
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap();
    assert_eq!(user.dept_id_list, vec![1, 2, 3], "from \"[1,2,3]\"");
    assert_eq!((user.id, user.tenant_id), (Some(1), Some(1)), "from \"1\"");
}

#[tokio::test]
async fn top_account_not_exist_and_success_false_are_user_not_found() {
    let fake = fake().await;
    let top = top_client(&fake, SignMethod::HmacSha256);

    let err = top
        .user_by_account(&AccountQuery::by_account_id("00000"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (404, "user_not_found"));
    assert_eq!(
        err.upstream().unwrap().sub_code.as_deref(),
        Some("isv.account-not-exist")
    );

    // In another organisation, the same account id is nobody.
    let elsewhere = AccountQuery::by_account_id("01234").org_code("ding999");
    assert_eq!(
        top.user_by_account(&elsewhere).await.unwrap_err().code(),
        "user_not_found"
    );

    fake.fail_next(Endpoint::TopRouter, 1, Failure::TopResultFailed);
    let err = top
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (404, "user_not_found"));
    assert_eq!(
        err.upstream().unwrap().sub_code.as_deref(),
        Some("USER_NOT_FOUND")
    );
}

#[tokio::test]
async fn top_isp_errors_are_retried_then_unavailable() {
    let fake = fake().await;
    let top = top_client(&fake, SignMethod::Md5);
    let isp = Failure::TopError {
        code: 15,
        sub_code: "isp.remote-service-timeout",
        sub_msg: "服务超时",
    };

    fake.fail_next(Endpoint::TopRouter, 1, isp.clone());
    top.user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap();
    assert_eq!(
        fake.calls(Endpoint::TopRouter),
        2,
        "isp once, then the retry succeeded"
    );

    fake.fail_next(Endpoint::TopRouter, usize::MAX, isp);
    let err = top
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (503, "upstream_unavailable"));
    assert!(matches!(
        err,
        Error::UpstreamUnavailable {
            reason: Unavailable::Platform,
            ..
        }
    ));
    assert_eq!(
        err.upstream().unwrap().sub_code.as_deref(),
        Some("isp.remote-service-timeout")
    );
    assert_eq!(
        fake.calls(Endpoint::TopRouter),
        2 + 3,
        "every attempt of the policy"
    );
}

#[tokio::test]
async fn other_top_error_responses_are_upstream_errors_and_not_retried() {
    let fake = fake().await;
    let top = top_client(&fake, SignMethod::Hmac);
    fake.fail_next(
        Endpoint::TopRouter,
        1,
        Failure::TopError {
            code: 50,
            sub_code: "isv.invalid-parameter",
            sub_msg: "非法参数",
        },
    );
    let err = top
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (502, "upstream_error"));
    let detail = err.upstream().unwrap();
    assert_eq!(detail.errcode, Some(50));
    assert_eq!(detail.sub_code.as_deref(), Some("isv.invalid-parameter"));
    assert_eq!(fake.calls(Endpoint::TopRouter), 1);

    // A wrong app key says "not exists" too, but about the caller: a 502, never a 404.
    let wrong_key = TopClient::builder("someone-else", fake.top_app_secret())
        .gateway_url(fake.top_gateway_url())
        .build()
        .unwrap();
    let err = wrong_key
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (502, "upstream_error"));
    assert_eq!(
        err.upstream().unwrap().sub_code.as_deref(),
        Some("isv.appkey-not-exists")
    );
}

#[tokio::test]
async fn an_xml_answer_is_a_clear_upstream_error() {
    let fake = fake().await;
    let top = top_client(&fake, SignMethod::HmacSha256);
    fake.fail_next(Endpoint::TopRouter, 1, Failure::Xml);
    let err = top
        .user_by_account(&AccountQuery::by_account_id("01234"))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (502, "upstream_error"));
    let said = err.upstream().unwrap().errmsg.clone().unwrap();
    assert!(said.contains("XML"), "{said}");
    assert!(err.to_string().contains("XML"), "{err}");
}

#[tokio::test]
async fn the_router_checks_the_gmt8_timestamp_against_its_clock() {
    let now = SystemClock.unix();
    let fake = FakeDingTalk::builder()
        .clock(ManualClock::new(now))
        .account(FakeAccount::seed_example())
        .start()
        .await;
    let client_at = |unix: i64| {
        TopClient::builder(fake.top_app_key(), fake.top_app_secret())
            .gateway_url(fake.top_gateway_url())
            .clock(ManualClock::new(unix))
            .retry_policy(fast_retries())
            .build()
            .unwrap()
    };
    let query = AccountQuery::by_account_id("01234");
    client_at(now + 9 * 60)
        .user_by_account(&query)
        .await
        .unwrap();
    let err = client_at(now - 11 * 60)
        .user_by_account(&query)
        .await
        .unwrap_err();
    assert_eq!(
        err.upstream().unwrap().errcode,
        Some(31),
        "Invalid Timestamp"
    );
}

// ================================ employee-info ================================

#[tokio::test]
async fn employee_profile_has_every_field_of_the_seed() {
    let fake = fake().await;
    let p = employees(&fake).get_user("zhangsan").await.unwrap();
    assert_eq!(p.userid, "zhangsan");
    assert_eq!(p.name, "张三");
    assert_eq!(p.mobile.as_deref(), Some("13800000000"));
    assert_eq!(p.department, vec![1, 2]);
    assert_eq!(p.order, vec![1, 2]);
    assert_eq!(p.position.as_deref(), Some("后台工程师"));
    assert_eq!(p.gender, Gender::Male, "sent as the string \"1\"");
    assert_eq!(p.email.as_deref(), Some("zhangsan@gzdev.com"));
    assert_eq!(p.biz_mail.as_deref(), Some("zhangsan@qyycs2.wecom.work"));
    assert!(p.avatar.as_deref().unwrap().ends_with("/0"));
    assert!(p.thumb_avatar.as_deref().unwrap().ends_with("/100"));
    assert_eq!(p.address.as_deref(), Some("广州市海珠区新港中路"));
    assert_eq!(p.telephone.as_deref(), Some("020-123456"));
    assert_eq!(p.alias.as_deref(), Some("jackzhang"));
    assert_eq!(p.open_userid.as_deref(), Some("xxxxxx"));
    assert_eq!(p.main_department, Some(1));
    assert_eq!(p.status, Some(1));
    assert_eq!(p.is_leader_in_dept, vec![1, 0]);
    assert_eq!(p.direct_leader, vec!["lisi", "wangwu"]);
    assert_eq!(
        p.extattr.as_ref().unwrap()["attrs"][1]["web"]["title"],
        "标题"
    );
    let external = p.external_profile.as_ref().unwrap();
    assert_eq!(external["external_corp_name"], "企业简称");
    assert_eq!(
        external["external_attr"][2]["miniprogram"]["pagepath"],
        "/index"
    );
    assert_eq!(
        p.qr_code.as_deref(),
        Some("https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=xxx")
    );
    assert_eq!(p.external_position.as_deref(), Some("产品经理"));
    // userids are case-insensitive at the service.
    assert_eq!(
        employees(&fake).get_user("ZhangSan").await.unwrap().userid,
        "zhangsan"
    );
}

#[tokio::test]
async fn employee_quirky_encodings_are_parsed() {
    let fake = fake().await;
    let tidy = employees(&fake).get_user("zhangsan").await.unwrap();
    fake.set_quirks(Quirks {
        numbers_as_strings: true,
        lists_as_strings: true,
    });
    let quirky: EmployeeProfile = employees(&fake).get_user("zhangsan").await.unwrap();
    assert_eq!(quirky.department, tidy.department, "from \"[1,2]\"");
    assert_eq!(quirky.direct_leader, tidy.direct_leader);
    assert_eq!(quirky.is_leader_in_dept, tidy.is_leader_in_dept);
    assert_eq!((quirky.main_department, quirky.status), (Some(1), Some(1)));
    assert_eq!(quirky.gender, Gender::Male);
}

#[tokio::test]
async fn employee_60111_is_user_not_found_though_the_error_body_carries_arrays() {
    let fake = fake().await;
    let client = employees(&fake);
    let err = client.get_user("ghost").await.unwrap_err();
    assert_eq!(status_and_code(&err), (404, "user_not_found"));
    assert_eq!(err.upstream().unwrap().errcode, Some(60111));

    let calls = fake.calls(Endpoint::EmployeeGetUser);
    for impossible in [String::new(), "x".repeat(65)] {
        let err = client.get_user(&impossible).await.unwrap_err();
        assert_eq!(err.code(), "user_not_found");
    }
    assert_eq!(
        fake.calls(Endpoint::EmployeeGetUser),
        calls,
        "refused locally"
    );

    let wrong_corp = EmployeeClient::builder(fake.url(), "wx-other")
        .build()
        .unwrap();
    let err = wrong_corp.get_user("zhangsan").await.unwrap_err();
    assert_eq!(status_and_code(&err), (502, "upstream_error"));
    assert_eq!(err.upstream().unwrap().errcode, Some(40013));

    fake.fail_next(Endpoint::EmployeeGetUser, 1, Failure::Busy);
    assert_eq!(client.get_user("staff").await.unwrap().department, vec![5]);
}

#[tokio::test]
async fn the_fake_service_accepts_either_spelling_of_the_user_id() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    for key in ["userId", "userid"] {
        let answer: Value = http
            .post(format!("{}/api/v1/getUser", fake.url()))
            .json(&json!({ "corpId": fake.employee_corp_id(), key: "zhangsan" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["errcode"], 0, "{key}");
        assert_eq!(answer["userid"], "zhangsan");
    }
}

#[tokio::test]
async fn the_employee_client_sends_both_spellings_of_the_user_id() {
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let app = axum::Router::new().route(
        "/api/v1/getUser",
        axum::routing::post({
            let seen = Arc::clone(&seen);
            move |axum::Json(body): axum::Json<Value>| {
                seen.lock().unwrap().push(body);
                async { axum::Json(json!({"errcode": 0, "errmsg": "ok", "userid": "u-1"})) }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = EmployeeClient::builder(url, "wxcorp").build().unwrap();
    assert_eq!(client.get_user("u-1").await.unwrap().userid, "u-1");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(
        bodies,
        vec![json!({"corpId": "wxcorp", "userId": "u-1", "userid": "u-1"})]
    );
    server.abort();
}

// ================================ ISV corp token ================================

fn corp_fetcher(fake: &FakeDingTalk, suite: &FakeSuite, ticket: SuiteTicket) -> CorpTokenFetcher {
    CorpTokenFetcher::builder(
        suite.suite_key.clone(),
        suite.suite_secret.clone(),
        suite.authorized_corps[0].clone(),
        ticket,
    )
    .oapi_url(fake.url())
    .retry_policy(fast_retries())
    .build()
    .unwrap()
}

fn ticket(value: &str) -> SuiteTicket {
    let t = SuiteTicket::new();
    t.set(value);
    t
}

#[tokio::test]
async fn an_isv_app_logs_in_with_the_corp_token() {
    let fake = fake().await;
    let suite = fake.suite();
    let fetcher = corp_fetcher(&fake, &suite, ticket(&suite.suite_ticket));
    let tokens = Arc::new(AccessTokenCache::new(fetcher, Arc::new(SystemClock)));
    let login = DingTalkLogin::builder()
        .token_source(tokens)
        .oapi_url(fake.url())
        .session_secret(support::SESSION_SECRET)
        .build()
        .unwrap();
    let session = login.login(&code(&fake, "zhangsan")).await.unwrap();
    assert_eq!(session.user.userid, "zhangsan");
    login
        .client()
        .get_by_mobile(support::STAFF_MOBILE, false)
        .await
        .unwrap();
    assert_eq!(
        fake.calls(Endpoint::GetCorpToken),
        1,
        "one corp token, cached"
    );
    assert_eq!(fake.calls(Endpoint::GetToken), 0);
}

/// A raw `get_corp_token` call with a hand-built query string.
async fn raw_corp_token(fake: &FakeDingTalk, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/service/get_corp_token?{query}", fake.url()))
        .json(&json!({ "auth_corpid": "ding-fake-corp" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_fake_wants_the_signature_url_encoded_exactly_once() {
    let fake = fake().await;
    let suite = fake.suite();
    let ms = SystemClock.now().unix_timestamp() * 1000;
    // Find a timestamp whose signature has a `+` (and it always ends in `=`).
    let (ms, sig) = (ms..ms + 50)
        .map(|t| {
            (
                t,
                STANDARD.encode(hmac_sha256(
                    &suite.suite_secret,
                    format!("{t}\n{}", suite.suite_ticket).as_bytes(),
                )),
            )
        })
        .find(|(_, s)| s.contains('+'))
        .unwrap();
    let query = |sig: &str| {
        format!(
            "accessKey={}&timestamp={ms}&suiteTicket={}&signature={sig}",
            suite.suite_key, suite.suite_ticket
        )
    };
    let once = sig
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let twice = once.replace('%', "%25");
    assert_eq!(raw_corp_token(&fake, &query(&once)).await["errcode"], 0);
    assert_eq!(
        raw_corp_token(&fake, &query(&twice)).await["errcode"],
        853004
    );
    assert_eq!(
        raw_corp_token(&fake, &query(&sig)).await["errcode"],
        853004,
        "`+` read as a space"
    );
}

#[tokio::test]
async fn corp_token_errcodes_853001_to_853005_are_mapped() {
    let fake = fake().await;
    let suite = fake.suite();
    let good_ticket = ticket(&suite.suite_ticket);
    let detail = |e: &Error| e.upstream().unwrap().errmsg.clone().unwrap_or_default();

    // 853001: only a broken client sends a non-numeric timestamp; the fake checks it...
    let malformed = raw_corp_token(&fake, "accessKey=fake-suite-key&timestamp=yesterday").await;
    assert_eq!(malformed["errcode"], 853001);
    // ...and the fetcher explains it.
    fake.fail_next(Endpoint::GetCorpToken, 1, Failure::Errcode(853001));
    let err = corp_fetcher(&fake, &suite, good_ticket.clone())
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (502, "upstream_error"));
    assert!(detail(&err).contains("millisecond"), "{}", detail(&err));

    // 853002: the host's clock is two minutes off.
    let skewed = CorpTokenFetcher::builder(
        &suite.suite_key,
        suite.suite_secret.clone(),
        "ding-fake-corp",
        good_ticket.clone(),
    )
    .oapi_url(fake.url())
    .clock(ManualClock::new(SystemClock.unix() - 120))
    .build()
    .unwrap();
    let err = skewed.fetch().await.unwrap_err();
    assert_eq!(
        (err.code(), err.upstream().unwrap().errcode),
        ("upstream_error", Some(853002))
    );
    assert!(detail(&err).contains("clock"), "{}", detail(&err));

    // 853003: an unknown suite key.
    let mut other = suite.clone();
    other.suite_key = "someone-else".into();
    let err = corp_fetcher(&fake, &other, good_ticket.clone())
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.upstream().unwrap().errcode),
        ("upstream_error", Some(853003))
    );
    assert!(detail(&err).contains("suite key"), "{}", detail(&err));

    // 853004: a wrong suite secret.
    let mut other = suite.clone();
    other.suite_secret = "not-the-secret".into();
    let err = corp_fetcher(&fake, &other, good_ticket.clone())
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.upstream().unwrap().errcode),
        ("upstream_error", Some(853004))
    );
    assert!(detail(&err).contains("suite secret"), "{}", detail(&err));

    // 853005: DingTalk pushed a new ticket the app has not stored yet.
    fake.set_suite_ticket("pushed-later");
    let stale = corp_fetcher(&fake, &suite, good_ticket.clone());
    let err = stale.fetch().await.unwrap_err();
    assert_eq!(
        (err.code(), err.upstream().unwrap().errcode),
        ("upstream_error", Some(853005))
    );
    assert!(detail(&err).contains("suite ticket"), "{}", detail(&err));
    good_ticket.set("pushed-later");
    assert!(
        stale.fetch().await.is_ok(),
        "the ticket source is read at each fetch"
    );

    // No ticket yet: nothing to sign with, no call made.
    let calls = fake.calls(Endpoint::GetCorpToken);
    let err = corp_fetcher(&fake, &suite, SuiteTicket::new())
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&err), (503, "not_configured"));
    assert_eq!(fake.calls(Endpoint::GetCorpToken), calls);

    // A closure works as a ticket source too; an organisation that did not install the suite
    // is refused.
    let closure = CorpTokenFetcher::builder(
        &suite.suite_key,
        suite.suite_secret.clone(),
        "ding-stranger",
        || Some("pushed-later".to_owned()),
    )
    .oapi_url(fake.url())
    .build()
    .unwrap();
    let err = closure.fetch().await.unwrap_err();
    assert_eq!(
        (err.code(), err.upstream().unwrap().errcode),
        ("upstream_error", Some(400002))
    );
}

// ================================ enrichment ================================

fn department_enricher(fake: &FakeDingTalk, clock: &ManualClock) -> CachedEnricher<EmployeeClient> {
    CachedEnricher::new(employees(fake), Duration::from_secs(600)).clock(clock.clone())
}

#[tokio::test]
async fn enrichment_adds_claims_and_is_cached_per_user() {
    let fake = fake().await;
    let clock = ManualClock::starting_now();
    let login = builder(&fake)
        .enrich(department_enricher(&fake, &clock))
        .build()
        .unwrap();

    let first = login.login(&code(&fake, "zhangsan")).await.unwrap();
    let expected = Map::from_iter([
        ("department".to_owned(), json!([1, 2])),
        ("main_department".to_owned(), json!(1)),
    ]);
    assert_eq!(first.claims.ext, expected);
    assert_eq!(
        login.verify(&first.token).unwrap().ext,
        expected,
        "in the signed session"
    );
    assert_eq!(fake.calls(Endpoint::EmployeeGetUser), 1);

    let second = login.login(&code(&fake, "zhangsan")).await.unwrap();
    assert_eq!(second.claims.ext, expected);
    assert_eq!(
        fake.calls(Endpoint::EmployeeGetUser),
        1,
        "within the TTL: no extra call"
    );

    login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(fake.calls(Endpoint::EmployeeGetUser), 2, "cached per user");

    clock.advance(Duration::from_secs(601));
    login.login(&code(&fake, "zhangsan")).await.unwrap();
    assert_eq!(
        fake.calls(Endpoint::EmployeeGetUser),
        3,
        "refetched after the TTL"
    );
}

#[tokio::test]
async fn concurrent_logins_of_one_user_share_one_enrichment_call() {
    let fake = fake().await;
    fake.fail_next(
        Endpoint::EmployeeGetUser,
        1,
        Failure::Delay(Duration::from_millis(200)),
    );
    let clock = ManualClock::starting_now();
    let login = builder(&fake)
        .enrich(department_enricher(&fake, &clock))
        .build()
        .unwrap();
    let logins = (0..5).map(|_| {
        let login = login.clone();
        let code = code(&fake, "zhangsan");
        tokio::spawn(async move { login.login(&code).await })
    });
    for handle in logins.collect::<Vec<_>>() {
        let session = handle.await.unwrap().unwrap();
        assert_eq!(session.claims.ext["department"], json!([1, 2]));
    }
    assert_eq!(fake.calls(Endpoint::EmployeeGetUser), 1);
}

#[tokio::test]
async fn a_failing_enricher_leaves_the_login_without_extension_claims() {
    let fake = fake().await;
    let clock = ManualClock::starting_now();
    let login = builder(&fake)
        .enrich(department_enricher(&fake, &clock))
        .build()
        .unwrap();
    // Known to DingTalk, unknown to the employee service: 60111.
    let session = login.login(&code(&fake, "nobody-knows")).await.unwrap();
    assert!(session.claims.ext.is_empty());
    assert!(!session.token.is_empty());

    fake.fail_next(Endpoint::EmployeeGetUser, usize::MAX, Failure::ServerError);
    let session = login.login(&code(&fake, "staff")).await.unwrap();
    assert!(session.claims.ext.is_empty());
    fake.clear_failures();
    let session = login.login(&code(&fake, "staff")).await.unwrap();
    assert!(
        session.claims.ext.is_empty(),
        "the failure is shared for about a second"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let session = login.login(&code(&fake, "staff")).await.unwrap();
    assert_eq!(
        session.claims.ext["department"],
        json!([5]),
        "then asked again"
    );
}

#[tokio::test]
async fn a_required_enricher_fails_the_login_and_the_code_stays_spent() {
    let fake = fake().await;
    let login = builder(&fake)
        .enrich_required(from_fn(|_user| async {
            Err(Error::NotConfigured("directory"))
        }))
        .build()
        .unwrap();
    let code = code(&fake, "zhangsan");
    let err = login.login(&code).await.unwrap_err();
    assert_eq!(status_and_code(&err), (503, "not_configured"));
    assert_eq!(
        login.login(&code).await.unwrap_err().code(),
        "code_replayed"
    );
}
