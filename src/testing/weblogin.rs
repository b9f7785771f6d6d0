//! DingTalk's web (QR code) login as the fake answers it: the login page
//! (`GET /oauth2/auth?..`), `POST /v1.0/oauth2/userAccessToken`, `GET /v1.0/contact/users/me`
//! and `POST /topapi/user/getbyunionid`, with web authCodes (five minutes, single use), user
//! tokens, and the people who can sign in on the page without being employees: external
//! contacts (`contact_type` 1) and outsiders the organisation does not know (60121).

use std::collections::{BTreeMap, HashMap};

use http::StatusCode;
use serde_json::{json, Map};
use time::OffsetDateTime;

use super::jsapi::api_error;
use super::oapi::{self, Params, Reply};
use super::state::{random_code, State};
use super::users::FakeUser;

/// How long a web authCode can be exchanged after the login page handed it out.
const WEB_CODE_LIFETIME: time::Duration = time::Duration::minutes(5);
/// How long a user token lives (`expireIn`), as DingTalk's.
const USER_TOKEN_SECS: i64 = 7200;
/// The organisation's `corpId`, as `userAccessToken` reports it.
pub(super) const FAKE_CORP_ID: &str = "ding-fake-corp";

const NO_SUCH_USER: (i64, &str) = (60121, "找不到该用户");
const INVALID_PARAMETER: (i64, &str) = (400002, "无效的参数");

/// How a person who can sign in on the login page relates to the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    /// In the organisation's external contacts: `getbyunionid` says `contact_type` 1.
    ExternalContact,
    /// A DingTalk account the organisation does not know: `getbyunionid` answers 60121.
    Outsider,
}

#[derive(Debug)]
struct Issued {
    userid: String,
    at: OffsetDateTime,
    used: bool,
}

/// What the fake remembers of web logins.
#[derive(Debug, Default)]
pub(super) struct FakeWeb {
    /// Non-employees by `userid`.
    others: BTreeMap<String, (FakeUser, Relation)>,
    codes: HashMap<String, Issued>,
    /// User token → (userid, expiry).
    tokens: HashMap<String, (String, OffsetDateTime)>,
}

impl FakeWeb {
    pub(super) fn add(&mut self, user: FakeUser, relation: Relation) {
        self.others.insert(user.userid.clone(), (user, relation));
    }
}

/// The `unionId` an account signs in with: its own, or `union-{userid}` for a user added
/// without one (every DingTalk account has one).
fn union_id(user: &FakeUser) -> String {
    user.unionid
        .clone()
        .unwrap_or_else(|| format!("union-{}", user.userid))
}

impl State {
    /// Anyone who can sign in on the login page: an employee or one of the others.
    fn person(&self, userid: &str) -> Option<(FakeUser, Option<Relation>)> {
        if let Some(user) = self.user(userid) {
            return Some((user.clone(), None));
        }
        self.web
            .others
            .get(userid)
            .map(|(u, r)| (u.clone(), Some(*r)))
    }

    /// A web authCode for `userid` (employee, external contact or outsider), or `None` if the
    /// fake knows nobody by that id.
    pub(super) fn mint_web_code(&mut self, userid: &str) -> Option<String> {
        self.person(userid)?;
        let code = random_code();
        let at = self.now();
        self.web.codes.insert(
            code.clone(),
            Issued {
                userid: userid.to_owned(),
                at,
                used: false,
            },
        );
        Some(code)
    }
}

/// `POST /v1.0/oauth2/userAccessToken` with a JSON `{"clientId","clientSecret","code",
/// "grantType":"authorization_code"}`.
pub(super) fn user_access_token(
    state: &mut State,
    content_type: Option<&str>,
    params: &Params,
) -> Reply {
    let json = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("application/json"));
    if !json {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidParameter",
            "the body must be JSON",
        );
    }
    let key = params.text("clientId");
    let secret = params.text("clientSecret");
    if !state.credentials_match(key.as_deref(), secret.as_deref()) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidClientIdOrSecret",
            "无效的clientId或者clientSecret",
        );
    }
    if params.text("grantType").as_deref() != Some("authorization_code") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidParameter",
            "grantType must be authorization_code",
        );
    }
    let now = state.now();
    let redeemed = params.text("code").and_then(|code| {
        let issued = state.web.codes.get_mut(&code)?;
        let fresh =
            !std::mem::replace(&mut issued.used, true) && now - issued.at <= WEB_CODE_LIFETIME;
        fresh.then(|| issued.userid.clone())
    });
    let Some(userid) = redeemed else {
        return api_error(StatusCode::BAD_REQUEST, "invalidCode", "不合法的临时授权码");
    };
    let token = random_code();
    state.web.tokens.insert(
        token.clone(),
        (userid, now + time::Duration::seconds(USER_TOKEN_SECS)),
    );
    Reply::Json {
        status: StatusCode::OK,
        body: json!({
            "accessToken": token,
            "refreshToken": random_code(),
            "expireIn": USER_TOKEN_SECS,
            "corpId": FAKE_CORP_ID,
        }),
    }
}

/// `GET /v1.0/contact/users/me` with a user token in `x-acs-dingtalk-access-token`.
pub(super) fn users_me(state: &State, header_token: Option<&str>) -> Reply {
    let now = state.now();
    let person = header_token
        .and_then(|t| state.web.tokens.get(t))
        .filter(|(_, expires)| now < *expires)
        .and_then(|(userid, _)| state.person(userid));
    let Some((user, _)) = person else {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthentication",
            "不合法的access_token",
        );
    };
    Reply::Json {
        status: StatusCode::OK,
        body: json!({
            "nick": user.name,
            "unionId": union_id(&user),
            "openId": format!("open-{}", user.userid),
            "avatarUrl": format!("https://static.example.invalid/avatar/{}.png", user.userid),
            "mobile": user.mobile.clone().unwrap_or_default(),
            "email": format!("{}@example.invalid", user.userid),
            "stateCode": "86",
        }),
    }
}

/// `POST /topapi/user/getbyunionid?access_token=..` with `{"unionid"}`.
pub(super) fn getbyunionid(state: &State, params: &Params) -> Reply {
    if let Err(refused) = oapi::authorize(state, params) {
        return refused;
    }
    let Some(unionid) = params.text("unionid") else {
        return oapi::error(INVALID_PARAMETER);
    };
    let employee = state.users().find(|u| union_id(u) == unionid);
    let found = match employee {
        Some(user) => Some((user.userid.clone(), 0)),
        None => state
            .web
            .others
            .values()
            .find(|(u, r)| *r == Relation::ExternalContact && union_id(u) == unionid)
            .map(|(u, _)| (u.userid.clone(), 1)),
    };
    match found {
        Some((userid, contact_type)) => oapi::success(Map::from_iter([(
            "result".to_owned(),
            json!({ "contact_type": contact_type, "userid": userid }),
        )])),
        None => oapi::error(NO_SUCH_USER),
    }
}

/// `GET /oauth2/auth?redirect_uri=..&response_type=code&client_id=..&scope=..&state=..`: a
/// page listing everyone who can sign in; `&pick=<userid>` signs that person in (302 to
/// `redirect_uri?authCode=..&state=..`), `&decline=1` declines (302 to
/// `redirect_uri?error=access_denied&state=..`).
pub(super) fn login_page(state: &mut State, query: Option<&str>, params: &Params) -> Reply {
    let client_ok = state.credentials_client(params.text("client_id").as_deref());
    let redirect_uri = params
        .text("redirect_uri")
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let (Some(redirect_uri), true, Some("code")) = (
        redirect_uri,
        client_ok,
        params.text("response_type").as_deref(),
    ) else {
        return Reply::Html {
            status: StatusCode::BAD_REQUEST,
            body: "<!doctype html><title>DingTalk</title><p>invalid client_id, redirect_uri or \
                   response_type</p>"
                .into(),
        };
    };
    let st = params.text("state").unwrap_or_default();
    let back = |pairs: &[(&str, &str)]| {
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        Reply::Redirect {
            location: format!("{redirect_uri}{sep}{query}"),
        }
    };
    if params.text("decline").is_some() {
        return back(&[("error", "access_denied"), ("state", &st)]);
    }
    if let Some(userid) = params.text("pick") {
        return match state.mint_web_code(&userid) {
            Some(code) => back(&[("authCode", &code), ("state", &st)]),
            None => Reply::Html {
                status: StatusCode::BAD_REQUEST,
                body: "<!doctype html><title>DingTalk</title><p>no such account</p>".into(),
            },
        };
    }
    let own_query = query.unwrap_or_default();
    let link = |extra: &str| escape(&format!("/oauth2/auth?{own_query}&{extra}"));
    let mut items = String::new();
    let people = state
        .users()
        .map(|u| (u.clone(), "employee"))
        .chain(state.web.others.values().map(|(u, r)| {
            let what = match r {
                Relation::ExternalContact => "external contact",
                Relation::Outsider => "not in this organisation",
            };
            (u.clone(), what)
        }))
        .collect::<Vec<_>>();
    for (user, what) in people {
        let pick = serde_urlencoded::to_string([("pick", &user.userid)]).unwrap_or_default();
        items.push_str(&format!(
            "<li><a id=\"pick-{id}\" href=\"{href}\">{name}</a> <small>({what})</small></li>",
            id = escape(&user.userid),
            href = link(&pick),
            name = escape(&user.name),
        ));
    }
    Reply::Html {
        status: StatusCode::OK,
        body: format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>DingTalk login (fake)</title></head><body>\
             <h1>Log in with DingTalk</h1><p>The fake DingTalk's login page: pick who you are.</p>\
             <ul id=\"people\">{items}</ul>\
             <p><a id=\"decline\" href=\"{decline}\">Cancel</a></p></body></html>",
            decline = link("decline=1"),
        ),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use crate::clock::ManualClock;
    use crate::testing::{Endpoint, FakeDingTalk, FakeUser};

    async fn exchange(fake: &FakeDingTalk, code: &str) -> (u16, Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/v1.0/oauth2/userAccessToken", fake.url()))
            .json(&json!({
                "clientId": fake.app_key(),
                "clientSecret": fake.app_secret(),
                "code": code,
                "grantType": "authorization_code",
            }))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    #[tokio::test]
    async fn web_codes_are_single_use_and_live_five_minutes() {
        let clock = ManualClock::new(1_700_000_000);
        let fake = FakeDingTalk::builder()
            .clock(clock.clone())
            .user(FakeUser::new("u", "U"))
            .start()
            .await;
        let code = fake.mint_web_code("u");
        let stale = fake.mint_web_code("u");
        let (status, token) = exchange(&fake, &code).await;
        assert_eq!(status, 200, "{token}");
        assert_eq!(token["expireIn"], 7200);
        assert_eq!(token["corpId"], fake.corp_id());
        let (status, again) = exchange(&fake, &code).await;
        assert_eq!((status, again["code"].as_str()), (400, Some("invalidCode")));
        clock.advance(Duration::from_secs(301));
        let (status, late) = exchange(&fake, &stale).await;
        assert_eq!((status, late["code"].as_str()), (400, Some("invalidCode")));
        // A silent login code is no web code, and a web code no silent one.
        let (status, _) = exchange(&fake, &fake.mint_code("u")).await;
        assert_eq!(status, 400);

        let me: Value = reqwest::Client::new()
            .get(format!("{}/v1.0/contact/users/me", fake.url()))
            .header(
                "x-acs-dingtalk-access-token",
                token["accessToken"].as_str().unwrap(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["unionId"], "union-u");
        assert_eq!(me["nick"], "U");
        assert_eq!(fake.calls(Endpoint::UserAccessToken), 4);
    }

    #[tokio::test]
    async fn user_access_token_takes_json_only() {
        let fake = FakeDingTalk::builder()
            .user(FakeUser::new("u", "U"))
            .start()
            .await;
        let res = reqwest::Client::new()
            .post(format!("{}/v1.0/oauth2/userAccessToken", fake.url()))
            .form(&[
                ("clientId", fake.app_key()),
                ("clientSecret", fake.app_secret()),
                ("code", &fake.mint_web_code("u")),
                ("grantType", "authorization_code"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalidParameter");
        assert!(body["requestid"].is_string());
    }
}
