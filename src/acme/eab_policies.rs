//! The policy half of EAB keys — name patterns, SCM org, profiles, trust in SCM's DCV — as newOrder
//! and finalize read it on every order. Those fields never change after `eab create` (revoking a key
//! only stops new accounts from binding with it), so each replica reads a key from the store once.

use crate::store::{EabKey, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Keys are few (one per team); the bound only guards against a runaway.
const MAX_CACHED_KEYS: usize = 10_000;

/// EAB keys by kid, as first read.
#[derive(Default)]
pub struct EabPolicies {
    keys: Mutex<HashMap<String, Arc<EabKey>>>,
}

impl EabPolicies {
    /// The key `kid`, from memory after the first read. Never use it for binding decisions: its
    /// `revoked_at` and `used_at` may be stale.
    pub async fn get(&self, store: &Store, kid: &str) -> Result<Option<Arc<EabKey>>, StoreError> {
        if let Some(k) = self.lock().get(kid) {
            return Ok(Some(k.clone()));
        }
        let Some(key) = store.eab_key(kid).await? else {
            return Ok(None);
        };
        let key = Arc::new(key);
        let mut keys = self.lock();
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(kid.to_string(), key.clone());
        Ok(Some(key))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<EabKey>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}
