//! revokeCert (§7.6): who may revoke which certificate, and the reason codes SCM accepts. The SCM
//! call itself is a job; the request waits for SCM's confirmation before answering.

use crate::acme::wait::{self, Look, Waited};
use crate::acme::{AcmeContext, Error, ProblemType, Result};
use crate::jose::PublicJwk;
use crate::model::{Account, Certificate};
use crate::store::RevocationState;
use std::time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Who signed the revocation request.
pub enum Revoker {
    /// An account (kid): must be the one the certificate was issued to.
    Account(Account),
    /// The certificate's own key (jwk).
    CertificateKey(PublicJwk),
}

#[derive(serde::Deserialize)]
struct RevokeRequest {
    certificate: String,
    reason: Option<i64>,
}

/// Revokes a certificate once SCM confirms; `alreadyRevoked` on a second request.
pub async fn revoke(ctx: &AcmeContext, who: &Revoker, payload: &[u8]) -> Result<()> {
    let req: RevokeRequest = serde_json::from_slice(payload)
        .map_err(|_| Error::malformed("revokeCert needs {\"certificate\": base64url DER}"))?;
    let reason = req.reason.unwrap_or(0);
    if crate::scm::RevocationReason::from_code(reason).is_none() {
        return Err(Error::new(
            ProblemType::BadRevocationReason,
            format!("reason {reason} is not accepted; use 0, 1, 3, 4 or 5"),
        ));
    }
    let der = crate::jose::b64_decode(&req.certificate)
        .map_err(|_| Error::malformed("certificate is not unpadded base64url"))?;
    let (_, parsed) = X509Certificate::from_der(&der)
        .map_err(|_| Error::malformed("certificate is not a DER X.509 certificate"))?;
    let serial = crate::encoding::serial_hex(parsed.raw_serial());
    let cert = ctx
        .store
        .certificate_by_serial(&serial)
        .await?
        .filter(|c| leaf_der(c).as_deref() == Some(der.as_slice()))
        .ok_or_else(|| Error::not_found("certificate issued by this server"))?;
    authorize(&cert, who)?;
    match ctx.store.revocation_state(&cert.id).await? {
        RevocationState::Revoked => {
            return Err(Error::new(
                ProblemType::AlreadyRevoked,
                "the certificate is already revoked",
            ))
        }
        RevocationState::Requested { .. } => {}
        RevocationState::NotRequested | RevocationState::Failed(_) => {
            let actor = match who {
                Revoker::Account(a) => crate::model::Actor::Account(a.id.clone()),
                Revoker::CertificateKey(_) => crate::model::Actor::CertificateKey,
            };
            ctx.store
                .request_revocation_by(&cert.id, reason as i32, &actor, ctx.now())
                .await?;
            tracing::info!(certificate = %cert.id, serial = %cert.serial, reason, "revocation requested");
        }
    }
    wait_for_scm(ctx, &cert.id).await
}

fn authorize(cert: &Certificate, who: &Revoker) -> Result<()> {
    let ok = match who {
        Revoker::Account(a) => a.id == cert.account_id,
        Revoker::CertificateKey(k) => k.thumbprint() == cert.key_thumbprint,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::unauthorized(
            "only the account that obtained the certificate, or its key, may revoke it",
        ))
    }
}

fn leaf_der(c: &Certificate) -> Option<Vec<u8>> {
    crate::scm::certificates_in(c.chain_pem.as_bytes())
        .ok()?
        .into_iter()
        .next()
}

async fn wait_for_scm(ctx: &AcmeContext, cert_id: &str) -> Result<()> {
    let limit = Duration::from_secs(ctx.config.issuance.finalize_wait_secs.max(5));
    let watch = ctx.store.watch(cert_id);
    let waited = wait::until(&watch, limit, true, || async {
        Ok(match ctx.store.revocation_state(cert_id).await? {
            RevocationState::Revoked => Look::Done(Ok(())),
            RevocationState::Failed(problem) => {
                let detail = problem["detail"]
                    .as_str()
                    .unwrap_or("SCM refused")
                    .to_string();
                Look::Done(Err(Error::internal_visible(detail)))
            }
            _ => Look::Pending(Ok(())),
        })
    })
    .await?;
    match waited {
        Waited::Done(outcome) => outcome,
        Waited::TimedOut(_) => Err(Error::internal_visible(
            "SCM has not confirmed the revocation yet; it is in progress — send the request \
             again later",
        )
        .with_status(503)),
    }
}
