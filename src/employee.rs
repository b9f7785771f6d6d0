//! The employee-info service: `POST {url}/api/v1/getUser` → an [`EmployeeProfile`].
//!
//! The service answers WeCom-style JSON: `errcode`/`errmsg` beside the profile's fields.
//! `errcode` is checked before the profile is read (an error body may still carry empty
//! arrays), with the same retry and errcode handling as the DingTalk calls: `-1` (busy) and
//! HTTP 5xx are retried, `60111` is [`Error::UserNotFound`], any other errcode
//! [`Error::UpstreamError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use dingtalk_login::employee::EmployeeClient;
//!
//! let employees = EmployeeClient::builder("https://employee.example.com", "wxcorp078").build()?;
//! let profile = employees.get_user("zhangsan").await?;
//! println!("{} works in {:?}", profile.name, profile.department);
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use serde_with::json::JsonString;
use serde_with::{serde_as, DisplayFromStr, PickFirst};

use crate::config::parse_base_url;
use crate::dingtalk::errcode::USER_NOT_FOUND;
use crate::dingtalk::transport::{judge_oapi, parse_payload, Transport};
use crate::dingtalk::wire::list_or_json_string;
use crate::dingtalk::{DingTalkUser, RetryPolicy};
use crate::enrich::Enricher;
use crate::error::{ConfigError, Error, UpstreamDetail};
use crate::login::DingTalkLogin;
use crate::BoxFuture;

const API: &str = "employee";

/// A client for the employee-info service.
///
/// The request body is `{"corpId": .., "userId": .., "userid": ..}`: the service's table
/// spells the user id `userId` and its example `userid`, so both keys are sent with the same
/// value and the service finds the id whichever spelling it reads. Cheap to clone.
#[derive(Clone)]
pub struct EmployeeClient {
    transport: Transport,
    url: Arc<str>,
    corp_id: Arc<str>,
}

impl fmt::Debug for EmployeeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmployeeClient")
            .field("url", &self.url)
            .field("corp_id", &self.corp_id)
            .finish_non_exhaustive()
    }
}

impl EmployeeClient {
    /// Starts a client for the service at `url` (its base, without `/api/v1/getUser`) and the
    /// organisation `corp_id`.
    ///
    /// ```
    /// use dingtalk_login::employee::EmployeeClient;
    ///
    /// let c = EmployeeClient::builder("http://127.0.0.1:8080/", "wxcorp").build().unwrap();
    /// assert_eq!(c.endpoint(), "http://127.0.0.1:8080/api/v1/getUser");
    /// ```
    pub fn builder(url: impl Into<String>, corp_id: impl Into<String>) -> EmployeeClientBuilder {
        EmployeeClientBuilder {
            url: url.into(),
            corp_id: corp_id.into(),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            transport: None,
        }
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// The organisation's `corpId`.
    pub fn corp_id(&self) -> &str {
        &self.corp_id
    }

    /// The profile of `userid`.
    ///
    /// A userid that is empty or longer than 64 bytes cannot exist (the service's own rule) and
    /// is refused without a call.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] for errcode 60111 or an impossible userid; the upstream errors
    /// of [`crate::Error`] otherwise.
    pub async fn get_user(&self, userid: &str) -> Result<EmployeeProfile, Error> {
        if userid.is_empty() || userid.len() > 64 {
            let mut detail = UpstreamDetail::api(API);
            detail.errmsg = Some("a userid is 1 to 64 bytes".into());
            return Err(Error::UserNotFound(Box::new(detail)));
        }
        let body = json!({ "corpId": &*self.corp_id, "userId": userid, "userid": userid });
        let value = self
            .transport
            .call(API, |http| http.post(&*self.url).json(&body), judge_oapi)
            .await
            .map_err(|e| match Error::from(e) {
                Error::UpstreamError(d) if d.errcode == Some(USER_NOT_FOUND) => {
                    Error::UserNotFound(d)
                }
                e => e,
            })?;
        parse_payload(API, &value)
    }
}

/// Adds the user's departments to the session: `{"department": [ids], "main_department": id}`
/// (`main_department` only when the service reports one).
///
/// Wrap it in [`CachedEnricher`](crate::enrich::CachedEnricher) so a login costs at most one
/// call per user per TTL.
impl Enricher for EmployeeClient {
    fn enrich<'a>(
        &'a self,
        user: &'a DingTalkUser,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Error>> {
        Box::pin(async move {
            let profile = self.get_user(&user.userid).await?;
            let mut ext = Map::new();
            ext.insert("department".into(), json!(profile.department));
            if let Some(main) = profile.main_department {
                ext.insert("main_department".into(), json!(main));
            }
            Ok(ext)
        })
    }
}

/// Configures an [`EmployeeClient`]. Start with [`EmployeeClient::builder`] or
/// [`EmployeeClientBuilder::from_env`].
#[must_use]
#[derive(Debug)]
pub struct EmployeeClientBuilder {
    url: String,
    corp_id: String,
    timeout: Duration,
    retry: RetryPolicy,
    transport: Option<Transport>,
}

impl EmployeeClientBuilder {
    /// Reads `EMPLOYEE_API_URL` and `EMPLOYEE_CORP_ID` from the process environment; `Ok(None)`
    /// when either is unset or empty (the feature is not configured).
    ///
    /// # Errors
    /// None today; the `Result` leaves room for validation.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any lookup of variable names.
    ///
    /// ```
    /// use dingtalk_login::employee::EmployeeClientBuilder;
    ///
    /// let b = EmployeeClientBuilder::from_lookup(|k| match k {
    ///     "EMPLOYEE_API_URL" => Some("http://127.0.0.1:9".into()),
    ///     "EMPLOYEE_CORP_ID" => Some("wxcorp".into()),
    ///     _ => None,
    /// });
    /// assert_eq!(b.unwrap().unwrap().build().unwrap().corp_id(), "wxcorp");
    /// assert!(EmployeeClientBuilder::from_lookup(|_| None).unwrap().is_none());
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(match (var("EMPLOYEE_API_URL"), var("EMPLOYEE_CORP_ID")) {
            (Some(url), Some(corp)) => Some(EmployeeClient::builder(url.trim(), corp.trim())),
            _ => None,
        })
    }

    /// The timeout of one call. Default 5 s. Not used with [`Self::share_transport`].
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How transient failures are retried. Default [`RetryPolicy::default`]. Not used with
    /// [`Self::share_transport`].
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Uses the login's HTTP client, timeout and retry policy instead of building new ones.
    pub fn share_transport(mut self, login: &DingTalkLogin) -> Self {
        self.transport = Some(login.transport().clone());
        self
    }

    /// Validates the settings and builds the client.
    ///
    /// # Errors
    /// [`ConfigError`] for a URL that is not http(s), an empty corp id or a zero timeout.
    pub fn build(self) -> Result<EmployeeClient, ConfigError> {
        let base = parse_base_url("employee url", &self.url)?;
        if self.corp_id.trim().is_empty() {
            return Err(ConfigError::Missing("employee corp_id"));
        }
        let transport = match self.transport {
            Some(shared) => shared,
            None => Transport::new(self.timeout, self.retry)?,
        };
        Ok(EmployeeClient {
            transport,
            url: Arc::from(format!("{base}/api/v1/getUser")),
            corp_id: Arc::from(self.corp_id.trim()),
        })
    }
}

/// An employee's gender: `0` undefined, `1` male, `2` female (sent as a number or a string).
///
/// ```
/// use dingtalk_login::employee::Gender;
///
/// assert_eq!(Gender::from(1), Gender::Male);
/// assert_eq!("2".parse::<Gender>().unwrap(), Gender::Female);
/// assert_eq!(i64::from(Gender::Other(9)), 9);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum Gender {
    /// `0`: not set.
    #[default]
    Undefined,
    /// `1`.
    Male,
    /// `2`.
    Female,
    /// Any other value, kept as sent.
    Other(i64),
}

impl From<i64> for Gender {
    fn from(n: i64) -> Self {
        match n {
            0 => Self::Undefined,
            1 => Self::Male,
            2 => Self::Female,
            n => Self::Other(n),
        }
    }
}

impl From<Gender> for i64 {
    fn from(g: Gender) -> Self {
        match g {
            Gender::Undefined => 0,
            Gender::Male => 1,
            Gender::Female => 2,
            Gender::Other(n) => n,
        }
    }
}

impl FromStr for Gender {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<i64>().map(Gender::from)
    }
}

/// An employee's profile, as `getUser` answers it.
///
/// Every field of the service's documented answer; numbers (and `gender`) may arrive as
/// strings, lists as JSON-encoded strings; missing fields are empty and unknown ones ignored.
///
/// ```
/// use dingtalk_login::employee::{EmployeeProfile, Gender};
///
/// let p: EmployeeProfile = serde_json::from_str(
///     r#"{"userid":"zhangsan","name":"张三","department":"[1,2]","gender":"1","main_department":"1"}"#,
/// ).unwrap();
/// assert_eq!(p.department, vec![1, 2]);
/// assert_eq!(p.gender, Gender::Male);
/// assert_eq!(p.main_department, Some(1));
/// ```
#[serde_as]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmployeeProfile {
    /// `userid`: unique in the organisation, case-insensitive, 1–64 bytes.
    pub userid: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `mobile`.
    #[serde(default)]
    pub mobile: Option<String>,
    /// `department`: the ids of the employee's departments.
    #[serde_as(
        as = "PickFirst<(Vec<PickFirst<(_, DisplayFromStr)>>, JsonString<Vec<PickFirst<(_, DisplayFromStr)>>>)>"
    )]
    #[serde(default)]
    pub department: Vec<i64>,
    /// `order`: the sort value in each department, aligned with `department`.
    #[serde_as(
        as = "PickFirst<(Vec<PickFirst<(_, DisplayFromStr)>>, JsonString<Vec<PickFirst<(_, DisplayFromStr)>>>)>"
    )]
    #[serde(default)]
    pub order: Vec<i64>,
    /// `position`: the job title.
    #[serde(default)]
    pub position: Option<String>,
    /// `gender`.
    #[serde_as(as = "PickFirst<(_, DisplayFromStr)>")]
    #[serde(default)]
    pub gender: Gender,
    /// `email`.
    #[serde(default)]
    pub email: Option<String>,
    /// `biz_mail`: the corporate mailbox.
    #[serde(default)]
    pub biz_mail: Option<String>,
    /// `avatar`: the avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// `thumb_avatar`: the thumbnail avatar URL.
    #[serde(default)]
    pub thumb_avatar: Option<String>,
    /// `address`.
    #[serde(default)]
    pub address: Option<String>,
    /// `telephone`: the landline.
    #[serde(default)]
    pub telephone: Option<String>,
    /// `alias`: the English name.
    #[serde(default)]
    pub alias: Option<String>,
    /// `open_userid`: the id across service providers.
    #[serde(default)]
    pub open_userid: Option<String>,
    /// `main_department`: the id of the main department.
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub main_department: Option<i64>,
    /// `status`: 1 active, 2 disabled, 4 not activated, 5 left.
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    pub status: Option<i64>,
    /// `is_leader_in_dept`: 1 where the employee leads the department, aligned with
    /// `department`.
    #[serde_as(
        as = "PickFirst<(Vec<PickFirst<(_, DisplayFromStr)>>, JsonString<Vec<PickFirst<(_, DisplayFromStr)>>>)>"
    )]
    #[serde(default)]
    pub is_leader_in_dept: Vec<i64>,
    /// `direct_leader`: the userids of the employee's direct leaders.
    #[serde(default, deserialize_with = "list_or_json_string")]
    pub direct_leader: Vec<String>,
    /// `extattr`: extension attributes, as sent.
    #[serde(default)]
    pub extattr: Option<Value>,
    /// `external_profile`: the external profile, as sent.
    #[serde(default)]
    pub external_profile: Option<Value>,
    /// `qr_code`: the employee's QR code URL.
    #[serde(default)]
    pub qr_code: Option<String>,
    /// `external_position`: the title shown externally.
    #[serde(default)]
    pub external_position: Option<String>,
}
