//! Account keys as last read, so the JWS signature of a `kid` request can be checked before the
//! database is asked anything; the nonce is then redeemed and the account read in one statement.
//! The cache only speeds up the check: a signature that does not verify with the cached key
//! makes the request read the account and check against its current key (the client may have
//! rolled its key over on another replica), and the account row the statement returns is
//! authoritative — if its key differs, the signature is checked again with it — and its status
//! is checked as before. A forged signature costs one read but never a nonce.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bound on remembered keys (an account costs a few hundred bytes).
const MAX_KEYS: usize = 100_000;

/// Account id → its JWK as last read from the store.
#[derive(Clone, Default)]
pub struct AccountKeys {
    keys: Arc<Mutex<HashMap<String, Value>>>,
}

impl AccountKeys {
    /// The key last seen for this account, if any.
    pub fn get(&self, account_id: &str) -> Option<Value> {
        self.lock().get(account_id).cloned()
    }

    /// Remembers the account's current key.
    pub fn put(&self, account_id: &str, jwk: &Value) {
        let mut keys = self.lock();
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(account_id.to_string(), jwk.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}
