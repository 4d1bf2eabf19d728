//! JSON views of records for operators: one spelling for the admin API, the console's data and
//! the CLI's `--json`, so scripts written against one read the others. Never an HMAC key.

use super::AdminError;
use crate::model::{Account, EabKey};
use crate::store::Store;
use serde_json::{json, Value};

/// An account as an operator sees it (its key as thumbprint only).
pub fn account(a: &Account) -> Value {
    json!({
        "id": a.id,
        "status": a.status.as_str(),
        "contact": a.contact,
        "eab_kid": a.eab_kid,
        "key_thumbprint": a.key_thumbprint,
        "created_at": a.created_at,
    })
}

/// An EAB key without its HMAC key.
pub fn eab_key(k: &EabKey) -> Value {
    json!({
        "kid": k.kid,
        "label": k.label,
        "allowed_patterns": k.allowed_patterns,
        "scm_org_id": k.scm_org_id,
        "profiles": k.profiles,
        "trust_scm_dcv": k.trust_scm_dcv,
        "single_use": k.single_use,
        "created_at": k.created_at,
        "used_at": k.used_at,
        "revoked_at": k.revoked_at,
        "accounts_stopped": k.accounts_stopped,
    })
}

/// An order with its authorizations (challenges, validation records) and SCM's side (sslId,
/// attempts, next poll, the certificate).
pub async fn order_detail(store: &Store, id: &str) -> Result<Value, AdminError> {
    let order = store.order(id).await?.ok_or(AdminError::NotFound)?;
    let mut authzs = Vec::new();
    for authz_id in &order.authz_ids {
        let Some(a) = store.authorization(authz_id).await? else {
            continue; // purged by retention
        };
        let challenges: Vec<Value> = a
            .challenges
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": c.kind,
                    "status": c.status.as_str(),
                    "validated_at": c.validated_at,
                    "error": c.error,
                    "validation_record": c.validation_record,
                })
            })
            .collect();
        authzs.push(json!({
            "id": a.id,
            "identifier": a.identifier,
            "wildcard": a.wildcard,
            "status": a.status.as_str(),
            "expires_at": a.expires_at,
            "validated_at": a.validated_at,
            "challenges": challenges,
        }));
    }
    let scm = store.enrollment(id).await?.map(|e| {
        json!({
            "ssl_id": e.ssl_id,
            "org_id": e.org_id,
            "cert_type": e.cert_type,
            "term": e.term,
            "common_name": e.common_name,
            "subj_alt_names": e.subj_alt_names,
            "finalized_at": e.finalized_at,
            "enroll_attempts": e.enroll_attempts,
            "collect_attempts": e.collect_attempts,
            "next_poll_at": e.next_poll_at,
        })
    });
    Ok(json!({
        "id": order.id,
        "account_id": order.account_id,
        "status": order.status.as_str(),
        "identifiers": order.identifiers,
        "profile": order.profile,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "error": order.error,
        "certificate_id": order.certificate_id,
        "replaces": order.replaces,
        "authorizations": authzs,
        "scm": scm,
    }))
}

/// A certificate with its chain (PEM).
pub async fn certificate_detail(store: &Store, id: &str) -> Result<Value, AdminError> {
    let summary = store
        .certificate_summary(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let cert = store.certificate(id).await?.ok_or(AdminError::NotFound)?;
    let mut v = serde_json::to_value(summary).unwrap_or(Value::Null);
    v["chain_pem"] = json!(cert.chain_pem);
    Ok(v)
}
