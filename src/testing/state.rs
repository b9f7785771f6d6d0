//! What the fake DingTalk remembers: the app's credentials, its users, the access tokens it has
//! handed out and the login codes it has minted, the TOP accounts, employees and ISV suite of
//! the other services it imitates, plus the test's knobs (injected failures, quirks) and the
//! call counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;

use super::employee::FakeEmployees;
use super::endpoint::Endpoint;
use super::failure::{Failure, FailurePlan};
use super::isv::FakeSuite;
use super::quirks::Quirks;
use super::top::FakeTop;
use super::users::FakeUser;
use super::weblogin::FakeWeb;
use crate::clock::Clock;

/// How long a login code can be redeemed after it was minted ("valid for 5 minutes").
const CODE_LIFETIME: time::Duration = time::Duration::minutes(5);

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenRejection {
    /// Missing, never issued, or invalidated: errcode 40014.
    Invalid,
    /// Outlived its lifetime, or expired by the test: errcode 42001.
    Expired,
}

#[derive(Debug)]
pub(super) struct State {
    app_key: String,
    app_secret: String,
    token_ttl: Duration,
    clock: Arc<dyn Clock>,
    users: BTreeMap<String, FakeUser>,
    /// The token `gettoken` hands out while it lives.
    token: Option<LiveToken>,
    /// The JSAPI ticket handed out last, while it lives; each fetch replaces it.
    jsapi_ticket: Option<LiveToken>,
    jsapi_ticket_ttl: Duration,
    /// Tokens that were replaced, and how callers still holding them are answered.
    retired: HashMap<String, TokenRejection>,
    codes: HashMap<String, IssuedCode>,
    failures: FailurePlan,
    quirks: Quirks,
    calls: HashMap<Endpoint, usize>,
    total_calls: usize,
    /// The TOP router's app and accounts.
    pub(super) top: FakeTop,
    /// The employee-info service's organisation and employees.
    pub(super) employees: FakeEmployees,
    /// The ISV suite `get_corp_token` checks against.
    pub(super) suite: FakeSuite,
    /// Web logins: authCodes, user tokens, external contacts and outsiders.
    pub(super) web: FakeWeb,
}

/// What the fake serves besides DingTalk's own login endpoints.
#[derive(Debug)]
pub(super) struct Directory {
    pub(super) top: FakeTop,
    pub(super) employees: FakeEmployees,
    pub(super) suite: FakeSuite,
}

#[derive(Debug)]
struct LiveToken {
    value: String,
    expires_at: OffsetDateTime,
}

#[derive(Debug)]
struct IssuedCode {
    userid: String,
    minted_at: OffsetDateTime,
    used: bool,
}

impl State {
    pub(super) fn new(
        app_key: String,
        app_secret: String,
        token_ttl: Duration,
        clock: Arc<dyn Clock>,
        users: impl IntoIterator<Item = FakeUser>,
        directory: Directory,
    ) -> Self {
        Self {
            app_key,
            app_secret,
            token_ttl,
            clock,
            users: users.into_iter().map(|u| (u.userid.clone(), u)).collect(),
            token: None,
            jsapi_ticket: None,
            jsapi_ticket_ttl: token_ttl,
            retired: HashMap::new(),
            codes: HashMap::new(),
            failures: FailurePlan::default(),
            quirks: Quirks::default(),
            calls: HashMap::new(),
            total_calls: 0,
            top: directory.top,
            employees: directory.employees,
            suite: directory.suite,
            web: FakeWeb::default(),
        }
    }

    /// The current time by the fake's clock.
    pub(super) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    // ---- credentials and users ----

    pub(super) fn credentials_match(
        &self,
        app_key: Option<&str>,
        app_secret: Option<&str>,
    ) -> bool {
        app_key == Some(self.app_key.as_str()) && app_secret == Some(self.app_secret.as_str())
    }

    /// Whether `app_key` is the app's key (the login page's `client_id`).
    pub(super) fn credentials_client(&self, app_key: Option<&str>) -> bool {
        app_key == Some(self.app_key.as_str())
    }

    /// Every employee, by `userid`.
    pub(super) fn users(&self) -> impl Iterator<Item = &FakeUser> {
        self.users.values()
    }

    /// Adds a user, replacing any user with the same `userid`.
    pub(super) fn add_user(&mut self, user: FakeUser) {
        self.users.insert(user.userid.clone(), user);
    }

    /// Removes the user, as when an employee leaves: `user/get` answers 60121 for them, they
    /// leave the admin list, and their unredeemed codes stop working. `true` if they existed.
    pub(super) fn remove_user(&mut self, userid: &str) -> bool {
        self.users.remove(userid).is_some()
    }

    /// Changes a user's admin level (`sys` follows: true for 1 and 2), or `false` if there is
    /// no such user.
    pub(super) fn set_level(&mut self, userid: &str, sys_level: i64) -> bool {
        let Some(user) = self.users.get_mut(userid) else {
            return false;
        };
        user.sys_level = sys_level;
        user.sys = matches!(sys_level, 1 | 2);
        true
    }

    pub(super) fn user(&self, userid: &str) -> Option<&FakeUser> {
        self.users.get(userid)
    }

    /// The super admins (1) and sub admins (2), in `userid` order.
    pub(super) fn admins(&self) -> impl Iterator<Item = &FakeUser> {
        self.users.values().filter(|u| matches!(u.sys_level, 1 | 2))
    }

    pub(super) fn user_by_mobile(&self, mobile: &str) -> Option<&FakeUser> {
        self.users
            .values()
            .find(|u| u.mobile.as_deref() == Some(mobile))
    }

    // ---- access tokens ----

    /// What `gettoken` answers: the live token, or a new one when there is none. Like
    /// DingTalk, asking again within the token's life returns the same token and renews it.
    /// Returns the token and its `expires_in` in seconds.
    pub(super) fn issue_token(&mut self) -> (String, u64) {
        let now = self.clock.now();
        let expires_at = now + self.token_ttl;
        let expires_in = self.token_ttl.as_secs();
        if let Some(live) = self.token.as_mut().filter(|t| now < t.expires_at) {
            live.expires_at = expires_at;
            return (live.value.clone(), expires_in);
        }
        self.retire_token(TokenRejection::Expired);
        let value = random_string(HEX, 32);
        self.token = Some(LiveToken {
            value: value.clone(),
            expires_at,
        });
        (value, expires_in)
    }

    /// The token `gettoken` would hand out now, if one is alive.
    pub(super) fn current_token(&self) -> Option<String> {
        let now = self.clock.now();
        self.token
            .as_ref()
            .filter(|t| now < t.expires_at)
            .map(|t| t.value.clone())
    }

    /// Retires the live token (if any): callers still holding it get `how`.
    pub(super) fn retire_token(&mut self, how: TokenRejection) {
        if let Some(old) = self.token.take() {
            self.retired.insert(old.value, how);
        }
    }

    pub(super) fn check_token(&self, token: Option<&str>) -> Result<(), TokenRejection> {
        let token = token.ok_or(TokenRejection::Invalid)?;
        match &self.token {
            Some(live) if live.value == token => {
                if self.clock.now() < live.expires_at {
                    Ok(())
                } else {
                    Err(TokenRejection::Expired)
                }
            }
            _ => Err(self
                .retired
                .get(token)
                .copied()
                .unwrap_or(TokenRejection::Invalid)),
        }
    }

    // ---- JSAPI tickets ----

    /// How long a JSAPI ticket lives. Default: the token's lifetime.
    pub(super) fn set_jsapi_ticket_ttl(&mut self, ttl: Duration) {
        self.jsapi_ticket_ttl = ttl;
    }

    /// A new JSAPI ticket, replacing the previous one (signatures made with the old one no
    /// longer match), and its `expires_in` in seconds.
    pub(super) fn issue_jsapi_ticket(&mut self) -> (String, u64) {
        let value = random_string(ALPHANUMERIC, 86);
        self.jsapi_ticket = Some(LiveToken {
            value: value.clone(),
            expires_at: self.clock.now() + self.jsapi_ticket_ttl,
        });
        (value, self.jsapi_ticket_ttl.as_secs())
    }

    /// The JSAPI ticket a page's signature must be made with now, if one lives.
    pub(super) fn current_jsapi_ticket(&self) -> Option<String> {
        let now = self.clock.now();
        self.jsapi_ticket
            .as_ref()
            .filter(|t| now < t.expires_at)
            .map(|t| t.value.clone())
    }

    /// Forgets the JSAPI ticket, as if it had expired.
    pub(super) fn expire_jsapi_ticket(&mut self) {
        self.jsapi_ticket = None;
    }

    // ---- login codes ----

    /// A fresh single-use code for `userid`, or `None` if there is no such user.
    pub(super) fn mint_code(&mut self, userid: &str) -> Option<String> {
        if !self.users.contains_key(userid) {
            return None;
        }
        let code = random_code();
        self.codes.insert(
            code.clone(),
            IssuedCode {
                userid: userid.to_owned(),
                minted_at: self.clock.now(),
                used: false,
            },
        );
        Some(code)
    }

    /// Uses up `code` and returns its user, or `None` if the code is unknown, already used, or
    /// older than five minutes.
    pub(super) fn redeem_code(&mut self, code: &str) -> Option<FakeUser> {
        let now = self.clock.now();
        let issued = self.codes.get_mut(code)?;
        if std::mem::replace(&mut issued.used, true) || now - issued.minted_at > CODE_LIFETIME {
            return None;
        }
        self.users.get(&issued.userid).cloned()
    }

    // ---- the test's knobs ----

    /// Counts a request (on `endpoint`, if it matched one) and returns the failure to inject
    /// into it, if one is planned.
    pub(super) fn record_call(&mut self, endpoint: Option<Endpoint>) -> Option<Failure> {
        self.total_calls += 1;
        let endpoint = endpoint?;
        *self.calls.entry(endpoint).or_default() += 1;
        self.failures.next(endpoint)
    }

    pub(super) fn calls(&self, endpoint: Endpoint) -> usize {
        self.calls.get(&endpoint).copied().unwrap_or(0)
    }

    pub(super) fn total_calls(&self) -> usize {
        self.total_calls
    }

    pub(super) fn failures_mut(&mut self) -> &mut FailurePlan {
        &mut self.failures
    }

    pub(super) fn quirks(&self) -> Quirks {
        self.quirks
    }

    pub(super) fn set_quirks(&mut self, quirks: Quirks) {
        self.quirks = quirks;
    }
}

const HEX: &[u8] = b"0123456789abcdef";
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A random login code or token: 32 characters of `[A-Za-z0-9]`.
pub(super) fn random_code() -> String {
    random_string(ALPHANUMERIC, 32)
}

/// A random `request_id` shaped like DingTalk's (`5w82ciuur781`).
pub(super) fn request_id() -> String {
    random_string(LOWER_ALPHANUMERIC, 12)
}

fn random_string(charset: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(charset[rng.random_range(0..charset.len())]))
        .collect()
}
