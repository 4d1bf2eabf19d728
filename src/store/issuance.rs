//! Finalize, enrollment progress and certificates: each step is one transaction, so a crash at any
//! point leaves a state the worker can resume from.

use super::{Certificate, Enrollment, FinalizeOutcome, Result, Store};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// The job kind that drives an order through SCM.
pub const ISSUE_JOB: &str = "issue";

const ENROLLMENT_COLUMNS: &str = "order_id, csr_der, marker, org_id, cert_type, term, \
     subj_alt_names, common_name, enroll_started_at, enroll_attempts, ssl_id, renew_id, \
     collect_attempts, next_poll_at, finalized_at";

fn enrollment_from_row(row: &PgRow) -> Result<Enrollment> {
    Ok(Enrollment {
        order_id: row.try_get("order_id")?,
        csr_der: row.try_get("csr_der")?,
        marker: row.try_get("marker")?,
        org_id: row.try_get("org_id")?,
        cert_type: row.try_get("cert_type")?,
        term: row.try_get("term")?,
        subj_alt_names: super::from_json(row.try_get("subj_alt_names")?, "subj_alt_names")?,
        common_name: row.try_get("common_name")?,
        enroll_started_at: row.try_get("enroll_started_at")?,
        enroll_attempts: row.try_get("enroll_attempts")?,
        ssl_id: row.try_get("ssl_id")?,
        renew_id: row.try_get("renew_id")?,
        collect_attempts: row.try_get("collect_attempts")?,
        next_poll_at: row.try_get("next_poll_at")?,
        finalized_at: row.try_get("finalized_at")?,
    })
}

const CERT_COLUMNS: &str = "id, order_id, account_id, chain_pem, serial, key_thumbprint, ssl_id, \
     not_after, revoked_at, revocation_reason";

fn cert_from_row(row: &PgRow) -> Result<Certificate> {
    Ok(Certificate {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        account_id: row.try_get("account_id")?,
        chain_pem: row.try_get("chain_pem")?,
        serial: row.try_get("serial")?,
        key_thumbprint: row.try_get("key_thumbprint")?,
        ssl_id: row.try_get("ssl_id")?,
        not_after: row.try_get("not_after")?,
        revoked_at: row.try_get("revoked_at")?,
        revocation_reason: row.try_get("revocation_reason")?,
    })
}

impl Store {
    /// Claims a ready order for issuance (`ready → processing`) and records its enrollment and
    /// job in the same transaction: a second finalize finds the order no longer ready.
    pub async fn start_finalize(
        &self,
        e: &Enrollment,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE orders SET status = 'processing', updated_at = $2 \
             WHERE id = $1 AND status = 'ready' AND expires_at > $2",
        )
        .bind(&e.order_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(FinalizeOutcome::NotReady);
        }
        sqlx::query(
            "INSERT INTO enrollments (order_id, csr_der, marker, org_id, cert_type, term, \
             subj_alt_names, common_name, finalized_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(&e.order_id)
        .bind(&e.csr_der)
        .bind(&e.marker)
        .bind(e.org_id)
        .bind(e.cert_type)
        .bind(e.term)
        .bind(serde_json::json!(e.subj_alt_names))
        .bind(&e.common_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Self::enqueue_job(&mut tx, ISSUE_JOB, &e.order_id, now).await?;
        tx.commit().await?;
        Ok(FinalizeOutcome::Started)
    }

    /// Extends the lease of a job `worker` still holds (its handler is still running); `false` when
    /// the job is gone, rescheduled or leased by someone else.
    pub async fn renew_lease(
        &self,
        job_id: i64,
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = GREATEST(lease_until, $3) \
             WHERE id = $1 AND leased_by = $2 AND lease_until IS NOT NULL",
        )
        .bind(job_id)
        .bind(worker)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The enrollment of an order.
    pub async fn enrollment(&self, order_id: &str) -> Result<Option<Enrollment>> {
        let row = sqlx::query(&format!(
            "SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(enrollment_from_row).transpose()
    }

    /// Notes that an enroll call is about to be made (committed before the call).
    pub async fn mark_enroll_started(&self, order_id: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE enrollments SET enroll_started_at = $2, enroll_attempts = enroll_attempts + 1, \
             updated_at = $2 WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets an enroll attempt that provably created nothing in SCM.
    pub async fn clear_enroll_started(&self, order_id: &str) -> Result<()> {
        sqlx::query("UPDATE enrollments SET enroll_started_at = NULL WHERE order_id = $1")
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores SCM's id for the order's certificate request.
    pub async fn record_ssl_id(
        &self,
        order_id: &str,
        ssl_id: i64,
        renew_id: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE enrollments SET ssl_id = $2, renew_id = $3, updated_at = now() WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(ssl_id)
        .bind(renew_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a pending collect and when to poll next (also the job's next run).
    pub async fn schedule_collect(
        &self,
        job_id: i64,
        order_id: &str,
        at: DateTime<Utc>,
        why: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE enrollments SET collect_attempts = collect_attempts + 1, next_poll_at = $2, \
             updated_at = now() WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET run_at = $2, lease_until = NULL, leased_by = NULL, last_error = $3 \
             WHERE id = $1",
        )
        .bind(job_id)
        .bind(at)
        .bind(why)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the certificate, makes the order valid and removes the job, atomically.
    pub async fn complete_issuance(&self, job_id: i64, cert: &Certificate) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO certificates ({CERT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,NULL,NULL) \
             ON CONFLICT (order_id) DO NOTHING"
        ))
        .bind(&cert.id)
        .bind(&cert.order_id)
        .bind(&cert.account_id)
        .bind(&cert.chain_pem)
        .bind(&cert.serial)
        .bind(&cert.key_thumbprint)
        .bind(cert.ssl_id)
        .bind(cert.not_after)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE orders SET status = 'valid', certificate_id = \
               (SELECT id FROM certificates WHERE order_id = $1), updated_at = now() \
             WHERE id = $1 AND status = 'processing'",
        )
        .bind(&cert.order_id)
        .execute(&mut *tx)
        .await?;
        Self::finish_job(&mut tx, job_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a processing order invalid with `error` and removes the job, atomically.
    pub async fn fail_issuance(&self, job_id: i64, order_id: &str, error: &Value) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE orders SET status = 'invalid', error = $2, updated_at = now() \
             WHERE id = $1 AND status = 'processing'",
        )
        .bind(order_id)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        Self::finish_job(&mut tx, job_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The certificate with this id.
    pub async fn certificate(&self, id: &str) -> Result<Option<Certificate>> {
        let row = sqlx::query(&format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(cert_from_row).transpose()
    }

    /// The certificate with this serial (lower-case hex).
    pub async fn certificate_by_serial(&self, serial: &str) -> Result<Option<Certificate>> {
        let row = sqlx::query(&format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE serial = $1"
        ))
        .bind(serial)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(cert_from_row).transpose()
    }

    /// When the issue job of an order runs next (drives Retry-After).
    pub async fn issue_job_run_at(&self, order_id: &str) -> Result<Option<DateTime<Utc>>> {
        let at = sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = $1 AND subject_id = $2")
            .bind(ISSUE_JOB)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(at)
    }
}
