//! What an operator's request can run into, mapped to HTTP statuses and exit messages at the
//! edges (admin API, console, CLI).

use crate::store::StoreError;

/// Why an operator action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
