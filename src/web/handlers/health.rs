//! `/healthz` (the process answers) and `/readyz` (it can reach its database), for load balancers
//! and orchestrators.

use crate::web::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 503 while the database is unreachable, so a load balancer routes elsewhere.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.ctx.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}
