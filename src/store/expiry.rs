//! The expiry sweep's reads and writes: certificates about to expire that nothing replaced, and the
//! last sweep's counts, which every replica's `/metrics` serves (so the gauge does not depend on
//! which replica happened to run the sweep, and is never a stale copy on another one).

use super::{Result, Store};
use crate::model::{Identifier, JobKind, JobLease};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The sweep job's subject (there is only one).
const SWEEP_SUBJECT: &str = "all";
/// Where the last sweep's counts are kept (`settings`).
const SNAPSHOT_SETTING: &str = "expiry_sweep";

/// A certificate expiring soon that has not been renewed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiringCertificate {
    /// The certificate's id (its URL's last segment).
    pub id: String,
    /// Lower-case hex, as stored.
    pub serial: String,
    /// When it expires.
    pub not_after: DateTime<Utc>,
    /// Whose it is (the log names it so the operator can find the team).
    pub account_id: String,
    /// Label of the account's EAB key (`None`: an account without EAB).
    pub eab_label: Option<String>,
    /// The order's names (what the renewal must cover).
    pub identifiers: Vec<Identifier>,
}

/// What the last sweep counted, by threshold and EAB key label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExpirySnapshot {
    /// When the sweep ran (`None`: never), exposed so a stalled sweep can be alerted on.
    pub swept_at: Option<DateTime<Utc>>,
    /// `(days, eab_label, count)`: certificates expiring within `days` (so a 7-day certificate is
    /// also in the 30-day count); `""` is accounts without EAB.
    pub counts: Vec<(u32, String, i64)>,
}

impl Store {
    /// Unrevoked certificates with `now < not_after <= until` that were not renewed: no unrevoked
    /// certificate for the same set of names expiring later exists for the same account, or for
    /// another account of the same EAB key (a team that re-registered its client). Soonest first.
    pub async fn expiring_unrenewed(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<ExpiringCertificate>> {
        let q = self
            .db
            .query(
                "SELECT c.id, c.serial, c.not_after, c.account_id, o.identifiers, \
                        k.label AS eab_label \
                 FROM certificates c \
                 JOIN orders o ON o.id = c.order_id \
                 JOIN accounts a ON a.id = c.account_id \
                 LEFT JOIN eab_keys k ON k.kid = a.eab_kid \
                 WHERE c.revoked_at IS NULL AND c.not_after > $1 AND c.not_after <= $2 \
                   AND NOT EXISTS ( \
                     SELECT 1 FROM certificates n \
                     JOIN orders o2 ON o2.id = n.order_id \
                     JOIN accounts a2 ON a2.id = n.account_id \
                     WHERE o2.identifiers_key = o.identifiers_key \
                       AND n.revoked_at IS NULL AND n.not_after > c.not_after \
                       AND (n.account_id = c.account_id OR a2.eab_kid = a.eab_kid)) \
                 ORDER BY c.not_after, c.id",
            )
            .bind(now)
            .bind(until);
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(ExpiringCertificate {
                    id: r.get("id")?,
                    serial: r.get("serial")?,
                    not_after: r.get("not_after")?,
                    account_id: r.get("account_id")?,
                    eab_label: r.get("eab_label")?,
                    identifiers: super::from_json(r.get("identifiers")?, "orders.identifiers")?,
                })
            })
            .collect()
    }

    /// Records the sweep job unless it exists (every replica calls this at start; one row results).
    pub async fn ensure_expiry_sweep(&self, run_at: DateTime<Utc>) -> Result<()> {
        let q = self
            .db
            .query(
                "INSERT INTO jobs (kind, subject_id, run_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, subject_id) DO NOTHING",
            )
            .bind(JobKind::ExpirySweep.as_str())
            .bind(SWEEP_SUBJECT)
            .bind(run_at);
        self.db.execute(q).await?;
        Ok(())
    }

    /// Stores the sweep's counts and schedules the next sweep, releasing the lease, in one
    /// transaction.
    pub async fn finish_expiry_sweep(
        &self,
        lease: &JobLease,
        snapshot: &ExpirySnapshot,
        next_run: DateTime<Utc>,
    ) -> Result<()> {
        let value = serde_json::to_vec(snapshot)
            .map_err(|e| super::StoreError::Corrupt(format!("expiry snapshot: {e}")))?;
        let mut tx = self.db.begin().await?;
        Self::check_lease(&mut tx, lease).await?;
        tx.execute(
            tx.query(
                "INSERT INTO settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(SNAPSHOT_SETTING)
            .bind(value),
        )
        .await?;
        tx.execute(
            tx.query(
                "UPDATE jobs SET run_at = $2, lease_until = NULL, leased_by = NULL, \
                 lease_token = NULL, last_error = NULL, attempts = 0 WHERE id = $1",
            )
            .bind(lease.id)
            .bind(next_run),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The last sweep's counts (empty before the first sweep).
    pub async fn expiry_snapshot(&self) -> Result<ExpirySnapshot> {
        let q = self
            .db
            .query("SELECT value FROM settings WHERE name = $1")
            .bind(SNAPSHOT_SETTING);
        let Some(row) = self.db.fetch_optional(q).await? else {
            return Ok(ExpirySnapshot::default());
        };
        let value: Vec<u8> = row.get("value")?;
        serde_json::from_slice(&value)
            .map_err(|e| super::StoreError::Corrupt(format!("expiry snapshot: {e}")))
    }
}
