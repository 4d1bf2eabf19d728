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

/// Prometheus metrics of this replica.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let ctx = &state.ctx;
    let scm = ctx
        .scm
        .as_ref()
        .map(|c| c.call_counts())
        .unwrap_or_default();
    let jobs = ctx.store.jobs_by_kind().await.unwrap_or_default();
    let mut text = ctx.metrics.render(&scm, &jobs);
    text.push_str(&crate::metrics::render_orphans(
        &ctx.store.orphan_counts().await.unwrap_or_default(),
    ));
    text.push_str(&crate::metrics::render_expiring(
        &ctx.store.expiry_snapshot().await.unwrap_or_default(),
    ));
    text.push_str(&crate::metrics::render_commits(ctx.store.commit_totals()));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
