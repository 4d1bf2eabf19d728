//! The worker loop: claim due jobs (woken by LISTEN/NOTIFY, or by polling for scheduled retries and
//! expired leases), run them concurrently up to `issuance.workers`, and reschedule failures.

use crate::acme::AcmeContext;
use crate::model::{Job, JobKind};
use crate::store::StoreError;
use crate::validation::Validator;
use chrono::Duration as ChronoDuration;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// What a job handler needs.
#[derive(Clone)]
pub struct Worker {
    pub ctx: AcmeContext,
    pub validator: Validator,
    /// SCM (or the sandbox); `None` when not configured: issue jobs then wait.
    pub scm: Option<crate::scm::ScmClient>,
    /// Identifies this replica's leases.
    pub id: String,
}

/// Stops the worker and waits for it.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming, abandons in-flight jobs (their transactions roll back) and releases their
    /// leases so another replica can take them at once.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// How a job ended, as the loop sees it.
pub enum Outcome {
    /// Finished; the handler already removed the job in its final transaction.
    Done,
    /// Try again later (an internal fault such as a lost database connection).
    Retry(String),
    /// Try again at this time, not earlier (e.g. once an earlier SCM call can no longer land).
    RetryAt(chrono::DateTime<chrono::Utc>, String),
    /// The handler's lease is gone (a fenced write touched nothing, or renewals failed until the
    /// lease was about to run out): it stopped, and the job belongs to whoever claims it next.
    LeaseLost,
}

impl Outcome {
    /// A failed step: retried later, unless the lease is gone (then nothing more is written).
    pub fn from_error(e: super::error::JobError) -> Self {
        match e {
            super::error::JobError::Store(StoreError::LeaseLost(_)) => Self::LeaseLost,
            e => Self::Retry(e.to_string()),
        }
    }

    /// [`Outcome::from_error`] for a store failure.
    pub fn from_store(e: StoreError) -> Self {
        Self::from_error(e.into())
    }
}

impl Worker {
    /// Starts the loop on the current runtime.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        WorkerHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let cfg = self.ctx.config.issuance.clone();
        let slots = Arc::new(Semaphore::new(cfg.workers.max(1)));
        let mut running = JoinSet::new();
        // Jobs this process runs now: never claimed again while their handler lives, even once
        // its lease ran out (a database outage), so a job never runs twice in one process.
        let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
        let mut listener = match self.ctx.store.job_wakeups().await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for jobs; falling back to polling");
                None
            }
        };
        if !cfg.expiry_warning_days.is_empty() {
            if let Err(e) = self.ctx.store.ensure_expiry_sweep(self.ctx.now()).await {
                tracing::warn!(error = %e, "cannot schedule the expiry sweep");
            }
        }
        super::retention::ensure(&self).await;
        let poll = Duration::from_millis(cfg.poll_interval_ms.max(10));
        // Whether a claim could find work: after a wake-up or the poll interval, or when the last
        // claim filled every free slot. A finished job alone does not make another one due, so it
        // does not cost a claim statement that would come back empty.
        let mut maybe_due = true;
        loop {
            if *stopped.borrow() {
                break;
            }
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 && maybe_due {
                let now = self.ctx.now();
                let lease = now + ChronoDuration::seconds(cfg.lease_secs);
                let busy: Vec<i64> = in_flight
                    .lock()
                    .expect("not poisoned")
                    .iter()
                    .copied()
                    .collect();
                match self
                    .ctx
                    .store
                    .claim_jobs(&self.id, free as i64, now, lease, &busy)
                    .await
                {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        maybe_due = claimed == free;
                        for job in jobs {
                            let permit = slots.clone().acquire_owned().await.expect("open");
                            let w = self.clone();
                            let flight = InFlight::enter(&in_flight, job.id);
                            running.spawn(async move {
                                w.handle(job).await;
                                drop(flight);
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed"),
                }
            }
            // Reap finished tasks without blocking.
            while running.try_join_next().is_some() {}
            if claimed > 0 && slots.available_permits() > 0 {
                continue; // there may be more due jobs
            }
            tokio::select! {
                _ = stopped.changed() => {}
                _ = tokio::time::sleep(poll) => maybe_due = true,
                n = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                } => {
                    maybe_due = true;
                    if let Err(e) = n {
                        tracing::warn!(error = %e, "job listener failed; polling until it reconnects");
                    }
                }
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
        match self.ctx.store.release_jobs(&self.id).await {
            Ok(n) if n > 0 => tracing::info!(released = n, "released leased jobs"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "releasing leased jobs failed"),
        }
    }

    async fn handle(&self, job: Job) {
        use tracing::Instrument;
        let span =
            tracing::info_span!("job", id = job.id, kind = %job.kind, subject = %job.subject_id);
        let work = async {
            match job.kind {
                JobKind::Validate => super::validate::run(self, &job).await,
                JobKind::Issue => super::issue::run(self, &job).await,
                JobKind::Revoke => super::revoke::run(self, &job).await,
                JobKind::ExpirySweep => super::expiry::run(self, &job).await,
                JobKind::Retention => super::retention::run(self, &job).await,
                JobKind::StatusSweep => super::status_sweep::run(self, &job).await,
                JobKind::Reconcile => super::reconcile::run(self, &job).await,
            }
        };
        let outcome = self.keeping_lease(&job, work.instrument(span)).await;
        let (at, why) = match outcome {
            Outcome::Done => return,
            Outcome::LeaseLost => {
                tracing::warn!(job = job.id, kind = %job.kind, "job stopped: its lease is gone; whoever claims it next carries on");
                self.ctx.metrics.lease_lost(job.kind.as_str());
                return;
            }
            Outcome::Retry(why) => (self.ctx.now() + retry_delay(job.attempts), why),
            Outcome::RetryAt(at, why) => (at, why),
        };
        tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %why, retry_at = %at, "job will be retried");
        match self.ctx.store.retry_job(&job.lease, at, &why).await {
            Ok(()) => {}
            Err(StoreError::LeaseLost(_)) => {
                tracing::warn!(job = job.id, "not rescheduled: the job's lease is gone");
                self.ctx.metrics.lease_lost(job.kind.as_str());
            }
            Err(e) => {
                tracing::warn!(error = %e, "rescheduling a job failed; its lease will expire")
            }
        }
    }

    /// Runs a job's handler while renewing its lease every third of `issuance.lease_secs`: a
    /// handler that outlasts the lease (a slow SCM answer) must not let another replica, or this
    /// one, claim the job again and repeat what is under way. Only a dead replica's lease expires.
    ///
    /// A handler whose lease is gone is stopped (dropped, so it makes no further SCM call): when a
    /// renewal finds the job claimed by someone else, or when renewals kept failing (a database
    /// outage) until the lease is half a renewal period from running out — before any other
    /// replica can claim the job (#12 item 1).
    async fn keeping_lease(
        &self,
        job: &Job,
        work: impl std::future::Future<Output = Outcome>,
    ) -> Outcome {
        use tokio::time::Instant;
        let lease_secs = self.ctx.config.issuance.lease_secs.max(1);
        let lease = Duration::from_secs(lease_secs as u64);
        let every = Duration::from_millis((lease_secs as u64 * 1000 / 3).max(100));
        // The claim happened a moment ago: counting the lease from now errs on the safe side only
        // by that moment, and the margin below covers it.
        let mut held_until = Instant::now() + lease;
        let margin = every / 2;
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(work);
        loop {
            tokio::select! {
                // The deadline first: once it passed, the handler is not polled again (a poll could
                // start another SCM call).
                biased;
                _ = tokio::time::sleep_until(held_until - margin) => {
                    tracing::warn!(job = job.id, "stopping the job: its lease could not be renewed and is about to run out");
                    return Outcome::LeaseLost;
                }
                outcome = &mut work => return outcome,
                _ = tick.tick() => {
                    let asked = Instant::now();
                    let until = self.ctx.now() + ChronoDuration::seconds(lease_secs);
                    let renewal = self.ctx.store.renew_lease(&job.lease, until);
                    match tokio::time::timeout(every, renewal).await {
                        Ok(Ok(())) => held_until = asked + lease,
                        Ok(Err(StoreError::LeaseLost(_))) => return Outcome::LeaseLost,
                        Ok(Err(e)) => tracing::warn!(job = job.id, error = %e, "renewing a job lease failed"),
                        Err(_) => tracing::warn!(job = job.id, "renewing a job lease timed out"),
                    }
                }
            }
        }
    }
}

/// A job id in this process's running set for as long as its handler lives: removed on drop, so
/// also when the handler panics or is aborted.
struct InFlight {
    set: Arc<Mutex<HashSet<i64>>>,
    id: i64,
}

impl InFlight {
    fn enter(set: &Arc<Mutex<HashSet<i64>>>, id: i64) -> Self {
        set.lock().expect("not poisoned").insert(id);
        Self {
            set: set.clone(),
            id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.id);
        }
    }
}

/// Backoff for internal failures: 1 s doubling to 5 minutes.
fn retry_delay(attempts: i32) -> ChronoDuration {
    let exp = attempts.clamp(1, 10) as u32 - 1;
    ChronoDuration::seconds((1i64 << exp).min(300))
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_delay_doubles_to_a_cap() {
        use super::retry_delay;
        assert_eq!(retry_delay(1).num_seconds(), 1);
        assert_eq!(retry_delay(2).num_seconds(), 2);
        assert_eq!(retry_delay(5).num_seconds(), 16);
        assert_eq!(retry_delay(40).num_seconds(), 300);
    }
}
