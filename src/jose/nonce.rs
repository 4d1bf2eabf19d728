//! Anti-replay nonces (RFC 8555 §6.5). A nonce is minted without touching the database: it carries
//! its expiry and an HMAC under a key all replicas share, so any replica can tell ours from forged
//! ones. Single use is enforced by the store's redemption record, or — for a store only this
//! process uses (SQLite) — by a process-local key and an in-memory [`SpentWindow`].

use super::spent_window::{Spend, SpentWindow};
use super::{b64, b64_decode};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

const RANDOM_LEN: usize = 16;
const MAC_LEN: usize = 16;
const NONCE_LEN: usize = 8 + RANDOM_LEN + MAC_LEN;

/// Mints and authenticates nonces.
#[derive(Clone)]
pub struct NonceKey {
    key: Vec<u8>,
    lifetime: chrono::Duration,
    /// Set for a process-local key: nonces carry a sequence number and are spent here.
    local: Option<Arc<SpentWindow>>,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceKey")
            .field("lifetime", &self.lifetime)
            .field("process_local", &self.local.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a nonce is not acceptable (all are `badNonce` to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRejection {
    /// Not a nonce we minted (wrong length, bad MAC: another server's, or made up).
    Unknown,
    /// Ours, but too old.
    Expired,
    /// Ours, and already used.
    Spent,
}

impl NonceKey {
    /// A key of at least 32 bytes and how long nonces stay valid.
    pub fn new(key: Vec<u8>, lifetime: std::time::Duration) -> Self {
        assert!(key.len() >= 32, "nonce key must have at least 256 bits");
        Self {
            key,
            lifetime: chrono::Duration::from_std(lifetime).expect("lifetime fits"),
            local: None,
        }
    }

    /// A key of this process alone, for a store no other process shares (SQLite): nonces are then
    /// spent in memory ([`NonceKey::spend_locally`]) instead of with a database row, and none
    /// minted before a restart is accepted after it (the key is gone with the process).
    pub fn process_local(lifetime: std::time::Duration) -> Self {
        Self {
            local: Some(Arc::default()),
            ..Self::new(crate::ids::random_bytes(32), lifetime)
        }
    }

    /// Spends a nonce that [`NonceKey::check`] accepted, when this key is process-local; `None`
    /// when single use is the store's to record (a shared key).
    pub fn spend_locally(&self, nonce: &str) -> Option<Result<(), NonceRejection>> {
        let window = self.local.as_ref()?;
        let seq = b64_decode(nonce)
            .ok()
            .filter(|raw| raw.len() == NONCE_LEN)
            .map(|raw| u64::from_be_bytes(raw[8..16].try_into().expect("8 bytes")));
        Some(match seq.map(|s| window.spend(s)) {
            Some(Spend::Fresh) => Ok(()),
            Some(Spend::AlreadySpent) => Err(NonceRejection::Spent),
            Some(Spend::OutOfWindow) => Err(NonceRejection::Expired),
            None => Err(NonceRejection::Unknown),
        })
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        m.update(data);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A fresh nonce valid until `now + lifetime`.
    pub fn mint(&self, now: DateTime<Utc>) -> String {
        let expires = (now + self.lifetime).timestamp();
        let mut buf = Vec::with_capacity(NONCE_LEN);
        buf.extend_from_slice(&expires.to_be_bytes());
        match &self.local {
            // Unique by its sequence number; unforgeable by the MAC under this process's key.
            Some(window) => {
                buf.extend_from_slice(&window.mint().to_be_bytes());
                buf.resize(8 + RANDOM_LEN, 0);
            }
            None => buf.extend_from_slice(&crate::ids::random_bytes(RANDOM_LEN)),
        }
        let mac = self.mac(&buf);
        buf.extend_from_slice(&mac);
        b64(&buf)
    }

    /// Checks a nonce is ours and unexpired; returns its expiry (how long its redemption must be
    /// remembered).
    pub fn check(&self, nonce: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, NonceRejection> {
        let raw = b64_decode(nonce).map_err(|_| NonceRejection::Unknown)?;
        if raw.len() != NONCE_LEN {
            return Err(NonceRejection::Unknown);
        }
        let (data, mac) = raw.split_at(8 + RANDOM_LEN);
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        m.update(data);
        m.verify_truncated_left(mac)
            .map_err(|_| NonceRejection::Unknown)?;
        let expires = i64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
        let expires = Utc
            .timestamp_opt(expires, 0)
            .single()
            .ok_or(NonceRejection::Unknown)?;
        if expires <= now {
            return Err(NonceRejection::Expired);
        }
        Ok(expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key() -> NonceKey {
        NonceKey::new(vec![7; 32], Duration::from_secs(60))
    }

    #[test]
    fn minted_nonce_checks_until_it_expires() {
        let now = Utc::now();
        let n = key().mint(now);
        assert!(key().check(&n, now).is_ok());
        assert_eq!(
            key().check(&n, now + chrono::Duration::seconds(61)),
            Err(NonceRejection::Expired)
        );
    }

    #[test]
    fn a_process_local_nonce_is_spent_once_and_not_accepted_by_the_next_process() {
        let now = Utc::now();
        let k = NonceKey::process_local(Duration::from_secs(60));
        let (a, b) = (k.mint(now), k.mint(now));
        assert_ne!(a, b);
        assert!(k.check(&a, now).is_ok());
        assert_eq!(k.spend_locally(&a), Some(Ok(())));
        assert_eq!(k.spend_locally(&a), Some(Err(NonceRejection::Spent)));
        assert_eq!(k.spend_locally(&b), Some(Ok(())));
        let restarted = NonceKey::process_local(Duration::from_secs(60));
        assert_eq!(restarted.check(&a, now), Err(NonceRejection::Unknown));
        assert_eq!(
            key().spend_locally(&key().mint(now)),
            None,
            "shared keys spend in the store"
        );
    }

    #[test]
    fn foreign_or_tampered_nonces_are_unknown() {
        let now = Utc::now();
        let other = NonceKey::new(vec![8; 32], Duration::from_secs(60)).mint(now);
        assert_eq!(key().check(&other, now), Err(NonceRejection::Unknown));
        assert_eq!(key().check("abc", now), Err(NonceRejection::Unknown));
        let mut n = key().mint(now).into_bytes();
        n[3] = if n[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key().check(std::str::from_utf8(&n).unwrap(), now),
            Err(NonceRejection::Unknown)
        );
    }
}
