//! Finalize (§7.4) in the store: claiming a ready order for issuance together with its
//! enrollment, its issue job and the audit event, in one statement (PostgreSQL) or one
//! transaction (SQLite), so a second finalize finds the order no longer ready.

use super::audit::{bind_event, event_values, AUDIT_INSERT_ARITY, AUDIT_INSERT_COLUMNS};
use super::query::{placeholders, Dialect, Query};
use super::{FinalizeOutcome, Result, Store};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent, Enrollment, JobKind};
use chrono::{DateTime, Utc};

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
}
