//! The connection reads go through (`autoshop::db::reads`): on PostgreSQL its connections go back to their
//! pool without a round trip, so what could leave one broken is tested here against the real server.

use autoshop::config::{DatabaseSettings, Secret};
use autoshop::db::Db;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::helpers::{TestDb, is_postgres};

async fn connect(db: &TestDb, size: u32) -> Db {
    autoshop::db::connect(&DatabaseSettings {
        url: Secret::new(db.url.clone()),
        max_connections: size,
        auto_migrate: false,
    })
    .await
    .expect("connects")
}

fn statement(db: &Db, sql: &str) -> Statement {
    Statement::from_string(db.reads.get_database_backend(), sql.to_owned())
}

/// The server process behind the connection that runs the read.
async fn backend_pid(db: &Db) -> i32 {
    let row = db
        .reads
        .query_one_raw(statement(db, "SELECT pg_backend_pid() AS pid"))
        .await
        .expect("reads")
        .expect("a row");
    row.try_get::<i32>("", "pid").expect("pid")
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
    let before = backend_pid(&db).await;
    let refused = db
        .reads
        .query_all_raw(statement(&db, "SELECT no_such_column FROM customers"))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        backend_pid(&db).await,
        before,
        "the same connection, still usable"
    );
}

#[tokio::test]
async fn a_read_cut_off_half_way_closes_its_connection_and_the_next_read_gets_its_own_answer() {
    let Some((_test_db, db)) = on_postgres(1).await else {
        return;
    };
    let first = backend_pid(&db).await;
    let slow = db
        .reads
        .query_all_raw(statement(&db, "SELECT pg_sleep(2), 'late' AS answer"));
    let cut = tokio::time::timeout(std::time::Duration::from_millis(100), slow).await;
    assert!(cut.is_err(), "the read was cut off");
    let next = backend_pid(&db).await;
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
    let first = backend_pid(&db).await;
    let admin = Database::connect(&test_db.url).await.expect("admin");
    admin
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_terminate_backend({first})"),
        ))
        .await
        .expect("terminates");
    // The server closes the connection once the backend has gone.
    for _ in 0..50 {
        let alive = admin
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = {first}"),
            ))
            .await
            .expect("reads")
            .expect("row")
            .try_get::<i64>("", "n")
            .expect("n");
        if alive == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let next = backend_pid(&db).await;
    assert_ne!(next, first);
}

#[tokio::test]
async fn reads_in_parallel_never_open_more_connections_than_the_pool_allows() {
    let Some((_test_db, db)) = on_postgres(2).await else {
        return;
    };
    let reads = (0..12).map(|_| {
        db.reads.query_one_raw(statement(
            &db,
            "SELECT pg_backend_pid() AS pid FROM pg_sleep(0.05)",
        ))
    });
    let pids: std::collections::HashSet<i32> = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .map(|r| {
            r.expect("reads")
                .expect("row")
                .try_get::<i32>("", "pid")
                .expect("pid")
        })
        .collect();
    assert!(
        !pids.is_empty() && pids.len() <= 2,
        "12 reads at once on a pool of 2 used {} connections",
        pids.len()
    );
}
