//! Typed client for Sectigo Certificate Manager's REST API (see shared/scm-api.md). Knows nothing of
//! ACME: the issuance worker translates between the two.
//!
//! - [`ScmClient`]: one async method per SCM call, `Result<T, ScmError>`.
//! - [`ScmError`] / [`ErrorClass`]: pending, awaiting approval, retryable, auth or permanent, and whether
//!   a failed call may still have taken effect on SCM's side.
//! - [`types`]: wire types, shared with the sandbox (the only thing it shares with the bridge).

pub mod check;
pub mod cli;
pub mod client;
pub mod collect;
pub mod config;
pub mod dates;
pub mod discovery;
pub mod error;
pub mod ssl;
pub mod stats;
pub mod types;

pub use client::ScmClient;
pub use collect::{certificates_in, CollectFormat, CollectStyle, Collected};
pub use config::ScmConfig;
pub use discovery::DomainFilter;
pub use error::{ErrorClass, ScmError, TransportKind};
pub use types::{
    CertStatus, CertificateDetails, EnrollRequest, EnrollResponse, ListFilter, RevocationReason,
};
