//! The contact-book endpoints a live re-check reads: `topapi/user/listadmin` (who is an admin)
//! and `topapi/v2/user/get` (one user's name and whether they are the boss).

use serde_json::{json, Map, Value};

use super::oapi::{authorize, error, success, Params, Reply};
use super::state::State;

const INVALID_PARAMETER: (i64, &str) = (400002, "无效的参数");
const NO_SUCH_USER: (i64, &str) = (60121, "找不到该用户");

/// `POST /topapi/user/listadmin?access_token=..` (no body): `result` lists every super admin
/// (`sys_level` 1) and sub admin (2).
pub(super) fn listadmin(state: &State, params: &Params) -> Reply {
    if let Err(refused) = authorize(state, params) {
        return refused;
    }
    let admins: Vec<Value> = state
        .admins()
        .map(|u| json!({ "userid": u.userid, "sys_level": u.sys_level }))
        .collect();
    success(Map::from_iter([(
        "result".to_owned(),
        Value::Array(admins),
    )]))
}

/// `POST /topapi/v2/user/get?access_token=..` with `{"userid":"..","language":"zh_CN"}`:
/// the user's details, with `boss` true for `sys_level` 100 and `admin` true for 1 and 2;
/// 60121 for a user the organisation does not have (or no longer has).
pub(super) fn user_get(state: &State, params: &Params) -> Reply {
    if let Err(refused) = authorize(state, params) {
        return refused;
    }
    let Some(userid) = params.text("userid") else {
        return error(INVALID_PARAMETER);
    };
    let Some(user) = state.user(&userid) else {
        return error(NO_SUCH_USER);
    };
    let mut result = Map::new();
    result.insert("userid".into(), json!(user.userid));
    if let Some(unionid) = &user.unionid {
        result.insert("unionid".into(), json!(unionid));
    }
    result.insert("name".into(), json!(user.name));
    if let Some(mobile) = &user.mobile {
        result.insert("mobile".into(), json!(mobile));
    }
    result.insert("active".into(), json!(true));
    result.insert("admin".into(), json!(user.sys));
    result.insert("boss".into(), json!(user.sys_level == 100));
    result.insert("senior".into(), json!(false));
    result.insert("real_authed".into(), json!(true));
    result.insert("dept_id_list".into(), json!([1]));
    success(Map::from_iter([(
        "result".to_owned(),
        Value::Object(result),
    )]))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::testing::{Endpoint, FakeDingTalk, FakeUser};

    async fn call(fake: &FakeDingTalk, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", fake.url()))
            .query(&[("access_token", token)]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    #[tokio::test]
    async fn listadmin_and_user_get_answer_dingtalks_shapes_and_follow_changes() {
        let fake = FakeDingTalk::builder()
            .user(FakeUser::new("root", "Zhang San").super_admin())
            .user(FakeUser::new("boss", "Wang Wu").boss())
            .user(FakeUser::new("staff", "Li Si"))
            .start()
            .await;
        let token: Value = reqwest::get(format!(
            "{}/gettoken?appkey={}&appsecret={}",
            fake.url(),
            fake.app_key(),
            fake.app_secret()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let token = token["access_token"].as_str().unwrap();

        let admins = call(&fake, "/topapi/user/listadmin", token, None).await;
        assert_eq!(admins["errcode"], 0);
        assert_eq!(
            admins["result"],
            json!([{ "userid": "root", "sys_level": 1 }])
        );
        let boss = call(
            &fake,
            "/topapi/v2/user/get",
            token,
            Some(json!({"userid": "boss"})),
        )
        .await;
        assert_eq!(boss["result"]["name"], "Wang Wu");
        assert_eq!(boss["result"]["boss"], true);
        assert_eq!(boss["result"]["admin"], false);

        fake.set_level("staff", 2);
        fake.set_level("root", 0);
        let admins = call(&fake, "/topapi/user/listadmin", token, None).await;
        assert_eq!(
            admins["result"],
            json!([{ "userid": "staff", "sys_level": 2 }])
        );

        assert!(fake.remove_user("staff"));
        let gone = call(
            &fake,
            "/topapi/v2/user/get",
            token,
            Some(json!({"userid": "staff"})),
        )
        .await;
        assert_eq!(gone["errcode"], 60121);
        let admins = call(&fake, "/topapi/user/listadmin", token, None).await;
        assert_eq!(admins["result"], json!([]));

        let missing = call(&fake, "/topapi/v2/user/get", token, Some(json!({}))).await;
        assert_eq!(missing["errcode"], 400002);
        let refused = call(&fake, "/topapi/user/listadmin", "bogus", None).await;
        assert_eq!(refused["errcode"], 40014);
        assert_eq!(fake.calls(Endpoint::ListAdmin), 4);
        assert_eq!(fake.calls(Endpoint::UserGet), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "no user \"ghost\"")]
    async fn set_level_panics_for_an_unknown_user() {
        FakeDingTalk::start().await.set_level("ghost", 1);
    }
}
