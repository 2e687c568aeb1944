//! What replicas remember (live sessions, the staff, the access rules) is bounded in time: a replica that
//! never hears of a change still stops trusting what it remembered within `AUTOSHOP_CACHE_TTL_SECS`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, error_code, redis_url};

/// Two replicas on one database and one Redis, each announcing on a channel of its own: every change message
/// between them is lost.
async fn replicas_that_miss_each_others_news() -> (TestApp, TestApp) {
    let url = redis_url();
    let prefix = |side: &str| format!("autoshop_test_{}_{side}:", uuid::Uuid::new_v4().simple());
    let (a_prefix, b_prefix) = (prefix("a"), prefix("b"));
    let a = TestApp::spawn_with(&[
        ("REDIS_URL", url.as_str()),
        ("AUTOSHOP_REDIS_PREFIX", a_prefix.as_str()),
        ("AUTOSHOP_CACHE_TTL_SECS", "1"),
    ])
    .await;
    let b = a
        .spawn_beside_with(&[("AUTOSHOP_REDIS_PREFIX", b_prefix.as_str())])
        .await;
    (a, b)
}

/// Asks `probe` until it gives `want`, for at most `bound`; returns how long that took.
async fn within(bound: Duration, want: &str, mut probe: impl AsyncFnMut() -> String) -> Duration {
    let started = Instant::now();
    loop {
        let got = probe().await;
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "still `{got}` after {bound:?}, wanted `{want}`"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_replica_that_misses_a_revocation_refuses_the_session_within_the_bound() {
    let (a, b) = replicas_that_miss_each_others_news().await;
    let (id, token) = a.staff_with_role("sue@shop.test", "cashier", None).await;
    let me = async |app: &TestApp| {
        let body = app.gql_as(Some(&token), "{ me { id } }", json!({})).await;
        if body["data"]["me"].is_object() {
            "ok".to_owned()
        } else {
            error_code(&body).to_owned()
        }
    };
    within(Duration::from_secs(3), "ok", async || me(&b).await).await;
    let revoked = a
        .ok(
            "mutation($input: UserIdInput!) { revokeUserSessions(input: $input) { errors { code } } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_eq!(revoked["revokeUserSessions"]["errors"], json!([]));
    assert_eq!(me(&a).await, "unauthenticated", "at once where it happened");
    within(Duration::from_secs(3), "unauthenticated", async || {
        me(&b).await
    })
    .await;
}

#[tokio::test]
async fn a_replica_that_misses_a_policy_change_stops_allowing_the_right_within_the_bound() {
    let (a, b) = replicas_that_miss_each_others_news().await;
    let made = a
        .ok(
            "mutation { createRole(input: { name: \"Viewer\" }) { role { id key } } }",
            json!({}),
        )
        .await;
    let role = made["createRole"]["role"].clone();
    let grants = json!({ "input": { "roleId": role["id"], "permissions": ["customer:read"] } });
    a.ok(
        "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { errors { code } } }",
        grants.clone(),
    )
    .await;
    let key = role["key"].as_str().expect("key");
    let (_, token) = a.staff_with_role("vic@shop.test", key, None).await;
    let customers = async |app: &TestApp| {
        let body = app
            .gql_as(
                Some(&token),
                "{ customers(first: 1) { totalCount } }",
                json!({}),
            )
            .await;
        if body["data"]["customers"].is_object() {
            "ok".to_owned()
        } else {
            error_code(&body).to_owned()
        }
    };
    within(Duration::from_secs(3), "ok", async || customers(&b).await).await;
    a.ok(
        "mutation($input: RolePermissionsInput!) { revokePermissions(input: $input) { errors { code } } }",
        grants,
    )
    .await;
    assert_eq!(
        customers(&a).await,
        "forbidden",
        "at once where it happened"
    );
    within(Duration::from_secs(3), "forbidden", async || {
        customers(&b).await
    })
    .await;
}
