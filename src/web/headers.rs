//! Headers every ACME response carries (RFC 8555 §6.5, §7.1): a fresh `Replay-Nonce` on every response,
//! errors included, so a client can always retry; `Link rel="index"` everywhere but the directory.
//! Also the request id and the request's log span.

use crate::web::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// `Replay-Nonce`.
pub static REPLAY_NONCE: HeaderName = HeaderName::from_static("replay-nonce");
/// Request id echoed to the client and logged with every line of the request.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds `Replay-Nonce` and `Link: <directory>;rel="index"`.
pub async fn acme_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_directory = req.uri().path() == crate::acme::urls::paths::DIRECTORY;
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&state.mint_nonce()) {
        headers.insert(REPLAY_NONCE.clone(), v);
    }
    if !is_directory {
        let link = format!("<{}>;rel=\"index\"", state.ctx.urls.directory());
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.append(axum::http::header::LINK, v);
        }
    }
    resp
}

/// Counts each routed request by route template and status, with its latency (metrics).
pub async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    state
        .ctx
        .metrics
        .observe_request(&endpoint, resp.status().as_u16(), started.elapsed());
    resp
}

/// Wraps each request in a span with a request id, and logs its outcome.
pub async fn request_span(req: Request, next: Next) -> Response {
    let id = crate::ids::random_b64(9);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let started = std::time::Instant::now();
        let mut resp = next.run(req).await;
        tracing::debug!(
            status = resp.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "done"
        );
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(REQUEST_ID.clone(), v);
        }
        resp
    }
    .instrument(span)
    .await
}
