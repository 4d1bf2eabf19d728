//! Orphans (#12 item 4): certificates SCM may have issued for orders that failed — by the collect
//! deadline, or after an enroll whose outcome was unknown. The reconcile job reads the failed
//! orders' enrollments that may have created something, and records what it found in
//! `orphan_certificates` (what it did and why) and the enrollment as reconciled.

use super::issuance::{enrollment_from_row, ENROLLMENT_COLUMNS};
use super::{Result, Store};
use crate::model::Enrollment;
use chrono::{DateTime, Utc};

/// The reconcile job's one subject.
pub const RECONCILE_SUBJECT: &str = "scm";

/// A failed order's enrollment that may have a certificate in SCM.
#[derive(Debug, Clone)]
pub struct OrphanCandidate {
    pub enrollment: Enrollment,
    /// The order's problem document (why it failed), quoted in the revocation reason.
    pub order_error: Option<serde_json::Value>,
}

impl Store {
    /// Up to `limit` enrollments of `invalid` orders not reconciled yet that may have created a
    /// certificate: with an sslId (SCM may still issue it, e.g. approved after the collect
    /// deadline), or with an enroll sent before `settled_before` (its outcome was unknown and it
    /// can no longer land). Oldest failures first.
    pub async fn orphan_candidates(
        &self,
        settled_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OrphanCandidate>> {
        let cols = ENROLLMENT_COLUMNS
            .split(", ")
            .map(|c| format!("e.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, o.error AS o_error FROM enrollments e JOIN orders o ON o.id = e.order_id \
             WHERE o.status = 'invalid' AND e.reconciled_at IS NULL \
             AND (e.ssl_id IS NOT NULL OR e.enroll_started_at < $1) \
             ORDER BY o.updated_at LIMIT $2"
        );
        let q = self.db.query(&sql).bind(settled_before).bind(limit);
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(OrphanCandidate {
                    enrollment: enrollment_from_row(r)?,
                    order_error: r.get("o_error")?,
                })
            })
            .collect()
    }

    /// Records a certificate found for a failed order and what was done (`revoked`),
    /// and marks the enrollment reconciled, in one transaction.
    pub async fn record_orphan(
        &self,
        order_id: &str,
        ssl_id: i64,
        action: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let q = tx
            .query(
                "INSERT INTO orphan_certificates (ssl_id, order_id, action, reason, found_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ssl_id) DO NOTHING",
            )
            .bind(ssl_id)
            .bind(order_id)
            .bind(action)
            .bind(reason)
            .bind(now);
        tx.execute(q).await?;
        let q = tx
            .query("UPDATE enrollments SET reconciled_at = $2 WHERE order_id = $1")
            .bind(order_id)
            .bind(now);
        tx.execute(q).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a failed order's enrollment reconciled: SCM holds no certificate of it (or only one
    /// that can never be issued), so it is not looked at again.
    pub async fn mark_reconciled(&self, order_id: &str, now: DateTime<Utc>) -> Result<()> {
        let q = self
            .db
            .query("UPDATE enrollments SET reconciled_at = $2 WHERE order_id = $1")
            .bind(order_id)
            .bind(now);
        self.db.execute(q).await?;
        Ok(())
    }

    /// Orphans found so far by action (`scm_orphan_certificates_total`).
    pub async fn orphan_counts(&self) -> Result<Vec<(String, i64)>> {
        let q = self.db.query(
            "SELECT action, count(*) AS n FROM orphan_certificates GROUP BY action ORDER BY action",
        );
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| Ok((r.get("action")?, r.get("n")?)))
            .collect()
    }

    /// The orphan recorded for `ssl_id`: `(order_id, action, reason)` (operators, tests).
    pub async fn orphan(&self, ssl_id: i64) -> Result<Option<(String, String, String)>> {
        let q = self
            .db
            .query("SELECT order_id, action, reason FROM orphan_certificates WHERE ssl_id = $1")
            .bind(ssl_id);
        let row = self.db.fetch_optional(q).await?;
        row.map(|r| Ok((r.get("order_id")?, r.get("action")?, r.get("reason")?)))
            .transpose()
    }
}
