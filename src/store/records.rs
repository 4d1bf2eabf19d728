//! What the store's account methods take and answer (accounts and EAB keys themselves are in
//! `crate::model`).

use crate::model::Account;
use serde_json::Value;

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
