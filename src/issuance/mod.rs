//! The durable worker that turns a finalized order into a certificate through SCM.
//!
//! Placeholder: lands with the issuance issue.
