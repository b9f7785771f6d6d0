//! The logged-in user as the adapters hand it to handlers: the same types for axum and
//! actix-web, each adapter implementing its framework's extractor trait for them.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use crate::guard::Policy;
use crate::session::Claims;

/// The claims of a valid session. Dereferences to [`Claims`].
///
/// As an extractor (axum and actix-web alike) it answers 401 `unauthenticated` without a valid session.
///
/// ```
/// use std::sync::Arc;
/// use dingtalk_login::CurrentUser;
/// # let claims: dingtalk_login::session::Claims = serde_json::from_str(
/// #     r#"{"sub":"u1","name":"Li","sys_level":2,"iat":1,"exp":2,"jti":"j"}"#).unwrap();
///
/// let user = CurrentUser(Arc::new(claims));
/// assert_eq!(user.userid(), "u1");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentUser(pub Arc<Claims>);

impl CurrentUser {
    /// The claims.
    pub fn into_claims(self) -> Claims {
        Arc::unwrap_or_clone(self.0)
    }
}

impl Deref for CurrentUser {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// A user with `sys_level` 1 or 2 (super or sub admin); as an extractor, 403 `forbidden` for
/// anyone else, including the boss (100).
#[derive(Debug, Clone, PartialEq)]
pub struct RequireAdmin(pub CurrentUser);

/// A user with `sys_level` 1 (the super admin); as an extractor, 403 `forbidden` for anyone
/// else.
#[derive(Debug, Clone, PartialEq)]
pub struct RequireSuperAdmin(pub CurrentUser);

/// A user passing the policy `P`; as an extractor, 403 `forbidden` for anyone else.
pub struct RequirePolicy<P> {
    /// The user who passed.
    pub user: CurrentUser,
    _policy: PhantomData<fn() -> P>,
}

impl<P: Policy> RequirePolicy<P> {
    /// Wraps a user the adapters already checked against `P`.
    #[allow(dead_code)]
    pub(crate) fn new(user: CurrentUser) -> Self {
        Self {
            user,
            _policy: PhantomData,
        }
    }
}

impl<P> RequirePolicy<P> {
    /// The user who passed.
    pub fn into_user(self) -> CurrentUser {
        self.user
    }
}

impl<P> Deref for RequirePolicy<P> {
    type Target = CurrentUser;

    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

impl<P> Clone for RequirePolicy<P> {
    fn clone(&self) -> Self {
        Self {
            user: self.user.clone(),
            _policy: PhantomData,
        }
    }
}

impl<P> fmt::Debug for RequirePolicy<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequirePolicy")
            .field("policy", &std::any::type_name::<P>())
            .field("user", &self.user)
            .finish()
    }
}
