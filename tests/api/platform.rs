//! The process around the API: health, readiness, metrics, request ids, configuration errors, SQLite settings.

use serde_json::json;

use crate::helpers::{TestApp, is_postgres};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let h = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(h.status(), 200);
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_per_operation_name() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_METRICS_TOKEN", "scrape-token-1")]).await;
    app.ok(
        "query MetricsProbeOperation { locations { totalCount } }",
        json!({}),
    )
    .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-1")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("autoshop_graphql_requests_total")
                && l.contains("operation=\"MetricsProbeOperation\"")),
        "{text}"
    );
    assert!(text.contains("autoshop_graphql_request_seconds_bucket"));
    assert!(text.contains("autoshop_app_db_statements"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_given_one() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("get");
    assert!(
        res.headers()
            .get("x-request-id")
            .is_some_and(|v| !v.is_empty())
    );
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("get");
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
}

#[test]
fn the_binary_refuses_an_unknown_setting_and_names_the_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autoshop"))
        .arg("serve")
        .env("AUTOSHOP_ENV", "staging")
        .output()
        .expect("run autoshop");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTOSHOP_ENV"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autoshop"))
        .arg("serve")
        .env("AUTOSHOP_LISTN", "0.0.0.0:1")
        .output()
        .expect("run autoshop");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTOSHOP_LISTN"));
}

#[test]
fn help_lists_the_commands() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autoshop"))
        .arg("--help")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "serve",
        "migrate",
        "export-schema",
        "seed-demo",
        "DATABASE_URL",
    ] {
        assert!(text.contains(cmd), "{cmd} missing from --help");
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_and_enforces_foreign_keys() {
    if is_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let conn = &app.db.conn;
    let backend = sea_orm::ConnectionTrait::get_database_backend(conn);
    let mode = sea_orm::ConnectionTrait::query_one_raw(
        conn,
        sea_orm::Statement::from_string(backend, "PRAGMA journal_mode".to_owned()),
    )
    .await
    .expect("pragma")
    .expect("row");
    assert_eq!(mode.try_get_by_index::<String>(0).expect("mode"), "wal");
    let bad = sea_orm::ConnectionTrait::execute_unprepared(
        conn,
        "INSERT INTO vehicle_ownerships (id, created_at, updated_at, vehicle_id, customer_id, started_at) VALUES (x'00', '2026-01-01', '2026-01-01', x'01', x'02', '2026-01-01')",
    )
    .await;
    assert!(bad.is_err(), "a dangling foreign key was accepted");
}

#[tokio::test]
async fn the_demo_shop_lets_one_member_of_staff_per_built_in_role_sign_in_where_they_work() {
    use autoshop::auth::password::{Hasher, Password};
    let app = TestApp::spawn().await;
    app.seed(10, 60).await;
    let password = "demo-password-123";
    let hash = Hasher::new(1)
        .hash(&Password::parse("password", password).expect("password"))
        .await
        .expect("hash");
    let logins = autoshop::seed::demo_logins(&app.db, &hash)
        .await
        .expect("demo logins");
    let roles: Vec<&str> = logins.iter().map(|l| l.role).collect();
    assert_eq!(roles, ["owner", "service_advisor", "cashier", "mechanic"]);
    // As after `seed-demo`, the server starts on the seeded database.
    let app = app.spawn_beside().await;
    for login in &logins {
        let token = app.sign_in(&login.email, password).await;
        let me = app
            .gql_as(
                Some(&token),
                "{ myAccess { roles { role locationId } } }",
                json!({}),
            )
            .await;
        let held = &me["data"]["myAccess"]["roles"];
        assert_eq!(held.as_array().map(Vec::len), Some(1), "{me}");
        assert_eq!(held[0]["role"], login.role);
        assert_eq!(
            held[0]["locationId"].is_null(),
            login.role == "owner",
            "only the owner works everywhere"
        );
    }
    let again = autoshop::seed::demo_logins(&app.db, &hash)
        .await
        .expect("twice");
    assert_eq!(
        again.len(),
        4,
        "running it again changes nothing but the password"
    );
}
