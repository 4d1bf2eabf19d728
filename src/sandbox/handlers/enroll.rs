//! `POST /ssl/v1/enroll` with SCM's validation order: body (-1002), org (-1023), Web API (-1021),
//! profile (-39/-111), term (-36), CSR (-10/-9/-138, key -141/-170/-194), custom fields (-62), DCV (-107).

use crate::sandbox::faults::{take_enroll_fault, unanswered, ConnKill, EnrollFault};
use crate::sandbox::reply::{bad, int_field, json_body, str_field, unparsable};
use crate::sandbox::state::{CertRecord, SandboxState};
use crate::scm::types::{CertStatus, CustomFieldValue};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use x509_parser::prelude::*;

/// What the sandbox takes from a CSR.
pub struct ParsedCsr {
    /// Subject CN, if any.
    pub common_name: Option<String>,
    /// SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
    /// `("RSA", bits)` or `("EC", bits)`.
    pub key: (String, u32),
}

/// Parses and verifies a CSR (PEM with or without armour); the error is the SCM response.
pub fn parse_csr(text: &str) -> Result<ParsedCsr, Response> {
    let text = text.trim();
    if text.is_empty() {
        return Err(bad(-10, "CSR is empty"));
    }
    let der = if text.contains("-----BEGIN") {
        crate::scm::collect::pem_blocks(text)
            .ok()
            .and_then(|b| b.into_iter().find(|(l, _)| l.contains("REQUEST")))
            .map(|(_, d)| d)
    } else {
        let b64: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD.decode(b64).ok()
    };
    let invalid = || bad(-9, "Invalid CSR");
    let der = der.ok_or_else(invalid)?;
    let (_, csr) = X509CertificationRequest::from_der(&der).map_err(|_| invalid())?;
    csr.verify_signature()
        .map_err(|_| bad(-138, "CSR signature is not valid"))?;
    let info = &csr.certification_request_info;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string);
    let key = match info.subject_pki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => ("RSA".to_string(), k.key_size() as u32),
        Ok(x509_parser::public_key::PublicKey::EC(k)) => ("EC".to_string(), k.key_size() as u32),
        _ => return Err(bad(-141, "Unsupported key algorithm")),
    };
    Ok(ParsedCsr {
        common_name,
        spki: info.subject_pki.raw.to_vec(),
        key,
    })
}

/// Refuses keys the profile does not list (RSA sizes, EC curves).
pub fn check_key(
    key: &(String, u32),
    allowed: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(), Response> {
    let (alg, bits) = key;
    match alg.as_str() {
        "RSA" => {
            let ok = allowed
                .get("RSA")
                .is_some_and(|l| l.iter().any(|s| s == &bits.to_string()));
            if !ok {
                return Err(bad(-141, format!("RSA key size {bits} is not allowed")));
            }
        }
        _ => {
            let Some(curves) = allowed.get("EC") else {
                return Err(bad(
                    -170,
                    "ECC keys are not allowed for this certificate type",
                ));
            };
            let name = match bits {
                256 => "P-256",
                384 => "P-384",
                521 => "P-521",
                _ => "",
            };
            if !curves.iter().any(|c| c == name) {
                return Err(bad(-194, format!("EC curve {name} is not allowed")));
            }
        }
    }
    Ok(())
}

/// `subjAltNames`: a comma-separated string (or absent/null); an array is -1002, as on SCM.
fn names(v: &serde_json::Value) -> Result<Vec<String>, Response> {
    let raw = str_field(v, "subjAltNames")?.unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for n in raw.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

fn custom_fields(v: &serde_json::Value) -> Result<Vec<CustomFieldValue>, Response> {
    match v.get("customFields") {
        None | Some(serde_json::Value::Null) => Ok(vec![]),
        Some(f) => serde_json::from_value(f.clone()).map_err(|_| unparsable()),
    }
}

/// Validates in SCM's order and builds the record (status not yet set).
fn validate(s: &SandboxState, v: &serde_json::Value) -> Result<CertRecord, Response> {
    if !v.is_object() {
        return Err(unparsable());
    }
    // Type checks first: any wrong JSON type is a parse error on SCM.
    let org_id = int_field(v, "orgId")?;
    let cert_type = int_field(v, "certType")?;
    let term = int_field(v, "term")?;
    let csr = str_field(v, "csr")?;
    let sans = names(v)?;
    let explicit_cn = str_field(v, "commonName")?.filter(|cn| !cn.trim().is_empty());
    let comments = str_field(v, "comments")?;
    let external_requester = str_field(v, "externalRequester")?;
    let fields = custom_fields(v)?;

    let org_id = org_id.ok_or_else(|| bad(-1023, "Organization id is required"))?;
    let unit = s.unit(org_id).ok_or_else(|| {
        bad(
            -1023,
            format!("Organization with id '{org_id}' does not exist"),
        )
    })?;
    if !s.web_api(unit) {
        return Err(bad(
            -1021,
            format!(
                "This operation cannot be performed for Organization '{}'",
                unit.org.name
            ),
        ));
    }
    let cert_type = cert_type.ok_or_else(|| bad(-39, "Certificate type is required"))?;
    let profile = s
        .profile(cert_type)
        .ok_or_else(|| bad(-39, format!("Invalid certificate type: {cert_type}")))?;
    if !s.profile_allowed(unit, cert_type) {
        return Err(bad(
            -111,
            format!("Certificate type {cert_type} is not available for this organization"),
        ));
    }
    let term = term
        .and_then(|t| u32::try_from(t).ok())
        .filter(|t| profile.terms.contains(t))
        .ok_or_else(|| bad(-36, format!("Invalid term: {}", term.unwrap_or(0))))?;
    let parsed = parse_csr(csr.as_deref().unwrap_or(""))?;
    check_key(&parsed.key, &profile.key_types)?;
    for f in s.cfg.custom_fields.iter().filter(|f| f.mandatory) {
        if !fields
            .iter()
            .any(|v| v.name == f.name && !v.value.is_empty())
        {
            return Err(bad(-62, format!("Custom field '{}' is mandatory", f.name)));
        }
    }
    // An explicit `commonName` wins over the CSR's subject, as on SCM.
    let common_name = explicit_cn
        .or_else(|| parsed.common_name.clone())
        .or_else(|| sans.first().cloned())
        .ok_or_else(|| bad(-9, "CSR has no common name and no subjAltNames were given"))?;
    let mut checked = vec![common_name.to_ascii_lowercase()];
    checked.extend(sans.iter().cloned());
    for name in &checked {
        if !s.domain_ok(unit, name) {
            return Err(bad(
                -107,
                format!("Domain Control Validation is either incomplete or expired for {name}"),
            ));
        }
    }
    if comments
        .as_deref()
        .is_some_and(|c| c.chars().count() > 1024)
    {
        return Err(bad(-1002, "comments longer than 1024 characters"));
    }
    let (approval, issuance, pending_code) = s.settings(unit, profile);
    let now = Utc::now();
    Ok(CertRecord {
        id: 0,
        org_id,
        cert_type,
        term,
        sans: if sans.is_empty() {
            vec![common_name.to_ascii_lowercase()]
        } else {
            sans
        },
        common_name,
        spki: parsed.spki,
        key: parsed.key,
        comments,
        external_requester,
        custom_fields: fields,
        status: if approval {
            CertStatus::Requested
        } else {
            CertStatus::Applied
        },
        issuance,
        pending_code,
        polls: 0,
        requested: now,
        approved: None,
        applied: (!approval).then_some(now),
        issued: None,
        expires: None,
        revoked: None,
        reason_code: None,
        serial: None,
        leaf: None,
        renew_id: new_renew_id(),
    })
}

/// A random renewId (base64url, like SCM's).
pub fn new_renew_id() -> String {
    let b: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// `POST /ssl/v1/enroll`. Runs in its own task (see `faults`), so the certificate is created even
/// when the caller hangs up first.
pub async fn enroll(
    State(s): State<Arc<SandboxState>>,
    kill: Option<Extension<ConnKill>>,
    chosen: Option<Extension<EnrollFault>>,
    body: Bytes,
) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let rec = match validate(&s, &v) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let renew_id = rec.renew_id.clone();
    let fault = take_enroll_fault(&s, chosen.map(|Extension(f)| f));
    if fault == Some(EnrollFault::DelayResponse) {
        return create_then_delay(&s, rec).await;
    }
    let id = s.create(rec);
    tracing::info!(ssl_id = id, "sandbox enrolled a certificate");
    if fault == Some(EnrollFault::DropResponse) {
        if let Some(Extension(k)) = kill {
            tracing::info!(
                ssl_id = id,
                "sandbox drops the enroll response (fault injection)"
            );
            return k.kill();
        }
    }
    Json(serde_json::json!({"sslId": id, "renewId": renew_id})).into_response()
}

/// The "enroll create-then-delay" fault: creates the certificate `enroll_create_after_ms` after the
/// request arrived, answers `enroll_answer_after_ms` after it arrived (not before the certificate
/// exists) or never. Both times are read when the request arrives.
async fn create_then_delay(s: &SandboxState, rec: CertRecord) -> Response {
    let (create_ms, answer_ms) =
        s.with_faults(|f| (f.enroll_create_after_ms, f.enroll_answer_after_ms));
    tokio::time::sleep(Duration::from_millis(create_ms)).await;
    let renew_id = rec.renew_id.clone();
    let id = s.create(rec);
    tracing::info!(
        ssl_id = id,
        answer_ms,
        "sandbox enrolled a certificate, answering late (fault injection)"
    );
    match answer_ms {
        None => unanswered(),
        Some(ms) => {
            tokio::time::sleep(Duration::from_millis(ms.saturating_sub(create_ms))).await;
            Json(serde_json::json!({"sslId": id, "renewId": renew_id})).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overlapping_pem_markers_are_an_invalid_csr() {
        let r = parse_csr("-----BEGIN X------END X-----")
            .err()
            .expect("refused");
        assert_eq!(r.status(), http::StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], -9, "{v}");
    }
}
