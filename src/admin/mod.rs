//! The operator's side of the bridge, shared by the admin API, the web console and the CLI: what
//! an operator sees of accounts, orders, EAB keys and certificates (as JSON views) and the changes
//! they make, each recorded in the audit trail with the operator as actor. No HTTP here.

mod error;
pub mod views;

pub use error::AdminError;

use crate::model::{Actor, EabKey};
use crate::store::{EabRevocation, RevocationState, Store};
use chrono::{DateTime, Utc};

/// What a new EAB key may do (the admin API's and console's create form).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewEabKey {
    pub label: String,
    #[serde(default)]
    pub allowed_patterns: Vec<String>,
    pub scm_org_id: Option<i64>,
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub trust_scm_dcv: bool,
    #[serde(default)]
    pub single_use: bool,
}

/// Creates an EAB key for `actor`; the returned key holds the HMAC key, shown to the operator
/// once and never again.
pub async fn create_eab_key(
    store: &Store,
    new: NewEabKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<EabKey, AdminError> {
    if new.label.trim().is_empty() {
        return Err(AdminError::Invalid("label must not be empty".into()));
    }
    for p in &new.allowed_patterns {
        crate::policy::NamePattern::parse(p)
            .map_err(|e| AdminError::Invalid(format!("pattern {p:?}: {}", e.reason)))?;
    }
    let key = EabKey {
        kid: format!("kid-{}", crate::ids::random_id()),
        hmac_key: crate::ids::random_bytes(32),
        label: new.label.trim().to_string(),
        allowed_patterns: new.allowed_patterns,
        scm_org_id: new.scm_org_id,
        profiles: new.profiles,
        trust_scm_dcv: new.trust_scm_dcv,
        single_use: new.single_use,
        created_at: now,
        used_at: None,
        revoked_at: None,
        accounts_stopped: false,
    };
    store.create_eab_key_by(&key, actor).await?;
    Ok(key)
}

/// Revokes an EAB key (stopping its accounts unless `keep_accounts`).
pub async fn revoke_eab_key(
    store: &Store,
    kid: &str,
    keep_accounts: bool,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), AdminError> {
    store.eab_key(kid).await?.ok_or(AdminError::NotFound)?;
    let how = if keep_accounts {
        EabRevocation::KeepAccounts
    } else {
        EabRevocation::StopAccounts
    };
    store.revoke_eab_key_by(kid, how, actor, now).await?;
    Ok(())
}

/// Gives an EAB key a new HMAC key (the old one stops binding at once); returns the new one.
pub async fn rotate_eab_hmac(
    store: &Store,
    kid: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, AdminError> {
    let hmac = crate::ids::random_bytes(32);
    if store.rotate_eab_hmac(kid, &hmac, actor, now).await? {
        Ok(hmac)
    } else if store.eab_key(kid).await?.is_some() {
        Err(AdminError::Conflict("the key is revoked".into()))
    } else {
        Err(AdminError::NotFound)
    }
}

/// Deactivates an account for good (RFC 8555 §7.3.6 on the operator's behalf).
pub async fn deactivate_account(
    store: &Store,
    id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), AdminError> {
    store
        .deactivate_account_by(id, actor, now)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(())
}

/// Asks for a certificate's revocation through SCM, as revokeCert does: the issuance worker of
/// any replica calls SCM and records the outcome. `reason` is an RFC 5280 code SCM accepts.
pub async fn revoke_certificate(
    store: &Store,
    cert_id: &str,
    reason: i32,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RevocationState, AdminError> {
    if crate::scm::RevocationReason::from_code(reason as i64).is_none() {
        return Err(AdminError::Invalid(format!(
            "reason {reason} is not accepted; use 0, 1, 3, 4 or 5"
        )));
    }
    store
        .certificate(cert_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    match store.revocation_state(cert_id).await? {
        RevocationState::Revoked => {
            return Err(AdminError::Conflict(
                "the certificate is already revoked".into(),
            ))
        }
        RevocationState::Requested { .. } => {}
        RevocationState::NotRequested | RevocationState::Failed(_) => {
            store
                .request_revocation_by(cert_id, reason, actor, now)
                .await?;
        }
    }
    Ok(store.revocation_state(cert_id).await?)
}
