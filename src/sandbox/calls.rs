//! Counts every SCM API call the sandbox receives, by method and path shape (`GET /ssl/v1/{id}`),
//! whatever its outcome: what a test needs to show that a client keeps to a call budget, seen from
//! SCM's side rather than the client's own bookkeeping. `GET /__sandbox/calls` reads the counts,
//! `DELETE` resets them.

use crate::sandbox::state::SandboxState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Call counts by operation (`METHOD /path/with/{id}`).
#[derive(Debug, Default)]
pub struct Calls(Mutex<BTreeMap<String, u64>>);

impl Calls {
    /// Counts one call.
    pub fn record(&self, method: &http::Method, path: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(operation(method, path))
            .or_default() += 1;
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// `GET /api/ssl/v1/4300000001` → `GET /ssl/v1/{id}`: numeric segments become `{id}`, the `/api`
/// prefix and the query are dropped.
pub fn operation(method: &http::Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let shape: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .skip_while(|s| *s == "api")
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} /{}", shape.join("/"))
}

/// Middleware on SCM's routes: counts the call before anything (faults, auth) answers it.
pub async fn count(State(s): State<Arc<SandboxState>>, req: Request, next: Next) -> Response {
    s.calls.record(req.method(), req.uri().path());
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_shaped() {
        let get = http::Method::GET;
        assert_eq!(
            operation(&get, "/api/ssl/v1/4300000001"),
            "GET /ssl/v1/{id}"
        );
        assert_eq!(
            operation(&get, "/ssl/v1/collect/7/x509"),
            "GET /ssl/v1/collect/{id}/x509"
        );
        assert_eq!(operation(&get, "/api/ssl/v1?size=2"), "GET /ssl/v1");
    }
}
