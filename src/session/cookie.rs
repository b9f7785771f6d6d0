//! The session cookie's settings: name, `Secure`, `SameSite`, `Path` and `Domain`.

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level navigations (the default).
    #[default]
    Lax,
    /// Sent everywhere; browsers require `Secure` with it.
    None,
}

/// How the session cookie is set (from the builder's `cookie_*` settings). Always `HttpOnly`:
/// scripts never see the session. Defaults: `dingtalk_session`, Secure, SameSite=Lax, `Path=/`,
/// host-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// Cookie name. Default `dingtalk_session`.
    pub name: String,
    /// `Secure` attribute. Default on; turn off only for plain-http development.
    pub secure: bool,
    /// `SameSite` attribute. Default `Lax`.
    pub same_site: SameSite,
    /// `Path`. Default `/`.
    pub path: String,
    /// `Domain`. Default none (host-only).
    pub domain: Option<String>,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: "dingtalk_session".into(),
            secure: true,
            same_site: SameSite::Lax,
            path: "/".into(),
            domain: None,
        }
    }
}
