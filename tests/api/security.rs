//! Defences found missing by attacking the server (issue 16), one test at least per defect: taking over the
//! owner, the last-owner rule, throttling under concurrency and without Redis, ledger overflow, honest errors in
//! an outage, two tabs refreshing, `/metrics`, idempotency keys and oversized documents.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    OWNER_EMAIL, OWNER_PASSWORD, Proxy, STAFF_PASSWORD, TestApp, error_code, is_postgres,
    redis_url, via,
};
use crate::workflow::{invoice, op};

const UPDATE_USER: &str = "mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { email pendingEmail version } errors { code } } }";
const BLOCK_USER: &str = "mutation($input: RecordVersionInput!) { blockUser(input: $input) { user { status } errors { code } } }";
const DELETE_USER: &str =
    "mutation($input: RecordVersionInput!) { deleteUser(input: $input) { errors { code } } }";
const REVOKE_SESSIONS: &str =
    "mutation($input: UserIdInput!) { revokeUserSessions(input: $input) { errors { code } } }";
const UNASSIGN: &str =
    "mutation($input: RoleAssignmentInput!) { unassignRole(input: $input) { errors { code } } }";
const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { session { accessToken refreshToken } errors { code } } }";
const REFRESH: &str = "mutation($input: RefreshInput!) { refreshSession(input: $input) { session { accessToken refreshToken } errors { code } } }";

/// A role of the test's own holding exactly `perms`; returns its key.
async fn role_with(app: &TestApp, name: &str, perms: &[&str]) -> String {
    let made = app
        .ok(
            "mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id key } errors { code } } }",
            json!({ "input": { "name": name } }),
        )
        .await;
    let role = &made["createRole"]["role"];
    let granted = app
        .ok(
            "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { errors { code } } }",
            json!({ "input": { "roleId": role["id"], "permissions": perms } }),
        )
        .await;
    assert_eq!(
        granted["grantPermissions"]["errors"],
        json!([]),
        "{granted}"
    );
    role["key"].as_str().expect("key").to_owned()
}

/// Someone's own id and version, as they read them.
async fn me(app: &TestApp, token: &str) -> (Value, i64) {
    let d = app
        .gql_as(Some(token), "{ me { id version } }", json!({}))
        .await;
    let me = &d["data"]["me"];
    (me["id"].clone(), me["version"].as_i64().expect("version"))
}

async fn first_location(app: &TestApp) -> Value {
    let d = app
        .ok(
            "{ locations(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    d["locations"]["edges"][0]["node"]["id"].clone()
}

/// The payload's first error code, or "ok" when it has none.
fn outcome(body: &Value, field: &str) -> String {
    if let Some(code) = body["errors"][0]["extensions"]["code"].as_str() {
        return code.to_owned();
    }
    body["data"][field]["errors"][0]["code"]
        .as_str()
        .unwrap_or("ok")
        .to_owned()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    app.gql_as(
        None,
        LOGIN,
        json!({ "input": { "email": email, "password": password } }),
    )
    .await
}

#[tokio::test]
async fn a_user_manager_cannot_act_on_anyone_who_holds_more_than_they_do() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let branch = first_location(&app).await;
    let admins = role_with(&app, "User admin", &["user:manage"]).await;
    let (_, admin) = app
        .staff_with_role("admin@shop.test", &admins, Some(&branch))
        .await;
    let (owner, owner_version) = me(&app, &app.owner_token).await;
    let record = json!({ "input": { "id": owner, "version": owner_version } });

    // The attack: the owner's e-mail becomes the attacker's, then a reset link goes there.
    let takeover = json!({ "input": { "id": owner, "version": owner_version, "email": "attacker@evil.test" } });
    for (query, vars, field) in [
        (UPDATE_USER, &takeover, "updateUser"),
        (BLOCK_USER, &record, "blockUser"),
        (DELETE_USER, &record, "deleteUser"),
        (
            REVOKE_SESSIONS,
            &json!({ "input": { "id": owner } }),
            "revokeUserSessions",
        ),
    ] {
        let body = app.gql_as(Some(&admin), query, vars.clone()).await;
        assert_eq!(outcome(&body, field), "escalation", "{field}: {body}");
    }
    let email = app
        .sql_one("SELECT email FROM users WHERE email = 'owner@shop.test'")
        .await;
    assert_eq!(
        email.try_get::<String>("", "email").expect("email"),
        OWNER_EMAIL
    );
    assert_eq!(
        app.count("outbox WHERE topic LIKE 'notification.email_change%'")
            .await,
        0
    );
    assert_eq!(
        app.ok("{ me { id } }", json!({})).await["me"]["id"],
        owner,
        "the owner's session still stands"
    );

    // Someone who holds nothing the admin lacks is theirs to manage; a mechanic (work-order rights) is not.
    let (newbie, _) = app
        .staff_with_role("newbie@shop.test", &admins, Some(&branch))
        .await;
    let renamed = app
        .gql_as(
            Some(&admin),
            UPDATE_USER,
            json!({ "input": { "id": newbie, "version": 1, "name": "Nina New" } }),
        )
        .await;
    assert_eq!(outcome(&renamed, "updateUser"), "ok", "{renamed}");
    let (mechanic, _) = app
        .staff_with_role("mech@shop.test", "mechanic", Some(&branch))
        .await;
    let body = app
        .gql_as(
            Some(&admin),
            BLOCK_USER,
            json!({ "input": { "id": mechanic, "version": 1 } }),
        )
        .await;
    assert_eq!(outcome(&body, "blockUser"), "escalation", "{body}");
}

#[tokio::test]
async fn a_changed_email_waits_for_confirmation_warns_the_old_address_and_ends_the_sessions() {
    let app = TestApp::spawn().await;
    let (sam, sams_token) = app.staff_with_role("sam@shop.test", "cashier", None).await;
    let changed = app
        .ok(
            UPDATE_USER,
            json!({ "input": { "id": sam, "version": 1, "email": "sam.new@shop.test" } }),
        )
        .await;
    let user = &changed["updateUser"]["user"];
    assert_eq!(user["email"], "sam@shop.test", "{changed}");
    assert_eq!(user["pendingEmail"], "sam.new@shop.test");

    let messages: Vec<(String, Value)> = app
        .sql_all("SELECT topic, CAST(payload AS TEXT) AS payload FROM outbox WHERE topic LIKE 'notification.email_change%'")
        .await
        .iter()
        .map(|r| {
            let text: String = r.try_get("", "payload").expect("payload");
            (
                r.try_get("", "topic").expect("topic"),
                serde_json::from_str(&text).expect("json"),
            )
        })
        .collect();
    let to = |topic: &str| {
        messages
            .iter()
            .find(|(t, _)| t == topic)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no {topic}: {messages:?}"))
    };
    assert_eq!(
        to("notification.email_change_requested")["email"],
        "sam@shop.test",
        "the old address hears of it"
    );
    let confirm = to("notification.email_change_confirm");
    assert_eq!(confirm["email"], "sam.new@shop.test");
    let link = confirm["link"].as_str().expect("link");
    let token = link.split("token=").nth(1).expect("token");

    // Until confirmed, the new address is nobody's: no sign-in, no reset goes there.
    let early = login(&app, "sam.new@shop.test", STAFF_PASSWORD).await;
    assert_eq!(
        early["data"]["login"]["errors"][0]["code"],
        "invalid_credentials"
    );
    let me = "{ me { email } }";
    assert_eq!(
        app.gql_as(Some(&sams_token), me, json!({})).await["data"]["me"]["email"],
        "sam@shop.test"
    );

    let confirm = "mutation($input: ConfirmEmailChangeInput!) { confirmEmailChange(input: $input) { ok errors { code } } }";
    let done = app
        .gql_as(None, confirm, json!({ "input": { "token": token } }))
        .await;
    assert_eq!(done["data"]["confirmEmailChange"]["ok"], true, "{done}");
    assert_eq!(
        error_code(&app.gql_as(Some(&sams_token), me, json!({})).await),
        "unauthenticated",
        "the change ended Sam's sessions"
    );
    assert_eq!(
        login(&app, "sam@shop.test", STAFF_PASSWORD).await["data"]["login"]["errors"][0]["code"],
        "invalid_credentials"
    );
    app.sign_in("sam.new@shop.test", STAFF_PASSWORD).await;
    let again = app
        .gql_as(None, confirm, json!({ "input": { "token": token } }))
        .await;
    assert_eq!(
        again["data"]["confirmEmailChange"]["errors"][0]["code"],
        "invalid_token"
    );
    let audited = app
        .sql_one("SELECT CAST(diff AS TEXT) AS diff FROM audit_log WHERE action = 'email_changed'")
        .await;
    let diff: String = audited.try_get("", "diff").expect("diff");
    assert!(
        diff.contains("sam@shop.test") && diff.contains("sam.new@shop.test"),
        "before and after: {diff}"
    );
}

#[tokio::test]
async fn an_owner_at_one_branch_does_not_stand_in_for_the_shops_last_owner() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let branch = first_location(&app).await;
    app.staff_with_role("branch.owner@shop.test", "owner", Some(&branch))
        .await;
    let (owner, _) = me(&app, &app.owner_token).await;
    let owner_role = app.role_id("owner").await;
    let body = app
        .ok(
            UNASSIGN,
            json!({ "input": { "userId": owner, "roleId": owner_role } }),
        )
        .await;
    assert_eq!(body["unassignRole"]["errors"][0]["code"], "last_owner");
}

#[tokio::test]
async fn taking_a_role_away_needs_its_rights_and_the_owner_role_needs_an_owner() {
    let app = TestApp::spawn().await;
    let managers = role_with(&app, "Role admin", &["role:manage", "user:manage"]).await;
    let (_, manager) = app
        .staff_with_role("roles@shop.test", &managers, None)
        .await;
    let (cashier, _) = app.staff_with_role("cash@shop.test", "cashier", None).await;
    let (owner, _) = me(&app, &app.owner_token).await;
    let owner_role = app.role_id("owner").await;
    let cashier_role = app.role_id("cashier").await;
    for (user, role) in [(&owner, &owner_role), (&cashier, &cashier_role)] {
        let body = app
            .gql_as(
                Some(&manager),
                UNASSIGN,
                json!({ "input": { "userId": user, "roleId": role } }),
            )
            .await;
        assert_eq!(outcome(&body, "unassignRole"), "escalation", "{body}");
    }
    assert_eq!(
        app.count("casbin_rule WHERE ptype = 'g' AND v1 = 'owner' AND v2 = '*'")
            .await,
        1
    );
}

/// Two owners who each try to remove the other at the same moment: one of them stays.
async fn race(
    app: &TestApp,
    first: &str,
    second: &str,
    query: &str,
    vars: [Value; 2],
    field: &str,
) -> Vec<String> {
    let attempts = [first, second]
        .into_iter()
        .zip(vars)
        .map(|(t, v)| app.gql_as(Some(t), query, v));
    futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|b| outcome(b, field))
        .collect()
}

#[tokio::test]
async fn only_owners_make_owner_keys_and_nobody_strips_rights_they_lack() {
    let app = TestApp::spawn().await;
    let catalog = app
        .ok("{ permissions { permissions { key } } }", json!({}))
        .await;
    let every: Vec<&str> = catalog["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["permissions"].as_array().into_iter().flatten())
        .filter_map(|p| p["key"].as_str())
        .collect();
    // Every right there is, but not the owner role.
    let almighty = role_with(&app, "Almighty", &every).await;
    let (_, deputy) = app
        .staff_with_role("deputy@shop.test", &almighty, None)
        .await;
    let key = app
        .gql_as(
            Some(&deputy),
            "mutation { createApiKey(input: { name: \"x\", role: \"owner\" }) { errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(outcome(&key, "createApiKey"), "escalation", "{key}");
    assert_eq!(app.count("api_keys").await, 0);

    let managers = role_with(&app, "Role admin", &["role:manage"]).await;
    let (_, manager) = app
        .staff_with_role("roles@shop.test", &managers, None)
        .await;
    let cashier_role = app.role_id("cashier").await;
    let stripped = app
        .gql_as(
            Some(&manager),
            "mutation($input: RolePermissionsInput!) { revokePermissions(input: $input) { errors { code } } }",
            json!({ "input": { "roleId": cashier_role, "permissions": ["payment:record"] } }),
        )
        .await;
    assert_eq!(
        outcome(&stripped, "revokePermissions"),
        "escalation",
        "{stripped}"
    );
}

#[tokio::test]
async fn two_owners_removing_each_other_at_once_leave_one_owner() {
    // Several rounds, so that in some of them the two requests overlap.
    for _ in 0..4 {
        let app = TestApp::spawn().await;
        let owner_role = app.role_id("owner").await;
        let (first, _) = me(&app, &app.owner_token).await;
        let (second, token) = app
            .staff_with_role("second.owner@shop.test", "owner", None)
            .await;
        let vars = [
            json!({ "input": { "userId": second, "roleId": owner_role } }),
            json!({ "input": { "userId": first, "roleId": owner_role } }),
        ];
        let outcomes = race(
            &app,
            &app.owner_token,
            &token,
            UNASSIGN,
            vars,
            "unassignRole",
        )
        .await;
        // The loser either saw the other still an owner (`last_owner`) or came after and no longer held the
        // right to manage roles at all (`forbidden`); never do both go through.
        assert_eq!(
            outcomes.iter().filter(|o| *o == "ok").count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| ["ok", "last_owner", "forbidden"].contains(&o.as_str())),
            "{outcomes:?}"
        );
        assert_eq!(
            app.count("casbin_rule WHERE ptype = 'g' AND v1 = 'owner' AND v2 = '*'")
                .await,
            1
        );
    }
}

#[tokio::test]
async fn two_owners_blocking_each_other_at_once_leave_one_owner() {
    let app = TestApp::spawn().await;
    let (first, first_version) = me(&app, &app.owner_token).await;
    let (second, token) = app
        .staff_with_role("second.owner@shop.test", "owner", None)
        .await;
    let (_, second_version) = me(&app, &token).await;
    let vars = [
        json!({ "input": { "id": second, "version": second_version } }),
        json!({ "input": { "id": first, "version": first_version } }),
    ];
    let outcomes = race(
        &app,
        &app.owner_token,
        &token,
        BLOCK_USER,
        vars,
        "blockUser",
    )
    .await;
    assert_eq!(
        outcomes.iter().filter(|o| *o == "ok").count(),
        1,
        "exactly one block goes through: {outcomes:?}"
    );
    assert_eq!(
        app.count("users WHERE status = 'active' AND deleted_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn twenty_concurrent_wrong_passwords_are_counted_before_any_is_checked() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_AUTH_MAX_FAILURES", "3")]).await;
    let attempts = (0..20).map(|_| login(&app, OWNER_EMAIL, "wrong-password-123"));
    let codes: Vec<String> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|b| outcome(b, "login"))
        .collect();
    let checked = codes.iter().filter(|c| *c == "invalid_credentials").count();
    assert_eq!(
        checked, 3,
        "only the threshold's worth are checked: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| c == "invalid_credentials" || c == "too_many_attempts"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn sign_in_stays_throttled_and_answers_at_once_while_redis_is_down() {
    let target = redis_url();
    let proxy = Proxy::start(target.trim_start_matches("redis://").trim_end_matches('/')).await;
    let url = via(&target, proxy.addr);
    let prefix = format!("autoshop_test_{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(&[
        ("REDIS_URL", url.as_str()),
        ("AUTOSHOP_REDIS_PREFIX", prefix.as_str()),
        ("AUTOSHOP_AUTH_MAX_FAILURES", "3"),
    ])
    .await;
    proxy.cut();
    let mut codes = Vec::new();
    for _ in 0..4 {
        // Bounded so a hang fails the test rather than stalling it; each answer takes milliseconds.
        let body = tokio::time::timeout(
            Duration::from_secs(5),
            login(&app, OWNER_EMAIL, "wrong-password-123"),
        )
        .await
        .expect("sign-in answers while Redis is down");
        codes.push(outcome(&body, "login"));
    }
    assert_eq!(
        codes,
        [
            "invalid_credentials",
            "invalid_credentials",
            "invalid_credentials",
            "too_many_attempts"
        ],
        "the in-process throttle takes over"
    );
    proxy.restore();
}

#[tokio::test]
async fn an_amount_beyond_the_ledger_is_a_typed_error_and_records_nothing() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let inv = invoice(&app).await;
    for (amount, key) in [
        ("92233720368547758.07", "overflow-key-1"),
        ("1000000000000.00", "overflow-key-2"),
    ] {
        let body = op(
            &app,
            &app.owner_token,
            "RecordPayment",
            json!({ "input": { "invoiceId": inv["id"], "amount": amount, "method": "cash", "idempotencyKey": key } }),
        )
        .await;
        assert_eq!(
            body["data"]["recordPayment"]["errors"][0]["code"], "amount_too_large",
            "{body}"
        );
    }
    assert_eq!(app.count("payments").await, 0);

    // An invoice whose balance already sits near what the column holds (written outside the API): the sum is
    // checked, not wrapped.
    // The test's only invoice.
    app.sql_all(
        "UPDATE invoices SET subtotal_minor = 9223372036854775807, discount_minor = 0, tax_minor = 0, \
         total_minor = 9223372036854775807, paid_minor = 9223372036854775000",
    )
    .await;
    let body = op(
        &app,
        &app.owner_token,
        "RecordPayment",
        json!({ "input": { "invoiceId": inv["id"], "amount": "999999999999.99", "method": "cash", "idempotencyKey": "overflow-key-3" } }),
    )
    .await;
    assert_eq!(
        body["data"]["recordPayment"]["errors"][0]["code"], "amount_too_large",
        "{body}"
    );
    assert_eq!(app.count("payments").await, 0);
}

#[tokio::test]
async fn an_idempotency_key_belongs_to_the_caller_who_sent_it() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let inv = invoice(&app).await;
    let (_, cashier) = app.staff_with_role("till@shop.test", "cashier", None).await;
    let pay = |amount: &str| json!({ "input": { "invoiceId": inv["id"], "amount": amount, "method": "cash", "idempotencyKey": "shared-key-0001" } });
    let paid = |body: &Value| {
        body["data"]["recordPayment"]["payment"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    };
    let first = paid(&op(&app, &cashier, "RecordPayment", pay("5.00")).await);
    let owners = paid(&op(&app, &app.owner_token, "RecordPayment", pay("5.00")).await);
    assert_ne!(first, owners, "the owner's request is the owner's own");
    let retried = paid(&op(&app, &cashier, "RecordPayment", pay("5.00")).await);
    assert_eq!(
        first, retried,
        "the cashier's retry gets the cashier's payment"
    );
    let other = op(&app, &cashier, "RecordPayment", pay("6.00")).await;
    assert_eq!(
        other["data"]["recordPayment"]["errors"][0]["code"],
        "idempotency_key_reused"
    );
    assert_eq!(app.count("payments").await, 2);
}

#[tokio::test]
async fn two_tabs_refreshing_together_keep_their_session() {
    let app = TestApp::spawn().await;
    let signed = login(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let token = signed["data"]["login"]["session"]["refreshToken"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let refresh = |t: String| {
        let app = &app;
        async move {
            app.gql_as(None, REFRESH, json!({ "input": { "refreshToken": t } }))
                .await["data"]["refreshSession"]
                .clone()
        }
    };
    let both = futures_util::future::join(refresh(token.clone()), refresh(token)).await;
    let results = [both.0, both.1];
    let winner = results
        .iter()
        .find(|r| r["session"].is_object())
        .expect("one tab refreshed");
    let loser = results
        .iter()
        .find(|r| !r["session"].is_object())
        .expect("the other was told to use the new tokens");
    assert_eq!(loser["errors"][0]["code"], "invalid_refresh_token");
    let access = winner["session"]["accessToken"].as_str().expect("access");
    assert!(
        app.gql_as(Some(access), "{ me { id } }", json!({})).await["data"]["me"].is_object(),
        "the session was not revoked"
    );
    let next = winner["session"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert!(refresh(next).await["session"].is_object());
}

#[tokio::test]
async fn metrics_are_served_only_behind_their_token_or_on_their_own_listener() {
    let open = TestApp::spawn().await;
    let get = |url: String, token: Option<&'static str>| {
        let client = open.client.clone();
        async move {
            let mut req = client.get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.expect("get")
        }
    };
    assert_eq!(get(open.url("/metrics"), None).await.status(), 404);

    let guarded = TestApp::spawn_with(&[("AUTOSHOP_METRICS_TOKEN", "scrape-token-1")]).await;
    assert_eq!(get(guarded.url("/metrics"), None).await.status(), 401);
    assert_eq!(
        get(guarded.url("/metrics"), Some("wrong-token"))
            .await
            .status(),
        401
    );
    let scraped = get(guarded.url("/metrics"), Some("scrape-token-1")).await;
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .expect("text")
            .contains("autoshop_app_db_statements")
    );

    let internal = TestApp::spawn_with(&[("AUTOSHOP_METRICS_LISTEN", "127.0.0.1:0")]).await;
    let addr = internal.metrics_addr.expect("a metrics listener");
    assert_eq!(
        get(format!("http://{addr}/metrics"), None).await.status(),
        200
    );
    assert_eq!(get(internal.url("/metrics"), None).await.status(), 404);
}

#[tokio::test]
async fn oversized_documents_are_refused_before_parsing_and_charged_to_the_rate_limit() {
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_ADDRESS_RATE_LIMIT_BURST", "3"),
        ("AUTOSHOP_ADDRESS_RATE_LIMIT_PER_MINUTE", "1"),
    ])
    .await;
    let long = format!("{{ {}}}", "__typename ".repeat(18_000));
    let many = format!("{{ {}}}", "a ".repeat(3000));
    for doc in [&long, &many] {
        let res = app.post_as(None, &json!({ "query": doc })).await;
        let body: Value = res.json().await.expect("json");
        assert_eq!(error_code(&body), "query_too_large", "{}", doc.len());
    }
    let fine = app.gql_as(None, "{ __typename }", json!({})).await;
    assert_eq!(fine["data"]["__typename"], "QueryRoot");
    let res = app
        .post_as(None, &json!({ "query": "{ __typename }" }))
        .await;
    assert_eq!(
        res.status(),
        429,
        "anonymous callers pay for what they send"
    );
}

#[tokio::test]
async fn with_the_database_down_requests_get_a_retryable_unavailable_and_service_resumes() {
    let Some(url) = std::env::var("DATABASE_URL").ok().filter(|_| is_postgres()) else {
        // The embedded database is a file in the process: it cannot go away on its own.
        return;
    };
    let host = url
        .split_once('@')
        .map_or(url.as_str(), |(_, r)| r)
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    let proxy = Proxy::start(&host).await;
    let app = TestApp::spawn_reaching_db(&[], |u| via(u, proxy.addr)).await;
    app.remember_session().await;
    let fresh = app.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await;
    // Several requests at once, so the pools hold several connections when the database goes away.
    let busy = json!({ "query": "{ me { id } customers(first: 5) { totalCount } }" });
    let all_served = async || {
        let answers = futures_util::future::join_all((0..6).map(|_| app.post(&busy))).await;
        let mut statuses = Vec::new();
        for a in answers {
            statuses.push(a.status().as_u16());
            let body: Value = a.json().await.expect("json");
            assert!(body.get("errors").is_none(), "{body}");
        }
        statuses
    };
    all_served().await;
    proxy.cut();

    let me = json!({ "query": "{ me { id } }" });
    let res = app.post_as(Some(&fresh), &me).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        error_code(&body),
        "unavailable",
        "a session the replica could not check is not signed out: {body}"
    );

    let somewhere = autoshop::schema::ids::encode("Invoice", uuid::Uuid::now_v7()).0;
    let pay = op(
        &app,
        &app.owner_token,
        "RecordPayment",
        json!({ "input": { "invoiceId": somewhere, "amount": "1.00", "method": "cash", "idempotencyKey": "outage-key-1" } }),
    )
    .await;
    assert_eq!(error_code(&pay), "unavailable", "not `not_found`: {pay}");

    let ready = tokio::time::timeout(
        Duration::from_secs(3),
        app.client.get(app.url("/readyz")).send(),
    )
    .await
    .expect("readiness answers during an outage")
    .expect("readyz");
    assert_eq!(ready.status(), 503);

    proxy.restore();
    assert_eq!(
        all_served().await,
        [200; 6],
        "the requests right after recovery are served: no dead pooled connection is handed out"
    );
}

#[tokio::test]
async fn changing_your_own_email_asks_for_your_password() {
    let app = TestApp::spawn().await;
    let (owner, version) = me(&app, &app.owner_token).await;
    let change = |password: Option<&str>| {
        let mut input = json!({ "id": owner, "version": version, "email": "olga@elsewhere.test" });
        if let Some(p) = password {
            input["currentPassword"] = json!(p);
        }
        json!({ "input": input })
    };
    // A borrowed session alone cannot move the account to an address its holder reads.
    for (password, code) in [
        (None, "required"),
        (Some("not-the-password"), "invalid_credentials"),
    ] {
        let body = app.ok(UPDATE_USER, change(password)).await;
        assert_eq!(body["updateUser"]["errors"][0]["code"], code, "{body}");
        assert_eq!(body["updateUser"]["user"], Value::Null);
    }
    assert_eq!(
        app.count("outbox WHERE topic LIKE 'notification.email_change%'")
            .await,
        0,
        "nothing was sent"
    );
    let body = app.ok(UPDATE_USER, change(Some(OWNER_PASSWORD))).await;
    assert_eq!(body["updateUser"]["errors"], json!([]), "{body}");
    assert_eq!(
        body["updateUser"]["user"]["pendingEmail"],
        "olga@elsewhere.test"
    );
    // The owner changing someone else's address answers for it with their own session, as before.
    let (sam, _) = app.staff_with_role("sam@shop.test", "cashier", None).await;
    let other = app
        .ok(
            UPDATE_USER,
            json!({ "input": { "id": sam, "version": 1, "email": "sam.new@shop.test" } }),
        )
        .await;
    assert_eq!(other["updateUser"]["errors"], json!([]), "{other}");
}

#[tokio::test]
async fn a_key_manager_cannot_revoke_a_key_that_holds_more_than_they_do() {
    const CREATE: &str = "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret errors { code } } }";
    const REVOKE: &str = "mutation($input: ApiKeyIdInput!) { revokeApiKey(input: $input) { apiKey { revokedAt } errors { code field } } }";
    let app = TestApp::spawn().await;
    let keys = role_with(&app, "Key admin", &["api_key:manage"]).await;
    let (_, admin) = app.staff_with_role("keys@shop.test", &keys, None).await;
    let owners = app
        .ok(
            CREATE,
            json!({ "input": { "name": "Accounting sync", "role": "owner" } }),
        )
        .await;
    let owners_key = owners["createApiKey"]["apiKey"]["id"].clone();
    let secret = owners["createApiKey"]["secret"].as_str().expect("secret");

    let refused = app
        .gql_as(
            Some(&admin),
            REVOKE,
            json!({ "input": { "id": owners_key } }),
        )
        .await;
    assert_eq!(
        refused["data"]["revokeApiKey"]["errors"][0],
        json!({ "code": "escalation", "field": ["input", "id"] }),
        "{refused}"
    );
    assert_eq!(
        app.gql_as(Some(secret), "{ customers { totalCount } }", json!({}))
            .await["errors"],
        Value::Null,
        "the owner's integration still works"
    );

    // A key of their own role is theirs to make and to revoke.
    let own = app
        .gql_as(
            Some(&admin),
            CREATE,
            json!({ "input": { "name": "Backup", "role": keys } }),
        )
        .await;
    assert_eq!(own["data"]["createApiKey"]["errors"], json!([]), "{own}");
    let revoked = app
        .gql_as(
            Some(&admin),
            REVOKE,
            json!({ "input": { "id": own["data"]["createApiKey"]["apiKey"]["id"] } }),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeApiKey"]["errors"],
        json!([]),
        "{revoked}"
    );
    assert!(revoked["data"]["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
}
