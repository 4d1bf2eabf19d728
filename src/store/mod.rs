//! Every SQL statement of the bridge lives under this module. Callers see one [`Store`] with methods
//! that say what they do ("redeem this nonce", "create this account unless the key exists"), so the
//! SQLite backend can implement the same guarantees differently.

mod accounts;
mod admin;
mod ari;
mod audit;
mod authorizations;
mod authz_rows;
mod certificates;
mod completion;
mod db;
mod eab;
pub mod eab_crypto;
mod eab_reencrypt;
mod expiry;
mod finalize;
mod group_commit;
mod issuance;
pub mod issuance_records;
mod jobs;
mod nonces;
pub mod order_records;
mod orders;
mod orphans;
pub mod outage;
mod pg_pool;
mod query;
pub mod records;
mod retention;
mod revocation;
mod settings;
mod sqlite_readers;
mod validation;
mod watch;

pub use admin::{
    CertFilter, CertSummary, OrderFilter, OrderSummary, Page, PendingIssuance, Summary,
};
pub use ari::{AriCertificate, AriState, RenewCandidate, ReplacementClaim, STATUS_SWEEP_SUBJECT};
pub use eab::EabRevocation;
pub use eab_crypto::EabCipher;
pub use eab_reencrypt::EabEncryption;
pub use expiry::{ExpiringCertificate, ExpirySnapshot};
pub use issuance_records::*;
pub use jobs::{JobWakeups, JOBS_CHANNEL};
pub use order_records::*;
pub use orphans::{OrphanCandidate, RECONCILE_SUBJECT};
pub use records::*;
pub use retention::Purged;
pub use revocation::RevocationState;
pub use watch::Watch;

use crate::config::DatabaseConfig;
use db::Db;
use query::DbRow;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Why a storage operation failed. Callers treat every variant as an internal error except the
/// ones a method documents as an outcome.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The database could not be reached or dropped the connection (a restart, a network cut):
    /// worth retrying shortly, answered 503 with `Retry-After` (see `store::outage`).
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("no database configured: set database.url (or BRIDGE_DATABASE__URL)")]
    NotConfigured,
    #[error(
        "database.url must start with postgres:// (production, several replicas) or sqlite:// \
         (one instance); got the scheme {0:?}"
    )]
    UnsupportedUrl(String),
    #[error("cannot create the directory of the SQLite file {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the commit shared with other writes failed: {0}")]
    GroupCommit(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "EAB key {0} is stored encrypted, but no encryption key is configured: set \
         acme.eab_encryption_key_file (or BRIDGE_ACME__EAB_ENCRYPTION_KEY) to the key it was \
         encrypted with"
    )]
    EabKeyLocked(String),
    #[error(
        "cannot decrypt the HMAC key of EAB key {0}: the configured acme.eab_encryption_key is not \
         the key it was encrypted with, or the row was altered. Configure that key, or move the \
         rows to the new key with `eab reencrypt --old-key-file FILE`"
    )]
    EabKeyUndecryptable(String),
    #[error(
        "no EAB encryption key is configured: set acme.eab_encryption_key_file (a file holding 32 \
         bytes as base64 or hex, e.g. from `openssl rand -base64 32`) or \
         BRIDGE_ACME__EAB_ENCRYPTION_KEY"
    )]
    EabEncryptionNotConfigured,
    /// A job write named a lease that is no longer the job's: the lease ran out and the job was
    /// claimed again (or finished) meanwhile. The handler must stop without calling SCM again.
    #[error(
        "job {0} is no longer leased by this handler (its lease ran out and it was claimed again)"
    )]
    LeaseLost(i64),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if outage::is_unavailable(&e) {
            Self::Unavailable(e)
        } else {
            Self::Database(e)
        }
    }
}

impl StoreError {
    /// Whether the database was away rather than refusing: the operation may succeed if retried
    /// shortly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Migrate(sqlx::migrate::MigrateError::Execute(e)) => outage::is_unavailable(e),
            _ => false,
        }
    }
}

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Transactions committed and the commits that carried them (SQLite group commit), for metrics and
/// the benchmark's "fsyncs per order".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitTotals {
    pub transactions: u64,
    pub commits: u64,
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Shared by every replica; the production choice.
    Postgres,
    /// A file in the data directory; one instance only (the zero-setup default).
    Sqlite,
}

/// Handle to the database; cheap to clone, shared by every request and worker of a replica.
#[derive(Clone)]
pub struct Store {
    db: Db,
    watchers: Arc<watch::Watchers>,
    /// Seals EAB HMAC keys at rest; `None` stores them in plaintext (see `eab_crypto`).
    eab_cipher: Option<Arc<EabCipher>>,
    /// Whether the hot paths use their PostgreSQL one-statement spelling (see
    /// [`Store::with_transaction_spelling`]).
    one_statement_paths: bool,
}

static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
/// Most SQLite read connections: each has its own thread, and reads are short, so more than a few
/// only add context switches on a small machine (`database.max_connections` caps it further).
const SQLITE_MAX_READERS: u32 = 4;

/// Bytes of the SQLite file read through a memory map (docs/performance.md).
const SQLITE_MMAP_BYTES: u64 = 256 << 20;

/// WAL pages after which SQLite copies them back into the database file (its default is 1000).
const SQLITE_CHECKPOINT_PAGES: u32 = 10_000;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Store {
    /// Opens a pool for `postgres://…` or `sqlite://…` (the file and its directory are created
    /// when missing). Does not migrate: call [`Store::migrate`].
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Self> {
        let url = cfg.url.as_ref().ok_or(StoreError::NotConfigured)?.expose();
        let acquire = Duration::from_secs(cfg.acquire_timeout_secs);
        let db = match backend_of(url)? {
            Backend::Postgres => {
                // Our own pool (see `pg_pool`): no ping around each use. A database restart is
                // ridden out within a bounded budget, else `StoreError::Unavailable` (503 with
                // Retry-After; see `outage`); jobs are retried.
                let opts = PgConnectOptions::from_str(url)?;
                Db::Postgres(pg_pool::PgPool::connect(opts, cfg.max_connections, acquire).await?)
            }
            Backend::Sqlite => {
                // WAL lets readers run beside the one writer; FULL makes every commit durable
                // (nothing a client was told is lost on a crash or power cut).
                let opts = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(acquire)
                    // Reads through a memory map instead of a read() per page: SQLite drops a
                    // reader's page cache whenever the file changed, i.e. on almost every read
                    // under load. A checkpoint every ~40 MiB of WAL instead of ~4 MiB writes a
                    // busy page back once instead of ten times. Neither touches durability: a
                    // commit is still on disk (the WAL fsynced) before it is acknowledged.
                    .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
                    .pragma("wal_autocheckpoint", SQLITE_CHECKPOINT_PAGES.to_string());
                if let Some(dir) = opts.get_filename().parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                            path: opts.get_filename().display().to_string(),
                            source,
                        })?;
                    }
                }
                let writer = group_commit::open(&opts).await?;
                let pool = sqlite_readers::SqliteReaders::connect(
                    opts,
                    cfg.max_connections.min(SQLITE_MAX_READERS),
                    acquire,
                )
                .await?;
                Db::Sqlite {
                    pool,
                    writer,
                    jobs: Arc::new(tokio::sync::Notify::new()),
                }
            }
        };
        Ok(Self {
            db,
            watchers: Arc::default(),
            eab_cipher: None,
            one_statement_paths: true,
        })
    }

    /// This store, using on PostgreSQL the transaction spelling SQLite uses for the four hot paths
    /// that PostgreSQL otherwise runs as one statement each (create order, start finalize,
    /// complete issuance, redeem a nonce and read the account). Both spellings must behave the
    /// same; the storage suite runs on PostgreSQL with each, so they cannot drift apart.
    pub fn with_transaction_spelling(mut self) -> Self {
        self.one_statement_paths = false;
        self
    }

    /// Whether a hot path takes its one-statement spelling (PostgreSQL, unless switched off).
    fn one_statement(&self) -> bool {
        self.one_statement_paths && self.db.dialect() == query::Dialect::Postgres
    }

    /// This store, sealing EAB HMAC keys with `cipher` (`acme.eab_encryption_key`) from now on and
    /// opening the rows sealed with it; `None` writes plaintext and cannot read sealed rows.
    pub fn with_eab_cipher(mut self, cipher: Option<EabCipher>) -> Self {
        self.eab_cipher = cipher.map(Arc::new);
        self
    }

    /// Whether EAB HMAC keys are sealed at rest by this store.
    pub fn encrypts_eab_keys(&self) -> bool {
        self.eab_cipher.is_some()
    }

    /// Watches an order or certificate for the worker's outcome (see [`Watch`]).
    pub fn watch(&self, id: &str) -> Watch {
        self.watchers.watch(id)
    }

    /// SQLite's group-commit counts since start (`None` on PostgreSQL).
    pub fn commit_totals(&self) -> Option<CommitTotals> {
        match &self.db {
            Db::Sqlite { writer, .. } => {
                let c = writer.counts();
                Some(CommitTotals {
                    transactions: c.transactions.load(std::sync::atomic::Ordering::Relaxed),
                    commits: c.commits.load(std::sync::atomic::Ordering::Relaxed),
                })
            }
            Db::Postgres(_) => None,
        }
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Postgres(_) => Backend::Postgres,
            Db::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// Brings the schema up to date. Safe to run from several replicas at once (sqlx takes an
    /// advisory lock on PostgreSQL; SQLite serialises writers itself).
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Postgres(p) => {
                use sqlx::{ConnectOptions, Connection};
                let mut conn = p.options().connect().await?;
                PG_MIGRATOR.run(&mut conn).await?;
                conn.close().await?;
            }
            Db::Sqlite { writer, .. } => writer.migrate(&SQLITE_MIGRATOR).await?,
        }
        Ok(())
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        self.db.execute(self.db.query("SELECT 1")).await?;
        Ok(())
    }

    /// Closes every pooled connection (graceful shutdown).
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// The backend a database URL names.
pub fn backend_of(url: &str) -> Result<Backend> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        "sqlite" => Ok(Backend::Sqlite),
        // Only the scheme is shown: the rest may hold a password.
        _ => Err(StoreError::UnsupportedUrl(scheme)),
    }
}

/// Names the database for people (start-up log, zero-setup banner) without its credentials.
pub fn describe_url(url: &str) -> String {
    match backend_of(url) {
        Ok(Backend::Postgres) => "PostgreSQL".into(),
        Ok(Backend::Sqlite) => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            format!("SQLite {path} (a single instance; use PostgreSQL to run replicas)")
        }
        Err(_) => "an unsupported database".into(),
    }
}

/// The zero-setup database: a SQLite file in the data directory.
pub fn default_sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("bridge.db").display())
}

/// Parses a status column, reporting corrupt rows instead of panicking.
fn parse_status<T>(s: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(s).ok_or_else(|| StoreError::Corrupt(format!("{what} status {s:?}")))
}

/// Decodes a JSON column into a typed value.
fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Whether an error is a unique-constraint violation (a concurrent writer won the race).
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
