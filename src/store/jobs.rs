//! The durable job queue. A job is inserted in the transaction of the state change that needs it;
//! any replica claims due jobs with `FOR UPDATE SKIP LOCKED` under a lease, and a job whose replica
//! died is claimed again once its lease runs out. Insertions `NOTIFY` so idle workers wake at once.

use super::{Job, Result, Store};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};

/// The LISTEN/NOTIFY channel that announces new or rescheduled jobs.
pub const JOBS_CHANNEL: &str = "bridge_jobs";

impl Store {
    /// Records a job (or re-arms an existing one for the same subject) inside a transaction.
    pub(super) async fn enqueue_job(
        tx: &mut Transaction<'_, Postgres>,
        kind: &str,
        subject_id: &str,
        run_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO jobs (kind, subject_id, run_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, subject_id) DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at)",
        )
        .bind(kind)
        .bind(subject_id)
        .bind(run_at)
        .execute(&mut **tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(JOBS_CHANNEL)
            .bind(kind)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Deletes a finished job inside the transaction that records its outcome, so the outcome and
    /// the job's end commit together.
    pub(super) async fn finish_job(tx: &mut Transaction<'_, Postgres>, job_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(job_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Claims up to `limit` due jobs for `worker` until `lease_until`. Jobs leased by a live worker
    /// are skipped; jobs whose lease expired (their worker died) are due again.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "UPDATE jobs SET lease_until = $4, leased_by = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE run_at <= $3 \
                          AND (lease_until IS NULL OR lease_until < $3) \
                          ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, subject_id, attempts",
        )
        .bind(worker)
        .bind(limit)
        .bind(now)
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Job {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    subject_id: r.try_get("subject_id")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Puts a claimed job back to run at `run_at`, noting why.
    pub async fn retry_job(&self, id: i64, run_at: DateTime<Utc>, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET run_at = $2, lease_until = NULL, leased_by = NULL, last_error = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(run_at)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a job that needs no state change to finish (e.g. its subject is gone).
    pub async fn drop_job(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Releases every lease `worker` holds (graceful shutdown), so other replicas need not wait for
    /// them to expire.
    pub async fn release_jobs(&self, worker: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = NULL, leased_by = NULL WHERE leased_by = $1",
        )
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Number of jobs not yet finished, by kind (metrics, tests).
    pub async fn pending_jobs(&self, kind: &str) -> Result<i64> {
        let n = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1")
            .bind(kind)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Unfinished jobs by kind (metrics).
    pub async fn jobs_by_kind(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query_as("SELECT kind, count(*) FROM jobs GROUP BY kind ORDER BY kind")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// A listener woken by every job insertion on any replica.
    pub async fn job_listener(&self) -> Result<sqlx::postgres::PgListener> {
        let mut l = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        l.listen(JOBS_CHANNEL).await?;
        Ok(l)
    }
}
