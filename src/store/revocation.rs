//! Revocation requests and their outcome.

use super::{Result, Store};
use crate::model::{JobKind, JobLease};
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

impl Store {
    /// Records a revocation request and its job (idempotent while one is pending).
    pub async fn request_revocation(
        &self,
        cert_id: &str,
        reason: i32,
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
        tx.execute(
            tx.query(
                "UPDATE certificates SET revoked_at = COALESCE(revoked_at, $2), \
             revocation_reason = COALESCE(revocation_reason, requested_reason) WHERE id = $1",
            )
            .bind(cert_id)
            .bind(now),
        )
        .await?;
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
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            tx.query(
                "UPDATE certificates SET revocation_requested_at = NULL, revocation_error = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(cert_id)
            .bind(error),
        )
        .await?;
        Self::finish_job(&mut tx, lease).await?;
        tx.commit().await?;
        self.watchers.changed(cert_id);
        Ok(())
    }
}
