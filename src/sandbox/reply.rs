//! How the sandbox answers: SCM's error JSON `{"code","description"}` and small request helpers.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;

/// An SCM error response.
pub fn scm_error(status: StatusCode, code: i64, description: impl Into<String>) -> Response {
    let body = serde_json::json!({"code": code, "description": description.into()});
    (status, Json(body)).into_response()
}

/// HTTP 400 with an SCM code, SCM's usual way of refusing.
pub fn bad(code: i64, description: impl Into<String>) -> Response {
    scm_error(StatusCode::BAD_REQUEST, code, description)
}

/// The -1002 SCM gives for malformed JSON or a wrong JSON type.
pub fn unparsable() -> Response {
    bad(-1002, "Cannot parse message body")
}

/// A path id as i64, or SCM's "not found" for anything else.
pub fn parse_id(raw: &str) -> Result<i64, Response> {
    raw.parse()
        .map_err(|_| bad(-124, format!("Certificate with id '{raw}' not found")))
}

/// Parses a JSON body leniently (numbers may arrive as strings, as Jackson accepts); -1002 otherwise.
pub fn json_body(body: &[u8]) -> Result<serde_json::Value, Response> {
    serde_json::from_slice(body).map_err(|_| unparsable())
}

/// An integer field that may be sent as number or numeric string; `Err` = wrong type (-1002).
pub fn int_field(v: &serde_json::Value, key: &str) -> Result<Option<i64>, Response> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_i64().map(Some).ok_or_else(unparsable),
        Some(serde_json::Value::String(s)) => s.trim().parse().map(Some).map_err(|_| unparsable()),
        Some(_) => Err(unparsable()),
    }
}

/// A string field; `Err` = wrong type (-1002).
pub fn str_field(v: &serde_json::Value, key: &str) -> Result<Option<String>, Response> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(unparsable()),
    }
}
