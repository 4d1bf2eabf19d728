//! The one place where ACME errors become HTTP responses: RFC 7807 problem documents with the
//! RFC 8555 types. (`Replay-Nonce` and `Link` are added by the header middleware like on any response.)

use crate::acme::Error;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = self.problem_document();
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                kind = self.kind.name(),
                detail = %self.detail,
                cause = self.cause.as_deref().unwrap_or("-"),
                "request failed"
            );
        } else {
            tracing::info!(status = status.as_u16(), kind = self.kind.name(), detail = %self.detail, "request refused");
        }
        let mut resp = (status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(loc) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
