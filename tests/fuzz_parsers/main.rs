//! Property tests: every parser that takes outside input (SCM answers, ACME requests, CSRs,
//! identifiers, contacts, the sandbox's enroll body) returns `Ok` or `Err` for any input and never
//! panics. A panic in these paths is not a bad answer but a crashed job or a dropped connection,
//! and an issue job that panics on an SCM body panics again at every lease expiry.
//!
//! Inputs are both random bytes and *structured*: PEM-like text from BEGIN/END fragments, DER from
//! random TLVs around real certificates, JSON trees with the keys each parser looks for, real CSRs
//! with random names. Each panic found here is also pinned by a unit test next to the fixed code.
//! Case counts keep the whole binary well under a minute in a debug build.

mod chain;
mod collect;
mod csr;
mod fixtures;
mod jose;
mod names;
mod scm_json;
mod strategies;

use proptest::test_runner::Config;

/// `cases` per property (times `FUZZ_CASES_FACTOR`, default 1, for a longer hunt), no regression
/// files (the minimal inputs live on as unit tests next to the fixed code).
pub fn config(cases: u32) -> Config {
    let factor: u32 = std::env::var("FUZZ_CASES_FACTOR")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or(1);
    Config {
        cases: cases.saturating_mul(factor.max(1)),
        failure_persistence: None,
        ..Config::default()
    }
}
