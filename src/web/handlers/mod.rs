//! Thin request handlers: verify the JWS through `web::jws`, call the `acme` layer, shape the response.

pub mod account;
pub mod authz;
pub mod certificate;
pub mod directory;
pub mod health;
pub mod nonce;
pub mod order;
pub mod renewal_info;
pub mod revocation;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// A JSON response with a `Location` header (resources, §7.1).
pub fn json_at<T: serde::Serialize>(
    status: axum::http::StatusCode,
    location: &str,
    body: &T,
) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Answers unknown paths and wrong methods with a problem document instead of an empty body.
pub async fn not_found() -> crate::acme::Error {
    crate::acme::Error::not_found("resource: check the URL against the directory")
}

/// Answers a known path with the wrong method.
pub async fn method_not_allowed() -> crate::acme::Error {
    crate::acme::Error::malformed(
        "method not allowed: ACME resources are fetched with POST-as-GET (RFC 8555 §6.3)",
    )
    .with_status(405)
}
