//! Test bodies of the storage suite (see `tests/storage.rs`), one file per area of the store.

pub mod accounts;
pub mod ari;
pub mod audit;
pub mod basics;
pub mod eab_at_rest;
pub mod expiry;
pub mod fixtures;
pub mod harness;
pub mod issuance;
pub mod jobs;
pub mod orders;
pub mod retention;
pub mod validation;
