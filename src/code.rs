//! The silent login code (`authCode`) a DingTalk client obtains with `dd.getAuthCode`.
//!
//! A code is valid for 5 minutes and can be used once. [`AuthCode`] is checked locally before
//! anything is sent upstream, so a malformed code costs no DingTalk call and no replay-guard
//! entry.

use std::fmt;

use crate::error::Error;

/// The longest code accepted, in bytes. Real codes are 32 characters.
pub const MAX_CODE_LEN: usize = 128;

/// A syntactically valid login code: 1 to 128 bytes of `[A-Za-z0-9_-]`.
///
/// Its `Debug` is redacted: a code is a one-time credential.
///
/// ```
/// use dingtalk_login::AuthCode;
///
/// let code = AuthCode::parse("bab02f63c1e030fbb").unwrap();
/// assert_eq!(code.as_str(), "bab02f63c1e030fbb");
/// assert_eq!(AuthCode::parse("").unwrap_err().code(), "invalid_code");
/// assert_eq!(AuthCode::parse("a b").unwrap_err().code(), "invalid_code");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthCode(String);

impl AuthCode {
    /// Validates `raw` as a login code.
    ///
    /// # Errors
    /// [`Error::InvalidCode`] when `raw` is empty, longer than `MAX_CODE_LEN` (128) bytes, or holds a
    /// character outside `[A-Za-z0-9_-]`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() {
            return Err(Error::InvalidCode("the code is empty"));
        }
        if raw.len() > MAX_CODE_LEN {
            return Err(Error::InvalidCode("the code is longer than 128 bytes"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::InvalidCode(
                "the code may hold only letters, digits, '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Reads the code out of a JSON value that may hold it: `None` or JSON `null` is
    /// [`Error::MissingCode`], a non-string is [`Error::InvalidCode`].
    ///
    /// ```
    /// use dingtalk_login::AuthCode;
    /// use serde_json::json;
    ///
    /// assert_eq!(AuthCode::from_json(None).unwrap_err().code(), "missing_code");
    /// assert_eq!(AuthCode::from_json(Some(&json!(null))).unwrap_err().code(), "missing_code");
    /// assert_eq!(AuthCode::from_json(Some(&json!(42))).unwrap_err().code(), "invalid_code");
    /// assert!(AuthCode::from_json(Some(&json!("abc"))).is_ok());
    /// ```
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<Self, Error> {
        match value {
            None | Some(serde_json::Value::Null) => Err(Error::MissingCode),
            Some(serde_json::Value::String(s)) => Self::parse(s),
            Some(_) => Err(Error::InvalidCode("the code must be a string")),
        }
    }

    /// Reads `{"code": ..}` from a JSON request body.
    ///
    /// An empty body is [`Error::MissingCode`]; a body that is not a JSON object is
    /// [`Error::InvalidCode`] (so a broken body gets the crate's JSON error, never a framework's
    /// plain-text rejection).
    ///
    /// ```
    /// use dingtalk_login::AuthCode;
    ///
    /// assert!(AuthCode::from_json_body(br#"{"code":"abc"}"#).is_ok());
    /// assert_eq!(AuthCode::from_json_body(b"").unwrap_err().code(), "missing_code");
    /// assert_eq!(AuthCode::from_json_body(b"{}").unwrap_err().code(), "missing_code");
    /// assert_eq!(AuthCode::from_json_body(b"{not json").unwrap_err().code(), "invalid_code");
    /// ```
    pub fn from_json_body(body: &[u8]) -> Result<Self, Error> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::MissingCode);
        }
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => Self::from_json(map.get("code")),
            Ok(_) => Err(Error::InvalidCode("the request body must be a JSON object")),
            Err(_) => Err(Error::InvalidCode("the request body is not valid JSON")),
        }
    }

    /// Reads `code=..` from an `application/x-www-form-urlencoded` body or query string.
    /// A missing `code` is [`Error::MissingCode`].
    ///
    /// ```
    /// use dingtalk_login::AuthCode;
    ///
    /// assert_eq!(AuthCode::from_form(b"code=abc&x=1").unwrap().as_str(), "abc");
    /// assert_eq!(AuthCode::from_form(b"x=1").unwrap_err().code(), "missing_code");
    /// assert_eq!(AuthCode::from_form(b"code=").unwrap_err().code(), "invalid_code");
    /// ```
    pub fn from_form(body: &[u8]) -> Result<Self, Error> {
        match form_value(body, "code") {
            Some(code) => Self::parse(&code),
            None => Err(Error::MissingCode),
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first value of `name` in a urlencoded string, decoded.
pub(crate) fn form_value(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthCode(<redacted>)")
    }
}
