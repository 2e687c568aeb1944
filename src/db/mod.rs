//! The data layer: connections for both backends, keyset pagination, and the SQL of each aggregate.

pub mod batch;
pub mod keyset;
pub mod live;
pub mod queries;
pub mod reads;
pub mod rows;

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::config::{Backend, DatabaseSettings};
use crate::fanout::Fanout;

/// Counts every statement this connection pool runs: the N+1 tests and `/metrics` read it.
#[derive(Debug, Default)]
pub struct DbStats {
    statements: AtomicU64,
}

impl DbStats {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// A message to deliver later, written with its transaction: on `topic`, about one record.
pub fn outbox_row(
    topic: &str,
    aggregate_type: &str,
    aggregate_id: uuid::Uuid,
    payload: serde_json::Value,
) -> entity::outbox::ActiveModel {
    use sea_orm::Set;
    let now = chrono::Utc::now();
    entity::outbox::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        created_at: Set(now),
        updated_at: Set(now),
        topic: Set(topic.to_owned()),
        aggregate_type: Set(aggregate_type.to_owned()),
        aggregate_id: Set(aggregate_id),
        payload: Set(payload),
        available_at: Set(now),
        processed_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
    }
}

/// Work leased to this replica until released (see [`Db::try_lease`]).
#[derive(Debug)]
pub struct Lease(Option<DatabaseTransaction>);

impl Lease {
    pub async fn release(self) -> Result<(), DbErr> {
        match self.0 {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }
}

/// A pool on either backend, with its statement counter.
#[derive(Clone, Debug)]
pub struct Db {
    /// Writes, transactions, and the reads outside a request's hot path.
    pub conn: DatabaseConnection,
    /// The reads of lists and relations (see [`reads`]).
    pub reads: reads::Reads,
    pub stats: Arc<DbStats>,
    pub backend: Backend,
    /// What this replica tells the others, and hears from them, after a change commits.
    pub fanout: Arc<Fanout>,
    /// Sessions found live, until a revocation says otherwise (see [`live`]).
    pub sessions: Arc<live::LiveSessions>,
    /// The shop's users, until a service announces that it changed one (see [`live`]).
    pub staff: Arc<live::Staff>,
    /// When idle connections were last swept after a failure to reach the database (ms since the epoch).
    swept_at: Arc<AtomicU64>,
}

/// Opens the pool. SQLite gets WAL, a busy timeout and enforced foreign keys on every connection;
/// its directory is created if missing.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Db> {
    let url = settings.url.expose().clone();
    let backend = settings.backend();
    if backend == Backend::Sqlite
        && let Some(dir) = sqlite_dir(&url)
    {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // One budget per replica: on PostgreSQL the reads' own pool takes half of it (when there are two to share)
    // and the shared pool the rest. Each connection to `sqlite::memory:` would be a database of its own.
    let budget = settings.max_connections.max(1);
    let read_pool = if backend == Backend::Postgres {
        budget / 2
    } else {
        0
    };
    let pool_size = if url.contains(":memory:") {
        1
    } else {
        budget - read_pool
    };
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(pool_size)
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false)
        // A ping on every checkout doubles the round trips of a one-row read; only a connection idle long
        // enough for a server, proxy or firewall to have dropped it is tested first.
        .test_before_acquire_if_idle_for(TEST_IF_IDLE_FOR)
        .map_sqlx_postgres_opts(planned_once)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    let mut conn = sea_orm::Database::connect(opts)
        .await
        .context("connecting to the database")?;
    let stats = Arc::new(DbStats::default());
    let counter = Arc::clone(&stats);
    conn.set_metric_callback(move |info| {
        record_statement(&counter, info.elapsed, &info.statement.sql, info.failed);
    });
    let fanout = Fanout::alone();
    let reads = match backend {
        Backend::Postgres if read_pool > 0 => reads::Reads::postgres(
            conn.clone(),
            reads::ReadPool::new(
                pg_options(settings)?,
                reads::Limits {
                    size: read_pool,
                    connect_timeout: CONNECT_TIMEOUT,
                    acquire_timeout: ACQUIRE_TIMEOUT,
                    test_if_idle_for: TEST_IF_IDLE_FOR,
                    // sqlx's defaults, which the shared pool keeps.
                    idle_timeout: Duration::from_secs(10 * 60),
                    max_lifetime: Duration::from_secs(30 * 60),
                },
                Arc::clone(&stats),
            ),
        ),
        _ => reads::Reads::shared(conn.clone()),
    };
    Ok(Db {
        conn,
        reads,
        stats,
        backend,
        sessions: live::LiveSessions::new("sessions", settings.remember_for, Arc::clone(&fanout)),
        staff: live::Staff::new("staff", settings.remember_for, Arc::clone(&fanout)),
        fanout,
        swept_at: Arc::default(),
    })
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const TEST_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Every statement we send is parameterised, and the loaders take their ids as one array. PostgreSQL guesses
/// ten elements for an array it cannot see, so the generic plan always looks dearer than one made for the
/// actual values, and by default it plans such a statement again on every execution: for the customer card
/// that planning cost more than running its statements. The plans do not depend on the values here (keys,
/// foreign keys, statuses), so each is planned once per connection.
fn planned_once(o: PgConnectOptions) -> PgConnectOptions {
    o.options([("plan_cache_mode", "force_generic_plan")])
}

fn pg_options(settings: &DatabaseSettings) -> anyhow::Result<PgConnectOptions> {
    let options =
        PgConnectOptions::from_str(settings.url.expose()).context("reading DATABASE_URL")?;
    Ok(planned_once(options))
}

/// Counts a statement for the N+1 tests and `/metrics`, whichever pool ran it.
fn record_statement(stats: &DbStats, elapsed: Duration, sql: &str, failed: bool) {
    stats.statements.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(target: "autoshop::sql", elapsed_us = elapsed.as_micros() as u64, sql = %sql, "statement");
    metrics::counter!("autoshop_db_statements_total", "failed" => if failed { "true" } else { "false" })
        .increment(1);
    metrics::histogram!("autoshop_db_statement_seconds").record(elapsed.as_secs_f64());
}

fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .map(|p| p.to_path_buf())
        .filter(|p| !p.as_os_str().is_empty())
}

impl Db {
    pub async fn migrate_up(&self) -> anyhow::Result<()> {
        Migrator::up(&self.conn, None)
            .await
            .context("running migrations")
    }

    pub async fn pending_migrations(&self) -> anyhow::Result<usize> {
        Ok(Migrator::get_pending_migrations(&self.conn)
            .await
            .context("reading migration state")?
            .len())
    }

    /// A transaction for a read-modify-write. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads and then writes fails at once if another writer got in between.
    /// On PostgreSQL, rows are locked with `SELECT … FOR UPDATE` inside it.
    /// A connection that died while idle (a restart, a failover) fails its `BEGIN`, before anything was
    /// written: that is retried once, on another connection.
    /// A lease on work only one replica at a time should do (a sweep), or none while another replica holds it:
    /// a transaction-scoped advisory lock on PostgreSQL, kept until [`Lease::release`]. The single box
    /// (SQLite) has nobody to share with.
    pub async fn try_lease(&self, name: &str) -> Result<Option<Lease>, DbErr> {
        if self.backend != Backend::Postgres {
            return Ok(Some(Lease(None)));
        }
        let tx = self.conn.begin().await?;
        let got = tx
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS got",
                [format!("autoshop:{name}").into()],
            ))
            .await?
            .map(|r| r.try_get::<bool>("", "got"))
            .transpose()?
            .unwrap_or(false);
        if got {
            Ok(Some(Lease(Some(tx))))
        } else {
            Ok(None)
        }
    }

    pub async fn write_tx(&self) -> Result<DatabaseTransaction, DbErr> {
        let begin = || {
            self.conn.begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
        };
        match begin().await {
            Err(e) if !matches!(e, DbErr::ConnectionAcquire(_)) && crate::error::is_outage(&e) => {
                self.suspect();
                begin().await
            }
            other => other,
        }
    }

    /// One round trip: what `/readyz` asks.
    pub async fn ping(&self) -> bool {
        self.conn.execute_unprepared("SELECT 1").await.is_ok()
    }

    /// Something failed to reach the database. Idle connections may all be dead now (a restart, a failover,
    /// a cut network), and each would fail one request when next used: they are tested in the background and
    /// the dead ones dropped, at most once a second.
    pub fn suspect(&self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let last = self.swept_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1000
            || self
                .swept_at
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.reads.forget_idle();
        let pool = self.conn.get_postgres_connection_pool().clone();
        tokio::spawn(async move {
            use sea_orm::sqlx::Connection as _;
            // Held until the sweep ends, so that no connection is tested twice.
            let mut alive = Vec::new();
            while let Some(mut c) = pool.try_acquire() {
                match tokio::time::timeout(Duration::from_secs(1), c.ping()).await {
                    Ok(Ok(())) => alive.push(c),
                    _ => drop(c.detach()),
                }
            }
            tracing::info!(alive = alive.len(), "swept idle database connections");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_directory_is_found_in_the_url() {
        assert_eq!(
            sqlite_dir("sqlite://./data/autoshop.db?mode=rwc"),
            Some("./data".into())
        );
        assert_eq!(sqlite_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_dir("sqlite://shop.db"), None);
    }
}
