//! The connection reads go through (`autoshop::db::reads`): on PostgreSQL its connections go back to their
//! pool without a round trip, so what could leave one broken is tested here against the real server.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use autoshop::config::{DatabaseSettings, Secret};
use autoshop::db::reads::{Limits, ReadPool, Reads};
use autoshop::db::{Db, DbStats};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::helpers::{TestDb, is_postgres};

/// A replica's pools on `db`, its read pool of `size` (half the replica's budget).
async fn connect(db: &TestDb, size: u32) -> Db {
    autoshop::db::connect(&DatabaseSettings {
        url: Secret::new(db.url.clone()),
        max_connections: size * 2,
        auto_migrate: false,
        remember_for: Duration::from_secs(5),
    })
    .await
    .expect("connects")
}

fn statement(sql: impl Into<String>) -> Statement {
    Statement::from_string(DbBackend::Postgres, sql.into())
}

/// A PostgreSQL database of the test's own and a pool of `size` on it, or `None` on the embedded backend,
/// which has no read pool.
async fn on_postgres(size: u32) -> Option<(TestDb, Db)> {
    if !is_postgres() {
        eprintln!("the read pool exists on PostgreSQL only: set DATABASE_URL to run this test");
        return None;
    }
    let test_db = TestDb::new().await;
    let db = connect(&test_db, size).await;
    Some((test_db, db))
}

#[tokio::test]
async fn a_statement_the_server_refuses_is_an_error_and_the_connection_serves_the_next_read() {
    let Some((_test_db, db)) = on_postgres(1).await else {
        return;
    };
    let before = pid_of(&db.reads, PID).await;
    let refused = db
        .reads
        .query_all_raw(statement("SELECT no_such_column FROM customers"))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        pid_of(&db.reads, PID).await,
        before,
        "the same connection, still usable"
    );
}

#[tokio::test]
async fn a_read_cut_off_half_way_closes_its_connection_and_the_next_read_gets_its_own_answer() {
    let Some((_test_db, db)) = on_postgres(1).await else {
        return;
    };
    let first = pid_of(&db.reads, PID).await;
    let slow = db
        .reads
        .query_all_raw(statement("SELECT pg_sleep(2), 'late' AS answer"));
    let cut = tokio::time::timeout(Duration::from_millis(100), slow).await;
    assert!(cut.is_err(), "the read was cut off");
    let next = pid_of(&db.reads, PID).await;
    assert_ne!(
        next, first,
        "the cut-off connection still had the late answer on its way: it must not be reused"
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced_without_failing_the_read() {
    let Some((test_db, db)) = on_postgres(1).await else {
        return;
    };
    let first = pid_of(&db.reads, PID).await;
    let admin = Database::connect(&test_db.url).await.expect("admin");
    admin
        .execute_raw(statement(format!("SELECT pg_terminate_backend({first})")))
        .await
        .expect("terminates");
    // The server closes the connection once the backend has gone.
    for _ in 0..50 {
        let alive = admin
            .query_one_raw(statement(format!(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = {first}"
            )))
            .await
            .expect("reads")
            .expect("row")
            .try_get::<i64>("", "n")
            .expect("n");
        if alive == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let next = pid_of(&db.reads, PID).await;
    assert_ne!(next, first);
}

#[tokio::test]
async fn reads_in_parallel_never_open_more_connections_than_the_pool_allows() {
    let Some((_test_db, db)) = on_postgres(2).await else {
        return;
    };
    let reads = (0..12).map(|_| pid_of(&db.reads, SLOW_PID));
    let pids: std::collections::HashSet<i32> = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect();
    assert!(
        !pids.is_empty() && pids.len() <= 2,
        "12 reads at once on a pool of 2 used {} connections",
        pids.len()
    );
}

/// A read pool of the test's own limits beside `db`'s.
fn pool_with(test_db: &TestDb, db: &Db, limits: Limits) -> Reads {
    let options = PgConnectOptions::from_str(&test_db.url).expect("a PostgreSQL URL");
    Reads::postgres(
        db.conn.clone(),
        ReadPool::new(options, limits, Arc::new(DbStats::default())),
    )
}

const LIMITS: Limits = Limits {
    size: 2,
    connect_timeout: Duration::from_secs(5),
    acquire_timeout: Duration::from_secs(5),
    test_if_idle_for: Duration::from_secs(30),
    idle_timeout: Duration::from_secs(600),
    max_lifetime: Duration::from_secs(1800),
};

/// The server process behind the connection that runs `sql` (which selects it as `pid`).
async fn pid_of(reads: &Reads, sql: &str) -> i32 {
    reads
        .query_one_raw(statement(sql))
        .await
        .expect("reads")
        .expect("a row")
        .try_get::<i32>("", "pid")
        .expect("pid")
}

const PID: &str = "SELECT pg_backend_pid() AS pid";
const SLOW_PID: &str = "SELECT pg_backend_pid() AS pid FROM pg_sleep(0.05)";

#[tokio::test]
async fn a_connection_serves_read_after_read_within_its_lifetime_and_is_closed_past_it() {
    let Some((test_db, db)) = on_postgres(1).await else {
        return;
    };
    let lasting = pool_with(&test_db, &db, LIMITS);
    assert_eq!(pid_of(&lasting, PID).await, pid_of(&lasting, PID).await);
    let brief = pool_with(
        &test_db,
        &db,
        Limits {
            max_lifetime: Duration::ZERO,
            ..LIMITS
        },
    );
    assert_ne!(pid_of(&brief, PID).await, pid_of(&brief, PID).await);
}

#[tokio::test]
async fn connections_left_idle_past_the_timeout_are_closed_so_the_pool_shrinks_after_a_burst() {
    let Some((test_db, db)) = on_postgres(1).await else {
        return;
    };
    let reads = pool_with(
        &test_db,
        &db,
        Limits {
            idle_timeout: Duration::from_millis(200),
            ..LIMITS
        },
    );
    let burst = futures_util::join!(pid_of(&reads, SLOW_PID), pid_of(&reads, SLOW_PID));
    assert_ne!(burst.0, burst.1, "two reads at once on two connections");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The next read takes the most recently used connection; giving it back retires the other one.
    let kept = pid_of(&reads, PID).await;
    let retired = if kept == burst.0 { burst.1 } else { burst.0 };
    assert!(kept == burst.0 || kept == burst.1);
    let next = futures_util::join!(pid_of(&reads, SLOW_PID), pid_of(&reads, SLOW_PID));
    assert!(
        next.0 != retired && next.1 != retired,
        "the connection idle past the timeout was closed, not reused: {retired} in {next:?}"
    );
}

#[tokio::test]
async fn a_replica_never_holds_more_connections_than_its_budget() {
    if !is_postgres() {
        return;
    }
    let app = crate::helpers::TestApp::spawn_with(&[("AUTOSHOP_DB_MAX_CONNECTIONS", "4")]).await;
    app.seed(10, 40).await;
    let busy = serde_json::json!({ "query": "{ customers(first: 20) { totalCount edges { node { id vehicles { id } } } } workOrders(first: 20) { edges { node { id customer { name } lines { id } } } } }" });
    let answers = futures_util::future::join_all((0..40).map(|_| app.post(&busy))).await;
    assert!(answers.iter().all(|a| a.status() == 200));
    let held = app
        .sql_one("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()")
        .await
        .try_get::<i64>("", "n")
        .expect("n");
    assert!(
        (1..=4).contains(&held),
        "{held} connections for a budget of 4"
    );
}
