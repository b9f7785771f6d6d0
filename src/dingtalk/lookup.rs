//! A user's current admin level and name, read live from DingTalk rather than from a login
//! code: what a session refresh re-checks and what a browser login (which has no
//! `getuserinfo`) asks.
//!
//! 1. `POST /topapi/user/listadmin` lists the super admins (1) and sub admins (2). The list is
//!    the same for every user, so it is cached, at most [`ADMIN_LIST_MAX_AGE`] old, one fetch
//!    in flight ([`ExpiringCache`]): many lookups cost one `listadmin` per minute.
//! 2. `POST /topapi/v2/user/get` for the user: `name`, and `boss` (level 100) for a user the
//!    list does not name. 60121 means DingTalk no longer knows the user.
//!
//! A failure of either call fails the lookup; it never falls back to level 0.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_with::{serde_as, DisplayFromStr, PickFirst};

use crate::cache::{Expiring, ExpiringCache};
use crate::dingtalk::wire::list_or_json_string;
use crate::guard::SysLevel;

/// How old the cached admin list may be.
pub(crate) const ADMIN_LIST_MAX_AGE: Duration = Duration::from_secs(60);

/// The admin list: `userid` → 1 or 2.
pub(crate) type AdminList = Arc<HashMap<String, SysLevel>>;

/// The cache of the admin list, shared by every clone of the client.
pub(crate) type AdminCache = ExpiringCache<AdminList>;

/// What DingTalk says about a user now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveUser {
    /// The user asked about.
    pub(crate) userid: String,
    /// `result.name` of `user/get`; `None` when DingTalk sent none (or an empty one), so the
    /// caller can fall back to another name (a browser login's nick).
    pub(crate) name: Option<String>,
    /// 1 or 2 from the admin list; otherwise 100 for the boss, else 0.
    pub(crate) sys_level: SysLevel,
}

#[serde_as]
#[derive(Deserialize)]
struct AdminEntry {
    userid: String,
    #[serde_as(as = "PickFirst<(_, DisplayFromStr)>")]
    sys_level: SysLevel,
}

#[derive(Deserialize)]
struct ListAdminAnswer {
    #[serde(default, deserialize_with = "list_or_json_string")]
    result: Vec<AdminEntry>,
}

/// `listadmin`'s answer as the cached list, good for [`ADMIN_LIST_MAX_AGE`].
pub(crate) fn admin_list(
    value: &serde_json::Value,
) -> Result<Expiring<AdminList>, serde_json::Error> {
    let answer = ListAdminAnswer::deserialize(value)?;
    let list = answer
        .result
        .into_iter()
        .map(|a| (a.userid, a.sys_level))
        .collect();
    Ok(Expiring::without_refresh_ahead(
        Arc::new(list),
        ADMIN_LIST_MAX_AGE,
    ))
}

/// `user/get`'s `result`, the fields a lookup reads.
#[serde_as]
#[derive(Deserialize)]
pub(crate) struct UserGetResult {
    #[serde(default)]
    name: Option<String>,
    #[serde_as(as = "Option<PickFirst<(_, DisplayFromStr)>>")]
    #[serde(default)]
    boss: Option<bool>,
}

/// The live user from the admin list and `user/get`'s answer.
pub(crate) fn live_user(userid: &str, admins: &AdminList, user: UserGetResult) -> LiveUser {
    let sys_level = match admins.get(userid) {
        Some(level) => *level,
        None if user.boss == Some(true) => SysLevel::Boss,
        None => SysLevel::Other,
    };
    LiveUser {
        userid: userid.to_owned(),
        name: user.name.filter(|n| !n.trim().is_empty()),
        sys_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_admin_list_reads_numbers_as_strings_and_encoded_lists() {
        let a = admin_list(&json!({"result": [{"userid": "a", "sys_level": 1}]})).unwrap();
        let b = admin_list(&json!({"result": "[{\"userid\":\"a\",\"sys_level\":\"2\"}]"})).unwrap();
        assert_eq!(a.value.get("a"), Some(&SysLevel::SuperAdmin));
        assert_eq!(b.value.get("a"), Some(&SysLevel::SubAdmin));
        assert!(!a.refresh_ahead);
        assert!(admin_list(&json!({"result": [{"userid": "a"}]})).is_err());
    }

    #[test]
    fn the_list_wins_then_boss_then_other() {
        let admins: AdminList = Arc::new(HashMap::from([("a".into(), SysLevel::SubAdmin)]));
        let get = |v| UserGetResult::deserialize(v).unwrap();
        let listed = live_user("a", &admins, get(json!({"name": "Li", "boss": true})));
        assert_eq!(listed.sys_level, SysLevel::SubAdmin);
        let boss = live_user("b", &admins, get(json!({"name": "Wang", "boss": "true"})));
        assert_eq!(boss.sys_level, SysLevel::Boss);
        let other = live_user("c", &admins, get(json!({"name": " "})));
        assert_eq!(other.sys_level, SysLevel::Other);
        assert_eq!(other.name, None);
    }
}

/// The lookup against the fake DingTalk over loopback: the real client, cache and transport.
#[cfg(all(test, feature = "testing"))]
mod against_the_fake {
    use std::time::Duration;

    use crate::clock::ManualClock;
    use crate::dingtalk::RetryPolicy;
    use crate::error::{Error, Unavailable};
    use crate::guard::SysLevel;
    use crate::testing::{Endpoint, Failure, FakeDingTalk, FakeUser, Quirks};
    use crate::DingTalkLogin;

    async fn org() -> (FakeDingTalk, DingTalkLogin, ManualClock) {
        let clock = ManualClock::starting_now();
        let fake = FakeDingTalk::builder()
            .user(FakeUser::new("root", "Zhang San").super_admin())
            .user(FakeUser::new("sub", "Li Si").sub_admin())
            .user(FakeUser::new("boss", "Wang Wu").boss())
            .user(FakeUser::new("staff", "Zhao Liu"))
            .start()
            .await;
        let login = DingTalkLogin::builder()
            .app_key(fake.app_key())
            .app_secret(fake.app_secret())
            .oapi_url(fake.url())
            .session_secret("a session key of at least 32 bytes!")
            .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(5)))
            .clock(clock.clone())
            .build()
            .unwrap();
        (fake, login, clock)
    }

    #[tokio::test]
    async fn admins_come_from_the_list_the_boss_and_the_name_from_user_get() {
        let (_fake, login, _) = org().await;
        let cases = [
            ("root", "Zhang San", SysLevel::SuperAdmin),
            ("sub", "Li Si", SysLevel::SubAdmin),
            ("boss", "Wang Wu", SysLevel::Boss),
            ("staff", "Zhao Liu", SysLevel::Other),
        ];
        for (userid, name, level) in cases {
            let user = login.lookup_user(userid).await.unwrap();
            assert_eq!(user.userid, userid);
            assert_eq!(user.name.as_deref(), Some(name));
            assert_eq!(user.sys_level, level, "{userid}");
        }
    }

    #[tokio::test]
    async fn listadmin_is_asked_at_most_once_per_minute_across_many_lookups() {
        let (fake, login, clock) = org().await;
        let lookups: Vec<_> = (0..50)
            .map(|i| {
                let login = login.clone();
                let userid = ["root", "sub", "boss", "staff"][i % 4];
                tokio::spawn(async move { login.lookup_user(userid).await })
            })
            .collect();
        for lookup in lookups {
            lookup.await.unwrap().unwrap();
        }
        assert_eq!(fake.calls(Endpoint::ListAdmin), 1, "one call in flight");
        assert_eq!(fake.calls(Endpoint::UserGet), 50, "user/get is per user");

        clock.advance(Duration::from_secs(59));
        login.lookup_user("staff").await.unwrap();
        assert_eq!(
            fake.calls(Endpoint::ListAdmin),
            1,
            "59 s later: still cached"
        );
        clock.advance(Duration::from_secs(1));
        login.lookup_user("staff").await.unwrap();
        login.lookup_user("root").await.unwrap();
        assert_eq!(
            fake.calls(Endpoint::ListAdmin),
            2,
            "60 s later: asked again, once"
        );
    }

    #[tokio::test]
    async fn a_level_change_shows_once_the_list_is_a_minute_old() {
        let (fake, login, clock) = org().await;
        assert_eq!(
            login.lookup_user("staff").await.unwrap().sys_level,
            SysLevel::Other
        );
        fake.set_level("staff", 2);
        fake.set_level("root", 0);
        fake.set_level("sub", 100);
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            login.lookup_user("staff").await.unwrap().sys_level,
            SysLevel::SubAdmin
        );
        assert_eq!(
            login.lookup_user("root").await.unwrap().sys_level,
            SysLevel::Other
        );
        assert_eq!(
            login.lookup_user("sub").await.unwrap().sys_level,
            SysLevel::Boss
        );
    }

    #[tokio::test]
    async fn an_unknown_or_removed_user_is_user_not_found() {
        let (fake, login, _) = org().await;
        assert!(matches!(
            login.lookup_user("ghost").await,
            Err(Error::UserNotFound(_))
        ));
        assert!(fake.remove_user("root"));
        // Still in the cached admin list, but DingTalk no longer knows them.
        let e = login.lookup_user("root").await.unwrap_err();
        assert!(
            matches!(&e, Error::UserNotFound(d) if d.errcode == Some(60121) && d.api == "user_get"),
            "{e:?}"
        );

        let calls = fake.total_calls();
        assert!(matches!(
            login.lookup_user("").await,
            Err(Error::UserNotFound(_))
        ));
        assert_eq!(fake.total_calls(), calls, "an empty userid is not asked");
    }

    #[tokio::test]
    async fn transient_failures_fail_the_lookup_never_level_zero() {
        let (fake, login, clock) = org().await;
        fake.fail_next(Endpoint::ListAdmin, usize::MAX, Failure::Busy);
        let e = login.lookup_user("root").await.unwrap_err();
        assert!(
            matches!(&e, Error::UpstreamUnavailable { reason: Unavailable::Busy, detail, .. } if detail.api == "listadmin"),
            "{e:?}"
        );
        assert_eq!(e.status(), 503);
        fake.clear_failures();
        // The failure is remembered for a second only.
        tokio::time::sleep(crate::cache::FAILURE_MEMORY).await;
        assert_eq!(
            login.lookup_user("root").await.unwrap().sys_level,
            SysLevel::SuperAdmin
        );

        fake.fail_next(Endpoint::UserGet, usize::MAX, Failure::ServerError);
        let e = login.lookup_user("root").await.unwrap_err();
        assert!(
            matches!(&e, Error::UpstreamUnavailable { detail, .. } if detail.api == "user_get"),
            "{e:?}"
        );
        fake.clear_failures();

        fake.fail_next(Endpoint::UserGet, 1, Failure::Errcode(60011));
        let e = login.lookup_user("staff").await.unwrap_err();
        assert!(
            matches!(&e, Error::UpstreamError(d) if d.errcode == Some(60011)),
            "{e:?}"
        );
        assert_eq!(e.status(), 502);

        clock.advance(Duration::from_secs(60));
        fake.fail_next(Endpoint::ListAdmin, 1, Failure::Busy);
        assert_eq!(
            login.lookup_user("sub").await.unwrap().sys_level,
            SysLevel::SubAdmin,
            "busy once is retried"
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_refetched_and_quirky_json_is_read() {
        let (fake, login, _) = org().await;
        login.lookup_user("staff").await.unwrap();
        fake.invalidate_token();
        fake.set_quirks(Quirks {
            numbers_as_strings: true,
            lists_as_strings: true,
        });
        let user = login.lookup_user("sub").await.unwrap();
        assert_eq!(user.sys_level, SysLevel::SubAdmin);
        assert_eq!(fake.calls(Endpoint::GetToken), 2);
    }

    #[tokio::test]
    async fn quirky_admin_lists_are_read() {
        let (fake, login, _) = org().await;
        fake.set_quirks(Quirks {
            numbers_as_strings: true,
            lists_as_strings: true,
        });
        assert_eq!(
            login.lookup_user("root").await.unwrap().sys_level,
            SysLevel::SuperAdmin
        );
    }
}
