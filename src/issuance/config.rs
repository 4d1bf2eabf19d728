//! `[issuance]`: how the background workers run.

use serde::Deserialize;

/// Worker settings shared by every job kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IssuanceConfig {
    /// Concurrent jobs per replica. Jobs mostly wait (on SCM, which `scm.max_concurrent_requests`
    /// bounds on its own, and on commits): more in flight share more of each commit.
    pub workers: usize,
    /// Seconds a claimed job stays leased; a replica that dies (or stalls) mid-job loses it after
    /// this long and another replica takes over. A live replica renews the lease every third of it
    /// while the job runs, so slow SCM calls do not need a longer lease.
    pub lease_secs: i64,
    /// Milliseconds between checks for due jobs when no notification arrives (scheduled retries,
    /// expired leases).
    pub poll_interval_ms: u64,
    /// Seconds finalize waits for the worker before answering, so a quickly issued certificate is
    /// already `valid` in the finalize response (clients that never poll a `processing` order work).
    pub finalize_wait_secs: u64,
    /// First interval between SCM collect polls, in seconds; doubles on every pending answer.
    pub collect_initial_secs: i64,
    /// Longest interval between collect polls, in seconds.
    pub collect_max_secs: i64,
    /// Give up on a certificate that has not been issued after this many seconds (the order becomes
    /// invalid). Waiting for an SCM administrator's approval can take days, so the default is long.
    pub collect_deadline_secs: i64,
    /// Seconds a certificate may still appear in SCM after an enroll whose outcome is unknown
    /// ended: after SCM answered it with a 5xx, the order's marker is looked up this long after the
    /// answer (and it is enrolled again only if not found); after no answer (a timeout, a cut
    /// connection), this long after the send plus `scm.timeout_secs`. 1–300.
    pub enroll_settle_secs: i64,
    /// Seconds between rounds of the orphan reconciliation (one replica at a time): failed
    /// orders whose enrollment may have created a certificate in SCM are looked up (by sslId or
    /// marker) and what SCM issued for them is revoked. 0 turns it off.
    pub reconcile_interval_secs: u64,
    /// Include the root certificate in the chain handed to clients.
    pub include_root: bool,
    /// Send the account's first contact (without `mailto:`) as SCM's `externalRequester`, so SCM's
    /// own notifications (issued, expiring) reach the team behind the account, not only the
    /// bridge's API admin.
    pub external_requester_from_contact: bool,
    /// The expiry sweep reports certificates expiring within each of these many days and not
    /// renewed (logged, and the `certificates_expiring{days,eab_label}` gauge). Empty: no sweep.
    pub expiry_warning_days: Vec<u32>,
    /// Seconds between expiry sweeps; one replica at a time runs each (a job in the jobs table).
    pub expiry_sweep_interval_secs: i64,
    /// Budget of the SCM status sweep (RFC 9773 "renew now" for certificates revoked, replaced or
    /// expired in SCM outside the bridge): at most this many SCM status reads per hour, over all
    /// replicas (one replica sweeps at a time). 0 turns the sweep off.
    pub status_sweep_calls_per_hour: u32,
    /// Seconds between sweep rounds at full budget; each round reads
    /// `calls_per_hour * interval / 3600` statuses (at least one, the pause then lengthened to fit).
    pub status_sweep_interval_secs: u64,
}

impl Default for IssuanceConfig {
    fn default() -> Self {
        Self {
            workers: 64,
            lease_secs: 60,
            poll_interval_ms: 1000,
            finalize_wait_secs: 10,
            collect_initial_secs: 2,
            collect_max_secs: 60,
            collect_deadline_secs: 14 * 24 * 3600,
            enroll_settle_secs: 5,
            reconcile_interval_secs: 600,
            include_root: false,
            external_requester_from_contact: true,
            expiry_warning_days: vec![30, 7],
            expiry_sweep_interval_secs: 24 * 3600,
            status_sweep_calls_per_hour: 600,
            status_sweep_interval_secs: 60,
        }
    }
}
