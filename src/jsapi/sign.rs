//! The `dd.config` signature and the page-URL normalisation it is computed over.

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The digest a JSAPI signature uses.
///
/// DingTalk's current documentation signs with SHA-256; its older documentation and demo use
/// SHA-1. Both are `hex_lower(digest("jsapi_ticket=..&noncestr=..&timestamp=..&url=.."))`.
///
/// ```
/// use dingtalk_login::jsapi::JsapiSignMethod;
///
/// assert_eq!(JsapiSignMethod::default(), JsapiSignMethod::Sha256);
/// assert_eq!("sha1".parse::<JsapiSignMethod>(), Ok(JsapiSignMethod::Sha1));
/// assert!("md5".parse::<JsapiSignMethod>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsapiSignMethod {
    /// SHA-256 (the default; DingTalk's current documentation).
    #[default]
    Sha256,
    /// SHA-1 (DingTalk's older documentation and demo).
    Sha1,
}

impl std::str::FromStr for JsapiSignMethod {
    type Err = String;

    /// `sha256` or `sha1`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sha256" | "sha-256" => Ok(Self::Sha256),
            "sha1" | "sha-1" => Ok(Self::Sha1),
            other => Err(format!("unknown JSAPI sign method {other:?}")),
        }
    }
}

/// The URL a signature is computed over: `url` without its `#fragment`, its query
/// percent-decoded with `+` as a space, and scheme, authority and path exactly as given.
///
/// The DingTalk client on iOS passes the page URL encoded and on Android raw; decoding the
/// query makes both sign the same string (the official Java demo's `decodeUrl`).
pub(crate) fn normalize_url(url: &str) -> String {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query = query.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&query).decode_utf8_lossy();
    format!("{base}?{decoded}")
}

/// `hex_lower(digest("jsapi_ticket=" + ticket + "&noncestr=" + nonce + "&timestamp=" +
/// timestamp + "&url=" + url))`, with `url` taken as it is (normalise it first).
pub(crate) fn sign(
    method: JsapiSignMethod,
    ticket: &str,
    nonce: &str,
    timestamp: &str,
    url: &str,
) -> String {
    let plain = format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}");
    match method {
        JsapiSignMethod::Sha256 => format!("{:x}", Sha256::digest(plain.as_bytes())),
        JsapiSignMethod::Sha1 => format!("{:x}", Sha1::digest(plain.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check vector of DingTalk's official demo (SHA-1).
    #[test]
    fn the_official_sha1_vector() {
        let ticket = "zHoQdGJuH0ZDebwo7sLqLzHGUueLmkWCC4RycYgkuvDu3eoROgN5qhwnQLgfzwEXtuR9SDzh6BdhyVngzAjrxV";
        let url = normalize_url("http://10.62.53.138:3000/jsapi");
        assert_eq!(
            sign(
                JsapiSignMethod::Sha1,
                ticket,
                "abcdefgh",
                "1437027269927",
                &url
            ),
            "810e6657e9f411e6491b3e97dfaf7660e89eb874"
        );
    }

    #[test]
    fn sha256_is_lower_hex_of_the_same_string() {
        let s = sign(JsapiSignMethod::Sha256, "t", "n", "1", "http://a/");
        assert_eq!(s.len(), 64);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(
            s,
            format!(
                "{:x}",
                Sha256::digest(b"jsapi_ticket=t&noncestr=n&timestamp=1&url=http://a/")
            )
        );
    }

    #[test]
    fn normalisation_drops_the_fragment_and_decodes_the_query_only() {
        assert_eq!(
            normalize_url(
                "https://app.test:8443/a%20b/p?q=%E4%BD%A0%E5%A5%BD+x&r=1%262#/route?x=1"
            ),
            "https://app.test:8443/a%20b/p?q=你好 x&r=1&2"
        );
        assert_eq!(normalize_url("http://h/p#frag"), "http://h/p");
        assert_eq!(normalize_url("http://h/p"), "http://h/p");
        assert_eq!(normalize_url("http://h/p?"), "http://h/p?");
        assert_eq!(normalize_url("HTTP://H:80/P?a=%zz"), "HTTP://H:80/P?a=%zz");
    }
}
