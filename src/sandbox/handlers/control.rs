//! The control API under `/__sandbox/…` (a prefix SCM never uses), for tests and demos that run the
//! sandbox as a separate process: root certificates, enrollment count, approve/decline/issue,
//! administrator actions (revoke, mass revoke, mark expired/replaced), faults and chaos statistics,
//! SCM call counts (`/calls`), behaviour overrides. It has no authentication: bind the sandbox to
//! loopback.

use crate::sandbox::admin::{self, Mark, Refusal};
use crate::sandbox::config::Issuance;
use crate::sandbox::faults::Faults;
use crate::sandbox::handlers::certs::decide;
use crate::sandbox::reply::parse_id;
use crate::sandbox::state::{Behavior, SandboxState};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{header, StatusCode};
use std::sync::Arc;

type St = State<Arc<SandboxState>>;

/// Routes mounted at `/__sandbox`.
pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/root.pem", get(root_pem))
        .route("/intermediate.pem", get(intermediate_pem))
        .route("/cross-signed-root.pem", get(cross_signed_root_pem))
        .route("/old-root.pem", get(old_root_pem))
        .route("/enrollments", get(enrollments))
        .route("/approve/{id}", post(approve))
        .route("/decline/{id}", post(decline))
        .route("/issue/{id}", post(issue))
        .route("/revoke", post(revoke_all))
        .route("/revoke/{id}", post(revoke))
        .route("/mark/{id}", post(mark))
        .route(
            "/faults",
            get(get_faults)
                .put(set_faults)
                .post(set_faults)
                .delete(clear_faults),
        )
        .route("/faults/stats", get(fault_stats))
        .route("/calls", get(calls).delete(reset_calls))
        .route("/behavior", post(set_behavior).delete(reset))
}

fn pem(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], text).into_response()
}

async fn root_pem(State(s): St) -> Response {
    pem(s.pki.root_pem())
}

async fn intermediate_pem(State(s): St) -> Response {
    pem(s.pki.intermediate_pem())
}

fn optional_pem(text: Option<String>) -> Response {
    match text {
        Some(t) => pem(t),
        None => (StatusCode::NOT_FOUND, "cross_signed_root is off").into_response(),
    }
}

async fn cross_signed_root_pem(State(s): St) -> Response {
    optional_pem(s.pki.cross_signed_root_pem())
}

async fn old_root_pem(State(s): St) -> Response {
    optional_pem(s.pki.old_root_pem())
}

/// How many certificates were created, and each one's sslId, CN and comments (where the bridge
/// writes its order marker): scripts/chaos.sh counts duplicates and orphans from them.
async fn enrollments(State(s): St) -> Response {
    let list: Vec<_> = s
        .enrollment_list()
        .into_iter()
        .map(|(id, cn, comments)| serde_json::json!({"sslId": id, "commonName": cn, "comments": comments}))
        .collect();
    Json(serde_json::json!({"count": s.enrollment_count(), "certificates": list})).into_response()
}

async fn approve(State(s): St, Path(id): Path<String>) -> Response {
    match parse_id(&id).and_then(|id| decide(&s, id, true)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

async fn decline(State(s): St, Path(id): Path<String>) -> Response {
    match parse_id(&id).and_then(|id| decide(&s, id, false)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// Makes a pending (`Applied`) certificate collectable now, whatever its timing.
async fn issue(State(s): St, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let found = s.with_cert(id, false, |r| r.issuance = Issuance::Immediate);
    match found.and_then(|_| s.with_cert(id, false, |r| r.status.as_str().to_string())) {
        Some(status) => Json(serde_json::json!({"status": status})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// An administrator's refusal: 404 for an unknown id, else 400 with the reason.
fn refused(r: Refusal) -> Response {
    let status = match r {
        Refusal::Unknown(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(serde_json::json!({"error": r.to_string()}))).into_response()
}

/// Body of the revoke calls: RFC 5280 code (default 0) and free text.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default, alias = "reasonCode")]
    reason_code: i64,
    #[serde(default)]
    reason: Option<String>,
    /// Mass revocation only: restrict to this org/department.
    #[serde(default)]
    org_id: Option<i64>,
    /// Mass revocation only: restrict to this CN.
    #[serde(default)]
    common_name: Option<String>,
}

impl RevokeBody {
    fn text(&self) -> &str {
        self.reason
            .as_deref()
            .unwrap_or("revoked by an SCM administrator")
    }
}

/// `POST /__sandbox/revoke/{id}` `{"reason_code": 1, "reason": "…"}` (body optional) → 204.
async fn revoke(State(s): St, Path(id): Path<String>, body: Bytes) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let b: RevokeBody = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    };
    match admin::revoke(&s, id, b.reason_code, b.text()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refused(r),
    }
}

/// `POST /__sandbox/revoke` `{"org_id"?, "common_name"?, "reason_code", "reason"}`: every issued
/// certificate matching → `{"revoked": [sslId…]}`.
async fn revoke_all(State(s): St, Json(b): Json<RevokeBody>) -> Response {
    match admin::revoke_all(
        &s,
        b.org_id,
        b.common_name.as_deref(),
        b.reason_code,
        b.text(),
    ) {
        Ok(ids) => Json(serde_json::json!({"revoked": ids})).into_response(),
        Err(r) => refused(r),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkBody {
    status: Mark,
}

/// `POST /__sandbox/mark/{id}` `{"status": "Expired" | "Replaced"}` → 204.
async fn mark(State(s): St, Path(id): Path<String>, Json(b): Json<MarkBody>) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match admin::mark(&s, id, b.status) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refused(r),
    }
}

async fn get_faults(State(s): St) -> Response {
    Json(s.with_faults(|f| f.clone())).into_response()
}

/// `PUT|POST /__sandbox/faults` with a whole [`Faults`] (absent fields = off); restarts the chaos
/// run from `fault_seed`.
async fn set_faults(State(s): St, Json(new): Json<Faults>) -> Response {
    match s.set_faults(new) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn clear_faults(State(s): St) -> Response {
    let _ = s.set_faults(Faults::default());
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /__sandbox/faults/stats` → `{"calls": N, "injected": {"reset": n, …}}` of the chaos run.
/// SCM calls received by operation (`sandbox::calls`).
async fn calls(State(s): St) -> Response {
    Json(s.calls.snapshot()).into_response()
}

async fn reset_calls(State(s): St) -> Response {
    s.calls.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn fault_stats(State(s): St) -> Response {
    Json(s.chaos_stats()).into_response()
}

async fn set_behavior(State(s): St, Json(b): Json<Behavior>) -> Response {
    if let Some(c) = b.pending_code {
        if !matches!(c, 0 | -183 | -1400 | -109) {
            return (
                StatusCode::BAD_REQUEST,
                "pending_code must be 0, -183, -1400 or -109",
            )
                .into_response();
        }
    }
    s.set_behavior(b);
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(s): St) -> Response {
    s.reset_behavior();
    StatusCode::NO_CONTENT.into_response()
}
