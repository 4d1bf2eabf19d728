//! Enrollments and their progress through an issuance (enroll sent, answered, the sslId, collect
//! polls): each step is one write, so a crash at any point leaves a state the worker can resume
//! from. Claiming an order lives in `finalize`, its end in `completion`, certificate rows in
//! `certificates`.

use super::jobs::fenced;
use super::{DbRow, IssueSubject, Result, Store};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent, Enrollment, JobKind, JobLease, OrderStatus};
use chrono::{DateTime, Utc};

pub(super) const ENROLLMENT_COLUMNS: &str = "order_id, csr_der, marker, org_id, cert_type, term, \
     subj_alt_names, common_name, enroll_started_at, enroll_answered_at, enroll_attempts, ssl_id, renew_id, \
     collect_attempts, next_poll_at, finalized_at";

pub(super) fn enrollment_from_row(row: &DbRow) -> Result<Enrollment> {
    Ok(Enrollment {
        order_id: row.get("order_id")?,
        csr_der: row.get("csr_der")?,
        marker: row.get("marker")?,
        org_id: row.get("org_id")?,
        cert_type: row.get("cert_type")?,
        term: row.get("term")?,
        subj_alt_names: super::from_json(row.get("subj_alt_names")?, "subj_alt_names")?,
        common_name: row.get("common_name")?,
        enroll_started_at: row.get("enroll_started_at")?,
        enroll_answered_at: row.get("enroll_answered_at")?,
        enroll_attempts: row.get("enroll_attempts")?,
        ssl_id: row.get("ssl_id")?,
        renew_id: row.get("renew_id")?,
        collect_attempts: row.get("collect_attempts")?,
        next_poll_at: row.get("next_poll_at")?,
        finalized_at: row.get("finalized_at")?,
    })
}

/// The audit event of SCM taking an order's certificate request, under this sslId.
pub(super) fn enrolled(order_id: &str, ssl_id: i64) -> AuditEvent {
    AuditEvent::new(kind::SCM_ENROLLED, Actor::System)
        .order(order_id)
        .details(serde_json::json!({ "ssl_id": ssl_id }))
}

impl Store {
    /// The enrollment of an order.
    pub async fn enrollment(&self, order_id: &str) -> Result<Option<Enrollment>> {
        let sql = format!("SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE order_id = $1");
        self.db.find(&sql, order_id, enrollment_from_row).await
    }

    /// The enrollment of an order with its order's status and account, the account's contacts
    /// and the sslId of the certificate it replaces: what the issue job needs, in one round-trip.
    pub async fn issue_subject(&self, order_id: &str) -> Result<Option<IssueSubject>> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLUMNS}, (SELECT o.status FROM orders o WHERE o.id = $1) AS o_status, \
             (SELECT o.account_id FROM orders o WHERE o.id = $1) AS o_account, \
             (SELECT a.contact FROM accounts a JOIN orders o ON a.id = o.account_id \
              WHERE o.id = $1) AS a_contact, \
             (SELECT c.ssl_id FROM certificates c WHERE c.replaced_by_order = $1) AS replaced_ssl_id \
             FROM enrollments WHERE order_id = $1"
        );
        let Some(row) = self
            .db
            .fetch_optional(self.db.query(&sql).bind(order_id))
            .await?
        else {
            return Ok(None);
        };
        let status: String = row.get("o_status")?;
        Ok(Some(IssueSubject {
            enrollment: enrollment_from_row(&row)?,
            order_status: super::parse_status(&status, OrderStatus::parse, "order")?,
            account_id: row.get("o_account")?,
            account_contact: match row.get::<Option<serde_json::Value>, _>("a_contact")? {
                Some(v) => super::from_json(v, "accounts.contact")?,
                None => Vec::new(),
            },
            replaced_ssl_id: row.get("replaced_ssl_id")?,
        }))
    }

    /// One fenced write of an order's enrollment: `set` may use `$2` (now); `updated_at` is set
    /// too. Touches nothing, and reports `LeaseLost`, unless `lease` still holds the issue job.
    async fn update_enrollment_fenced(
        &self,
        lease: &JobLease,
        order_id: &str,
        set: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE enrollments SET {set}, updated_at = $2 WHERE order_id = $1 AND {FENCE}"
        );
        let q = self.db.query(&sql);
        let q = q.bind(order_id).bind(now).bind(lease.id).bind(&lease.token);
        fenced(lease, self.db.execute(q).await?)
    }

    /// Notes that an enroll call is being sent (committed before the call, once the request holds
    /// its SCM concurrency slot), forgetting the answer time of an earlier call. Fenced by `lease`:
    /// a handler whose lease is gone sends nothing.
    pub async fn mark_enroll_started(
        &self,
        lease: &JobLease,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.update_enrollment_fenced(
            lease,
            order_id,
            "enroll_started_at = $2, enroll_answered_at = NULL, \
             enroll_attempts = enroll_attempts + 1",
            now,
        )
        .await
    }

    /// Notes that the enroll call under way ended with an answer from SCM whose outcome is still
    /// unknown (a 5xx): the settle window counts from here (#12 item 8).
    pub async fn mark_enroll_answered(
        &self,
        lease: &JobLease,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.update_enrollment_fenced(lease, order_id, "enroll_answered_at = $2", now)
            .await
    }

    /// Forgets an enroll attempt that provably created nothing in SCM.
    pub async fn clear_enroll_started(
        &self,
        lease: &JobLease,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.update_enrollment_fenced(
            lease,
            order_id,
            "enroll_started_at = NULL, enroll_answered_at = NULL",
            now,
        )
        .await
    }

    /// Stores SCM's id for the order's certificate request (and the `scm.enrolled` event).
    pub async fn record_ssl_id(
        &self,
        lease: &JobLease,
        order_id: &str,
        ssl_id: i64,
        renew_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let q = tx.query(
            "UPDATE enrollments SET ssl_id = $2, renew_id = $3, updated_at = $4 WHERE order_id = $1 \
             AND EXISTS (SELECT 1 FROM jobs WHERE id = $5 AND lease_token = $6)",
        );
        let q = q
            .bind(order_id)
            .bind(ssl_id)
            .bind(renew_id)
            .bind(now)
            .bind(lease.id)
            .bind(&lease.token);
        let before = tx
            .fetch_optional(
                tx.query("SELECT ssl_id FROM enrollments WHERE order_id = $1")
                    .bind(order_id),
            )
            .await?
            .map(|r| r.get::<Option<i64>, _>("ssl_id"))
            .transpose()?
            .flatten();
        fenced(lease, tx.execute(q).await?)?;
        if before != Some(ssl_id) {
            Self::record_event(&mut tx, &enrolled(order_id, ssl_id), now).await?;
        }
        tx.commit().await
    }

    /// Records a pending collect and when to poll next (also the job's next run).
    pub async fn schedule_collect(
        &self,
        lease: &JobLease,
        order_id: &str,
        at: DateTime<Utc>,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.execute(tx.query(
            "UPDATE enrollments SET collect_attempts = collect_attempts + 1, next_poll_at = $2, \
             updated_at = $3 WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(at)
        .bind(now)
        )
        .await?;
        tx.execute(tx.query(
            "UPDATE jobs SET run_at = $2, lease_until = NULL, leased_by = NULL, lease_token = NULL, \
             last_error = $3 WHERE id = $1 AND lease_token = $4",
        )
        .bind(lease.id)
        .bind(at)
        .bind(why)
        .bind(&lease.token)
        )
        .await
        .and_then(|n| fenced(lease, n))?;
        tx.commit().await?;
        Ok(())
    }

    /// When the issue job of an order runs next (drives Retry-After).
    pub async fn issue_job_run_at(&self, order_id: &str) -> Result<Option<DateTime<Utc>>> {
        let q = self
            .db
            .query("SELECT run_at FROM jobs WHERE kind = $1 AND subject_id = $2")
            .bind(JobKind::Issue.as_str())
            .bind(order_id);
        let row = self.db.fetch_optional(q).await?;
        row.map(|r| r.get("run_at")).transpose()
    }
}

/// The condition fencing an enrollment write by its issue job's lease ($3 job id, $4 token).
const FENCE: &str = "EXISTS (SELECT 1 FROM jobs WHERE id = $3 AND lease_token = $4)";
