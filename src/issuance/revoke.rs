//! The `revoke` job: ask SCM to revoke, and record the certificate revoked only once SCM confirms.
//! SCM saying it cannot revoke (`ScmError::says_not_revocable`) is reconciled against its status, not ignored.

use super::error::JobError;
use super::worker::{Outcome, Worker};
use crate::acme::Error;
use crate::model::Job;
use crate::scm::{CertStatus, ErrorClass, RevocationReason};
use crate::store::RevocationState;

pub(super) async fn run(w: &Worker, job: &Job) -> Outcome {
    match attempt(w, job).await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::from_error(e),
    }
}

async fn attempt(w: &Worker, job: &Job) -> Result<(), JobError> {
    let store = &w.ctx.store;
    let scm = w.scm.as_ref().ok_or(JobError::NoScm)?;
    let cert = store.certificate(&job.subject_id).await?;
    let state = store.revocation_state(&job.subject_id).await?;
    let (Some(cert), RevocationState::Requested { reason }) = (cert, state) else {
        return Ok(store.drop_job(&job.lease).await?);
    };
    let reason =
        RevocationReason::from_code(i64::from(reason)).unwrap_or(RevocationReason::Unspecified);
    let now = w.ctx.now();
    match scm
        .revoke(cert.ssl_id, reason, "revoked through ACME revokeCert")
        .await
    {
        Ok(()) => {
            tracing::info!(certificate = %cert.id, ssl_id = cert.ssl_id, "revoked in SCM");
            store
                .complete_revocation(&job.lease, &cert.id, now)
                .await
                .map_err(JobError::from)
        }
        Err(err) if err.says_not_revocable() => {
            // SCM says it cannot revoke: find out whether that is because it already is.
            let d = scm.details(cert.ssl_id).await?;
            if d.status == CertStatus::Revoked {
                tracing::warn!(certificate = %cert.id, "SCM already had the certificate revoked; recording it");
                store
                    .complete_revocation(&job.lease, &cert.id, now)
                    .await
                    .map_err(JobError::from)
            } else {
                let problem = Error::internal_visible(format!(
                    "SCM refused the revocation ({err}) although the certificate is {:?} there",
                    d.status
                ))
                .problem_document();
                store
                    .fail_revocation(&job.lease, &cert.id, &problem, now)
                    .await
                    .map_err(JobError::from)
            }
        }
        Err(err) if err.class() == ErrorClass::Permanent => {
            let problem = Error::internal_visible(format!("SCM refused the revocation: {err}"))
                .problem_document();
            store
                .fail_revocation(&job.lease, &cert.id, &problem, now)
                .await
                .map_err(JobError::from)
        }
        Err(err) => Err(err.into()),
    }
}
