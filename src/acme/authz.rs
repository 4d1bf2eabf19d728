//! Authorizations and challenges (§7.5): fetching, deactivating, and asking for validation.

use crate::acme::resources::{
    authz_resource, challenge_resource, AuthzResource, ChallengeResource,
};
use crate::acme::types::AuthzUpdateRequest;
use crate::acme::{AcmeContext, Error, Result};
use crate::model::{Account, Authorization};
use crate::store::StartChallenge;

/// An authorization of `account`.
pub async fn authz_for(ctx: &AcmeContext, account: &Account, id: &str) -> Result<Authorization> {
    ctx.store
        .authorization(id)
        .await?
        .filter(|a| a.account_id == account.id)
        .ok_or_else(|| Error::not_found("authorization"))
}

/// POST to an authorization: fetch (empty payload) or deactivate (§7.5.2).
pub async fn update_authz(
    ctx: &AcmeContext,
    account: &Account,
    id: &str,
    payload: &[u8],
) -> Result<AuthzResource> {
    let authz = authz_for(ctx, account, id).await?;
    if payload.is_empty() {
        return Ok(authz_resource(ctx, &authz));
    }
    let req: AuthzUpdateRequest = serde_json::from_slice(payload)
        .map_err(|e| Error::malformed(format!("authorization update is not valid: {e}")))?;
    match req.status.as_deref() {
        Some("deactivated") => {
            let problem = Error::unauthorized(
                "an authorization of this order was deactivated by the client; create a new order",
            )
            .problem_document();
            if !ctx.store.deactivate_authz(id, &problem, ctx.now()).await? {
                return Err(Error::malformed(format!(
                    "an authorization that is {} cannot be deactivated",
                    authz_resource(ctx, &authz).status
                )));
            }
            let authz = authz_for(ctx, account, id).await?;
            Ok(authz_resource(ctx, &authz))
        }
        Some(other) => Err(Error::malformed(format!(
            "an authorization's status can only be set to \"deactivated\", not {other:?}"
        ))),
        None => Ok(authz_resource(ctx, &authz)),
    }
}

/// POST to a challenge: an empty payload fetches it, `{}` asks the server to validate (§7.5.1).
/// Returns the challenge and the URL of its authorization (for `Link: rel="up"`).
pub async fn respond_to_challenge(
    ctx: &AcmeContext,
    account: &Account,
    id: &str,
    payload: &[u8],
) -> Result<(ChallengeResource, String)> {
    let challenge = ctx
        .store
        .challenge(id)
        .await?
        .ok_or_else(|| Error::not_found("challenge"))?;
    let authz = authz_for(ctx, account, &challenge.authz_id)
        .await
        .map_err(|_| Error::not_found("challenge"))?;
    if !payload.is_empty() {
        crate::acme::eab_policies::policy_for_ordering(ctx, account).await?;
        let _: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(payload)
            .map_err(|_| {
                Error::malformed("a challenge response must be the empty JSON object {}")
            })?;
        check_failed_validations(ctx, account).await?;
        match ctx.store.start_challenge(id, ctx.now()).await? {
            StartChallenge::Started => {
                tracing::info!(challenge = %id, authz = %authz.id, kind = %challenge.kind, "validation requested")
            }
            StartChallenge::Unchanged => {}
        }
    }
    let challenge = ctx
        .store
        .challenge(id)
        .await?
        .ok_or_else(|| Error::not_found("challenge"))?;
    Ok((
        challenge_resource(ctx, &challenge),
        ctx.urls.authz(&authz.id),
    ))
}

/// The failed-validation limit (`limits.failed_validations_per_account`), counted in the database
/// so failures recorded by every replica's worker count. Checked before a validation is started,
/// which is the work it bounds; fetching a challenge is never refused.
async fn check_failed_validations(ctx: &AcmeContext, account: &Account) -> Result<()> {
    let Some(rate) = ctx.config.limits.failed_validations() else {
        return Ok(());
    };
    let now = ctx.now();
    let window = chrono::Duration::from_std(rate.window()).map_err(Error::internal)?;
    let failures = ctx
        .store
        .failed_validations(&account.id, now - window, i64::from(rate.burst))
        .await?;
    let count = failures.len();
    let Some(oldest) = failures.last().filter(|_| count >= rate.burst as usize) else {
        return Ok(());
    };
    // Room again once the oldest of the last `burst` failures leaves the window.
    let wait = (*oldest + window - now).to_std().unwrap_or_default();
    Err(Error::rate_limited(
        format!(
            "this account had {count} failed validations in the last {} minutes \
             (limits.failed_validations_per_account); fix what the validation errors name \
             (DNS records, the HTTP server, port 80/443 reachability) before trying again",
            window.num_minutes()
        ),
        crate::limits::Exceeded { retry_after: wait },
    ))
}
