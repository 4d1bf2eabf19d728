//! Counts of SCM calls by operation and outcome, kept by the client itself so every caller is
//! counted the same way (metrics; the benchmark's "SCM calls per certificate").

use super::error::{ErrorClass, ScmError};
use crate::metrics::{Histogram, SCM_BUCKETS};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Call counters and durations of one client.
#[derive(Debug, Default)]
pub struct CallStats {
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// How long SCM took to answer, by operation: a slow SCM shows here before it shows as
    /// timeouts or as orders waiting in `processing`.
    durations: Mutex<BTreeMap<String, Histogram>>,
}

impl CallStats {
    /// Records one call to `path` with its outcome and how long it took.
    pub fn record<T>(
        &self,
        method: &http::Method,
        path: &str,
        result: &Result<T, ScmError>,
        took: Duration,
    ) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => match e.class() {
                ErrorClass::Pending => "pending",
                ErrorClass::AwaitingApproval => "awaiting_approval",
                ErrorClass::Retryable => "retryable",
                ErrorClass::Auth => "auth",
                ErrorClass::Permanent => "permanent",
            },
        };
        let op = operation(method, path);
        self.durations
            .lock()
            .expect("lock")
            .entry(op.clone())
            .or_insert_with(|| Histogram::new(SCM_BUCKETS))
            .observe(took.as_secs_f64());
        *self
            .counts
            .lock()
            .expect("lock")
            .entry((op, outcome))
            .or_default() += 1;
    }

    /// (operation, duration histogram), sorted.
    pub fn durations(&self) -> Vec<(String, Histogram)> {
        self.durations
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// ((operation, outcome), count), sorted.
    pub fn snapshot(&self) -> Vec<((String, &'static str), u64)> {
        self.counts
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

/// A low-cardinality name for a call: `/ssl/v1/collect/123/x509` → `ssl.collect`,
/// `/ssl/v1/123` → `ssl.details`, `GET /ssl/v1` → `ssl.list`.
pub fn operation(method: &http::Method, path: &str) -> String {
    let segs: Vec<&str> = path.split(['/', '?']).filter(|s| !s.is_empty()).collect();
    let service = segs.first().copied().unwrap_or("unknown");
    let op = match segs.get(2) {
        None if method == http::Method::HEAD => "count",
        None => "list",
        Some(s) if s.chars().all(|c| c.is_ascii_digit()) => "details",
        Some(s) => s,
    };
    format!("{service}.{op}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn operations_have_stable_names() {
        assert_eq!(operation(&Method::POST, "/ssl/v1/enroll"), "ssl.enroll");
        assert_eq!(
            operation(&Method::GET, "/ssl/v1/collect/42/x509"),
            "ssl.collect"
        );
        assert_eq!(operation(&Method::GET, "/ssl/v1/42"), "ssl.details");
        assert_eq!(operation(&Method::GET, "/ssl/v1"), "ssl.list");
        assert_eq!(operation(&Method::HEAD, "/ssl/v1"), "ssl.count");
        assert_eq!(operation(&Method::POST, "/ssl/v1/revoke/42"), "ssl.revoke");
        assert_eq!(operation(&Method::GET, "/domain/v1/7"), "domain.details");
    }
}
