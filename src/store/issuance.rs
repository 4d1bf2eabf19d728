//! Finalize, enrollment progress and completing an issuance: each step is one transaction, so a
//! crash at any point leaves a state the worker can resume from. Certificate rows live in
//! `certificates`.

use super::audit::{bind_event, event_values, AUDIT_INSERT_ARITY, AUDIT_INSERT_COLUMNS};
use super::certificates::{bind_certificate, CERT_INSERT_ARITY, CERT_INSERT_COLUMNS};
use super::db::Tx;
use super::jobs::fenced;
use super::query::{placeholders, Dialect, Query};
use super::{DbRow, FinalizeOutcome, IssueSubject, Result, Store};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent, Certificate, Enrollment, JobKind, JobLease, OrderStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;

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

/// Binds a new enrollment: $1 order id … $8 common name, $9 when it was finalized.
fn bind_enrollment<'q>(q: Query<'q>, e: &'q Enrollment, now: DateTime<Utc>) -> Query<'q> {
    q.bind(&e.order_id)
        .bind(&e.csr_der)
        .bind(&e.marker)
        .bind(e.org_id)
        .bind(e.cert_type)
        .bind(e.term)
        .bind(serde_json::json!(e.subj_alt_names))
        .bind(&e.common_name)
        .bind(now)
}

/// The enrollment columns an insert fills, in [`bind_enrollment`]'s order.
const ENROLLMENT_INSERT_COLUMNS: &str = "order_id, csr_der, marker, org_id, cert_type, term, \
     subj_alt_names, common_name, finalized_at";
const ENROLLMENT_INSERT_ARITY: usize = 9;

/// The audit event of a finalize (the account finalizes its own order; the order row supplies the
/// actor, account, EAB key and names).
fn finalized(e: &Enrollment) -> AuditEvent {
    AuditEvent::new(kind::ORDER_FINALIZED, Actor::OrderOwner)
        .order(&e.order_id)
        .details(serde_json::json!({
            "common_name": e.common_name,
            "scm_org_id": e.org_id,
            "cert_type": e.cert_type,
            "term": e.term,
        }))
}

/// The audit event of an issued certificate.
fn issued(cert: &Certificate) -> AuditEvent {
    AuditEvent::new(kind::SCM_ISSUED, Actor::System)
        .account(&cert.account_id)
        .order(&cert.order_id)
        .serial(&cert.serial)
        .details(serde_json::json!({ "ssl_id": cert.ssl_id, "not_after": cert.not_after }))
}

impl Store {
    /// Claims a ready order for issuance (`ready → processing`) and records its enrollment and
    /// job in the same transaction: a second finalize finds the order no longer ready.
    pub async fn start_finalize(
        &self,
        e: &Enrollment,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome> {
        self.start_finalize_unless_account_key(e, None, now).await
    }

    /// [`Store::start_finalize`], refused (`CsrKeyIsAccountKey`, nothing changed) when an account
    /// has the key with this RFC 7638 thumbprint: the check rides on the claim instead of costing
    /// a read of its own on every finalize.
    pub async fn start_finalize_unless_account_key(
        &self,
        e: &Enrollment,
        csr_key_thumbprint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome> {
        let outcome = if self.one_statement() {
            self.start_finalize_in_one_statement(e, csr_key_thumbprint, now)
                .await?
        } else {
            self.start_finalize_in_transaction(e, csr_key_thumbprint, now)
                .await?
        };
        // Not claimed: say why when it is the key (a rare refusal, so a read of its own).
        if let (FinalizeOutcome::NotReady, Some(k)) = (&outcome, csr_key_thumbprint) {
            if self.account_by_thumbprint(k).await?.is_some() {
                return Ok(FinalizeOutcome::CsrKeyIsAccountKey);
            }
        }
        Ok(outcome)
    }

    async fn start_finalize_in_transaction(
        &self,
        e: &Enrollment,
        csr_key_thumbprint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome> {
        let mut tx = self.db.begin().await?;
        if tx.dialect() == Dialect::Sqlite {
            // One script, one message to SQLite's thread: each step runs only if the one before
            // changed a row (`changes()`), so nothing is enrolled for an order not claimed.
            // `bind_enrollment` binds $1 (the order id) to $9 (now).
            let sql = format!(
                "UPDATE orders SET status = 'processing', updated_at = $9 \
                   WHERE id = $1 AND status = 'ready' AND expires_at > $9 \
                   AND NOT EXISTS (SELECT 1 FROM accounts WHERE key_thumbprint = $20); \
                 INSERT INTO enrollments ({ENROLLMENT_INSERT_COLUMNS}) \
                   SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE changes() = 1; \
                 INSERT INTO jobs (kind, subject_id, run_at) SELECT $10, $1, $9 \
                   WHERE changes() = 1 \
                   ON CONFLICT (kind, subject_id) DO UPDATE SET run_at = CASE \
                     WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END; \
                 INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) SELECT {} WHERE changes() = 1; \
                 SELECT changes() AS claimed",
                event_values(11)
            );
            let event = finalized(e);
            let q = bind_enrollment(tx.query(&sql), e, now).bind(JobKind::Issue.as_str());
            let q = bind_event(q, &event, now).bind(csr_key_thumbprint);
            let claimed: i64 = tx.fetch_one(q).await?.get("claimed")?;
            if claimed != 1 {
                tx.rollback().await?;
                return Ok(FinalizeOutcome::NotReady);
            }
            tx.wake_jobs_on_commit();
            tx.commit().await?;
            return Ok(FinalizeOutcome::Started);
        }
        // PostgreSQL with `with_transaction_spelling` (a test of this path's logic there): one
        // statement at a time, as PostgreSQL prepares one statement per query.
        let claimed = tx
            .execute(
                tx.query(
                    "UPDATE orders SET status = 'processing', updated_at = $2 \
             WHERE id = $1 AND status = 'ready' AND expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM accounts WHERE key_thumbprint = $3)",
                )
                .bind(&e.order_id)
                .bind(now)
                .bind(csr_key_thumbprint),
            )
            .await?;
        if claimed == 0 {
            return Ok(FinalizeOutcome::NotReady);
        }
        let sql = format!(
            "INSERT INTO enrollments ({ENROLLMENT_INSERT_COLUMNS}) VALUES {}",
            placeholders(1, ENROLLMENT_INSERT_ARITY)
        );
        let q = tx.query(&sql);
        tx.execute(bind_enrollment(q, e, now)).await?;
        Self::enqueue_job(&mut tx, JobKind::Issue, &e.order_id, now).await?;
        Self::record_event(&mut tx, &finalized(e), now).await?;
        tx.commit().await?;
        Ok(FinalizeOutcome::Started)
    }

    /// `start_finalize` on PostgreSQL: the same three changes and the notification as one
    /// statement, which commits atomically by itself — one round-trip instead of six (the
    /// benchmark's finalize is dominated by round-trips, not by work).
    async fn start_finalize_in_one_statement(
        &self,
        e: &Enrollment,
        csr_key_thumbprint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome> {
        // `bind_enrollment` binds $1 (the order id) to $9 (now); the order id is taken from
        // `claimed` so nothing is enrolled for an order that was not claimed.
        let sql = format!(
            "WITH claimed AS ( \
                   UPDATE orders SET status = 'processing', updated_at = $9 \
                   WHERE id = $1 AND status = 'ready' AND expires_at > $9 \
                   AND NOT EXISTS (SELECT 1 FROM accounts WHERE key_thumbprint = ${}) \
                   RETURNING id), \
                 enrolled AS ( \
                   INSERT INTO enrollments ({ENROLLMENT_INSERT_COLUMNS}) \
                   SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM claimed RETURNING order_id), \
                 queued AS ( \
                   INSERT INTO jobs (kind, subject_id, run_at) SELECT $10, id, $9 FROM claimed \
                   ON CONFLICT (kind, subject_id) DO UPDATE SET run_at = CASE \
                     WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END \
                   RETURNING kind), \
                 ev AS ( \
                   INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) SELECT {} FROM claimed) \
                 SELECT (SELECT count(*) FROM claimed) AS claimed, \
                        (SELECT count(*) FROM enrolled) AS enrolled, \
                        (SELECT count(*) FROM queued CROSS JOIN LATERAL pg_notify($11, queued.kind)) \
                          AS notified",
            12 + AUDIT_INSERT_ARITY,
            event_values(12)
        );
        let event = finalized(e);
        let q = self.db.query(&sql);
        let q = bind_enrollment(q, e, now)
            .bind(JobKind::Issue.as_str())
            .bind(super::JOBS_CHANNEL);
        let q = bind_event(q, &event, now).bind(csr_key_thumbprint);
        let claimed: i64 = self.db.fetch_one(q).await?.get("claimed")?;
        Ok(if claimed == 1 {
            FinalizeOutcome::Started
        } else {
            FinalizeOutcome::NotReady
        })
    }

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
            let ev = AuditEvent::new(kind::SCM_ENROLLED, Actor::System)
                .order(order_id)
                .details(serde_json::json!({ "ssl_id": ssl_id }));
            Self::record_event(&mut tx, &ev, now).await?;
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

    /// Stores the certificate, makes the order valid and removes the job, atomically.
    pub async fn complete_issuance(
        &self,
        lease: &JobLease,
        cert: &Certificate,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if self.one_statement() {
            // One statement, atomic by itself: one round-trip instead of five. The certificate
            // takes $1..$9 (`bind_certificate`), then now and the lease. Nothing is written
            // unless the lease still holds the job (`finished`).
            let sql = format!(
                "WITH finished AS (DELETE FROM jobs WHERE id = $11 AND lease_token = $12 \
                   RETURNING id), \
                 inserted AS ( \
                   INSERT INTO certificates ({CERT_INSERT_COLUMNS}) SELECT {} \
                   WHERE EXISTS (SELECT 1 FROM finished) \
                   ON CONFLICT (order_id) DO NOTHING RETURNING id), \
                 updated AS ( \
                   UPDATE orders SET status = 'valid', updated_at = $10, certificate_id = \
                     COALESCE((SELECT id FROM inserted), \
                              (SELECT id FROM certificates WHERE order_id = $2)) \
                   WHERE id = $2 AND status = 'processing' \
                   AND EXISTS (SELECT 1 FROM finished) RETURNING id), \
                 ev AS (INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) SELECT {} FROM updated) \
                 SELECT (SELECT count(*) FROM updated) AS updated, \
                        (SELECT count(*) FROM finished) AS finished",
                select_list(1, CERT_INSERT_ARITY),
                event_values(13)
            );
            let event = issued(cert);
            let q = bind_certificate(self.db.query(&sql), cert)
                .bind(now)
                .bind(lease.id)
                .bind(&lease.token);
            let q = bind_event(q, &event, now);
            let finished: i64 = self.db.fetch_one(q).await?.get("finished")?;
            fenced(lease, finished as u64)?;
            self.watchers.changed(&cert.order_id);
            return Ok(());
        }
        let tx = self.db.begin().await?;
        self.complete_issuance_in(tx, lease, cert, now).await
    }

    /// The transaction spelling of [`Store::complete_issuance`], inside `tx`, which it commits.
    async fn complete_issuance_in(
        &self,
        mut tx: Tx,
        lease: &JobLease,
        cert: &Certificate,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if tx.dialect() == Dialect::Sqlite {
            return self
                .complete_issuance_script(tx, lease, cert, None, now)
                .await;
        }
        let sql = format!(
            "INSERT INTO certificates ({CERT_INSERT_COLUMNS}) VALUES {} \
             ON CONFLICT (order_id) DO NOTHING",
            placeholders(1, CERT_INSERT_ARITY)
        );
        tx.execute(bind_certificate(tx.query(&sql), cert)).await?;
        let updated = tx
            .execute(
                tx.query(
                    "UPDATE orders SET status = 'valid', certificate_id = \
               (SELECT id FROM certificates WHERE order_id = $1), updated_at = $2 \
             WHERE id = $1 AND status = 'processing'",
                )
                .bind(&cert.order_id)
                .bind(now),
            )
            .await?;
        if updated == 1 {
            Self::record_event(&mut tx, &issued(cert), now).await?;
        }
        Self::finish_job(&mut tx, lease).await?;
        tx.commit().await?;
        self.watchers.changed(&cert.order_id);
        Ok(())
    }

    /// Records the sslId an enroll just returned and completes the issuance with the certificate
    /// the first collect gave: on SQLite one transaction instead of two (the sslId's own commit
    /// would only matter if the process died in the few milliseconds between, and then the
    /// order's marker finds the certificate in SCM, as after any enroll whose answer was lost).
    pub async fn complete_first_issuance(
        &self,
        lease: &JobLease,
        cert: &Certificate,
        renew_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if self.one_statement() {
            self.record_ssl_id(lease, &cert.order_id, cert.ssl_id, renew_id, now)
                .await?;
            return self.complete_issuance(lease, cert, now).await;
        }
        let mut tx = self.db.begin().await?;
        if tx.dialect() == Dialect::Sqlite {
            return self
                .complete_issuance_script(tx, lease, cert, Some(renew_id), now)
                .await;
        }
        let recorded = tx
            .execute(
                tx.query(
                    "UPDATE enrollments SET ssl_id = $2, renew_id = $3, updated_at = $4 \
                     WHERE order_id = $1 AND ssl_id IS NULL",
                )
                .bind(&cert.order_id)
                .bind(cert.ssl_id)
                .bind(renew_id)
                .bind(now),
            )
            .await?;
        if recorded == 1 {
            let ev = AuditEvent::new(kind::SCM_ENROLLED, Actor::System)
                .order(&cert.order_id)
                .details(serde_json::json!({ "ssl_id": cert.ssl_id }));
            Self::record_event(&mut tx, &ev, now).await?;
        }
        self.complete_issuance_in(tx, lease, cert, now).await
    }

    /// SQLite: completing an issuance (with `first`, also storing the sslId enroll returned and
    /// the renewId that came with it) as one script in `tx` — one message to SQLite's thread
    /// instead of up to seven. Each event is written only if the change before it changed a row
    /// (`changes()`); the job is deleted last, and the script's answer is how many rows that
    /// deleted: none means the lease is gone, and the whole transaction is rolled back.
    async fn complete_issuance_script(
        &self,
        mut tx: Tx,
        lease: &JobLease,
        cert: &Certificate,
        first: Option<Option<&str>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // $1..$9 the certificate (`bind_certificate`), $10 now, $11/$12 the lease, $13.. the
        // issued event; with `first`, $22 the renewId and $23.. the enrolled event.
        let store_ssl_id = format!(
            "UPDATE enrollments SET ssl_id = $7, renew_id = $22, updated_at = $10 \
               WHERE order_id = $2 AND ssl_id IS NULL; \
             INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) SELECT {} WHERE changes() = 1; ",
            event_values(23)
        );
        let sql = format!(
            "{}INSERT INTO certificates ({CERT_INSERT_COLUMNS}) VALUES {} \
               ON CONFLICT (order_id) DO NOTHING; \
             UPDATE orders SET status = 'valid', updated_at = $10, certificate_id = \
               (SELECT id FROM certificates WHERE order_id = $2) \
               WHERE id = $2 AND status = 'processing'; \
             INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) SELECT {} WHERE changes() = 1; \
             DELETE FROM jobs WHERE id = $11 AND lease_token = $12; \
             SELECT changes() AS finished",
            if first.is_some() {
                store_ssl_id.as_str()
            } else {
                ""
            },
            placeholders(1, CERT_INSERT_ARITY),
            event_values(13)
        );
        let issued_event = issued(cert);
        let enrolled_event = AuditEvent::new(kind::SCM_ENROLLED, Actor::System)
            .order(&cert.order_id)
            .details(serde_json::json!({ "ssl_id": cert.ssl_id }));
        let q = bind_certificate(tx.query(&sql), cert)
            .bind(now)
            .bind(lease.id)
            .bind(&lease.token);
        let mut q = bind_event(q, &issued_event, now);
        if let Some(renew_id) = first {
            q = bind_event(q.bind(renew_id), &enrolled_event, now);
        }
        let finished: i64 = tx.fetch_one(q).await?.get("finished")?;
        if finished == 0 {
            tx.rollback().await?;
            return Err(super::StoreError::LeaseLost(lease.id));
        }
        tx.commit().await?;
        self.watchers.changed(&cert.order_id);
        Ok(())
    }

    /// Makes a processing order invalid with `error` and removes the job, atomically.
    pub async fn fail_issuance(
        &self,
        lease: &JobLease,
        order_id: &str,
        error: &Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let failed = tx
            .execute(
                tx.query(
                    "UPDATE orders SET status = 'invalid', error = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'processing'",
                )
                .bind(order_id)
                .bind(error)
                .bind(now),
            )
            .await?;
        if failed == 1 {
            let ev = AuditEvent::new(kind::SCM_FAILED, Actor::System)
                .order(order_id)
                .details(serde_json::json!({ "error": error }));
            Self::record_event(&mut tx, &ev, now).await?;
        }
        Self::finish_job(&mut tx, lease).await?;
        tx.commit().await?;
        self.watchers.changed(order_id);
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

/// `$from, …, $(from + n - 1)` as a select list (an insert that happens only under a condition).
fn select_list(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
