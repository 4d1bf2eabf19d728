//! The retention job (`[retention]`): one row in the jobs table, so exactly one replica runs it at
//! a time (the job lease), a replica that dies mid-run hands it over when the lease expires, and
//! the schedule survives restarts. Each run purges finished orders in batches of
//! `retention.batch_size`, each its own short transaction, then schedules the next run an
//! [`INTERVAL`] later. A purge batch is safe to repeat, so a run cut off half-way loses nothing.

use super::worker::{Outcome, Worker};
use crate::model::{Job, JobKind};
use crate::store::Purged;
use std::time::Duration;

/// Its one subject: there is a single retention job.
pub const RETENTION_SUBJECT: &str = "orders";
/// Time between runs: often enough that each run has little to do.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Records the retention job if retention is on and no replica recorded it yet.
pub async fn ensure(w: &Worker) {
    if w.ctx.config.retention.orders_days == 0 {
        return;
    }
    if let Err(e) = w
        .ctx
        .store
        .ensure_job(JobKind::Retention, RETENTION_SUBJECT, w.ctx.now())
        .await
    {
        tracing::warn!(error = %e, "cannot record the retention job; retrying at the next start");
    }
}

/// One run: purge batches until a batch comes back short, then reschedule.
pub async fn run(w: &Worker, job: &Job) -> Outcome {
    let cfg = &w.ctx.config.retention;
    if cfg.orders_days == 0 {
        // Turned off since the job was recorded.
        let _ = w.ctx.store.drop_job(&job.lease).await;
        return Outcome::Done;
    }
    let now = w.ctx.now();
    let cutoff = now - chrono::Duration::days(i64::from(cfg.orders_days));
    let batch = i64::from(cfg.batch_size.max(1));
    let mut total = Purged::default();
    loop {
        match w.ctx.store.purge_finished_orders(cutoff, batch, now).await {
            Ok(p) => {
                w.ctx.metrics.observe_purged(&p);
                total.add(p);
                if p.orders_examined < batch as u64 {
                    break;
                }
                // Let other work at the database between batches.
                tokio::task::yield_now().await;
            }
            Err(e) => return Outcome::Retry(format!("retention batch failed: {e}")),
        }
    }
    if total.orders_examined > 0 {
        tracing::info!(
            orders_examined = total.orders_examined,
            orders_deleted = total.orders,
            authorizations_deleted = total.authorizations,
            challenges_deleted = total.challenges,
            "retention purged finished orders"
        );
    }
    let next = now + chrono::Duration::from_std(INTERVAL).expect("one hour");
    match w.ctx.store.reschedule_job(&job.lease, next).await {
        Ok(()) => Outcome::Done,
        Err(crate::store::StoreError::LeaseLost(_)) => {
            tracing::warn!(
                "retention's lease was lost during the run; its new holder reschedules it"
            );
            Outcome::Done
        }
        Err(e) => Outcome::RetryAt(next, format!("rescheduling retention failed: {e}")),
    }
}
