//! The durable background work of the bridge, one job kind each ([`crate::model::JobKind`]):
//! validating challenges, enrolling and collecting certificates through SCM (exactly one enroll per
//! order), revoking through SCM, and the recurring sweeps (expiry warnings, SCM status for ARI,
//! retention). Jobs live in the store and are written in the transaction of the change that needs
//! them; any replica's worker may run any job, and a job whose replica died is taken over when its
//! lease expires.

mod caa;
pub mod chain;
mod config;
pub mod error;
pub mod expiry;
mod issue;
mod notify;
pub mod reconcile;
pub mod retention;
mod revoke;
pub mod status_sweep;
mod validate;
pub mod worker;

pub use config::IssuanceConfig;
pub use error::{ChainError, JobError};
pub use worker::{Worker, WorkerHandle};
