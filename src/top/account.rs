//! `alibaba.dc.uc.inner.user.by.account.get`: its parameters and its `data` object.

use serde::{Deserialize, Serialize};
use serde_with::json::JsonString;
use serde_with::{serde_as, DisplayFromStr, PickFirst};

use crate::dingtalk::wire::string_or_number;

/// The TOP method name of the user-by-account lookup.
pub const USER_BY_ACCOUNT: &str = "alibaba.dc.uc.inner.user.by.account.get";

/// What to look up with [`TopClient::user_by_account`](super::TopClient::user_by_account):
/// an account id or a user id, optionally narrowed by organisation and namespace.
///
/// `namespace` is sent as `dd` unless set otherwise (the API's documented default).
///
/// ```
/// use dingtalk_login::top::AccountQuery;
///
/// let q = AccountQuery::by_account_id("01234").org_code("ding123abc");
/// assert_eq!(q.params(), vec![
///     ("account_id", "01234".to_owned()),
///     ("org_code", "ding123abc".to_owned()),
///     ("namespace", "dd".to_owned()),
/// ]);
/// assert_eq!(AccountQuery::by_user_id(1).namespace("xx").params(), vec![
///     ("namespace", "xx".to_owned()),
///     ("user_id", "1".to_owned()),
/// ]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountQuery {
    /// `account_id`: the account's id.
    pub account_id: Option<String>,
    /// `org_code`: the organisation's code.
    pub org_code: Option<String>,
    /// `namespace`; `dd` when `None`.
    pub namespace: Option<String>,
    /// `user_id`: the user's numeric id.
    pub user_id: Option<i64>,
}

impl AccountQuery {
    /// Looks up by `account_id`.
    pub fn by_account_id(account_id: impl Into<String>) -> Self {
        Self {
            account_id: Some(account_id.into()),
            ..Self::default()
        }
    }

    /// Looks up by `user_id`.
    pub fn by_user_id(user_id: i64) -> Self {
        Self {
            user_id: Some(user_id),
            ..Self::default()
        }
    }

    /// Narrows the lookup to one organisation (`org_code`).
    pub fn org_code(mut self, org_code: impl Into<String>) -> Self {
        self.org_code = Some(org_code.into());
        self
    }

    /// The namespace (`namespace`). Default `dd`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The API parameters, in the order given above; unset ones are left out.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::with_capacity(4);
        if let Some(id) = &self.account_id {
            params.push(("account_id", id.clone()));
        }
        if let Some(org) = &self.org_code {
            params.push(("org_code", org.clone()));
        }
        let namespace = self.namespace.as_deref().unwrap_or("dd");
        params.push(("namespace", namespace.to_owned()));
        if let Some(id) = self.user_id {
            params.push(("user_id", id.to_string()));
        }
        params
    }
}

/// The `data` object of `alibaba.dc.uc.inner.user.by.account.get`: who the account belongs to.
///
/// Lenient where TOP is: numbers may arrive as strings, `dept_id_list` as a JSON-encoded string
/// (`"[1,2,3]"`), fields may be missing, and unknown fields are ignored.
///
/// ```
/// use dingtalk_login::top::AccountUser;
///
/// let u: AccountUser = serde_json::from_str(
///     r#"{"dept_id_list":"[1,\"2\",3]","id":"1","account_id":1234,"type":"C","extra":"{}"}"#,
/// ).unwrap();
/// assert_eq!(u.dept_id_list, vec![1, 2, 3]);
/// assert_eq!(u.id, Some(1));
/// assert_eq!(u.account_id.as_deref(), Some("1234"));
/// assert_eq!(u.user_type.as_deref(), Some("C"));
/// ```
#[serde_as]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountUser {
    /// `id`: the user's numeric id.
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub id: Option<i64>,
    /// `account_id`: the account's id (a string such as `"01234"`; a number is accepted).
    #[serde(default, deserialize_with = "string_or_number")]
    pub account_id: Option<String>,
    /// `account_name`: the account's name.
    #[serde(default)]
    pub account_name: Option<String>,
    /// `nick_name`: the nickname.
    #[serde(default)]
    pub nick_name: Option<String>,
    /// `full_name`: the full name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// `org_code`: the organisation's code.
    #[serde(default)]
    pub org_code: Option<String>,
    /// `namespace`, e.g. `dd`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `tenant_id`: the tenant's numeric id.
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub tenant_id: Option<i64>,
    /// `dept_id_list`: the ids of the user's departments.
    #[serde_as(
        as = "PickFirst<(Vec<PickFirst<(_, DisplayFromStr)>>, JsonString<Vec<PickFirst<(_, DisplayFromStr)>>>)>"
    )]
    #[serde(default)]
    pub dept_id_list: Vec<i64>,
    /// `type`: the user type (e.g. `C`).
    #[serde(rename = "type", default)]
    pub user_type: Option<String>,
    /// `status`, e.g. `CREATED`.
    #[serde(default)]
    pub status: Option<String>,
    /// `avatar`: the avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// `extra`: extension data as sent (DingTalk's documentation shows a JSON-encoded string, `"{}"`).
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

/// Whether a TOP `sub_code` says the looked-up account does not exist.
///
/// The rule: lower-cased, with `_`, `.` and spaces read as `-`, the code contains `not-exist`
/// (so also `not-exists`, `not_exist`, `NOT_EXIST`, `not.exist`) or `no-such`, **and** names
/// the `user`, `account`, `member` or `staff` — so `isv.user-not-exist`,
/// `isv.account.not.exist` and `USER_NOT_EXIST` match, while `isv.appkey-not-exists` (the
/// caller's own app key is wrong) does not and stays a 502.
pub(crate) fn means_no_such_account(sub_code: &str) -> bool {
    let normalized: String = sub_code
        .chars()
        .map(|c| match c {
            '_' | '.' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let missing = normalized.contains("not-exist") || normalized.contains("no-such");
    let about_a_person = ["user", "account", "member", "staff"]
        .iter()
        .any(|what| normalized.contains(what));
    missing && about_a_person
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_exist_rule() {
        for yes in [
            "isv.user-not-exist",
            "isv.account-not-exists",
            "isv.account.not.exist",
            "USER_NOT_EXIST",
            "isv.no-such-account",
            "ACCOUNT NOT EXIST",
        ] {
            assert!(means_no_such_account(yes), "{yes}");
        }
        for no in [
            "isv.appkey-not-exists",
            "isv.invalid-parameter",
            "isp.remote-service-error",
            "isv.method-not-exist",
            "",
        ] {
            assert!(!means_no_such_account(no), "{no}");
        }
    }

    #[test]
    fn the_seed_data_parses() {
        let seed = serde_json::json!({
            "dept_id_list": [1, 2, 3], "account_name": "张三", "type": "C", "extra": "{}",
            "id": 1, "org_code": "ding123abc", "nick_name": "张三", "full_name": "张三",
            "avatar": "https://static-legacy.dingtalk.com/media/lALPD1lNOrGC6yjM4czh_225_225.png",
            "account_id": "01234", "namespace": "dd", "tenant_id": 1, "status": "CREATED",
            "unknown": {"ignored": true}
        });
        let u: AccountUser = serde_json::from_value(seed).unwrap();
        assert_eq!(u.dept_id_list, vec![1, 2, 3]);
        assert_eq!(u.account_name.as_deref(), Some("张三"));
        assert_eq!(u.tenant_id, Some(1));
        assert_eq!(u.extra, Some(serde_json::json!("{}")));
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back["dept_id_list"], serde_json::json!([1, 2, 3]));
        assert_eq!(back["type"], "C");
        assert!(serde_json::from_str::<AccountUser>(r#"{"dept_id_list":"[oops"}"#).is_err());
    }
}
