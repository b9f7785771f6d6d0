//! TOP's request signature and timestamp: pure functions, so they can be checked against values
//! computed elsewhere.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::ConfigError;
use crate::secret::AppSecret;

/// How a TOP request is signed: the `sign_method` parameter.
///
/// Parses from the names TOP uses (`md5`, `hmac`, `hmac-sha256`, any case), as read from
/// `TOP_SIGN_METHOD`:
///
/// ```
/// use dingtalk_login::top::SignMethod;
///
/// assert_eq!("hmac-sha256".parse::<SignMethod>().unwrap(), SignMethod::HmacSha256);
/// assert_eq!("MD5".parse::<SignMethod>().unwrap(), SignMethod::Md5);
/// assert_eq!(SignMethod::Hmac.as_str(), "hmac");
/// assert_eq!(SignMethod::default(), SignMethod::HmacSha256);
/// assert!("sha1".parse::<SignMethod>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SignMethod {
    /// `md5`: upper-case hex of MD5(secret + S + secret).
    Md5,
    /// `hmac`: upper-case hex of HMAC-MD5(secret, S).
    Hmac,
    /// `hmac-sha256` (the default): upper-case hex of HMAC-SHA256(secret, S).
    #[default]
    HmacSha256,
}

impl SignMethod {
    /// The value of the `sign_method` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Hmac => "hmac",
            Self::HmacSha256 => "hmac-sha256",
        }
    }
}

impl fmt::Display for SignMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignMethod {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md5" => Ok(Self::Md5),
            "hmac" => Ok(Self::Hmac),
            "hmac-sha256" => Ok(Self::HmacSha256),
            _ => Err(ConfigError::Invalid {
                name: "sign_method",
                reason: format!("unknown TOP sign method {s:?}: expected md5, hmac or hmac-sha256"),
            }),
        }
    }
}

/// The string TOP signs: the parameters sorted by name and concatenated as `k1v1k2v2…`.
///
/// Parameters with an empty name or value are skipped, as is `sign` itself, so the parameters
/// of a received request can be passed as they are. Names sort by bytes (they are ASCII).
pub fn string_to_sign<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| !k.is_empty() && !v.is_empty() && *k != "sign")
        .collect();
    // Stable, so repeated names keep their order.
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut s = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len()).sum());
    for (k, v) in pairs {
        s.push_str(k);
        s.push_str(v);
    }
    s
}

/// Signs TOP request parameters: the `sign` value, upper-case hex.
///
/// See [`string_to_sign`] for which parameters count and in which order, and [`SignMethod`]
/// for the digest. Include `sign_method` (and every other public parameter) in `params`: TOP
/// signs them too.
pub fn sign<'a>(
    method: SignMethod,
    secret: &AppSecret,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let s = string_to_sign(params);
    let secret = secret.expose().as_bytes();
    match method {
        SignMethod::Md5 => {
            let mut md5 = Md5::new();
            md5.update(secret);
            md5.update(s.as_bytes());
            md5.update(secret);
            upper_hex(&md5.finalize())
        }
        SignMethod::Hmac => upper_hex(&hmac_digest::<Hmac<Md5>>(secret, s.as_bytes())),
        SignMethod::HmacSha256 => upper_hex(&hmac_digest::<Hmac<Sha256>>(secret, s.as_bytes())),
    }
}

fn hmac_digest<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// TOP's time zone: the gateway reads `timestamp` as GMT+8, whatever the caller's zone.
pub const GMT8: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+08:00 is a valid offset"),
};

/// The `timestamp` parameter for the instant `at`: `yyyy-MM-dd HH:mm:ss` in GMT+8.
pub fn timestamp(at: OffsetDateTime) -> String {
    let t = at.to_offset(GMT8);
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

/// Reads a `timestamp` parameter (`yyyy-MM-dd HH:mm:ss`, GMT+8) back into an instant; `None`
/// when it is not of that shape. The fake TOP router checks a request's age with it.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.splitn(3, '-');
    let mut t = time.splitn(3, ':');
    let number = |part: Option<&str>, len: usize| -> Option<u32> {
        let part = part?;
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let year = i32::try_from(number(d.next(), 4)?).ok()?;
    let month = Month::try_from(u8::try_from(number(d.next(), 2)?).ok()?).ok()?;
    let day = u8::try_from(number(d.next(), 2)?).ok()?;
    let hour = u8::try_from(number(t.next(), 2)?).ok()?;
    let minute = u8::try_from(number(t.next(), 2)?).ok()?;
    let second = u8::try_from(number(t.next(), 2)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(GMT8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::AppSecret;

    // ---- independent digests: the RustCrypto primitives used directly ----

    fn upper_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    fn md5_sign(secret: &str, s: &str) -> String {
        use md5::{Digest, Md5};
        upper_hex(&Md5::digest(format!("{secret}{s}{secret}").as_bytes()))
    }

    fn hmac_md5(secret: &str, s: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<md5::Md5>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(s.as_bytes());
        upper_hex(&mac.finalize().into_bytes())
    }

    fn hmac_sha256(secret: &str, s: &[u8]) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(s);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn top_signatures_match_digests_computed_independently() {
        let secret = "helloworld";
        for method in [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256] {
            let params = [
                ("method", "alibaba.dc.uc.inner.user.by.account.get"),
                ("app_key", "12345678"),
                ("timestamp", "2024-01-02 03:04:05"),
                ("format", "json"),
                ("v", "2.0"),
                ("sign_method", method.as_str()),
                ("account_id", "01234"),
                ("org_code", ""),
            ];
            // Sorted by name, `k1v1k2v2…`, the empty `org_code` left out — written out by hand.
            let s = format!(
                "account_id01234app_key12345678formatjsonmethodalibaba.dc.uc.inner.user.by.account.get\
                 sign_method{}timestamp2024-01-02 03:04:05v2.0",
                method.as_str()
            );
            assert_eq!(string_to_sign(params), s);
            let expected = match method {
                SignMethod::Md5 => md5_sign(secret, &s),
                SignMethod::Hmac => hmac_md5(secret, &s),
                SignMethod::HmacSha256 => upper_hex(&hmac_sha256(secret, s.as_bytes())),
            };
            assert_eq!(
                sign(method, &AppSecret::new(secret), params),
                expected,
                "{method}"
            );
        }
    }

    #[test]
    fn top_signatures_match_known_answers() {
        // Computed with Python's hashlib/hmac (and `openssl dgst -sha256 -hmac helloworld` for the
        // last) over the same parameters as above.
        let params = |m: &'static str| {
            [
                ("method", "alibaba.dc.uc.inner.user.by.account.get"),
                ("app_key", "12345678"),
                ("timestamp", "2024-01-02 03:04:05"),
                ("format", "json"),
                ("v", "2.0"),
                ("sign_method", m),
                ("account_id", "01234"),
                ("org_code", ""),
            ]
        };
        let secret = AppSecret::new("helloworld");
        assert_eq!(
            sign(SignMethod::Md5, &secret, params("md5")),
            "6350898C2FB6A9EBC5A4C2517BC069D2"
        );
        assert_eq!(
            sign(SignMethod::Hmac, &secret, params("hmac")),
            "8A75F4C734A31E24255F0B5120CFD515"
        );
        assert_eq!(
            sign(SignMethod::HmacSha256, &secret, params("hmac-sha256")),
            "6FA29D3A6CAB05DA282217F3F66CF08ABC5420E12F06A46F76555BC9AA9BDD86"
        );
    }

    #[test]
    fn timestamps_are_gmt8_whatever_the_offset_of_the_instant() {
        let utc = OffsetDateTime::from_unix_timestamp(1_704_164_645).unwrap();
        let elsewhere = utc.to_offset(UtcOffset::from_hms(-5, 0, 0).unwrap());
        assert_eq!(timestamp(utc), "2024-01-02 11:04:05");
        assert_eq!(timestamp(elsewhere), "2024-01-02 11:04:05");
        for bad in [
            "",
            "2024-01-02",
            "2024-13-02 11:04:05",
            "2024-1-02 11:04:05",
            "x y",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn sign_methods_round_trip_through_their_names() {
        for m in [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256] {
            assert_eq!(m.as_str().parse::<SignMethod>().unwrap(), m);
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(" Hmac ".parse::<SignMethod>().unwrap(), SignMethod::Hmac);
        let err = "sha1".parse::<SignMethod>().unwrap_err();
        assert!(err.to_string().contains("md5, hmac or hmac-sha256"));
    }
}
