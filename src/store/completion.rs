//! The end of an issuance: the certificate stored and the order made valid, or the order made
//! invalid, each together with the removal of its issue job (fenced by the job's lease) and the
//! audit event, atomically.

use super::audit::{bind_event, event_values, AUDIT_INSERT_COLUMNS};
use super::certificates::{bind_certificate, CERT_INSERT_ARITY, CERT_INSERT_COLUMNS};
use super::db::Tx;
use super::issuance::enrolled;
use super::jobs::fenced;
use super::query::{placeholders, Dialect};
use super::{Result, Store};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent, Certificate, JobLease};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The audit event of an issued certificate.
fn issued(cert: &Certificate) -> AuditEvent {
    AuditEvent::new(kind::SCM_ISSUED, Actor::System)
        .account(&cert.account_id)
        .order(&cert.order_id)
        .serial(&cert.serial)
        .details(serde_json::json!({ "ssl_id": cert.ssl_id, "not_after": cert.not_after }))
}

impl Store {
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
            let ev = enrolled(&cert.order_id, cert.ssl_id);
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
        let enrolled_event = enrolled(&cert.order_id, cert.ssl_id);
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
}

/// `$from, …, $(from + n - 1)` as a select list (an insert that happens only under a condition).
fn select_list(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
