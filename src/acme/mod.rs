//! ACME resources and their rules (RFC 8555): wire types, account operations, status rules, and the
//! one error type. Knows nothing of HTTP frameworks or SQL; storage goes through `store::Store`.

pub mod error;
pub mod types;

pub use error::{Error, ProblemType, Result};
