//! The control API under `/__sandbox/…` (a prefix SCM never uses), for tests and demos that run the
//! sandbox as a separate process: root certificate, enrollment count, approve/decline/issue, faults,
//! behaviour overrides. It has no authentication: bind the sandbox to loopback.

use crate::sandbox::config::Issuance;
use crate::sandbox::faults::Faults;
use crate::sandbox::handlers::certs::decide;
use crate::sandbox::reply::parse_id;
use crate::sandbox::state::{Behavior, SandboxState};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, StatusCode};
use std::sync::Arc;

type St = State<Arc<SandboxState>>;

/// Routes mounted at `/__sandbox`.
pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/root.pem", get(root_pem))
        .route("/intermediate.pem", get(intermediate_pem))
        .route("/enrollments", get(enrollments))
        .route("/approve/{id}", post(approve))
        .route("/decline/{id}", post(decline))
        .route("/issue/{id}", post(issue))
        .route(
            "/faults",
            get(get_faults)
                .put(set_faults)
                .post(set_faults)
                .delete(clear_faults),
        )
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

async fn enrollments(State(s): St) -> Response {
    Json(serde_json::json!({"count": s.enrollment_count()})).into_response()
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

async fn get_faults(State(s): St) -> Response {
    Json(s.with_faults(|f| f.clone())).into_response()
}

async fn set_faults(State(s): St, Json(new): Json<Faults>) -> Response {
    s.with_faults(|f| *f = new);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(s): St) -> Response {
    s.with_faults(|f| *f = Faults::default());
    StatusCode::NO_CONTENT.into_response()
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
