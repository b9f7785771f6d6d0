//! The TOP router client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use serde_with::{serde_as, DisplayFromStr, PickFirst};

use super::account::{means_no_such_account, AccountQuery, AccountUser, USER_BY_ACCOUNT};
use super::sign::{sign, timestamp, SignMethod};
use super::DEFAULT_GATEWAY;
use crate::clock::{Clock, SystemClock};
use crate::config::parse_base_url;
use crate::dingtalk::transport::{parse_payload, Transport, Verdict};
use crate::dingtalk::RetryPolicy;
use crate::error::{ConfigError, Error, Unavailable, UpstreamDetail};
use crate::login::DingTalkLogin;
use crate::secret::AppSecret;

/// A client for the TOP router: signs each call, POSTs it as a form to the gateway, and maps
/// `error_response` onto [`Error`] (see the [module docs](super)).
///
/// Cheap to clone. Transient failures (`isp.*`, HTTP 5xx, a refused connection) are retried
/// with the crate's [`RetryPolicy`]; each attempt gets a fresh `timestamp` and `sign`.
#[derive(Clone)]
pub struct TopClient {
    transport: Transport,
    gateway: Arc<str>,
    app_key: Arc<str>,
    app_secret: AppSecret,
    sign_method: SignMethod,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TopClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopClient")
            .field("gateway", &self.gateway)
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("sign_method", &self.sign_method)
            .finish_non_exhaustive()
    }
}

/// TOP's `error_response`.
#[serde_as]
#[derive(Debug, Deserialize)]
struct ErrorResponse {
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default, deserialize_with = "crate::dingtalk::wire::string_or_number")]
    sub_code: Option<String>,
    #[serde(default)]
    sub_msg: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

/// The `result` model `alibaba.dc.uc.*` answers with.
#[serde_as]
#[derive(Debug, Deserialize)]
struct UcResult {
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default, deserialize_with = "crate::dingtalk::wire::string_or_number")]
    msg_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    msg_info: Option<String>,
}

impl TopClient {
    /// Starts a client for the app `app_key` with its `app_secret`.
    ///
    /// ```
    /// use dingtalk_login::top::{SignMethod, TopClient};
    ///
    /// let top = TopClient::builder("12345678", "secret").build().unwrap();
    /// assert_eq!(top.gateway_url(), "https://eco.taobao.com/router/rest");
    /// assert_eq!(top.sign_method(), SignMethod::HmacSha256);
    /// ```
    pub fn builder(
        app_key: impl Into<String>,
        app_secret: impl Into<AppSecret>,
    ) -> TopClientBuilder {
        TopClientBuilder {
            gateway_url: DEFAULT_GATEWAY.to_owned(),
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            sign_method: SignMethod::default(),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            transport: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The router URL calls go to.
    pub fn gateway_url(&self) -> &str {
        &self.gateway
    }

    /// The app key calls are made with.
    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    /// How calls are signed.
    pub fn sign_method(&self) -> SignMethod {
        self.sign_method
    }

    /// Calls the TOP API `method` with its parameters (empty values are left out) and returns
    /// the `<method_with_underscores>_response` object.
    ///
    /// # Errors
    /// [`Error::UpstreamUnavailable`] after the retries for `isp.*`; [`Error::UserNotFound`] for
    /// a `sub_code` saying the account does not exist (see [`Self::user_by_account`]);
    /// [`Error::UpstreamError`] for any other `error_response`, an answer without the expected
    /// wrapper, or one that is not JSON (the XML envelope included).
    pub async fn call(
        &self,
        method: &'static str,
        params: &[(&str, &str)],
    ) -> Result<Value, Error> {
        let response_key = format!("{}_response", method.replace('.', "_"));
        let build = |http: &reqwest::Client| {
            let ts = timestamp(self.clock.now());
            let mut form: Vec<(&str, &str)> = vec![
                ("method", method),
                ("app_key", &*self.app_key),
                ("timestamp", &ts),
                ("format", "json"),
                ("v", "2.0"),
                ("sign_method", self.sign_method.as_str()),
            ];
            form.extend(params.iter().copied().filter(|(_, v)| !v.is_empty()));
            let signature = sign(self.sign_method, &self.app_secret, form.iter().copied());
            form.push(("sign", &signature));
            http.post(&*self.gateway).form(&form)
        };
        let judge = |api: &'static str, value: Value| judge_top(api, &response_key, value);
        // Every TOP method is one `api` label, "top": the label set stays fixed.
        Ok(self.transport.call("top", build, judge).await?)
    }

    /// `alibaba.dc.uc.inner.user.by.account.get`: who an account (or user id) belongs to.
    ///
    /// # Errors
    /// [`Error::UserNotFound`] when TOP answers `result.success == false`, a `result` without
    /// `data`, or an `error_response` whose `sub_code` says the account does not exist: lower-cased
    /// and with `_`, `.` and spaces read as `-`, it contains `not-exist` or `no-such` and names
    /// the `user`, `account`, `member` or `staff` (`isv.account-not-exist`, `USER_NOT_EXIST`, …,
    /// but not `isv.appkey-not-exists`, which is the caller's own misconfiguration). The other
    /// errors of [`Self::call`] otherwise.
    pub async fn user_by_account(&self, query: &AccountQuery) -> Result<AccountUser, Error> {
        let params = query.params();
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = self.call(USER_BY_ACCOUNT, &params).await?;
        let result: UcResult = parse_payload(
            USER_BY_ACCOUNT,
            response.get("result").unwrap_or(&Value::Null),
        )?;
        let request_id = response
            .get("request_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let not_found = |why: Option<String>| {
            Error::UserNotFound(Box::new(UpstreamDetail {
                api: USER_BY_ACCOUNT,
                http_status: None,
                errcode: None,
                sub_code: result.msg_code.clone(),
                errmsg: why,
                request_id: request_id.clone(),
            }))
        };
        if result.success == Some(false) {
            let why = result.message.clone().or_else(|| result.msg_info.clone());
            return Err(not_found(
                why.or_else(|| Some("result.success is false".into())),
            ));
        }
        match result.data.as_ref() {
            None | Some(Value::Null) => Err(not_found(Some("the result carries no data".into()))),
            Some(data) => parse_payload(USER_BY_ACCOUNT, data),
        }
    }
}

/// TOP's judge: `error_response` first, then the method's wrapper.
fn judge_top(api: &'static str, response_key: &str, value: Value) -> Verdict {
    let unexpected = |why: String| {
        let mut detail = UpstreamDetail::api(api);
        detail.errmsg = Some(format!("unexpected answer: {why}"));
        Verdict::Fail(Error::UpstreamError(Box::new(detail)))
    };
    if let Some(error) = value.get("error_response") {
        let error = match ErrorResponse::deserialize(error) {
            Ok(e) => e,
            Err(e) => return unexpected(e.to_string()),
        };
        let errmsg = match (error.msg, error.sub_msg) {
            (Some(msg), Some(sub)) => Some(format!("{msg}: {sub}")),
            (msg, sub) => msg.or(sub),
        };
        let sub_code = error.sub_code.unwrap_or_default();
        let detail = Box::new(UpstreamDetail {
            api,
            http_status: None,
            errcode: error.code,
            sub_code: (!sub_code.is_empty()).then(|| sub_code.clone()),
            errmsg,
            request_id: error.request_id,
        });
        if sub_code.to_ascii_lowercase().starts_with("isp.") {
            return Verdict::Retry(Error::UpstreamUnavailable {
                reason: Unavailable::Platform,
                retry_after: None,
                detail,
            });
        }
        if means_no_such_account(&sub_code) {
            return Verdict::Fail(Error::UserNotFound(detail));
        }
        return Verdict::Fail(Error::UpstreamError(detail));
    }
    match value.get(response_key) {
        Some(response) if response.is_object() => Verdict::Done(response.clone()),
        _ => unexpected(format!("neither error_response nor {response_key}")),
    }
}

/// Configures a [`TopClient`]. Start with [`TopClient::builder`] or
/// [`TopClientBuilder::from_env`].
#[must_use]
pub struct TopClientBuilder {
    gateway_url: String,
    app_key: String,
    app_secret: AppSecret,
    sign_method: SignMethod,
    timeout: Duration,
    retry: RetryPolicy,
    transport: Option<Transport>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TopClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopClientBuilder")
            .field("gateway_url", &self.gateway_url)
            .field("app_key", &self.app_key)
            .field("app_secret", &self.app_secret)
            .field("sign_method", &self.sign_method)
            .finish_non_exhaustive()
    }
}

impl TopClientBuilder {
    /// Reads the process environment: `TOP_APP_KEY` and `TOP_APP_SECRET` (both required),
    /// `TOP_GATEWAY_URL` (optional, the full router URL) and `TOP_SIGN_METHOD` (optional: `md5`,
    /// `hmac` or `hmac-sha256`).
    ///
    /// `Ok(None)` when the key or the secret is unset or empty: the feature is not configured
    /// (a route over it answers [`Error::NotConfigured`]).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for an unknown `TOP_SIGN_METHOD`.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any lookup of variable names, e.g. a map in a test.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use dingtalk_login::top::{SignMethod, TopClientBuilder};
    ///
    /// let env = HashMap::from([
    ///     ("TOP_APP_KEY", "12345678"),
    ///     ("TOP_APP_SECRET", "secret"),
    ///     ("TOP_SIGN_METHOD", "md5"),
    ///     ("TOP_GATEWAY_URL", "http://127.0.0.1:9/router/rest"),
    /// ]);
    /// let top = TopClientBuilder::from_lookup(|k| env.get(k).map(|v| v.to_string()))
    ///     .unwrap()
    ///     .expect("configured")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(top.sign_method(), SignMethod::Md5);
    /// assert_eq!(top.gateway_url(), "http://127.0.0.1:9/router/rest");
    ///
    /// assert!(TopClientBuilder::from_lookup(|_| None).unwrap().is_none());
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (Some(key), Some(secret)) = (var("TOP_APP_KEY"), var("TOP_APP_SECRET")) else {
            return Ok(None);
        };
        let mut builder = TopClient::builder(key.trim(), secret);
        if let Some(url) = var("TOP_GATEWAY_URL") {
            builder = builder.gateway_url(url.trim());
        }
        if let Some(method) = var("TOP_SIGN_METHOD") {
            let method = method.parse().map_err(|e| match e {
                ConfigError::Invalid { reason, .. } => ConfigError::Invalid {
                    name: "TOP_SIGN_METHOD",
                    reason,
                },
                other => other,
            })?;
            builder = builder.sign_method(method);
        }
        Ok(Some(builder))
    }

    /// The full router URL. Default `https://eco.taobao.com/router/rest`.
    pub fn gateway_url(mut self, url: impl Into<String>) -> Self {
        self.gateway_url = url.into();
        self
    }

    /// How calls are signed. Default [`SignMethod::HmacSha256`].
    pub fn sign_method(mut self, method: SignMethod) -> Self {
        self.sign_method = method;
        self
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

    /// The clock `timestamp` is read from. Default the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates the settings and builds the client.
    ///
    /// # Errors
    /// [`ConfigError`] for an empty app key or secret, a gateway URL that is not http(s), or a
    /// zero timeout.
    pub fn build(self) -> Result<TopClient, ConfigError> {
        if self.app_key.trim().is_empty() {
            return Err(ConfigError::Missing("TOP app_key"));
        }
        if self.app_secret.expose().is_empty() {
            return Err(ConfigError::Missing("TOP app_secret"));
        }
        let gateway = parse_base_url("top gateway_url", &self.gateway_url)?;
        let transport = match self.transport {
            Some(shared) => shared,
            None => Transport::new(self.timeout, self.retry)?,
        };
        Ok(TopClient {
            transport,
            gateway: Arc::from(gateway),
            app_key: Arc::from(self.app_key.trim()),
            app_secret: self.app_secret,
            sign_method: self.sign_method,
            clock: self.clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "alibaba_dc_uc_inner_user_by_account_get_response";

    fn judge(value: Value) -> Verdict {
        judge_top("test", KEY, value)
    }

    fn error(sub_code: &str) -> Value {
        json!({"error_response": {"code": 15, "msg": "Remote service error", "sub_code": sub_code, "sub_msg": "x"}})
    }

    #[test]
    fn error_responses_are_classified_by_sub_code() {
        assert!(matches!(
            judge(error("isp.remote-service-timeout")),
            Verdict::Retry(Error::UpstreamUnavailable {
                reason: Unavailable::Platform,
                ..
            })
        ));
        assert!(matches!(
            judge(error("isv.account-not-exist")),
            Verdict::Fail(Error::UserNotFound(_))
        ));
        match judge(error("isv.invalid-parameter")) {
            Verdict::Fail(Error::UpstreamError(d)) => {
                assert_eq!(d.errcode, Some(15));
                assert_eq!(d.sub_code.as_deref(), Some("isv.invalid-parameter"));
                assert_eq!(d.errmsg.as_deref(), Some("Remote service error: x"));
            }
            _ => panic!("expected an upstream error"),
        }
        let stringly = json!({"error_response": {"code": "25", "msg": "Invalid signature"}});
        assert!(
            matches!(judge(stringly), Verdict::Fail(Error::UpstreamError(d)) if d.errcode == Some(25))
        );
        assert!(matches!(
            judge(json!({"error_response": {"code": {}}})),
            Verdict::Fail(Error::UpstreamError(_))
        ));
    }

    #[test]
    fn a_success_needs_the_method_wrapper() {
        assert!(
            matches!(judge(json!({ KEY: {"result": {}} })), Verdict::Done(v) if v == json!({"result": {}}))
        );
        assert!(matches!(
            judge(json!({"other_response": {}})),
            Verdict::Fail(Error::UpstreamError(_))
        ));
        assert!(matches!(
            judge(json!([])),
            Verdict::Fail(Error::UpstreamError(_))
        ));
    }
}
