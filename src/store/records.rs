//! Plain data as stored: what the store hands to the ACME layer and takes back.

use chrono::{DateTime, Utc};
use serde_json::Value;

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

/// Account status (RFC 8555 §7.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Valid,
    Deactivated,
    Revoked,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Deactivated => "deactivated",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "valid" => Self::Valid,
            "deactivated" => Self::Deactivated,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }
}

/// An ACME account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    /// RFC 7638 thumbprint of the account key; unique across accounts.
    pub key_thumbprint: String,
    /// The public key as a JWK object.
    pub jwk: Value,
    pub status: AccountStatus,
    pub contact: Vec<String>,
    pub tos_agreed: bool,
    /// The EAB key that created the account: its policy governs what the account may order.
    pub eab_kid: Option<String>,
    /// The `externalAccountBinding` JWS as the client sent it (echoed in the account object).
    pub eab_binding: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// What `create_account` needs.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: String,
    pub key_thumbprint: String,
    pub jwk: Value,
    pub contact: Vec<String>,
    pub tos_agreed: bool,
    pub eab_kid: Option<String>,
    pub eab_binding: Option<Value>,
}

/// Outcome of `create_account`.
#[derive(Debug)]
pub enum CreateAccountOutcome {
    Created(Account),
    /// Another request registered the same key first; here is that account.
    KeyExists(Account),
    /// The EAB key is revoked, unknown, or single-use and already used.
    EabUnusable,
}

/// Outcome of `change_account_key`.
#[derive(Debug)]
pub enum KeyChangeOutcome {
    Changed(Box<Account>),
    /// The new key belongs to this other account.
    KeyInUse {
        account_id: String,
    },
    /// The account's key changed under us (a concurrent rollover) or the account is gone.
    Stale,
}
