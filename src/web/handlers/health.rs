//! `/healthz` (the process answers) and `/readyz` (it can reach its database), for load balancers
//! and orchestrators.

use crate::web::readiness::{Verdict, PING_TIMEOUT};
use crate::web::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 503 once the database has been unreachable for `server.readiness_grace_secs`, so
/// a load balancer routes elsewhere; a shorter blip stays green (see `web::readiness`).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = tokio::time::timeout(PING_TIMEOUT, state.ctx.store.ping()).await;
    let error = match ping {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {PING_TIMEOUT:?}")),
    };
    match state
        .readiness
        .record(error.is_none(), std::time::Instant::now())
    {
        Verdict::Ready => (StatusCode::OK, "ready\n"),
        Verdict::Blip => {
            tracing::warn!(
                error = error.as_deref().unwrap_or("-"),
                "database unreachable; still ready within server.readiness_grace_secs"
            );
            (StatusCode::OK, "ready (database briefly unreachable)\n")
        }
        Verdict::Unready => {
            tracing::warn!(
                error = error.as_deref().unwrap_or("-"),
                "readiness check failed"
            );
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
    let scm_durations = ctx
        .scm
        .as_ref()
        .map(|c| c.call_durations())
        .unwrap_or_default();
    let jobs = ctx.store.jobs_by_kind().await.unwrap_or_default();
    let mut text = ctx.metrics.render(&scm, &scm_durations, &jobs);
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
