//! The SCM side of an order (its enrollment) and the certificate it produced.

use chrono::{DateTime, Utc};

/// What finalize records for the issuance worker.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub order_id: String,
    pub csr_der: Vec<u8>,
    pub marker: String,
    pub org_id: i64,
    pub cert_type: i64,
    pub term: i64,
    pub subj_alt_names: Vec<String>,
    pub common_name: Option<String>,
    pub enroll_started_at: Option<DateTime<Utc>>,
    /// When the last enroll call ended with an answer from SCM (an HTTP status), if it did: an
    /// answered failure settles `issuance.enroll_settle_secs` after it, not after the timeout.
    pub enroll_answered_at: Option<DateTime<Utc>>,
    pub enroll_attempts: i32,
    pub ssl_id: Option<i64>,
    pub renew_id: Option<String>,
    pub collect_attempts: i32,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub finalized_at: DateTime<Utc>,
}

/// An issued certificate.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub id: String,
    pub order_id: String,
    pub account_id: String,
    pub chain_pem: String,
    pub serial: String,
    pub key_thumbprint: String,
    pub ssl_id: i64,
    pub not_after: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<i32>,
    /// Other chains for the same leaf (RFC 8555 §7.4.2), leaf first as PEM, most preferred first:
    /// computed at issuance from SCM's answer, so a download never needs SCM or a re-parse.
    pub alternate_chains: Vec<String>,
}
