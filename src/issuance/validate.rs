//! The `validate` job: check one challenge over the network and record the outcome on the
//! challenge, its authorization and the orders waiting on it.

use super::worker::{Outcome, Worker};
use crate::acme::Error;
use crate::model::Job;
use crate::store::ValidationOutcome;
use crate::validation::ChallengeType;
use chrono::Duration;

pub(super) async fn run(w: &Worker, job: &Job) -> Outcome {
    match attempt(w, job).await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::from_store(e),
    }
}

async fn attempt(w: &Worker, job: &Job) -> Result<(), crate::store::StoreError> {
    let store = &w.ctx.store;
    let Some(challenge) = store.challenge(&job.subject_id).await? else {
        return store.drop_job(&job.lease).await;
    };
    if challenge.status != crate::model::status::ChallengeStatus::Processing {
        return store.drop_job(&job.lease).await;
    }
    let Some(authz) = store.authorization(&challenge.authz_id).await? else {
        return store.drop_job(&job.lease).await;
    };
    let Some(account) = store.account(&authz.account_id).await? else {
        return store.drop_job(&job.lease).await;
    };
    let key_authorization = format!("{}.{}", challenge.token, account.key_thumbprint);
    let outcome = match ChallengeType::parse(&challenge.kind) {
        None => ValidationOutcome::Invalid {
            error: Error::malformed(format!("unknown challenge type {}", challenge.kind))
                .problem_document(),
            record: None,
        },
        Some(kind) => {
            match w
                .validator
                .validate(
                    kind,
                    &authz.identifier,
                    &challenge.token,
                    &key_authorization,
                )
                .await
            {
                Ok(record) => {
                    tracing::info!(challenge = %challenge.id, identifier = %authz.identifier.value, "challenge valid");
                    ValidationOutcome::Valid {
                        record: serde_json::to_value(record.flatten()).unwrap_or_default(),
                    }
                }
                Err(e) => {
                    tracing::info!(challenge = %challenge.id, identifier = %authz.identifier.value, error = %e.detail, "challenge invalid");
                    ValidationOutcome::Invalid {
                        error: Error::from(e).problem_document(),
                        record: None,
                    }
                }
            }
        }
    };
    let now = w.ctx.now();
    let valid_until = now + Duration::seconds(w.ctx.config.acme.authz_valid_secs);
    store
        .finish_validation(&job.lease, &challenge.id, &outcome, valid_until, now)
        .await
}
