//! The durable job queue. A job is inserted in the transaction of the state change that needs it;
//! a worker claims due jobs under a lease, and a job whose worker died is claimed again once its
//! lease runs out. On PostgreSQL, replicas claim with `FOR UPDATE SKIP LOCKED` and insertions
//! `NOTIFY` every replica's idle worker; on SQLite, a claim is one statement under SQLite's single
//! writer lock and insertions wake this process's worker once they commit.

use super::db::{Db, Tx};
use super::query::Dialect;
use super::{Result, Store, StoreError};
use crate::model::{Job, JobKind, JobLease};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::Notify;

/// The LISTEN/NOTIFY channel that announces new or rescheduled jobs (PostgreSQL).
pub const JOBS_CHANNEL: &str = "bridge_jobs";

/// Wakes the worker when a job is enqueued, so it need not poll for new work.
pub enum JobWakeups {
    /// Every replica's insertions (LISTEN).
    Postgres(sqlx::postgres::PgListener),
    /// This process's insertions, signalled on commit.
    Sqlite(Arc<Notify>),
}

impl JobWakeups {
    /// Waits for the next wake-up. An error means the listener lost its connection; it
    /// reconnects on the next call.
    pub async fn recv(&mut self) -> Result<()> {
        match self {
            Self::Postgres(l) => {
                l.recv().await?;
            }
            Self::Sqlite(n) => n.notified().await,
        }
        Ok(())
    }
}

impl Store {
    /// Records a job (or re-arms an existing one for the same subject) inside a transaction.
    pub(super) async fn enqueue_job(
        tx: &mut Tx,
        kind: JobKind,
        subject_id: &str,
        run_at: DateTime<Utc>,
    ) -> Result<()> {
        let q = tx
            .query(
                "INSERT INTO jobs (kind, subject_id, run_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, subject_id) DO UPDATE SET run_at = CASE \
                   WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END",
            )
            .bind(kind.as_str())
            .bind(subject_id)
            .bind(run_at);
        tx.execute(q).await?;
        match tx.dialect() {
            Dialect::Postgres => {
                let q = tx
                    .query("SELECT pg_notify($1, $2)")
                    .bind(JOBS_CHANNEL)
                    .bind(kind.as_str());
                tx.execute(q).await?;
            }
            Dialect::Sqlite => tx.wake_jobs_on_commit(),
        }
        Ok(())
    }

    /// Deletes a finished job inside the transaction that records its outcome, so the outcome and
    /// the job's end commit together — only while `lease` still holds it: otherwise
    /// [`StoreError::LeaseLost`], and the caller's transaction (dropped uncommitted) rolls back.
    pub(super) async fn finish_job(tx: &mut Tx, lease: &JobLease) -> Result<()> {
        let q = tx
            .query("DELETE FROM jobs WHERE id = $1 AND lease_token = $2")
            .bind(lease.id)
            .bind(&lease.token);
        match tx.execute(q).await? {
            0 => Err(StoreError::LeaseLost(lease.id)),
            _ => Ok(()),
        }
    }

    /// Fails with [`StoreError::LeaseLost`] unless `lease` still holds its job, inside `tx`: the
    /// fence of a handler's writes to other tables (they commit only with the lease held).
    pub(super) async fn check_lease(tx: &mut Tx, lease: &JobLease) -> Result<()> {
        let sql = format!(
            "SELECT id FROM jobs WHERE id = $1 AND lease_token = $2 {}",
            tx.dialect().for_update()
        );
        let q = tx.query(&sql).bind(lease.id).bind(&lease.token);
        match tx.fetch_optional(q).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::LeaseLost(lease.id)),
        }
    }

    /// Claims up to `limit` due jobs for `worker` until `lease_until`. Jobs leased by a live worker
    /// are skipped; jobs whose lease expired (their worker died) are due again — except `running`,
    /// the jobs this process still runs (a handler that outlived its lease, e.g. during a database
    /// outage, must not get a twin in its own process). Only the kinds this version knows
    /// ([`JobKind::ALL`]) are claimed. Each claim sets a fresh lease token (see [`JobLease`]).
    pub async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        running: &[i64],
    ) -> Result<Vec<Job>> {
        let lock = self.db.dialect().pick("FOR UPDATE SKIP LOCKED", "");
        let kinds = JobKind::ALL
            .iter()
            .map(|k| format!("'{}'", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let not_running = if running.is_empty() {
            String::new()
        } else {
            let ids = running
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            format!("AND id NOT IN ({ids})")
        };
        let token = crate::ids::random_id();
        let sql = format!(
            "UPDATE jobs SET lease_until = $4, leased_by = $1, lease_token = $5,              attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE run_at <= $3 AND kind IN ({kinds}) \
                          AND (lease_until IS NULL OR lease_until < $3) {not_running} \
                          ORDER BY run_at LIMIT $2 {lock}) \
             RETURNING id, kind, subject_id, attempts"
        );
        let q = self
            .db
            .query(&sql)
            .bind(worker)
            .bind(limit)
            .bind(now)
            .bind(lease_until)
            .bind(&token);
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get("kind")?;
                let id: i64 = r.get("id")?;
                Ok(Job {
                    id,
                    kind: JobKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("job kind {kind:?}")))?,
                    subject_id: r.get("subject_id")?,
                    attempts: r.get("attempts")?,
                    lease: JobLease {
                        id,
                        worker: worker.to_string(),
                        token: token.clone(),
                    },
                })
            })
            .collect()
    }

    /// Puts a claimed job back to run at `run_at`, noting why; [`StoreError::LeaseLost`] when
    /// `lease` no longer holds it (the new holder's schedule stands).
    pub async fn retry_job(
        &self,
        lease: &JobLease,
        run_at: DateTime<Utc>,
        error: &str,
    ) -> Result<()> {
        let q = self
            .db
            .query(
                "UPDATE jobs SET run_at = $3, lease_until = NULL, leased_by = NULL, \
                 lease_token = NULL, last_error = $4 WHERE id = $1 AND lease_token = $2",
            )
            .bind(lease.id)
            .bind(&lease.token)
            .bind(run_at)
            .bind(error);
        fenced(lease, self.db.execute(q).await?)
    }

    /// Extends the lease while its handler still runs; [`StoreError::LeaseLost`] when the job is
    /// gone, rescheduled or claimed again since (the handler must stop).
    pub async fn renew_lease(&self, lease: &JobLease, until: DateTime<Utc>) -> Result<()> {
        let q = self
            .db
            .query(
                "UPDATE jobs SET lease_until = CASE WHEN lease_until > $3 THEN lease_until ELSE $3 END \
                 WHERE id = $1 AND lease_token = $2 AND lease_until IS NOT NULL",
            )
            .bind(lease.id)
            .bind(&lease.token)
            .bind(until);
        fenced(lease, self.db.execute(q).await?)
    }

    /// Records a recurring job (e.g. retention) unless it already exists, keeping the schedule of
    /// an existing one: every replica calls this at start, and only one row ever exists.
    pub async fn ensure_job(
        &self,
        kind: JobKind,
        subject_id: &str,
        run_at: DateTime<Utc>,
    ) -> Result<()> {
        let q = self
            .db
            .query(
                "INSERT INTO jobs (kind, subject_id, run_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, subject_id) DO NOTHING",
            )
            .bind(kind.as_str())
            .bind(subject_id)
            .bind(run_at);
        self.db.execute(q).await?;
        Ok(())
    }

    /// Puts a recurring job whose handler ran to completion back for its next run at `run_at`,
    /// releasing its lease (unlike [`Store::retry_job`], nothing went wrong: attempts and error are
    /// reset). [`StoreError::LeaseLost`] when the lease was lost meanwhile.
    pub async fn reschedule_job(&self, lease: &JobLease, run_at: DateTime<Utc>) -> Result<()> {
        let q = self
            .db
            .query(
                "UPDATE jobs SET run_at = $3, lease_until = NULL, leased_by = NULL, \
                 lease_token = NULL, attempts = 0, last_error = NULL \
                 WHERE id = $1 AND lease_token = $2",
            )
            .bind(lease.id)
            .bind(&lease.token)
            .bind(run_at);
        fenced(lease, self.db.execute(q).await?)
    }

    /// Deletes a job that needs no state change to finish (e.g. its subject is gone), if `lease`
    /// still holds it.
    pub async fn drop_job(&self, lease: &JobLease) -> Result<()> {
        let q = self
            .db
            .query("DELETE FROM jobs WHERE id = $1 AND lease_token = $2")
            .bind(lease.id)
            .bind(&lease.token);
        fenced(lease, self.db.execute(q).await?)
    }

    /// Releases every lease `worker` holds (graceful shutdown), so other replicas need not wait for
    /// them to expire.
    pub async fn release_jobs(&self, worker: &str) -> Result<u64> {
        let q = self
            .db
            .query(
                "UPDATE jobs SET lease_until = NULL, leased_by = NULL, lease_token = NULL \
                 WHERE leased_by = $1",
            )
            .bind(worker);
        self.db.execute(q).await
    }

    /// Number of jobs not yet finished, by kind (metrics, tests).
    pub async fn pending_jobs(&self, kind: JobKind) -> Result<i64> {
        let q = self
            .db
            .query("SELECT count(*) AS n FROM jobs WHERE kind = $1")
            .bind(kind.as_str());
        self.db.fetch_one(q).await?.get("n")
    }

    /// Unfinished jobs by kind (metrics).
    pub async fn jobs_by_kind(&self) -> Result<Vec<(String, i64)>> {
        let q = self
            .db
            .query("SELECT kind, count(*) AS n FROM jobs GROUP BY kind ORDER BY kind");
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| Ok((r.get("kind")?, r.get("n")?)))
            .collect()
    }

    /// What wakes the worker when a job is enqueued: a LISTEN on PostgreSQL (any replica's
    /// insertions), the in-process signal on SQLite.
    pub async fn job_wakeups(&self) -> Result<JobWakeups> {
        Ok(match &self.db {
            Db::Postgres(pool) => {
                // The listener keeps (and re-opens) its own connection, from a pool of one.
                let single = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with(pool.options().clone());
                let mut l = sqlx::postgres::PgListener::connect_with(&single).await?;
                l.listen(JOBS_CHANNEL).await?;
                JobWakeups::Postgres(l)
            }
            Db::Sqlite { jobs, .. } => JobWakeups::Sqlite(jobs.clone()),
        })
    }
}

/// A fenced write's row count as a result: none touched means the lease is gone.
pub(super) fn fenced(lease: &JobLease, rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::LeaseLost(lease.id))
    } else {
        Ok(())
    }
}
