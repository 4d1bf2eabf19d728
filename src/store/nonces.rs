//! Nonce redemption: the insert-once row that makes a nonce single-use across all replicas.

use super::{Result, Store};
use chrono::{DateTime, Utc};

impl Store {
    /// Records that the nonce with this hash was used. Returns `false` when it had been already
    /// (a replay), on this replica or any other.
    pub async fn redeem_nonce(&self, nonce_hash: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        let q = self
            .db
            .query(
                "INSERT INTO nonce_redemptions (nonce_hash, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (nonce_hash) DO NOTHING",
            )
            .bind(nonce_hash)
            .bind(expires_at);
        Ok(self.db.execute(q).await? == 1)
    }

    /// Deletes redemption records of nonces that have expired anyway; returns how many.
    pub async fn purge_expired_nonces(&self, now: DateTime<Utc>) -> Result<u64> {
        let q = self
            .db
            .query("DELETE FROM nonce_redemptions WHERE expires_at < $1")
            .bind(now);
        self.db.execute(q).await
    }
}
