//! Revocation requests and their outcome.

use super::db::Tx;
use super::{Result, Store};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent, JobKind, JobLease};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// revoked_at, revocation_requested_at, requested_reason, revocation_error.
type RevocationRow = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<i32>,
    Option<Value>,
);

/// Where a revocation stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RevocationState {
    NotRequested,
    Requested {
        reason: i32,
    },
    Revoked,
    /// SCM refused; the problem document says why. A new request may be made.
    Failed(Value),
}

/// An event about certificate `cert_id` (its serial and order looked up in the transaction).
async fn cert_event(
    tx: &mut Tx,
    cert_id: &str,
    kind: &'static str,
    actor: Actor,
) -> Result<AuditEvent> {
    let row = tx
        .fetch_one(
            tx.query("SELECT serial, order_id, account_id FROM certificates WHERE id = $1")
                .bind(cert_id),
        )
        .await?;
    let serial: String = row.get("serial")?;
    let order_id: String = row.get("order_id")?;
    let account_id: String = row.get("account_id")?;
    Ok(AuditEvent::new(kind, actor)
        .serial(serial)
        .order(order_id)
        .account(account_id))
}

impl Store {
    /// Records a revocation request and its job (idempotent while one is pending); the bridge
    /// itself is the recorded requester (see [`Store::request_revocation_by`]).
    pub async fn request_revocation(
        &self,
        cert_id: &str,
        reason: i32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.request_revocation_by(cert_id, reason, &Actor::System, now)
            .await
    }

    /// Records a revocation request by `actor` (the account, the certificate's key or an
    /// operator) and its job, with the audit event, in one transaction.
    pub async fn request_revocation_by(
        &self,
        cert_id: &str,
        reason: i32,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let r = tx
            .execute(
                tx.query(
                    "UPDATE certificates SET revocation_requested_at = $2, requested_reason = $3, \
             revocation_error = NULL \
             WHERE id = $1 AND revoked_at IS NULL AND revocation_requested_at IS NULL",
                )
                .bind(cert_id)
                .bind(now)
                .bind(reason),
            )
            .await?;
        if r == 1 {
            Self::enqueue_job(&mut tx, JobKind::Revoke, cert_id, now).await?;
            let ev = cert_event(&mut tx, cert_id, kind::REVOCATION_REQUESTED, actor.clone())
                .await?
                .details(serde_json::json!({ "reason": reason }));
            Self::record_event(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The revocation state of a certificate.
    pub async fn revocation_state(&self, cert_id: &str) -> Result<RevocationState> {
        let q = self
            .db
            .query(
                "SELECT revoked_at, revocation_requested_at, requested_reason, revocation_error \
                 FROM certificates WHERE id = $1",
            )
            .bind(cert_id);
        let row: Option<RevocationRow> = match self.db.fetch_optional(q).await? {
            Some(r) => Some((
                r.get("revoked_at")?,
                r.get("revocation_requested_at")?,
                r.get("requested_reason")?,
                r.get("revocation_error")?,
            )),
            None => None,
        };
        Ok(match row {
            Some((Some(_), _, _, _)) => RevocationState::Revoked,
            Some((None, Some(_), reason, _)) => RevocationState::Requested {
                reason: reason.unwrap_or(0),
            },
            Some((None, None, _, Some(err))) => RevocationState::Failed(err),
            _ => RevocationState::NotRequested,
        })
    }

    /// SCM confirmed: the certificate is revoked; the job is removed.
    pub async fn complete_revocation(
        &self,
        lease: &JobLease,
        cert_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let revoked = tx
            .execute(
                tx.query(
                    "UPDATE certificates SET revoked_at = COALESCE(revoked_at, $2), \
             revocation_reason = COALESCE(revocation_reason, requested_reason) \
             WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(cert_id)
                .bind(now),
            )
            .await?;
        if revoked == 1 {
            let ev = cert_event(&mut tx, cert_id, kind::CERT_REVOKED, Actor::System).await?;
            Self::record_event(&mut tx, &ev, now).await?;
        }
        Self::finish_job(&mut tx, lease).await?;
        tx.commit().await?;
        self.watchers.changed(cert_id);
        Ok(())
    }

    /// SCM refused: the request is cleared so the client may try again; the job is removed.
    pub async fn fail_revocation(
        &self,
        lease: &JobLease,
        cert_id: &str,
        error: &Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let failed = tx
            .execute(
                tx.query(
                    "UPDATE certificates SET revocation_requested_at = NULL, revocation_error = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(cert_id)
                .bind(error),
            )
            .await?;
        if failed == 1 {
            let ev = cert_event(&mut tx, cert_id, kind::REVOCATION_FAILED, Actor::System)
                .await?
                .details(serde_json::json!({ "error": error }));
            Self::record_event(&mut tx, &ev, now).await?;
        }
        Self::finish_job(&mut tx, lease).await?;
        tx.commit().await?;
        self.watchers.changed(cert_id);
        Ok(())
    }
}
