//! The claims of a session token: the DingTalk identity, its `sys_level`, and the JWT fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::guard::{SysLevel, SysLevelPolicy};

/// The claims of a session token.
///
/// `sub` is DingTalk's `userid`; `unionid`, `name`, `sys` and `sys_level` are copied from the
/// login (and re-read from DingTalk at each refresh); `iat`/`exp` are Unix seconds; `auth_time`
/// is when the person originally logged in, kept across refreshes; `jti` is random and is what
/// logout revokes. `ext` holds
/// fields added at login by an enrichment hook (e.g. department ids) and is omitted when empty.
///
/// ```
/// use dingtalk_login::session::Claims;
/// use dingtalk_login::guard::{SysLevel, SysLevelPolicy};
///
/// let claims: Claims = serde_json::from_str(
///     r#"{"sub":"u1","unionid":null,"name":"Li","sys":true,"sys_level":2,
///         "iat":1700000000,"exp":1700028800,"jti":"abc"}"#,
/// ).unwrap();
/// assert_eq!(claims.userid(), "u1");
/// assert!(claims.satisfies(&SysLevelPolicy::admin()));
/// assert!(!claims.satisfies(&SysLevelPolicy::super_admin()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// DingTalk `userid`.
    pub sub: String,
    /// DingTalk `unionid` (`null` when DingTalk gave none).
    #[serde(default)]
    pub unionid: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// DingTalk's admin flag.
    #[serde(default)]
    pub sys: bool,
    /// DingTalk's admin level.
    #[serde(default)]
    pub sys_level: SysLevel,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// When the person logged in with DingTalk (Unix seconds), kept across refreshes: a
    /// refresh never extends a session past `auth_time` plus the session max age
    /// ([`crate::ConfigBuilder::session_max_age`]). `None` only in tokens from before this
    /// claim existed, which count from their `iat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Random token id; logout revokes it.
    pub jti: String,
    /// Issuer, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Extension claims added at login.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub ext: Map<String, Value>,
}

impl Claims {
    /// DingTalk `userid` (the `sub` claim).
    pub fn userid(&self) -> &str {
        &self.sub
    }

    /// When the person logged in (`auth_time`, else `iat`), Unix seconds.
    ///
    /// ```
    /// # let claims: dingtalk_login::session::Claims = serde_json::from_str(
    /// #     r#"{"sub":"u1","iat":1700000500,"exp":1700028800,"auth_time":1700000000,"jti":"j"}"#).unwrap();
    /// assert_eq!(claims.logged_in_at(), 1_700_000_000);
    /// ```
    pub fn logged_in_at(&self) -> i64 {
        self.auth_time.unwrap_or(self.iat)
    }

    /// Whether this session passes `policy`.
    pub fn satisfies(&self, policy: &SysLevelPolicy) -> bool {
        policy.allows(self.sys_level, self.sys)
    }

    /// The public view of the user: `{userid, unionid, name, sys, sys_level}`.
    pub fn user_json(&self) -> Value {
        serde_json::to_value(self.user()).unwrap_or_default()
    }

    /// The public view of the user, borrowed: serializes to the same JSON as
    /// [`user_json`](Self::user_json) without building a `serde_json::Value` (for hot routes
    /// such as `/me`).
    ///
    /// ```
    /// # let claims: dingtalk_login::session::Claims = serde_json::from_str(
    /// #     r#"{"sub":"u1","name":"Li","sys_level":2,"iat":1,"exp":2,"jti":"j"}"#).unwrap();
    /// let json = serde_json::to_string(&claims.user()).unwrap();
    /// assert_eq!(json, r#"{"userid":"u1","unionid":null,"name":"Li","sys":false,"sys_level":2}"#);
    /// ```
    pub fn user(&self) -> UserView<'_> {
        UserView {
            userid: &self.sub,
            unionid: self.unionid.as_deref(),
            name: &self.name,
            sys: self.sys,
            sys_level: self.sys_level,
        }
    }
}

/// The public view of a session's user, borrowed from its [`Claims`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserView<'a> {
    /// DingTalk `userid`.
    pub userid: &'a str,
    /// DingTalk `unionid` (`null` when none).
    pub unionid: Option<&'a str>,
    /// Display name.
    pub name: &'a str,
    /// DingTalk's admin flag.
    pub sys: bool,
    /// DingTalk's admin level.
    pub sys_level: SysLevel,
}
