//! The connection the reads of lists and relations go through: on PostgreSQL, connections of its own that go
//! back to their pool without a round trip.
//!
//! sqlx's pool tests each connection when it is given back (`return_to_pool` sends a query and waits for the
//! answer, with no option to skip it), so every statement through it costs the database two round trips where
//! a hand-written client pays one. The test is there for a statement cut off half-way (a client that went
//! away); here such a connection is closed instead, and one that finished its statement goes straight back.
//! Writes, and their transactions, stay on sea-orm's pool.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Semaphore;

use super::DbStats;

/// Reads through the PostgreSQL read pool when there is one, else (SQLite) through the shared pool; anything
/// that is not a query goes to the shared pool.
#[derive(Clone, Debug)]
pub struct Reads {
    shared: DatabaseConnection,
    postgres: Option<Arc<ReadPool>>,
}

impl Reads {
    pub fn shared(shared: DatabaseConnection) -> Self {
        Self {
            shared,
            postgres: None,
        }
    }

    pub fn postgres(shared: DatabaseConnection, pool: ReadPool) -> Self {
        Self {
            shared,
            postgres: Some(Arc::new(pool)),
        }
    }
}

impl Reads {
    /// See [`ReadPool::forget_idle`].
    pub fn forget_idle(&self) {
        if let Some(pool) = &self.postgres {
            pool.forget_idle();
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Reads {
    fn get_database_backend(&self) -> DbBackend {
        self.shared.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.shared.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.shared.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.postgres {
            // The statements asked for one row select one (a key, a `LIMIT 1`, a count).
            Some(_) => Ok(self.query_all_raw(stmt).await?.into_iter().next()),
            None => self.shared.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.postgres {
            Some(pool) => Ok(pool
                .fetch(&stmt)
                .await?
                .into_iter()
                .map(QueryResult::from)
                .collect()),
            None => self.shared.query_all_raw(stmt).await,
        }
    }
}

/// Up to `size` PostgreSQL connections, opened when first needed, most recently used first (its prepared
/// statements are the warmest).
pub struct ReadPool {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    permits: Semaphore,
    limits: Limits,
    stats: Arc<DbStats>,
}

/// How a [`ReadPool`] opens, tests and retires its connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub size: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    /// A connection idle this long may have been dropped by a server, proxy or firewall: it is tested first.
    pub test_if_idle_for: Duration,
    /// A connection idle this long is closed, so the pool shrinks back after a burst.
    pub idle_timeout: Duration,
    /// A connection this old is closed when it is given back, so a replica's connections follow a failover or a
    /// proxy's rebalancing instead of holding on to the server they first reached.
    pub max_lifetime: Duration,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

struct Idle {
    conn: PgConnection,
    opened: Instant,
    since: Instant,
}

/// A connection in use. Dropped with its connection still in it (its statement did not finish), it closes
/// the connection: what the server was sending is still on the wire.
struct Lease<'a> {
    pool: &'a ReadPool,
    conn: Option<PgConnection>,
    opened: Instant,
    reused: bool,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Lease<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until it ends")
    }

    fn give_back(mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let limits = &self.pool.limits;
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        // The least recently used are at the bottom: those idle too long are closed (dropped) here.
        idle.retain(|c| c.since.elapsed() < limits.idle_timeout);
        if self.opened.elapsed() < limits.max_lifetime {
            idle.push(Idle {
                conn,
                opened: self.opened,
                since: Instant::now(),
            });
        }
    }
}

impl ReadPool {
    pub fn new(options: PgConnectOptions, limits: Limits, stats: Arc<DbStats>) -> Self {
        Self {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(limits.size as usize),
            limits,
            stats,
        }
    }

    async fn lease(&self) -> Result<Lease<'_>, DbErr> {
        let permit = tokio::time::timeout(self.limits.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let (conn, opened, reused) = loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match idle {
                Some(Idle {
                    mut conn,
                    opened,
                    since,
                }) => {
                    if since.elapsed() >= self.limits.test_if_idle_for && conn.ping().await.is_err()
                    {
                        continue;
                    }
                    break (conn, opened, true);
                }
                None => {
                    let conn = tokio::time::timeout(
                        self.limits.connect_timeout,
                        PgConnection::connect_with(&self.options),
                    )
                    .await
                    .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
                    .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
                    break (conn, Instant::now(), false);
                }
            }
        };
        Ok(Lease {
            pool: self,
            conn: Some(conn),
            opened,
            reused,
            _permit: permit,
        })
    }

    /// Drops every idle connection: after a failure to reach the server, none of them can be trusted.
    pub fn forget_idle(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Every row of `stmt`. A connection the server closed while it sat idle fails its next statement; a read
    /// changes nothing, so it is sent once more on a new connection.
    async fn fetch(&self, stmt: &Statement) -> Result<Vec<PgRow>, DbErr> {
        let started = Instant::now();
        let mut retried = false;
        let result = loop {
            let mut lease = self.lease().await?;
            let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
            let result =
                sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
                    .fetch_all(lease.conn())
                    .await;
            match result {
                Ok(rows) => {
                    lease.give_back();
                    break Ok(rows);
                }
                // One lost connection means the others, opened to the same server, are likely gone too (a
                // restart, a failover): they are all dropped, and the retry opens a fresh one.
                Err(e) if lease.reused && !retried && connection_lost(&e) => {
                    self.forget_idle();
                    retried = true;
                }
                // The server refused the statement and said so: the connection is ready for the next.
                Err(e @ sqlx::Error::Database(_)) if !connection_lost(&e) => {
                    lease.give_back();
                    break Err(e);
                }
                Err(e) => break Err(e),
            }
        };
        super::record_statement(&self.stats, started.elapsed(), &stmt.sql, result.is_err());
        result.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))
    }
}

/// Whether the connection is gone: the socket failed, or the server ended the session (SQLSTATE class 08,
/// connection exception, or 57P, an administrator's or a crash's shutdown; PostgreSQL says so before it closes).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}
