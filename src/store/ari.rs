//! ACME Renewal Information (RFC 9773): finding a certificate by its certID, which order replaces
//! it, certificates to renew now, and the SCM status sweep's reads and writes.

use super::query::placeholders_from;
use super::{from_json, DbRow, Result, Store};
use crate::model::Identifier;
use chrono::{DateTime, Utc};

/// The status sweep job's subject: one row, so the jobs table's lease makes exactly one replica
/// sweep at a time.
pub const STATUS_SWEEP_SUBJECT: &str = "scm";

/// A certificate with what renewalInfo and `replaces` need from its order.
#[derive(Debug, Clone)]
pub struct AriCertificate {
    pub id: String,
    pub account_id: String,
    pub order_id: String,
    /// Leaf first.
    pub chain_pem: String,
    pub ssl_id: i64,
    pub not_after: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The issuing order's profile (the renewal window may depend on it).
    pub profile: Option<String>,
    /// The issuing order's identifiers (`replaces` must share one).
    pub identifiers: Vec<Identifier>,
    pub renew_now_at: Option<DateTime<Utc>>,
    pub renew_now_reason: Option<String>,
    pub replaced_by_order: Option<String>,
}

fn ari_cert_from_row(row: &DbRow) -> Result<AriCertificate> {
    Ok(AriCertificate {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        order_id: row.get("order_id")?,
        chain_pem: row.get("chain_pem")?,
        ssl_id: row.get("ssl_id")?,
        not_after: row.get("not_after")?,
        revoked_at: row.get("revoked_at")?,
        profile: row.get("profile")?,
        identifiers: from_json(row.get("identifiers")?, "orders.identifiers")?,
        renew_now_at: row.get("renew_now_at")?,
        renew_now_reason: row.get("renew_now_reason")?,
        replaced_by_order: row.get("replaced_by_order")?,
    })
}

/// A certificate `certs renew-now` may select, with what its filters match on.
#[derive(Debug, Clone)]
pub struct RenewCandidate {
    pub id: String,
    /// Lower-case hex.
    pub serial: String,
    pub not_after: DateTime<Utc>,
    pub identifiers: Vec<Identifier>,
    pub profile: Option<String>,
    pub eab_kid: Option<String>,
}

/// Outcome of claiming a certificate for a replacing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplacementClaim {
    /// The certificate is now (or already was) replaced by this order.
    Claimed,
    /// Another order, not invalid, replaces it.
    AlreadyReplaced(String),
}

impl Store {
    /// The certificate with this serial (lower-case hex, `encoding::serial_hex`) and its order.
    pub async fn ari_certificate_by_serial(&self, serial: &str) -> Result<Option<AriCertificate>> {
        let q = self
            .db
            .query(
                "SELECT c.id, c.account_id, c.order_id, c.chain_pem, c.ssl_id, c.not_after, \
                 c.revoked_at, c.renew_now_at, c.renew_now_reason, c.replaced_by_order, \
                 o.profile, o.identifiers \
                 FROM certificates c JOIN orders o ON o.id = c.order_id WHERE c.serial = $1",
            )
            .bind(serial);
        let row = self.db.fetch_optional(q).await?;
        row.as_ref().map(ari_cert_from_row).transpose()
    }

    /// Marks `cert_id` as replaced by `order_id` unless a different order that is still alive
    /// (not `invalid`, and not a pending/ready order past its expiry) already replaces it
    /// (RFC 9773 §5). The certificate row is locked while deciding, so of two orders racing for one
    /// certificate exactly one wins. A claim naming an order that cannot be read counts as alive.
    pub async fn claim_replacement(
        &self,
        cert_id: &str,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<ReplacementClaim> {
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT replaced_by_order FROM certificates WHERE id = $1 {}",
            tx.dialect().for_update()
        );
        let row = tx.fetch_optional(tx.query(&sql).bind(cert_id)).await?;
        let current: Option<String> = match row {
            Some(r) => r.get("replaced_by_order")?,
            None => return Err(super::StoreError::Corrupt("certificate vanished".into())),
        };
        if let Some(other) = current.filter(|o| o != order_id) {
            let q = tx
                .query(
                    "SELECT 1 AS dead FROM orders WHERE id = $1 AND (status = 'invalid' \
                     OR (status IN ('pending', 'ready') AND expires_at <= $2))",
                )
                .bind(&other)
                .bind(now);
            if tx.fetch_optional(q).await?.is_none() {
                tx.rollback().await?;
                return Ok(ReplacementClaim::AlreadyReplaced(other));
            }
        }
        let q = tx
            .query("UPDATE certificates SET replaced_by_order = $2 WHERE id = $1")
            .bind(cert_id)
            .bind(order_id);
        tx.execute(q).await?;
        tx.commit().await?;
        Ok(ReplacementClaim::Claimed)
    }

    /// Makes an order that lost its replacement claim invalid with `error` (a problem document),
    /// so it is neither reused nor listed.
    pub async fn abandon_order(
        &self,
        order_id: &str,
        error: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let q = self
            .db
            .query(
                "UPDATE orders SET status = 'invalid', error = $2, updated_at = $3 \
                 WHERE id = $1 AND status IN ('pending', 'ready')",
            )
            .bind(order_id)
            .bind(error)
            .bind(now);
        self.db.execute(q).await?;
        self.watchers.changed(order_id);
        Ok(())
    }

    /// The SCM sslId of the certificate an order replaces, for the enrollment's comments.
    pub async fn replaced_ssl_id(&self, order_id: &str) -> Result<Option<i64>> {
        let q = self
            .db
            .query("SELECT ssl_id FROM certificates WHERE replaced_by_order = $1")
            .bind(order_id);
        let row = self.db.fetch_optional(q).await?;
        row.map(|r| r.get("ssl_id")).transpose()
    }

    /// Certificates not yet revoked, expired or marked: what `certs renew-now` filters.
    pub async fn renew_now_candidates(&self, now: DateTime<Utc>) -> Result<Vec<RenewCandidate>> {
        let q = self
            .db
            .query(
                "SELECT c.id, c.serial, c.not_after, o.identifiers, o.profile, a.eab_kid \
                 FROM certificates c JOIN orders o ON o.id = c.order_id \
                 JOIN accounts a ON a.id = c.account_id \
                 WHERE c.revoked_at IS NULL AND c.renew_now_at IS NULL AND c.not_after > $1 \
                 ORDER BY c.not_after, c.id",
            )
            .bind(now);
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(RenewCandidate {
                    id: r.get("id")?,
                    serial: r.get("serial")?,
                    not_after: r.get("not_after")?,
                    identifiers: from_json(r.get("identifiers")?, "orders.identifiers")?,
                    profile: r.get("profile")?,
                    eab_kid: r.get("eab_kid")?,
                })
            })
            .collect()
    }

    /// Marks certificates for renewal now (renewalInfo then answers a window in the past) with a
    /// short reason code; certificates already marked keep their first mark. Returns how many
    /// were marked.
    pub async fn mark_renew_now(
        &self,
        cert_ids: &[String],
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut marked = 0;
        for chunk in cert_ids.chunks(500) {
            let sql = format!(
                "UPDATE certificates SET renew_now_at = $1, renew_now_reason = $2 \
                 WHERE renew_now_at IS NULL AND id IN {}",
                placeholders_from(3, 1, chunk.len())
            );
            let mut q = self.db.query(&sql).bind(now).bind(reason);
            for id in chunk {
                q = q.bind(id);
            }
            marked += self.db.execute(q).await?;
        }
        Ok(marked)
    }

    /// Up to `limit` certificates the status sweep should ask SCM about: not revoked, not marked,
    /// not expired; never checked first, then least recently checked. Returns (id, sslId).
    pub async fn status_sweep_batch(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(String, i64)>> {
        let nulls_first = self.db.dialect().pick("NULLS FIRST", "");
        let sql = format!(
            "SELECT id, ssl_id FROM certificates \
             WHERE revoked_at IS NULL AND renew_now_at IS NULL AND not_after > $1 \
             ORDER BY scm_checked_at {nulls_first}, id LIMIT $2"
        );
        let q = self.db.query(&sql).bind(now).bind(limit);
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| Ok((r.get("id")?, r.get("ssl_id")?)))
            .collect()
    }

    /// Records the status SCM reported for a certificate; with `renew_now` (a reason code) the
    /// certificate is also marked for renewal now, unless it already was.
    pub async fn record_scm_status(
        &self,
        cert_id: &str,
        status: &str,
        renew_now: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let q = self
            .db
            .query(
                "UPDATE certificates SET scm_status = $2, scm_checked_at = $3, \
                 renew_now_at = CASE WHEN CAST($4 AS TEXT) IS NULL THEN renew_now_at \
                                     ELSE COALESCE(renew_now_at, $3) END, \
                 renew_now_reason = COALESCE(renew_now_reason, CAST($4 AS TEXT)) \
                 WHERE id = $1",
            )
            .bind(cert_id)
            .bind(status)
            .bind(now)
            .bind(renew_now);
        self.db.execute(q).await?;
        Ok(())
    }

    /// The ARI columns of a certificate (tests, `certs` commands): renew-now time and reason,
    /// the order replacing it, and SCM's last reported status.
    pub async fn ari_state(&self, cert_id: &str) -> Result<Option<AriState>> {
        let q = self
            .db
            .query(
                "SELECT renew_now_at, renew_now_reason, replaced_by_order, scm_status, \
                 scm_checked_at FROM certificates WHERE id = $1",
            )
            .bind(cert_id);
        let row = self.db.fetch_optional(q).await?;
        row.map(|r| {
            Ok(AriState {
                renew_now_at: r.get("renew_now_at")?,
                renew_now_reason: r.get("renew_now_reason")?,
                replaced_by_order: r.get("replaced_by_order")?,
                scm_status: r.get("scm_status")?,
                scm_checked_at: r.get("scm_checked_at")?,
            })
        })
        .transpose()
    }
}

/// The ARI columns of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AriState {
    pub renew_now_at: Option<DateTime<Utc>>,
    pub renew_now_reason: Option<String>,
    pub replaced_by_order: Option<String>,
    pub scm_status: Option<String>,
    pub scm_checked_at: Option<DateTime<Utc>>,
}
