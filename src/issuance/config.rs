//! `[issuance]`: how the background workers run.

use serde::Deserialize;

/// Worker settings shared by every job kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IssuanceConfig {
    /// Concurrent jobs per replica.
    pub workers: usize,
    /// Seconds a claimed job stays leased; a replica that dies mid-job loses it after this long
    /// and another replica takes over. Must exceed the longest validation or SCM call.
    pub lease_secs: i64,
    /// Milliseconds between checks for due jobs when no notification arrives (scheduled retries,
    /// expired leases).
    pub poll_interval_ms: u64,
}

impl Default for IssuanceConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            lease_secs: 120,
            poll_interval_ms: 1000,
        }
    }
}
