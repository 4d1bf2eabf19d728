//! `POST /ssl/v1/replace/{sslId}` (shared/scm-api.md §3 "Renew, replace, approve"): a new key and
//! new names for an issued certificate, under the same sslId.

use crate::sandbox::handlers::certs::not_found;
use crate::sandbox::handlers::enroll::{check_key, parse_csr};
use crate::sandbox::reply::{bad, json_body, parse_id, str_field, unparsable};
use crate::sandbox::state::SandboxState;
use crate::scm::types::CertStatus;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use http::StatusCode;
use std::sync::Arc;

/// `subjectAlternativeNames`: an **array** here (unlike enroll's comma-separated string); absent,
/// null or empty keeps the certificate's names. [guess] A string gives -1002, mirroring enroll's
/// refusal of an array.
fn names(v: &serde_json::Value) -> Result<Vec<String>, Response> {
    let list = match v.get("subjectAlternativeNames") {
        None | Some(serde_json::Value::Null) => return Ok(vec![]),
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => return Err(unparsable()),
    };
    let mut out: Vec<String> = Vec::new();
    for n in list {
        let n = n
            .as_str()
            .ok_or_else(unparsable)?
            .trim()
            .to_ascii_lowercase();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// `POST /ssl/v1/replace/{id}` `{"csr", "reason", "subjectAlternativeNames": [...]}` → 204.
///
/// What changes (the documentation says only "same sslId, new certificate"; the rest is [guess]):
/// - The sslId, renewId, org, profile, term, comments and externalRequester stay.
/// - The record takes the new CSR's key and the new names (CN: the CSR's, else the first name), and
///   goes back through the status machine as a new enrollment would (`requested` = now, `Applied`,
///   or `Requested`
///   when its org needs approval, issued per the current timing): until then collect answers the
///   pending code, and details show no serial, issued or expiry date.
/// - Once issued, details, list and collect show only the new certificate (new serial); the old one
///   is not revoked — it simply is no longer served (Sectigo's reseller API documents that a replace
///   does "not necessarily revoke" the previous certificate) and is not counted as an enrollment.
///
/// Refusals, in this order: unknown id -124, body -1002 (malformed, wrong types), [guess] missing
/// or empty `reason` -1002, [guess] a certificate not `Issued` -102 ("Only issued certificates
/// could be replaced.", after revoke's wording), CSR -10/-9/-138, key -141/-170/-194, DCV -107.
pub async fn replace(
    State(s): State<Arc<SandboxState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match check(&s, id, &body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

fn check(s: &SandboxState, id: i64, body: &[u8]) -> Result<(), Response> {
    let v = json_body(body)?;
    if !v.is_object() {
        return Err(unparsable());
    }
    let csr = str_field(&v, "csr")?;
    let reason = str_field(&v, "reason")?;
    let sans = names(&v)?;
    let current = s
        .with_cert(id, false, |r| r.clone())
        .ok_or_else(|| not_found(id))?;
    if reason.as_deref().map_or(true, |r| r.trim().is_empty()) {
        return Err(bad(-1002, "reason is required"));
    }
    if reason.as_deref().is_some_and(|r| r.chars().count() > 512) {
        return Err(bad(-1002, "reason must be at most 512 characters"));
    }
    let not_issued = || bad(-102, "Only issued certificates could be replaced.");
    if current.status != CertStatus::Issued {
        return Err(not_issued());
    }
    let parsed = parse_csr(csr.as_deref().unwrap_or(""))?;
    if let Some(p) = s.profile(current.cert_type) {
        check_key(&parsed.key, &p.key_types)?;
    }
    let sans = if sans.is_empty() {
        current.sans.clone()
    } else {
        sans
    };
    let common_name = parsed
        .common_name
        .clone()
        .or_else(|| sans.first().cloned())
        .unwrap_or_else(|| current.common_name.clone());
    let unit = s.unit(current.org_id);
    let mut checked = vec![common_name.to_ascii_lowercase()];
    checked.extend(sans.iter().cloned());
    for name in &checked {
        if unit.is_some_and(|u| !s.domain_ok(u, name)) {
            return Err(bad(
                -107,
                format!("Domain Control Validation is either incomplete or expired for {name}"),
            ));
        }
    }
    // Read before taking the record: `settings` locks the state too.
    let (approval, issuance, pending_code) = match (unit, s.profile(current.cert_type)) {
        (Some(u), Some(p)) => s.settings(u, p),
        _ => (false, current.issuance, current.pending_code),
    };
    s.with_cert(id, false, |r| {
        // Checked again under the lock: a concurrent revoke may have won.
        if r.status != CertStatus::Issued {
            return Err(not_issued());
        }
        let now = Utc::now();
        r.spki = parsed.spki;
        r.key = parsed.key;
        r.common_name = common_name;
        r.sans = sans;
        r.status = if approval {
            CertStatus::Requested
        } else {
            CertStatus::Applied
        };
        r.issuance = issuance;
        r.pending_code = pending_code;
        r.polls = 0;
        r.requested = now;
        r.approved = None;
        r.applied = (!approval).then_some(now);
        r.issued = None;
        r.expires = None;
        r.serial = None;
        r.leaf = None;
        tracing::info!(ssl_id = id, "sandbox replaced a certificate");
        Ok(())
    })
    .unwrap_or_else(|| Err(not_found(id)))
}
