//! Migrations run down and up again cleanly on the backend under test.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::helpers::TestDb;

async fn table_count(conn: &sea_orm::DatabaseConnection) -> i64 {
    let sql = match conn.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
    };
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("q")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test]
async fn every_migration_rolls_back_and_reapplies_cleanly() {
    let db = TestDb::new().await;
    let conn = Database::connect(&db.url).await.expect("connect");
    let full = table_count(&conn).await;
    assert!(full >= 20, "{full} tables");
    Migrator::down(&conn, None).await.expect("down");
    assert_eq!(table_count(&conn).await, 0);
    Migrator::up(&conn, None).await.expect("up again");
    assert_eq!(table_count(&conn).await, full);
    assert!(
        Migrator::get_pending_migrations(&conn)
            .await
            .expect("pending")
            .is_empty()
    );
    conn.close().await.ok();
}

#[tokio::test]
async fn an_app_refuses_to_start_on_a_database_behind_when_auto_migrate_is_off() {
    let db = TestDb::new().await;
    let conn = Database::connect(&db.url).await.expect("connect");
    Migrator::down(&conn, Some(1)).await.expect("down one");
    conn.close().await.ok();
    let settings = autoshop::Settings::from_vars(
        [
            ("AUTOSHOP_LISTEN", "127.0.0.1:0"),
            ("DATABASE_URL", db.url.as_str()),
            ("AUTOSHOP_AUTO_MIGRATE", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
    .expect("settings");
    let err = autoshop::App::build(settings).await.err().expect("refused");
    assert!(format!("{err:#}").contains("autoshop migrate"), "{err:#}");
}

/// The `file` actions a role holds, sorted.
async fn file_grants(conn: &sea_orm::DatabaseConnection, role: &str) -> Vec<String> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT v3 FROM casbin_rule WHERE ptype = 'p' AND v0 = '{role}' AND v2 = 'file' ORDER BY v3"
            ),
        ))
        .await
        .expect("rules");
    rows.iter()
        .map(|r| r.try_get::<String>("", "v3").expect("v3"))
        .collect()
}

#[tokio::test]
async fn roles_made_before_files_existed_get_the_file_grants_a_new_shop_starts_with() {
    let db = TestDb::new().await;
    let conn = Database::connect(&db.url).await.expect("connect");
    let fresh = file_grants(&conn, "mechanic").await;
    assert_eq!(fresh, ["read", "upload"], "a new shop's mechanic");
    // A shop from before files: no role but the owner's holds a file permission, and the migration is to come.
    // Its owner had, though, already taken `file:delete` from the advisors by hand.
    for sql in [
        "DELETE FROM casbin_rule WHERE ptype = 'p' AND v2 = 'file' AND v0 IN ('mechanic', 'cashier')",
        "DELETE FROM casbin_rule WHERE ptype = 'p' AND v2 = 'file' AND v3 = 'delete' AND v0 = 'service_advisor'",
        "DELETE FROM seaql_migrations WHERE version = 'm20261205_000006_file_grants'",
    ] {
        conn.execute_unprepared(sql).await.expect(sql);
    }
    assert!(file_grants(&conn, "cashier").await.is_empty());

    Migrator::up(&conn, None).await.expect("up");
    assert_eq!(file_grants(&conn, "mechanic").await, fresh);
    assert_eq!(file_grants(&conn, "cashier").await, ["read", "upload"]);
    assert_eq!(
        file_grants(&conn, "service_advisor").await,
        ["read", "upload"],
        "a role with file rights of the owner's choosing keeps them as they are"
    );
    conn.close().await.ok();
}
