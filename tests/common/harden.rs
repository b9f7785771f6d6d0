//! Contract cases for the hardening of the login against a hostile or flaky world: a wrong
//! app secret under load, oversized and redirecting upstream answers, clients that leave
//! mid-login. Run against both apps by `harden_contract_tests!(start)`.

use std::time::Duration;

use dingtalk_login::testing::{Endpoint, FakeDingTalk};

use super::{assert_error, post_code};

/// One `#[tokio::test]` per hardening case, against the app `$start` serves.
macro_rules! harden_contract_tests {
    ($start:path) => {
        harden_contract_tests!(@cases $start;
            a_wrong_secret_under_load_costs_a_handful_of_token_fetches { "DINGTALK_APP_SECRET" = "not-the-secret" },
        );
    };
    (@cases $start:path; $( $name:ident $( { $( $k:literal = $v:literal ),* } )? ),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let fake = common::fake().await;
                let vars = common::env(&fake, &[ $( $( ($k, $v) ),* )? ]);
                let base = $start(vars).await;
                common::harden::$name(&base, &fake).await;
            }
        )*
    };
}

/// A wrong app secret, 30 concurrent logins → each fails with 502 `upstream_error`, and the
/// failed `gettoken` is shared instead of repeated per login. The logins start 10 ms apart
/// (all within well under a second): a cache that shares a failure only with the callers
/// queued behind the fetch in flight would fetch again for nearly every one of them.
pub async fn a_wrong_secret_under_load_costs_a_handful_of_token_fetches(
    base: &str,
    fake: &FakeDingTalk,
) {
    let logins: Vec<_> = (0..30)
        .map(|i| {
            let (base, code) = (base.to_owned(), fake.mint_code("staff"));
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(10 * i)).await;
                post_code(&base, &code).await
            })
        })
        .collect();
    for login in logins {
        assert_error(login.await.unwrap(), 502, "upstream_error").await;
    }
    let fetches = fake.calls(Endpoint::GetToken);
    assert!(
        (1..=3).contains(&fetches),
        "{fetches} gettoken calls for 30 logins"
    );
}
