//! An External Account Binding key: the operator's grant that decides who may register and what
//! their accounts may order.

use chrono::{DateTime, Utc};

/// An External Account Binding key created by an operator (`eab create`).
#[derive(Clone)]
pub struct EabKey {
    pub kid: String,
    /// The HMAC key; never logged (see the manual `Debug`).
    pub hmac_key: Vec<u8>,
    pub label: String,
    /// Name patterns accounts bound to this key may order (see `policy`).
    pub allowed_patterns: Vec<String>,
    /// SCM organization or department id certificates are enrolled under.
    pub scm_org_id: Option<i64>,
    /// Profiles this key may use; empty = all.
    pub profiles: Vec<String>,
    /// Authorize names SCM reports as validated for the org without a challenge.
    pub trust_scm_dcv: bool,
    pub single_use: bool,
    pub created_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Revoked so that the accounts bound to it may no longer order (`eab revoke` without
    /// `--keep-accounts`); only meaningful with `revoked_at`.
    pub accounts_stopped: bool,
}

impl EabKey {
    /// Whether accounts bound to this key are refused newOrder, finalize and challenges: the
    /// operator revoked it without keeping its accounts.
    pub fn stops_accounts(&self) -> bool {
        self.revoked_at.is_some() && self.accounts_stopped
    }
}

impl std::fmt::Debug for EabKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EabKey")
            .field("kid", &self.kid)
            .field("hmac_key", &"[redacted]")
            .field("label", &self.label)
            .field("allowed_patterns", &self.allowed_patterns)
            .field("scm_org_id", &self.scm_org_id)
            .field("single_use", &self.single_use)
            .field("revoked_at", &self.revoked_at)
            .field("accounts_stopped", &self.accounts_stopped)
            .finish()
    }
}
