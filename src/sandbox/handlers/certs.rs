//! Certificate calls after enroll: collect (both URL styles), details, list/count, revoke,
//! renew, approve/decline.

use crate::sandbox::handlers::enroll::{new_renew_id, parse_csr};
use crate::sandbox::reply::{bad, int_field, json_body, parse_id, str_field};
use crate::sandbox::state::{CertRecord, SandboxState};
use crate::scm::collect::CollectFormat;
use crate::scm::dates::DateFormat;
use crate::scm::types::CertStatus;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use chrono::Utc;
use http::{header, StatusCode};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

type St = State<Arc<SandboxState>>;

/// Collect's `Content-Type` on success, exactly as SCM sends it: clients decode the file with the
/// charset (comodo-rest-api fails without it), so the sandbox must not drop it.
const COLLECT_CONTENT_TYPE: &str = "application/octet-stream;charset=UTF-8";
type Q = Query<HashMap<String, String>>;

/// SCM's answer for an unknown sslId.
pub fn not_found(id: i64) -> Response {
    bad(-124, format!("Certificate with id '{id}' not found"))
}

/// The answer to a collect of `rec` in `format` (runs after the status was advanced).
fn collect_reply(s: &SandboxState, rec: &CertRecord, format: CollectFormat) -> Response {
    match &rec.status {
        CertStatus::Issued | CertStatus::Expired => {}
        CertStatus::Requested => return bad(-23, "The certificate hasn't been approved yet!"),
        CertStatus::Revoked => return bad(-110, "Certificate has been revoked."),
        CertStatus::Approved | CertStatus::Applied | CertStatus::SaApproved | CertStatus::Init => {
            return match rec.pending_code {
                -183 => bad(-183, "Certificate is not collectable."),
                -1400 => bad(-1400, "The request is being processed by Sectigo."),
                -109 => bad(
                    -109,
                    "Certificate is not available now, please try again later.",
                ),
                _ => bad(0, "Being processed by Sectigo"),
            }
        }
        _ => return bad(-183, "Certificate is not collectable."),
    }
    let Some(leaf) = &rec.leaf else {
        return bad(-183, "Certificate is not collectable.");
    };
    let body = s.pki.bundle(leaf, format);
    let ext = match format {
        CollectFormat::Base64 | CollectFormat::Bin => "p7b",
        _ => "crt",
    };
    let stem: String = rec
        .common_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    (
        [
            (header::CONTENT_TYPE, COLLECT_CONTENT_TYPE.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={stem}.{ext}"),
            ),
        ],
        body,
    )
        .into_response()
}

fn collect_common(s: &SandboxState, id: &str, format: Option<&str>) -> Response {
    let id = match parse_id(id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let format = match format {
        None => CollectFormat::Base64,
        Some(f) => match CollectFormat::parse(f) {
            Some(f) => f,
            None => return bad(-1450, format!("Unknown format '{f}'")),
        },
    };
    s.with_cert(id, true, |rec| collect_reply(s, rec, format))
        .unwrap_or_else(|| not_found(id))
}

/// `GET /ssl/v1/collect/{id}?format=F` (default `base64`).
pub async fn collect_query(State(s): St, Path(id): Path<String>, Query(q): Q) -> Response {
    collect_common(&s, &id, q.get("format").map(String::as_str))
}

/// `GET /ssl/v1/collect/{id}/{format}` (the older style).
pub async fn collect_path(State(s): St, Path((id, format)): Path<(String, String)>) -> Response {
    collect_common(&s, &id, Some(&format))
}

fn details_json(s: &SandboxState, r: &CertRecord, fmt: DateFormat) -> serde_json::Value {
    let d = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| fmt.format(t.date_naive())).unwrap_or_default()
    };
    let cert_type = s.profile(r.cert_type).map(|p| {
        serde_json::json!({"id": p.id, "name": p.name, "description": p.description,
            "terms": p.terms, "keyTypes": p.key_types, "useSecondaryOrgName": false})
    });
    let mut v = serde_json::json!({
        "id": r.id, "sslId": r.id, "commonName": r.common_name, "orgId": r.org_id,
        "status": r.status.as_str(), "certType": cert_type, "term": r.term,
        "requested": d(Some(r.requested)), "approved": d(r.approved), "issued": d(r.issued),
        "expires": d(r.expires), "serialNumber": r.serial_hex().unwrap_or_default(),
        "subjectAlternativeNames": r.sans, "comments": r.comments.clone().unwrap_or_default(),
        "externalRequester": r.external_requester.clone().unwrap_or_default(),
        "requestedVia": "REST API", "keyAlgorithm": r.key.0, "keySize": r.key.1,
        "renewId": r.renew_id, "customFields": r.custom_fields,
    });
    if r.revoked.is_some() {
        v["revoked"] = serde_json::json!(d(r.revoked));
        v["reasonCode"] = serde_json::json!(r.reason_code);
    }
    v
}

/// `GET /ssl/v1/{id}[?dateFormat=ISO]`.
pub async fn details(State(s): St, Path(id): Path<String>, Query(q): Q) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let fmt = DateFormat::from_query(q.get("dateFormat").map(String::as_str));
    s.with_cert(id, false, |r| {
        Json(details_json(&s, r, fmt)).into_response()
    })
    .unwrap_or_else(|| not_found(id))
}

/// A page of `rows` (`position`, `size` ≤ 200, default 10) with `X-Total-Count`.
pub fn paged<T: Serialize>(rows: Vec<T>, q: &HashMap<String, String>) -> Response {
    let total = rows.len();
    let position: usize = q.get("position").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size: usize = q
        .get("size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .min(200);
    let page: Vec<T> = rows.into_iter().skip(position).take(size).collect();
    ([("X-Total-Count", total.to_string())], Json(page)).into_response()
}

fn norm_serial(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .trim_start_matches('0')
        .to_ascii_uppercase()
}

/// The `externalRequester` filter: the whole value, or one of its comma-separated addresses, case
/// aside. [guess] SCM documents the filter, not how it matches a list of addresses.
fn requested_by(r: &CertRecord, want: &str) -> bool {
    let want = want.trim();
    let have = r.external_requester.as_deref().unwrap_or("");
    have.trim().eq_ignore_ascii_case(want)
        || have
            .split(',')
            .any(|a| !a.trim().is_empty() && a.trim().eq_ignore_ascii_case(want))
}

/// `GET|HEAD /ssl/v1?position&size&commonName&subjectAlternativeName&serialNumber&status&orgId&…`.
pub async fn list(State(s): St, Query(q): Q) -> Response {
    let eq = |key: &str, value: &str| q.get(key).map_or(true, |v| v.eq_ignore_ascii_case(value));
    let rows: Vec<serde_json::Value> = s
        .all_certs()
        .into_iter()
        .filter(|r| eq("commonName", &r.common_name))
        .filter(|r| {
            q.get("subjectAlternativeName")
                .map_or(true, |n| r.sans.iter().any(|x| x.eq_ignore_ascii_case(n)))
        })
        .filter(|r| {
            q.get("serialNumber").map_or(true, |n| {
                r.serial_hex().is_some_and(|x| norm_serial(&x) == norm_serial(n))
            })
        })
        .filter(|r| eq("status", r.status.as_str()))
        .filter(|r| eq("orgId", &r.org_id.to_string()))
        .filter(|r| eq("sslTypeId", &r.cert_type.to_string()))
        .filter(|r| {
            q.get("externalRequester")
                .map_or(true, |want| requested_by(r, want))
        })
        .filter(|_| eq("requestedVia", "REST API"))
        .map(|r| {
            serde_json::json!({"sslId": r.id, "commonName": r.common_name,
                "subjectAlternativeNames": r.sans, "serialNumber": r.serial_hex().unwrap_or_default()})
        })
        .collect();
    paged(rows, &q)
}

/// Revokes `rec` per the body, applying SCM's rules (`reasonCode` required; only Issued).
fn revoke_record(rec: &mut CertRecord, v: &serde_json::Value) -> Response {
    let code = match int_field(v, "reasonCode") {
        Ok(Some(c)) if matches!(c, 0 | 1 | 3 | 4 | 5) => c,
        Ok(_) => {
            return bad(
                -1,
                "reasonCode is required and must be one of 0, 1, 3, 4, 5",
            )
        }
        Err(r) => return r,
    };
    match str_field(v, "reason") {
        Ok(Some(t)) if !t.trim().is_empty() && t.chars().count() <= 512 => {}
        Ok(_) => return bad(-1, "reason must be 1 to 512 characters"),
        Err(r) => return r,
    }
    if rec.status != CertStatus::Issued {
        return bad(-102, "Only issued certificates could be revoked.");
    }
    rec.status = CertStatus::Revoked;
    rec.revoked = Some(Utc::now());
    rec.reason_code = Some(code);
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /ssl/v1/revoke/{id}`.
pub async fn revoke(State(s): St, Path(id): Path<String>, body: Bytes) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    s.with_cert(id, false, |r| revoke_record(r, &v))
        .unwrap_or_else(|| not_found(id))
}

/// `POST /ssl/v1/revoke/serial/{serial}` (colons and case do not matter).
pub async fn revoke_serial(State(s): St, Path(serial): Path<String>, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let want = norm_serial(&serial);
    let id = s
        .all_certs()
        .into_iter()
        .find(|r| r.serial_hex().is_some_and(|x| norm_serial(&x) == want))
        .map(|r| r.id);
    match id {
        Some(id) => s
            .with_cert(id, false, |r| revoke_record(r, &v))
            .unwrap_or_else(|| not_found(id)),
        None => bad(
            -124,
            format!("Certificate with serial '{serial}' not found"),
        ),
    }
}

/// A copy of `src` as a new request (renewals).
fn renewal_of(s: &SandboxState, src: &CertRecord) -> CertRecord {
    let mut r = src.clone();
    let now = Utc::now();
    let (approval, issuance, pending) = match (s.unit(src.org_id), s.profile(src.cert_type)) {
        (Some(u), Some(p)) => s.settings(u, p),
        _ => (false, src.issuance, src.pending_code),
    };
    r.status = if approval {
        CertStatus::Requested
    } else {
        CertStatus::Applied
    };
    r.issuance = issuance;
    r.pending_code = pending;
    r.polls = 0;
    r.requested = now;
    r.approved = None;
    r.applied = (!approval).then_some(now);
    r.issued = None;
    r.expires = None;
    r.revoked = None;
    r.reason_code = None;
    r.serial = None;
    r.leaf = None;
    r.renew_id = new_renew_id();
    r
}

/// `POST /ssl/v1/renewById/{id}` with `{}` or `{"csr"}` → `{"sslId": new}`.
pub async fn renew_by_id(State(s): St, Path(id): Path<String>, body: Bytes) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let v = match json_body(&body) {
        Ok(v) if v.is_object() => v,
        Ok(_) => return crate::sandbox::reply::unparsable(),
        Err(r) => return r,
    };
    let Some(src) = s.with_cert(id, false, |r| r.clone()) else {
        return not_found(id);
    };
    let mut new = renewal_of(&s, &src);
    match str_field(&v, "csr") {
        Ok(Some(csr)) => match parse_csr(&csr) {
            Ok(p) => {
                new.spki = p.spki;
                new.key = p.key;
            }
            Err(r) => return r,
        },
        Ok(None) => {}
        Err(r) => return r,
    }
    let new_id = s.create(new);
    Json(serde_json::json!({"sslId": new_id})).into_response()
}

/// `POST /ssl/v1/renew/{renewId}` → 204.
pub async fn renew(State(s): St, Path(renew_id): Path<String>) -> Response {
    let Some(id) = s.by_renew_id(&renew_id) else {
        return bad(-124, format!("Unknown renewId '{renew_id}'"));
    };
    let Some(src) = s.with_cert(id, false, |r| r.clone()) else {
        return not_found(id);
    };
    s.create(renewal_of(&s, &src));
    StatusCode::NO_CONTENT.into_response()
}

/// Approve (`true`) or decline a `Requested` certificate; `Err` carries SCM's -1112 or -124.
pub fn decide(s: &SandboxState, id: i64, approve: bool) -> Result<(), Response> {
    s.with_cert(id, false, |r| {
        if r.status != CertStatus::Requested {
            return Err(bad(
                -1112,
                format!(
                    "Certificate is in status '{}', not Requested",
                    r.status.as_str()
                ),
            ));
        }
        if approve {
            r.status = CertStatus::Approved;
            r.approved = Some(Utc::now());
        } else {
            r.status = CertStatus::Declined;
        }
        Ok(())
    })
    .unwrap_or_else(|| Err(not_found(id)))
}

/// `POST /ssl/v1/approve/{id}`.
pub async fn approve(State(s): St, Path(id): Path<String>) -> Response {
    match parse_id(&id).and_then(|id| decide(&s, id, true)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// `POST /ssl/v1/decline/{id}`.
pub async fn decline(State(s): St, Path(id): Path<String>) -> Response {
    match parse_id(&id).and_then(|id| decide(&s, id, false)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}
