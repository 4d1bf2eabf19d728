//! The two database backends behind one small query interface, so every statement of the store is
//! written once. PostgreSQL is for production (several replicas share it); SQLite is the zero-setup
//! default for a single instance. What differs between them lives here and nowhere else: how a
//! transaction takes its locks, how a new job wakes the workers, and the few SQL fragments with no
//! common spelling ([`Dialect`]).

use super::{Result, StoreError};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, ColumnIndex, Decode, Encode, PgPool, Postgres, Sqlite, SqlitePool, Type};
use std::sync::Arc;
use tokio::sync::Notify;

/// Which SQL spelling a statement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// Locks the selected rows until the transaction ends. SQLite needs none: its write
    /// transactions start `IMMEDIATE`, which already excludes every other writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Postgres => "FOR UPDATE",
            Self::Sqlite => "",
        }
    }

    /// Picks the spelling for this backend.
    pub fn pick<'a>(self, postgres: &'a str, sqlite: &'a str) -> &'a str {
        match self {
            Self::Postgres => postgres,
            Self::Sqlite => sqlite,
        }
    }
}

/// `($1, $2, …), (…), …`: placeholders for `rows` rows of `cols` values, so several rows go in one
/// statement (one round-trip).
pub fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A pool of either backend. SQLite carries the in-process signal that replaces LISTEN/NOTIFY.
#[derive(Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite { pool: SqlitePool, jobs: Arc<Notify> },
}

/// A value both backends can bind.
pub trait Bindable<'q>:
    'q + Send + Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite>
{
}
impl<'q, T> Bindable<'q> for T where
    T: 'q + Send + Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite>
{
}

/// A value both backends can decode.
pub trait Decodable:
    for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}
impl<T> Decodable for T where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}

enum Args<'q> {
    Postgres(PgArguments),
    Sqlite(SqliteArguments<'q>),
}

/// One statement with its arguments, built for a given backend by [`Db::query`] or [`Tx::query`].
pub struct Query<'q> {
    sql: &'q str,
    args: Args<'q>,
    /// The first bind that failed to encode; reported when the query runs.
    error: Option<String>,
}

impl<'q> Query<'q> {
    fn new(dialect: Dialect, sql: &'q str) -> Self {
        let args = match dialect {
            Dialect::Postgres => Args::Postgres(PgArguments::default()),
            Dialect::Sqlite => Args::Sqlite(SqliteArguments::default()),
        };
        Self {
            sql,
            args,
            error: None,
        }
    }

    /// Adds the next `$n` argument.
    pub fn bind<T: Bindable<'q>>(mut self, value: T) -> Self {
        let added = match &mut self.args {
            Args::Postgres(a) => a.add(value),
            Args::Sqlite(a) => a.add(value),
        };
        if let Err(e) = added {
            self.error.get_or_insert_with(|| e.to_string());
        }
        self
    }

    fn check(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(StoreError::Corrupt(format!(
                "cannot encode an argument: {e}"
            ))),
            None => Ok(()),
        }
    }
}

/// A result row of either backend.
pub enum DbRow {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

impl DbRow {
    /// The value of a column, by name or position.
    pub fn get<T, I>(&self, index: I) -> Result<T>
    where
        T: Decodable,
        I: ColumnIndex<PgRow> + ColumnIndex<SqliteRow>,
    {
        use sqlx::Row;
        Ok(match self {
            Self::Postgres(r) => r.try_get(index)?,
            Self::Sqlite(r) => r.try_get(index)?,
        })
    }
}

fn mismatch() -> StoreError {
    StoreError::Corrupt("a query was built for the other database backend".into())
}

/// The statements every executor (pool or transaction) offers; `$m` is `mut` for transactions.
macro_rules! executor_methods {
    ($($m:ident)?) => {
        /// Runs a statement; returns the number of rows it changed.
        pub async fn execute(&$($m)? self, q: Query<'_>) -> Result<u64> {
            q.check()?;
            Ok(match (q.args, self.executors()) {
                (Args::Postgres(a), (Some(e), _)) => {
                    sqlx::query_with(q.sql, a).execute(e).await?.rows_affected()
                }
                (Args::Sqlite(a), (_, Some(e))) => {
                    sqlx::query_with(q.sql, a).execute(e).await?.rows_affected()
                }
                _ => return Err(mismatch()),
            })
        }

        /// The first row, if any.
        pub async fn fetch_optional(&$($m)? self, q: Query<'_>) -> Result<Option<DbRow>> {
            q.check()?;
            Ok(match (q.args, self.executors()) {
                (Args::Postgres(a), (Some(e), _)) => {
                    sqlx::query_with(q.sql, a).fetch_optional(e).await?.map(DbRow::Postgres)
                }
                (Args::Sqlite(a), (_, Some(e))) => {
                    sqlx::query_with(q.sql, a).fetch_optional(e).await?.map(DbRow::Sqlite)
                }
                _ => return Err(mismatch()),
            })
        }

        /// Exactly one row.
        pub async fn fetch_one(&$($m)? self, q: Query<'_>) -> Result<DbRow> {
            self.fetch_optional(q).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
        }

        /// Every row.
        pub async fn fetch_all(&$($m)? self, q: Query<'_>) -> Result<Vec<DbRow>> {
            q.check()?;
            Ok(match (q.args, self.executors()) {
                (Args::Postgres(a), (Some(e), _)) => sqlx::query_with(q.sql, a)
                    .fetch_all(e)
                    .await?
                    .into_iter()
                    .map(DbRow::Postgres)
                    .collect(),
                (Args::Sqlite(a), (_, Some(e))) => sqlx::query_with(q.sql, a)
                    .fetch_all(e)
                    .await?
                    .into_iter()
                    .map(DbRow::Sqlite)
                    .collect(),
                _ => return Err(mismatch()),
            })
        }
    };
}

impl Db {
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

    fn executors(&self) -> (Option<&PgPool>, Option<&SqlitePool>) {
        match self {
            Self::Postgres(p) => (Some(p), None),
            Self::Sqlite { pool, .. } => (None, Some(pool)),
        }
    }
    executor_methods!();

    /// Starts a transaction. On SQLite it is `BEGIN IMMEDIATE`: it takes the write lock at once,
    /// so a transaction that reads and then writes can never fail half-way because another writer
    /// committed in between, and the guarantees `FOR UPDATE` gives on PostgreSQL hold.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Self::Postgres(p) => Tx::Postgres(p.begin().await?),
            Self::Sqlite { pool, jobs } => Tx::Sqlite {
                tx: pool.begin_with("BEGIN IMMEDIATE").await?,
                jobs: jobs.clone(),
                wake_jobs: false,
            },
        })
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.close().await,
            Self::Sqlite { pool, .. } => pool.close().await,
        }
    }
}

/// An open transaction of either backend; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite {
        tx: sqlx::Transaction<'static, Sqlite>,
        jobs: Arc<Notify>,
        /// A job was enqueued: wake the worker once the commit made it visible.
        wake_jobs: bool,
    },
}

impl Tx {
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

    fn executors(
        &mut self,
    ) -> (
        Option<&mut sqlx::PgConnection>,
        Option<&mut sqlx::SqliteConnection>,
    ) {
        match self {
            Self::Postgres(tx) => (Some(&mut **tx), None),
            Self::Sqlite { tx, .. } => (None, Some(&mut **tx)),
        }
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
            Self::Postgres(tx) => tx.commit().await?,
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
            Self::Postgres(tx) => tx.rollback().await?,
            Self::Sqlite { tx, .. } => tx.rollback().await?,
        }
        Ok(())
    }
}
