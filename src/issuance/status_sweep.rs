//! The SCM status sweep: finds certificates revoked, replaced or expired in SCM outside the bridge
//! (an SCM administrator, a CA's mass revocation) and marks them "renew now", so their renewalInfo
//! window moves to the past and ARI clients replace them at their next check.
//!
//! It is one job row ([`crate::model::JobKind::StatusSweep`]): the jobs table's lease makes exactly one
//! replica sweep at a time, and a dead replica's round is taken over when its lease expires. Each
//! round reads a batch of statuses (`GET /ssl/v1/{sslId}`), least recently checked first, and
//! schedules the next round so that SCM sees at most `issuance.status_sweep_calls_per_hour` reads
//! per hour, whatever the number of replicas.

use super::worker::{Outcome, Worker};
use crate::acme::ari::reasons;
use crate::model::{Job, JobKind};
use crate::store::STATUS_SWEEP_SUBJECT;
use chrono::Duration;

/// How a budget is spent: reads per round and the pause from one round's end to the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub batch: i64,
    pub pause: Duration,
}

/// Rounds of `calls_per_hour * interval / 3600` reads (at least one) every `interval`, the pause
/// lengthened when one read per interval is already over budget. Never more than
/// `calls_per_hour` reads start in any hour, however many rounds it holds.
pub fn pace(calls_per_hour: u32, interval_secs: u64) -> Pace {
    let cph = i64::from(calls_per_hour.max(1));
    let interval = interval_secs.clamp(1, 86_400) as i64;
    let batch = (cph * interval / 3600).max(1);
    // Rounded up, so rounds never come faster than the budget allows.
    let pause_ms = (batch * 3_600_000 + cph - 1) / cph;
    Pace {
        batch,
        pause: Duration::milliseconds(pause_ms),
    }
}

/// Creates the sweep's job if SCM is configured and the sweep is on (every replica calls this at
/// start; one row results). The first round comes one pause after start, like every later one, so
/// restarting replicas never adds rounds.
pub async fn schedule(ctx: &crate::acme::AcmeContext) -> crate::store::Result<()> {
    let cfg = &ctx.config.issuance;
    if ctx.scm.is_none() || cfg.status_sweep_calls_per_hour == 0 {
        return Ok(());
    }
    let first = ctx.now()
        + pace(
            cfg.status_sweep_calls_per_hour,
            cfg.status_sweep_interval_secs,
        )
        .pause;
    ctx.store
        .ensure_job(JobKind::StatusSweep, STATUS_SWEEP_SUBJECT, first)
        .await
}

/// One round of the sweep.
pub(super) async fn run(w: &Worker, job: &Job) -> Outcome {
    let cfg = &w.ctx.config.issuance;
    let store = &w.ctx.store;
    let Some(scm) = w
        .scm
        .as_ref()
        .filter(|_| cfg.status_sweep_calls_per_hour > 0)
    else {
        // Turned off (or no SCM) since the job was created.
        return match store.drop_job(&job.lease).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Retry(e.to_string()),
        };
    };
    let p = pace(
        cfg.status_sweep_calls_per_hour,
        cfg.status_sweep_interval_secs,
    );
    let batch = match store.status_sweep_batch(w.ctx.now(), p.batch).await {
        Ok(b) => b,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let mut read = 0;
    for (cert_id, ssl_id) in &batch {
        read += 1;
        let details = match scm.details(*ssl_id).await {
            Ok(d) => d,
            Err(e) => {
                // The call counted against the budget all the same; try the rest next round.
                tracing::warn!(certificate = %cert_id, ssl_id, error = %e, "status sweep: SCM status read failed");
                break;
            }
        };
        let renew = reasons::for_scm_status(&details.status);
        if let Some(reason) = renew {
            tracing::warn!(
                certificate = %cert_id,
                ssl_id,
                scm_status = details.status.as_str(),
                reason,
                "SCM reports the certificate no longer valid: its renewalInfo now says renew now"
            );
        }
        if let Err(e) = store
            .record_scm_status(cert_id, details.status.as_str(), renew, w.ctx.now())
            .await
        {
            return Outcome::Retry(e.to_string());
        }
    }
    let next = w.ctx.now() + p.pause;
    tracing::debug!(read, next = %next, "status sweep round done");
    match store.reschedule_job(&job.lease, next).await {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_never_exceeds_the_budget() {
        let p = pace(600, 60);
        assert_eq!((p.batch, p.pause), (10, Duration::seconds(60)));
        let p = pace(5, 60);
        assert_eq!((p.batch, p.pause), (1, Duration::seconds(720)));
        let p = pace(7200, 1);
        assert_eq!((p.batch, p.pause), (2, Duration::seconds(1)));
        for (cph, interval) in [(1, 1), (7, 13), (600, 60), (1000, 3600), (36_000, 5)] {
            let p = pace(cph, interval);
            let per_hour = p.batch as f64 * 3_600_000.0 / p.pause.num_milliseconds() as f64;
            assert!(
                per_hour <= f64::from(cph) + 1e-9,
                "{cph}/h, {interval}s: {p:?}"
            );
        }
    }
}
