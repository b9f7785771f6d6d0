//! The people in the fake organisation.

/// A member of the fake DingTalk organisation.
///
/// The fields are what DingTalk's user endpoints report about a person: `getuserinfo` answers
/// with `userid`, `unionid`, `associated_unionid`, `name`, `device_id`, `sys` and `sys_level`
/// (leaving out the optional ones that are `None`), and `getbymobile` finds a user by `mobile`
/// and reports `userid` and `exclusive_account_userid_list`.
///
/// Build one with [`FakeUser::new`] and the chained setters, or set the public fields directly:
///
/// ```
/// use dingtalk_login::testing::FakeUser;
///
/// let admin = FakeUser::new("u-1", "Zhang San").super_admin().mobile("13800000000");
/// assert!(admin.sys);
/// assert_eq!(admin.sys_level, 1);
/// assert_eq!(admin.unionid.as_deref(), Some("union-u-1"));
///
/// let mut staff = FakeUser::new("u-2", "Li Si");
/// staff.device_id = Some("device-2".to_owned());
/// assert_eq!(staff.sys_level, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// The user's id inside the organisation (`userid`); unique, it is the key the fake stores
    /// users under.
    pub userid: String,
    /// The user's `unionid`, the same across the organisations they belong to.
    pub unionid: Option<String>,
    /// The `associated_unionid` DingTalk reports for some users.
    pub associated_unionid: Option<String>,
    /// The user's display name.
    pub name: String,
    /// The `device_id` of the device the user logged in from.
    pub device_id: Option<String>,
    /// Whether the user is an administrator.
    pub sys: bool,
    /// The admin level: 1 super admin, 2 sub admin, 100 boss, 0 everyone else.
    pub sys_level: i64,
    /// The mobile number `getbymobile` finds this user by; compared as an exact string.
    pub mobile: Option<String>,
    /// The enterprise ("exclusive") accounts `getbymobile` lists for this user when asked with
    /// `support_exclusive_account_search`.
    pub exclusive_account_userid_list: Vec<String>,
}

impl FakeUser {
    /// A regular employee: `sys` false, `sys_level` 0, `unionid` `union-{userid}`, no
    /// `associated_unionid`, `device_id` or mobile, and no exclusive accounts.
    pub fn new(userid: impl Into<String>, name: impl Into<String>) -> Self {
        let userid = userid.into();
        Self {
            unionid: Some(format!("union-{userid}")),
            userid,
            associated_unionid: None,
            name: name.into(),
            device_id: None,
            sys: false,
            sys_level: 0,
            mobile: None,
            exclusive_account_userid_list: Vec::new(),
        }
    }

    /// Makes the user a super admin: `sys` true, `sys_level` 1.
    pub fn super_admin(self) -> Self {
        self.level(true, 1)
    }

    /// Makes the user a sub admin: `sys` true, `sys_level` 2.
    pub fn sub_admin(self) -> Self {
        self.level(true, 2)
    }

    /// Makes the user the boss: `sys` false, `sys_level` 100 (DingTalk does not count the boss
    /// as an admin).
    pub fn boss(self) -> Self {
        self.level(false, 100)
    }

    /// Sets the mobile number `getbymobile` finds the user by.
    pub fn mobile(mut self, mobile: impl Into<String>) -> Self {
        self.mobile = Some(mobile.into());
        self
    }

    /// Removes the `unionid`, as for users DingTalk reports without one.
    pub fn without_unionid(mut self) -> Self {
        self.unionid = None;
        self
    }

    /// Sets the enterprise accounts `getbymobile` lists for this user.
    pub fn exclusive_accounts(mut self, userids: Vec<String>) -> Self {
        self.exclusive_account_userid_list = userids;
        self
    }

    fn level(mut self, sys: bool, sys_level: i64) -> Self {
        self.sys = sys;
        self.sys_level = sys_level;
        self
    }
}
