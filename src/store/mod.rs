//! Every SQL statement of the bridge lives under this module. Callers see one [`Store`] with methods
//! that say what they do ("redeem this nonce", "create this account unless the key exists"), so the
//! SQLite backend can implement the same guarantees differently.

mod accounts;
mod authorizations;
mod eab;
mod issuance;
pub mod issuance_records;
mod jobs;
mod nonces;
pub mod order_records;
mod orders;
pub mod records;
mod revocation;
mod settings;

pub use issuance::ISSUE_JOB;
pub use issuance_records::*;
pub use jobs::JOBS_CHANNEL;
pub use order_records::*;
pub use records::*;
pub use revocation::{RevocationState, REVOKE_JOB};

use crate::config::DatabaseConfig;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// Why a storage operation failed. Callers treat every variant as an internal error except the
/// ones a method documents as an outcome.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("no database configured: set database.url (or BRIDGE_DATABASE__URL)")]
    NotConfigured,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Handle to the database; cheap to clone, shared by every request and worker of a replica.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens a pool. Does not migrate: call [`Store::migrate`].
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Self> {
        let url = cfg.url.as_ref().ok_or(StoreError::NotConfigured)?;
        let opts = PgConnectOptions::from_str(url.expose())?;
        let pool = PgPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_secs(cfg.acquire_timeout_secs))
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    /// Brings the schema up to date. Safe to run from several replicas at once (sqlx takes an
    /// advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        PG_MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
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
