//! The two database backends behind one small interface, so every statement of the store is
//! written once (see `store::query`). PostgreSQL is for production (several replicas share it);
//! SQLite is the zero-setup default for a single instance. What differs in running them lives here:
//! how a transaction takes its locks, how a new job wakes the workers, and which connections are
//! kept.

use super::group_commit::{GroupWriter, WriterTx};
use super::outage::{may_reconnect, Budget};
use super::pg_pool::{leaves_connection_usable, PgConn, PgPool};
use super::query::{Args, DbRow, Dialect, Query};
use super::sqlite_readers::SqliteReaders;
use super::{Result, StoreError};
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::Sqlite;
use std::sync::Arc;
use tokio::sync::Notify;

/// A pool of either backend. SQLite reads from a pool and writes through the one group-commit
/// writer (see `group_commit`), and carries the in-process signal that replaces LISTEN/NOTIFY.
#[derive(Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite {
        pool: SqliteReaders,
        writer: GroupWriter,
        jobs: Arc<Notify>,
    },
}

fn mismatch() -> StoreError {
    StoreError::Corrupt("a query was built for the other database backend".into())
}

/// What a statement's caller wants back.
#[derive(Clone, Copy)]
enum Want {
    Affected,
    Optional,
    All,
}

/// What a statement gave back, by [`Want`].
enum Got {
    Affected(u64),
    Rows(Vec<DbRow>),
}

/// Whether a statement only reads (ours never hide a write behind `SELECT`).
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
}

/// Runs one PostgreSQL statement on a pooled connection, keeping the connection for the next use
/// only if the statement ran to its end (see `pg_pool`).
async fn run_pg(
    conn: &mut PgConn,
    sql: &str,
    args: PgArguments,
    want: Want,
) -> std::result::Result<Got, sqlx::Error> {
    let q = sqlx::query_with(sql, args);
    let e = conn.start();
    let got = match want {
        Want::Affected => q.execute(e).await.map(|r| Got::Affected(r.rows_affected())),
        Want::Optional => q
            .fetch_optional(e)
            .await
            .map(|r| Got::Rows(r.into_iter().map(DbRow::Postgres).collect())),
        Want::All => q
            .fetch_all(e)
            .await
            .map(|r| Got::Rows(r.into_iter().map(DbRow::Postgres).collect())),
    };
    if got.as_ref().map_or_else(leaves_connection_usable, |_| true) {
        conn.mark_clean();
    }
    got
}

/// A pooled connection, connecting again within `budget` while the database refuses connections
/// (down, or starting up).
async fn acquire(pool: &PgPool, budget: &mut Budget) -> Result<PgConn> {
    loop {
        match pool.acquire().await {
            Ok(conn) => return Ok(conn),
            Err(e) if may_reconnect(&e) && budget.wait().await => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs one SQLite statement on any SQLite executor (pool or transaction).
async fn run_lite<'e, E>(
    e: E,
    sql: &str,
    args: SqliteArguments<'_>,
    want: Want,
) -> std::result::Result<Got, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let q = sqlx::query_with(sql, args);
    Ok(match want {
        Want::Affected => Got::Affected(q.execute(e).await?.rows_affected()),
        Want::Optional => Got::Rows(
            q.fetch_optional(e)
                .await?
                .into_iter()
                .map(DbRow::Sqlite)
                .collect(),
        ),
        Want::All => Got::Rows(
            q.fetch_all(e)
                .await?
                .into_iter()
                .map(DbRow::Sqlite)
                .collect(),
        ),
    })
}

/// What every executor (pool or transaction) offers on top of its `run`: its dialect, building a
/// statement, running it; `$m` is `mut` for transactions.
macro_rules! executor_methods {
    ($($m:ident)?) => {
        /// The SQL spelling this backend needs.
        pub fn dialect(&self) -> Dialect {
            match self {
                Self::Postgres(_) => Dialect::Postgres,
                Self::Sqlite { .. } => Dialect::Sqlite,
            }
        }

        /// Starts a statement for this backend.
        pub fn query<'q>(&self, sql: &'q str) -> Query<'q> {
            Query::new(self.dialect(), sql)
        }

        /// Runs a statement; returns the number of rows it changed.
        pub async fn execute(&$($m)? self, q: Query<'_>) -> Result<u64> {
            match self.run(q, Want::Affected).await? {
                Got::Affected(n) => Ok(n),
                Got::Rows(_) => Err(mismatch()),
            }
        }

        /// The first row, if any.
        pub async fn fetch_optional(&$($m)? self, q: Query<'_>) -> Result<Option<DbRow>> {
            match self.run(q, Want::Optional).await? {
                Got::Rows(rows) => Ok(rows.into_iter().next()),
                Got::Affected(_) => Err(mismatch()),
            }
        }

        /// Exactly one row.
        pub async fn fetch_one(&$($m)? self, q: Query<'_>) -> Result<DbRow> {
            self.fetch_optional(q).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
        }

        /// Every row.
        pub async fn fetch_all(&$($m)? self, q: Query<'_>) -> Result<Vec<DbRow>> {
            match self.run(q, Want::All).await? {
                Got::Rows(rows) => Ok(rows),
                Got::Affected(_) => Err(mismatch()),
            }
        }
    };
}

impl Db {
    async fn run(&self, q: Query<'_>, want: Want) -> Result<Got> {
        q.check()?;
        Ok(match (q.args, self) {
            (Args::Postgres(a), Self::Postgres(pool)) => {
                // While the database is away (a restart), what is safe to repeat is repeated
                // within a bounded budget: connecting (nothing was sent yet), and a read whose
                // connection was cut. A write that met a cut connection may or may not have
                // committed, so it is not repeated: it fails as `Unavailable` (503, Retry-After).
                let read = is_read(q.sql);
                let mut budget = pool.budget();
                let mut args = Some(a);
                loop {
                    let mut conn = acquire(pool, &mut budget).await?;
                    let this = if read { args.clone() } else { args.take() };
                    let this = this.ok_or_else(mismatch)?;
                    match run_pg(&mut conn, q.sql, this, want).await {
                        Ok(got) => break got,
                        Err(e) if leaves_connection_usable(&e) => return Err(e.into()),
                        Err(e) => {
                            pool.discard_idle();
                            drop(conn);
                            if !(read && budget.wait().await) {
                                return Err(e.into());
                            }
                        }
                    }
                }
            }
            (Args::Sqlite(a), Self::Sqlite { pool, .. }) if is_read(q.sql) => {
                let mut reader = pool.acquire().await?;
                run_lite(reader.conn(), q.sql, a, want).await?
            }
            // A write outside a transaction is a transaction of its own on the writer, so it
            // shares a commit with the writes around it.
            (Args::Sqlite(a), Self::Sqlite { writer, .. }) => {
                let mut tx = writer.begin_one_statement().await?;
                let got = run_lite(tx.conn(), q.sql, a, want).await;
                match got {
                    Ok(got) => {
                        tx.commit().await?;
                        got
                    }
                    Err(e) => {
                        tx.rollback_failed_statement(&e).await?;
                        return Err(e.into());
                    }
                }
            }
            _ => return Err(mismatch()),
        })
    }
    executor_methods!();

    /// The row `sql` finds by its one argument `key`, mapped by `map`; `None` when there is none.
    pub async fn find<T>(
        &self,
        sql: &str,
        key: &str,
        map: fn(&DbRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let row = self.fetch_optional(self.query(sql).bind(key)).await?;
        row.as_ref().map(map).transpose()
    }

    /// Starts a transaction. On SQLite it runs on the one writer connection, inside the shared
    /// transaction opened with `BEGIN IMMEDIATE` (see `group_commit`): it holds the write lock
    /// from its first statement, so a transaction that reads and then writes can never fail
    /// half-way because another writer committed in between, and the guarantees `FOR UPDATE`
    /// gives on PostgreSQL hold.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Self::Postgres(pool) => {
                // Nothing has happened yet, so a cut connection is replaced within the budget.
                let mut budget = pool.budget();
                loop {
                    let mut conn = acquire(pool, &mut budget).await?;
                    match run_pg(&mut conn, "BEGIN", PgArguments::default(), Want::Affected).await {
                        Ok(_) => break Tx::Postgres(PgTx { conn: Some(conn) }),
                        Err(e) if leaves_connection_usable(&e) => return Err(e.into()),
                        Err(e) => {
                            pool.discard_idle();
                            drop(conn);
                            if !budget.wait().await {
                                return Err(e.into());
                            }
                        }
                    }
                }
            }
            Self::Sqlite { writer, jobs, .. } => Tx::Sqlite {
                tx: writer.begin().await?,
                jobs: jobs.clone(),
                wake_jobs: false,
            },
        })
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.close().await,
            Self::Sqlite { pool, writer, .. } => {
                writer.close().await;
                pool.close().await
            }
        }
    }
}

/// A PostgreSQL transaction on one pooled connection. Dropped without commit, it is rolled back
/// in the background and the connection returns to the pool afterwards (or is closed if the
/// rollback fails).
pub struct PgTx {
    conn: Option<PgConn>,
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = run_pg(
                        &mut conn,
                        "ROLLBACK",
                        PgArguments::default(),
                        Want::Affected,
                    )
                    .await;
                });
            }
            // Without a runtime the connection is closed (never marked clean again).
        }
    }
}

/// An open transaction of either backend; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Postgres(PgTx),
    Sqlite {
        tx: WriterTx,
        jobs: Arc<Notify>,
        /// A job was enqueued: wake the worker once the commit made it visible.
        wake_jobs: bool,
    },
}

impl Tx {
    async fn run(&mut self, q: Query<'_>, want: Want) -> Result<Got> {
        q.check()?;
        Ok(match (q.args, self) {
            (Args::Postgres(a), Self::Postgres(PgTx { conn: Some(conn) })) => {
                run_pg(conn, q.sql, a, want).await?
            }
            (Args::Sqlite(a), Self::Sqlite { tx, .. }) => {
                run_lite(tx.conn(), q.sql, a, want).await?
            }
            _ => return Err(mismatch()),
        })
    }
    executor_methods!(mut);

    /// Asks for the workers to be woken when this transaction commits (SQLite; PostgreSQL uses
    /// `pg_notify` inside the transaction instead).
    pub fn wake_jobs_on_commit(&mut self) {
        if let Self::Sqlite { wake_jobs, .. } = self {
            *wake_jobs = true;
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        match self {
            Self::Postgres(mut t) => {
                let mut conn = t.conn.take().ok_or_else(mismatch)?;
                run_pg(&mut conn, "COMMIT", PgArguments::default(), Want::Affected).await?;
            }
            Self::Sqlite {
                tx,
                jobs,
                wake_jobs,
            } => {
                tx.commit().await?;
                if wake_jobs {
                    jobs.notify_one();
                }
            }
        }
        Ok(())
    }

    /// Rolls back (also what dropping does, but explicit where the code goes on afterwards).
    pub async fn rollback(self) -> Result<()> {
        match self {
            Self::Postgres(mut t) => {
                let mut conn = t.conn.take().ok_or_else(mismatch)?;
                run_pg(
                    &mut conn,
                    "ROLLBACK",
                    PgArguments::default(),
                    Want::Affected,
                )
                .await?;
            }
            Self::Sqlite { tx, .. } => tx.rollback().await?,
        }
        Ok(())
    }
}
