//! Secret newtypes whose `Debug` never shows the value.
//!
//! The app secret, DingTalk access tokens and session signing keys travel through the crate in
//! these wrappers so that a stray `{:?}` in a log line, a panic message or an error cannot leak
//! them (the same idea as oauth2-rs's `new_secret_type!`).

use std::fmt;

use subtle::ConstantTimeEq;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Call this only where the value must go on the wire.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        // Constant-time, so comparing a presented value with a stored one leaks no timing.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

secret_type!(
    /// An app's `AppSecret` (or a suite secret, or a TOP app secret).
    ///
    /// ```
    /// use dingtalk_login::secret::AppSecret;
    /// let s = AppSecret::new("s3cr3t");
    /// assert_eq!(format!("{s:?}"), "AppSecret(<redacted>)");
    /// assert_eq!(s.expose(), "s3cr3t");
    /// ```
    AppSecret
);

secret_type!(
    /// A DingTalk `access_token` (app or corp token).
    ///
    /// ```
    /// use dingtalk_login::secret::AccessToken;
    /// assert_eq!(format!("{:?}", AccessToken::new("abc")), "AccessToken(<redacted>)");
    /// ```
    AccessToken
);

/// Key bytes for signing sessions (an HS256 secret, or a PEM document); `Debug` is redacted.
///
/// ```
/// use dingtalk_login::secret::SessionSecret;
/// let k = SessionSecret::new(vec![7u8; 32]);
/// assert_eq!(format!("{k:?}"), "SessionSecret(<redacted>, 32 bytes)");
/// ```
#[derive(Clone)]
pub struct SessionSecret(Vec<u8>);

impl SessionSecret {
    /// Wraps key bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionSecret(<redacted>, {} bytes)", self.0.len())
    }
}

impl From<&str> for SessionSecret {
    fn from(value: &str) -> Self {
        Self(value.as_bytes().to_vec())
    }
}

impl From<String> for SessionSecret {
    fn from(value: String) -> Self {
        Self(value.into_bytes())
    }
}

impl From<Vec<u8>> for SessionSecret {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}
