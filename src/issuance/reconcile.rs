//! Orphan reconciliation (#12 item 4): an order that failed — at the collect deadline, or after an
//! enroll whose outcome was unknown — can leave a certificate in SCM that no order holds (approved
//! after the deadline; created by a call whose answer never came). One recurring job row
//! ([`JobKind::Reconcile`], so one replica at a time) looks up each such order's enrollment in SCM,
//! by its sslId or else by its marker once the enroll can no longer land, revokes what SCM issued
//! for it with a reason naming the order, and records it in `orphan_certificates`
//! (`scm_orphan_certificates_total`). A certificate still pending in SCM is looked at again next
//! round. Orders still `processing` need no reconciliation: their issue job adopts what an earlier
//! enroll created (the marker search), which is how an orphan is attached to an order that can
//! still complete.

use super::error::JobError;
use super::worker::{Outcome, Worker};
use crate::model::{Job, JobKind};
use crate::scm::{CertStatus, RevocationReason, ScmClient};
use crate::store::{OrphanCandidate, RECONCILE_SUBJECT};
use chrono::Duration;

/// Enrollments looked at per round.
const BATCH: i64 = 50;

/// Creates the job if SCM is configured and reconciliation is on (every replica calls this at
/// start; one row results).
pub async fn schedule(ctx: &crate::acme::AcmeContext) -> crate::store::Result<()> {
    if ctx.scm.is_none() || ctx.config.issuance.reconcile_interval_secs == 0 {
        return Ok(());
    }
    ctx.store
        .ensure_job(JobKind::Reconcile, RECONCILE_SUBJECT, ctx.now())
        .await
}

/// One round, then the next one `issuance.reconcile_interval_secs` later.
pub(super) async fn run(w: &Worker, job: &Job) -> Outcome {
    let interval = w.ctx.config.issuance.reconcile_interval_secs;
    let Some(scm) = w.scm.as_ref().filter(|_| interval > 0) else {
        // Turned off (or no SCM) since the job was created.
        return match w.ctx.store.drop_job(&job.lease).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::from_store(e),
        };
    };
    if let Err(e) = round(w, scm).await {
        return Outcome::from_error(e);
    }
    // At most a week (checked at load).
    let next = w.ctx.now() + Duration::seconds(interval as i64);
    match w.ctx.store.reschedule_job(&job.lease, next).await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::from_store(e),
    }
}

async fn round(w: &Worker, scm: &ScmClient) -> Result<(), JobError> {
    let cfg = &w.ctx.config;
    let timeout = cfg.scm.as_ref().map_or(120, |s| s.timeout_secs.min(86_400));
    let settle = Duration::seconds(timeout as i64 + cfg.issuance.enroll_settle_secs);
    let candidates = w
        .ctx
        .store
        .orphan_candidates(w.ctx.now() - settle, BATCH)
        .await?;
    for c in candidates {
        if let Err(e) = reconcile(w, scm, &c).await {
            // One enrollment SCM cannot answer for now does not hold up the others.
            tracing::warn!(order = %c.enrollment.order_id, error = %e, "reconciling a failed order's enrollment failed; next round");
        }
    }
    Ok(())
}

async fn reconcile(w: &Worker, scm: &ScmClient, c: &OrphanCandidate) -> Result<(), JobError> {
    let store = &w.ctx.store;
    let e = &c.enrollment;
    let ssl_id = match e.ssl_id {
        Some(id) => Some(id),
        None => super::issue::find_by_marker(scm, e).await?,
    };
    let Some(ssl_id) = ssl_id else {
        store.mark_reconciled(&e.order_id, w.ctx.now()).await?;
        return Ok(());
    };
    let d = scm.details(ssl_id).await?;
    match d.status {
        CertStatus::Issued => {
            let why = revocation_reason(&e.order_id, c.order_error.as_ref());
            scm.revoke(ssl_id, RevocationReason::CessationOfOperation, &why)
                .await?;
            store
                .record_orphan(&e.order_id, ssl_id, "revoked", &why, w.ctx.now())
                .await?;
            tracing::warn!(order = %e.order_id, ssl_id, reason = %why, "revoked a certificate SCM issued for a failed order");
        }
        s if s.is_pending() => {
            tracing::debug!(order = %e.order_id, ssl_id, status = s.as_str(), "a failed order's certificate request is still pending in SCM");
        }
        _ => store.mark_reconciled(&e.order_id, w.ctx.now()).await?,
    }
    Ok(())
}

/// The text sent with the revocation (SCM keeps at most 512 characters): which order, and why it
/// failed.
fn revocation_reason(order_id: &str, error: Option<&serde_json::Value>) -> String {
    let detail = error
        .and_then(|e| e.get("detail"))
        .and_then(|d| d.as_str())
        .unwrap_or("unknown");
    let text = format!(
        "acme-sectigo-bridge: issued for order {order_id}, which had failed ({detail}); no ACME \
         client holds this certificate"
    );
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reason_names_the_order_and_fits_scm() {
        let e = serde_json::json!({"detail": "x".repeat(1000)});
        let r = super::revocation_reason("ord1", Some(&e));
        assert!(r.contains("order ord1"));
        assert!(r.chars().count() <= 512);
    }
}
