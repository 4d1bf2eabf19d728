//! The policy half of EAB keys — name patterns, SCM org, profiles, trust in SCM's DCV, and whether
//! the operator revoked the key and stopped its accounts — as newOrder, finalize and challenge
//! responses read it. Each replica keeps a key for `acme.eab_cache_secs` before reading it again:
//! the patterns never change after `eab create`, and the cache lifetime is what bounds how long an
//! account of a key revoked by `eab revoke` can still order on a replica that read it just before.

use crate::acme::{AcmeContext, Error, Result};
use crate::model::{Account, EabKey};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys are few (one per team); the bound only guards against a runaway.
const MAX_CACHED_KEYS: usize = 10_000;

/// EAB keys by kid, with when each was read.
pub struct EabPolicies {
    ttl: Duration,
    keys: Mutex<HashMap<String, (Instant, Arc<EabKey>)>>,
}

impl EabPolicies {
    /// A cache whose entries are read again once they are `ttl` old (zero: on every call).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            keys: Mutex::default(),
        }
    }

    /// The key `kid`, from memory while it is younger than the cache lifetime. Never use it for
    /// binding decisions: its `used_at` may be stale.
    pub async fn get(&self, store: &Store, kid: &str) -> Result<Option<Arc<EabKey>>, StoreError> {
        if let Some((read_at, k)) = self.lock().get(kid) {
            if read_at.elapsed() < self.ttl {
                return Ok(Some(k.clone()));
            }
        }
        let read_at = Instant::now();
        let Some(key) = store.eab_key(kid).await? else {
            return Ok(None);
        };
        let key = Arc::new(key);
        let mut keys = self.lock();
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(kid.to_string(), (read_at, key.clone()));
        Ok(Some(key))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<EabKey>)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The EAB key whose policy an order of `account` follows (`None` for an account registered
/// without EAB), or `unauthorized` when the operator revoked that key without keeping its
/// accounts: newOrder, finalize and challenge responses call this first.
pub async fn policy_for_ordering(
    ctx: &AcmeContext,
    account: &Account,
) -> Result<Option<Arc<EabKey>>> {
    let Some(kid) = &account.eab_kid else {
        return Ok(None);
    };
    let key = ctx.eab_policies.get(&ctx.store, kid).await?;
    match key {
        Some(k) if k.stops_accounts() => Err(Error::unauthorized(format!(
            "this account was registered with the External Account Binding key {kid}, which was \
             revoked by the server operator: the account can no longer order certificates. Ask \
             the operator for a new EAB key and register a new account with it"
        ))),
        other => Ok(other),
    }
}
