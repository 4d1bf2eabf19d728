//! Nonce redemption: the insert-once row that makes a nonce single-use across all replicas.
//!
//! Every signed request redeems one nonce, so on PostgreSQL redemptions are grouped: requests that
//! arrive while a redemption statement is under way are redeemed together by the next one — one
//! commit for many, as PostgreSQL groups commits itself but without a round-trip and a commit per
//! request. Nobody waits for a batch to fill: a lone request is redeemed at once, and every request
//! is answered only after the commit that records its nonce.

use super::db::{Db, Dialect};
use super::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// Largest group redeemed by one statement.
const MAX_BATCH: usize = 512;

/// One request's redemption, waiting for its group's statement.
struct Pending {
    hash: String,
    expires_at: DateTime<Utc>,
    reply: oneshot::Sender<Result<bool, String>>,
}

/// Hands redemptions to the task that groups them (PostgreSQL only).
#[derive(Clone)]
pub(super) struct NonceBatcher {
    tx: mpsc::UnboundedSender<Pending>,
}

impl NonceBatcher {
    /// Starts the grouping task; it ends when the last store handle is dropped.
    pub(super) fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(redeem_in_groups(db, rx));
        Self { tx }
    }
}

async fn redeem_in_groups(db: Db, mut rx: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        // The same nonce twice in one group: only its first request may have it.
        let mut seen = HashSet::new();
        let (unique, replays): (Vec<Pending>, Vec<Pending>) =
            batch.into_iter().partition(|p| seen.insert(p.hash.clone()));
        for p in replays {
            let _ = p.reply.send(Ok(false));
        }
        let rows: Vec<serde_json::Value> = unique
            .iter()
            .map(|p| serde_json::json!({"h": p.hash, "e": p.expires_at}))
            .collect();
        let q = db
            .query(
                "INSERT INTO nonce_redemptions (nonce_hash, expires_at) \
                 SELECT x.h, x.e FROM jsonb_to_recordset($1) AS x(h text, e timestamptz) \
                 ON CONFLICT (nonce_hash) DO NOTHING RETURNING nonce_hash",
            )
            .bind(serde_json::Value::Array(rows));
        match db.fetch_all(q).await {
            Ok(inserted) => {
                let fresh: HashSet<String> = inserted
                    .iter()
                    .filter_map(|r| r.get::<String, _>("nonce_hash").ok())
                    .collect();
                for p in unique {
                    let _ = p.reply.send(Ok(fresh.contains(&p.hash)));
                }
            }
            Err(e) => {
                let e = e.to_string();
                for p in unique {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

impl Store {
    /// Records that the nonce with this hash was used. Returns `false` when it had been already
    /// (a replay), on this replica or any other.
    pub async fn redeem_nonce(&self, nonce_hash: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        if let (Dialect::Postgres, Some(batcher)) = (self.db.dialect(), &self.nonces) {
            let (reply, answer) = oneshot::channel();
            let pending = Pending {
                hash: nonce_hash.to_string(),
                expires_at,
                reply,
            };
            if batcher.tx.send(pending).is_ok() {
                return match answer.await {
                    Ok(Ok(fresh)) => Ok(fresh),
                    Ok(Err(e)) => Err(StoreError::Shared(e)),
                    Err(_) => Err(StoreError::Shared("the nonce redeemer stopped".into())),
                };
            }
        }
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
