//! ACME resources and their rules (RFC 8555): wire types, account operations, status rules, and the
//! one error type. Knows nothing of HTTP frameworks or SQL; storage goes through `store::Store`.

pub mod account;
pub mod ari;
pub mod authz;
pub mod certificate;
pub mod contact;
pub mod context;
pub mod csr;
pub mod dcv_trust;
pub mod eab_policies;
pub mod error;
pub mod finalize;
pub mod order;
pub mod resources;
pub mod revocation;
pub mod scm_target;
pub mod types;
pub mod urls;
pub(crate) mod wait;

pub use context::AcmeContext;
pub use error::{Error, ProblemType, Result};
