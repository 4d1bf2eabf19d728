//! An ACME account as every layer sees it (RFC 8555 §7.1.2).

use super::status::AccountStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;

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
