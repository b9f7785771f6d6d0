//! Wire types for DingTalk's answers, lenient where DingTalk is: numbers that arrive as
//! strings (`"errcode":"0"`), lists that arrive as JSON-encoded strings
//! (`"exclusive_account_userid_list":"[\"a\"]"`), optional fields that are missing, and
//! unknown extra fields. What the documents do not show (an object where a number belongs, a
//! string that is not a number) is refused with a clear error.

use serde::{Deserialize, Deserializer, Serialize};
use serde_with::{serde_as, DisplayFromStr, PickFirst};

use crate::guard::SysLevel;

/// The envelope every OAPI answer shares.
#[serde_as]
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Envelope {
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub errcode: Option<i64>,
    #[serde(default)]
    pub errmsg: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub sub_code: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
    // The gateway's flow-control body: {"status":1111,"wait":5}.
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub status: Option<i64>,
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub wait: Option<i64>,
}

/// The user behind a login code, from `POST /topapi/v2/user/getuserinfo`.
///
/// ```
/// use dingtalk_login::dingtalk::DingTalkUser;
/// use dingtalk_login::guard::SysLevel;
///
/// // DingTalk sometimes sends numbers and booleans as strings.
/// let user: DingTalkUser = serde_json::from_str(
///     r#"{"userid":"u1","name":"Li","sys":"true","sys_level":"2","extra":1}"#,
/// ).unwrap();
/// assert_eq!(user.sys_level, SysLevel::SubAdmin);
/// assert!(user.sys);
/// assert_eq!(user.unionid, None);
/// ```
#[serde_as]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DingTalkUser {
    /// The user's id inside the organisation.
    pub userid: String,
    /// The user's id across DingTalk (may be absent).
    #[serde(default)]
    pub unionid: Option<String>,
    /// The unionid associated with the user (may be absent).
    #[serde(default)]
    pub associated_unionid: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The device the code came from.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Whether DingTalk considers the user an admin.
    #[serde_as(as = "PickFirst<(_, DisplayFromStr)>")]
    #[serde(default)]
    pub sys: bool,
    /// The admin level: 1 super admin, 2 sub admin, 100 boss, 0 other.
    #[serde_as(as = "PickFirst<(_, DisplayFromStr)>")]
    #[serde(default)]
    pub sys_level: SysLevel,
}

impl DingTalkUser {
    /// A user with `userid`, `name` and `sys_level`; `sys` follows the level (true for 1 and 2),
    /// the other fields are empty.
    ///
    /// ```
    /// use dingtalk_login::dingtalk::DingTalkUser;
    /// use dingtalk_login::guard::SysLevel;
    ///
    /// let boss = DingTalkUser::new("u1", "Li", SysLevel::Boss);
    /// assert!(!boss.sys);
    /// assert!(DingTalkUser::new("u2", "Wang", SysLevel::SubAdmin).sys);
    /// ```
    pub fn new(userid: impl Into<String>, name: impl Into<String>, sys_level: SysLevel) -> Self {
        Self {
            userid: userid.into(),
            unionid: None,
            associated_unionid: None,
            name: name.into(),
            device_id: None,
            sys: matches!(sys_level, SysLevel::SuperAdmin | SysLevel::SubAdmin),
            sys_level,
        }
    }
}

/// `gettoken`'s answer.
#[serde_as]
#[derive(Deserialize)]
pub(crate) struct GetTokenResult {
    pub access_token: String,
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for GetTokenResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetTokenResult")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A string, or a number rendered as a string.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(serde_json::Number),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|e| match e {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    }))
}

/// A list, or the same list as a JSON-encoded string (`"[\"a\",\"b\"]"`); absent is empty.
pub(crate) fn list_or_json_string<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        List(Vec<T>),
        Encoded(String),
    }
    match Option::<Either<T>>::deserialize(d)? {
        None => Ok(Vec::new()),
        Some(Either::List(v)) => Ok(v),
        Some(Either::Encoded(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Either::Encoded(s)) => serde_json::from_str(&s).map_err(|e| {
            serde::de::Error::custom(format!("a JSON-encoded list that does not parse: {e}"))
        }),
    }
}

impl std::str::FromStr for SysLevel {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<i64>().map(SysLevel::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_answer_does_not_show_its_token() {
        let answer: GetTokenResult =
            serde_json::from_str(r#"{"access_token":"tok-123","expires_in":7200}"#).unwrap();
        let shown = format!("{answer:?}");
        assert!(!shown.contains("tok-123"), "{shown}");
        assert!(shown.contains("7200"), "{shown}");
    }

    #[test]
    fn envelope_reads_numbers_as_strings() {
        let env: Envelope =
            serde_json::from_str(r#"{"errcode":"40078","errmsg":"x","sub_code":40014}"#).unwrap();
        assert_eq!(env.errcode, Some(40078));
        assert_eq!(env.sub_code.as_deref(), Some("40014"));
    }

    #[test]
    fn envelope_refuses_a_non_number_errcode() {
        assert!(serde_json::from_str::<Envelope>(r#"{"errcode":"zero"}"#).is_err());
        assert!(serde_json::from_str::<Envelope>(r#"{"errcode":{}}"#).is_err());
    }

    #[test]
    fn lists_arrive_either_way() {
        #[derive(Deserialize)]
        struct L {
            #[serde(default, deserialize_with = "list_or_json_string")]
            l: Vec<String>,
        }
        let a: L = serde_json::from_str(r#"{"l":["a","b"]}"#).unwrap();
        let b: L = serde_json::from_str(r#"{"l":"[\"a\",\"b\"]"}"#).unwrap();
        let c: L = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(a.l, vec!["a", "b"]);
        assert_eq!(b.l, vec!["a", "b"]);
        assert!(c.l.is_empty());
        assert!(serde_json::from_str::<L>(r#"{"l":"[oops"}"#).is_err());
        assert!(serde_json::from_str::<L>(r#"{"l":5}"#).is_err());
    }
}
