//! `HEAD|GET /acme/new-nonce` (§7.2). The nonce itself is added by the header middleware.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

fn no_store(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// HEAD → 200.
pub async fn head() -> Response {
    no_store(StatusCode::OK)
}

/// GET → 204.
pub async fn get() -> Response {
    no_store(StatusCode::NO_CONTENT)
}
