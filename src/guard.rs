//! `sys_level` and the policies that guard admin routes.
//!
//! DingTalk's `sys_level` is a *set* of roles, not a scale: 1 super admin, 2 sub admin,
//! 100 boss, 0 other. A boss (100) is not an admin, so a guard tests membership, never `>=`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A user's admin level as DingTalk reports it in `sys_level`.
///
/// Unknown numbers are kept as [`SysLevel::Unknown`] rather than refused, so a new level
/// DingTalk adds does not break logins; no policy matches them unless it names them.
///
/// ```
/// use dingtalk_login::guard::SysLevel;
/// assert_eq!(SysLevel::from(2), SysLevel::SubAdmin);
/// assert_eq!(SysLevel::from(7), SysLevel::Unknown(7));
/// assert_eq!(i64::from(SysLevel::Boss), 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SysLevel {
    /// 0: everyone else (e.g. a regular employee).
    #[default]
    Other,
    /// 1: the super admin (主管理员).
    SuperAdmin,
    /// 2: a sub admin (子管理员).
    SubAdmin,
    /// 100: the boss (老板).
    Boss,
    /// Any other number.
    Unknown(i64),
}

impl From<i64> for SysLevel {
    fn from(n: i64) -> Self {
        match n {
            0 => Self::Other,
            1 => Self::SuperAdmin,
            2 => Self::SubAdmin,
            100 => Self::Boss,
            n => Self::Unknown(n),
        }
    }
}

impl From<SysLevel> for i64 {
    fn from(level: SysLevel) -> Self {
        match level {
            SysLevel::Other => 0,
            SysLevel::SuperAdmin => 1,
            SysLevel::SubAdmin => 2,
            SysLevel::Boss => 100,
            SysLevel::Unknown(n) => n,
        }
    }
}

impl fmt::Display for SysLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", i64::from(*self))
    }
}

impl Serialize for SysLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(i64::from(*self))
    }
}

impl<'de> Deserialize<'de> for SysLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Self::from)
    }
}

/// Who may pass a guard: a set of [`SysLevel`]s, optionally "any user with `sys` true".
///
/// ```
/// use dingtalk_login::guard::{SysLevel, SysLevelPolicy};
///
/// let admin = SysLevelPolicy::admin();
/// assert!(admin.allows(SysLevel::SuperAdmin, true));
/// assert!(admin.allows(SysLevel::SubAdmin, true));
/// assert!(!admin.allows(SysLevel::Boss, false)); // 100 is not "more admin" than 2
/// assert!(!SysLevelPolicy::super_admin().allows(SysLevel::SubAdmin, true));
/// assert!(SysLevelPolicy::any_of([SysLevel::Boss]).allows(SysLevel::Boss, false));
/// assert!(SysLevelPolicy::sys().allows(SysLevel::Other, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysLevelPolicy {
    levels: Vec<SysLevel>,
    sys_flag: bool,
}

impl SysLevelPolicy {
    /// Super admins and sub admins: `sys_level` ∈ {1, 2}.
    pub fn admin() -> Self {
        Self::any_of([SysLevel::SuperAdmin, SysLevel::SubAdmin])
    }

    /// Super admins only: `sys_level` ∈ {1}.
    pub fn super_admin() -> Self {
        Self::any_of([SysLevel::SuperAdmin])
    }

    /// Any of the given levels.
    pub fn any_of(levels: impl IntoIterator<Item = SysLevel>) -> Self {
        Self {
            levels: levels.into_iter().collect(),
            sys_flag: false,
        }
    }

    /// Anyone whose `sys` flag (DingTalk's "is an admin") is true.
    pub fn sys() -> Self {
        Self {
            levels: Vec::new(),
            sys_flag: true,
        }
    }

    /// Whether a user with this level and `sys` flag passes.
    pub fn allows(&self, level: SysLevel, sys: bool) -> bool {
        (self.sys_flag && sys) || self.levels.contains(&level)
    }
}

/// A policy named by a type, for the `RequirePolicy<P>` extractors of the axum and actix
/// adapters.
///
/// ```
/// use dingtalk_login::guard::{Policy, SysLevel, SysLevelPolicy};
///
/// struct Bosses;
/// impl Policy for Bosses {
///     fn policy() -> SysLevelPolicy {
///         SysLevelPolicy::any_of([SysLevel::Boss])
///     }
/// }
/// assert!(Bosses::policy().allows(SysLevel::Boss, false));
/// ```
pub trait Policy: Send + Sync + 'static {
    /// The policy a user must pass.
    fn policy() -> SysLevelPolicy;
}
