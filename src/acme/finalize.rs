//! finalize (§7.4): check the CSR, claim the order for issuance and hand it to the worker; then
//! wait briefly so a certificate SCM issues at once is already in the answer.

use crate::acme::csr::{check_csr, CheckedCsr};
use crate::acme::order::order_for;
use crate::acme::scm_target::{scm_target, ScmTarget};
use crate::acme::wait::{self, Look, Waited};
use crate::acme::{AcmeContext, Error, ProblemType, Result};
use crate::model::status::OrderStatus;
use crate::model::{Account, Enrollment, Order};
use crate::store::{FinalizeOutcome, Watch};
use std::time::Duration;

#[derive(serde::Deserialize)]
struct FinalizeRequest {
    csr: String,
}

/// The SCM target of `order` of `account` (see [`scm_target`]).
pub async fn order_target(
    ctx: &AcmeContext,
    account: &Account,
    order: &Order,
) -> Result<ScmTarget> {
    let eab = match &account.eab_kid {
        Some(kid) => ctx.eab_policies.get(&ctx.store, kid).await?,
        None => None,
    };
    scm_target(&ctx.config, eab.as_deref(), order.profile.as_deref())
}

/// Finalizes an order of `account` and returns it as it stands after the fast-path wait.
pub async fn finalize(
    ctx: &AcmeContext,
    account: &Account,
    order_id: &str,
    payload: &[u8],
) -> Result<Order> {
    let (order, resource) = order_for(ctx, account, order_id).await?;
    crate::acme::eab_policies::policy_for_ordering(ctx, account).await?;
    if matches!(
        resource.status,
        OrderStatus::Processing | OrderStatus::Valid
    ) && is_resent(ctx, &order, payload).await?
    {
        // The client's earlier finalize committed but its answer was lost (a 503 during a
        // database restart, a cut connection): answer the order as a first finalize would have,
        // not `orderNotReady`, on which clients give up on an order SCM then issues.
        return Ok(order);
    }
    if resource.status != OrderStatus::Ready {
        return Err(Error::new(
            ProblemType::OrderNotReady,
            format!(
                "the order is {}, not ready: {}",
                resource.status,
                match resource.status {
                    OrderStatus::Pending => "complete its authorizations first",
                    OrderStatus::Processing | OrderStatus::Valid => "it has already been finalized",
                    OrderStatus::Ready | OrderStatus::Invalid => "create a new order",
                }
            ),
        ));
    }
    let req: FinalizeRequest = serde_json::from_slice(payload)
        .map_err(|_| Error::malformed("finalize needs {\"csr\": base64url DER}"))?;
    let der = crate::jose::b64_decode(&req.csr)
        .map_err(|_| Error::new(ProblemType::BadCsr, "csr is not unpadded base64url"))?;
    let csr: CheckedCsr = check_csr(&der, &order.identifiers)?;
    let csr_key = csr.key_thumbprint;
    let target = order_target(ctx, account, &order).await?;
    let enrollment = Enrollment {
        order_id: order.id.clone(),
        csr_der: csr.der,
        marker: format!("acme-sectigo-bridge order {}", order.id),
        org_id: target.org_id,
        cert_type: target.cert_type,
        term: target.term,
        subj_alt_names: order.identifiers.iter().map(|i| i.value.clone()).collect(),
        common_name: csr.common_name,
        enroll_started_at: None,
        enroll_answered_at: None,
        enroll_attempts: 0,
        ssl_id: None,
        renew_id: None,
        collect_attempts: 0,
        next_poll_at: None,
        finalized_at: ctx.now(),
    };
    // Watch before the job exists, so the worker's signal cannot come before we listen.
    let watch = ctx.store.watch(&order.id);
    let claim = ctx
        .store
        .start_finalize_unless_account_key(&enrollment, Some(&csr_key), ctx.now());
    match claim.await? {
        FinalizeOutcome::Started => {
            tracing::info!(order = %order.id, org = target.org_id, cert_type = target.cert_type, "order finalized")
        }
        FinalizeOutcome::NotReady => {
            return Err(Error::new(
                ProblemType::OrderNotReady,
                "the order is no longer ready: it was finalized concurrently or expired",
            ))
        }
        FinalizeOutcome::CsrKeyIsAccountKey => {
            return Err(Error::new(
                ProblemType::BadCsr,
                "the CSR's key is an ACME account key; use a separate key for the certificate",
            ))
        }
    }
    // From here on the order is finalized: a database error must not tell the client otherwise.
    let processing = Order {
        status: OrderStatus::Processing,
        ..order
    };
    match wait_for_issuance(ctx, &processing.id, watch).await {
        Ok(order) => Ok(order),
        Err(e) => {
            tracing::warn!(order = %processing.id, error = %e, cause = e.cause.as_deref().unwrap_or("-"), "cannot read the finalized order; answering it as processing");
            Ok(processing)
        }
    }
}

/// Whether `payload` repeats the finalize that already started `order`: the same CSR as its
/// enrollment's.
async fn is_resent(ctx: &AcmeContext, order: &Order, payload: &[u8]) -> Result<bool> {
    let Ok(req) = serde_json::from_slice::<FinalizeRequest>(payload) else {
        return Ok(false);
    };
    let Ok(der) = crate::jose::b64_decode(&req.csr) else {
        return Ok(false);
    };
    Ok(ctx
        .store
        .enrollment(&order.id)
        .await?
        .is_some_and(|e| e.csr_der == der))
}

/// Waits until the order leaves `processing` or `issuance.finalize_wait_secs` pass: woken by this
/// replica's worker the moment it stores the outcome, and polling now and then in case another
/// replica's worker does the work.
async fn wait_for_issuance(ctx: &AcmeContext, order_id: &str, watch: Watch) -> Result<Order> {
    let limit = Duration::from_secs(ctx.config.issuance.finalize_wait_secs);
    // The order was just made `processing`: wait before reading it.
    let waited = wait::until(&watch, limit, false, || async {
        let order = ctx
            .store
            .order(order_id)
            .await?
            .ok_or_else(|| Error::internal("finalized order vanished"))?;
        Ok(if order.status == OrderStatus::Processing {
            Look::Pending(order)
        } else {
            Look::Done(order)
        })
    })
    .await?;
    match waited {
        Waited::Done(order) | Waited::TimedOut(order) => Ok(order),
    }
}

/// Seconds a client should wait before polling a processing order again.
pub async fn retry_after(ctx: &AcmeContext, order: &Order) -> Result<u64> {
    let next = ctx.store.issue_job_run_at(&order.id).await?;
    Ok(next
        .map(|t| (t - ctx.now()).num_seconds().clamp(1, 60) as u64)
        .unwrap_or(1))
}
