//! Prometheus metrics, rendered by hand in the text exposition format (a handful of series does not
//! justify a metrics framework). Served on `server.metrics_listen`, away from the ACME port.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds (seconds) of the issuance-duration buckets: seconds to days.
const ISSUANCE_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0];

/// Upper bounds (seconds) of the SCM call-duration buckets: SCM answers in tens of milliseconds to
/// minutes (its client timeout is `scm.timeout_secs`, 120 s by default).
pub const SCM_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A Prometheus histogram: cumulative bucket counts, sum and count. Shared with the SCM client,
/// which times its own calls.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram with these bucket upper bounds (seconds).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts one observation of `v` seconds.
    pub fn observe(&mut self, v: f64) {
        for (i, b) in self.bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            out.push_str(&format!("{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}\n"));
        }
        out.push_str(&format!(
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}\n",
            self.count
        ));
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        out.push_str(&format!(
            "{name}_sum{braces} {}\n{name}_count{braces} {}\n",
            self.sum, self.count
        ));
    }
}

/// The process's metrics; shared by the HTTP front end and the worker.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    issuance: Mutex<Option<Histogram>>,
    /// Rows removed by retention, by table.
    purged: Mutex<BTreeMap<&'static str, u64>>,
    /// Job handlers stopped because their lease was gone, by job kind.
    leases_lost: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// One ACME request to `endpoint` (the route template) answered with `status`.
    pub fn observe_request(&self, endpoint: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("lock")
            .entry((endpoint.to_string(), status))
            .or_default() += 1;
        self.latency
            .lock()
            .expect("lock")
            .entry(endpoint.to_string())
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Time from finalize to a valid order.
    pub fn observe_issuance(&self, elapsed: Duration) {
        self.issuance
            .lock()
            .expect("lock")
            .get_or_insert_with(|| Histogram::new(ISSUANCE_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Rows one retention batch removed.
    pub fn observe_purged(&self, p: &crate::store::Purged) {
        let mut m = self.purged.lock().expect("lock");
        for (table, n) in [
            ("orders", p.orders),
            ("authorizations", p.authorizations),
            ("challenges", p.challenges),
        ] {
            *m.entry(table).or_default() += n;
        }
    }

    /// A job handler stopped because its lease was gone (#12 item 1): non-zero means the database
    /// was unreachable for about a lease, or a replica stalled that long.
    pub fn lease_lost(&self, kind: &str) {
        *self
            .leases_lost
            .lock()
            .expect("lock")
            .entry(kind.to_string())
            .or_default() += 1;
    }

    /// Prometheus text; `scm_calls` and `jobs` are read at scrape time from their owners.
    pub fn render(
        &self,
        scm_calls: &[((String, &'static str), u64)],
        scm_latency: &[(String, Histogram)],
        jobs: &[(String, i64)],
    ) -> String {
        let mut out = String::new();
        out.push_str("# HELP acme_requests_total ACME requests by endpoint and HTTP status.\n# TYPE acme_requests_total counter\n");
        for ((endpoint, status), n) in self.requests.lock().expect("lock").iter() {
            out.push_str(&format!(
                "acme_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP acme_request_duration_seconds ACME request latency.\n# TYPE acme_request_duration_seconds histogram\n");
        for (endpoint, h) in self.latency.lock().expect("lock").iter() {
            h.render(
                &mut out,
                "acme_request_duration_seconds",
                &format!("endpoint=\"{endpoint}\""),
            );
        }
        out.push_str("# HELP scm_calls_total Calls to SCM by operation and outcome.\n# TYPE scm_calls_total counter\n");
        for ((op, outcome), n) in scm_calls {
            out.push_str(&format!(
                "scm_calls_total{{operation=\"{op}\",outcome=\"{outcome}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP scm_request_duration_seconds Time SCM took to answer a call (from sending it to reading its body), by operation.\n# TYPE scm_request_duration_seconds histogram\n");
        for (op, h) in scm_latency {
            h.render(
                &mut out,
                "scm_request_duration_seconds",
                &format!("operation=\"{op}\""),
            );
        }
        out.push_str("# HELP issuance_duration_seconds Time from finalize to a valid order.\n# TYPE issuance_duration_seconds histogram\n");
        if let Some(h) = self.issuance.lock().expect("lock").as_ref() {
            h.render(&mut out, "issuance_duration_seconds", "");
        }
        out.push_str("# HELP retention_purged_rows_total Rows deleted by retention on this replica, by table.\n# TYPE retention_purged_rows_total counter\n");
        for (table, n) in self.purged.lock().expect("lock").iter() {
            out.push_str(&format!(
                "retention_purged_rows_total{{table=\"{table}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP job_leases_lost_total Job handlers on this replica stopped because their lease was gone, by kind.\n# TYPE job_leases_lost_total counter\n");
        for (kind, n) in self.leases_lost.lock().expect("lock").iter() {
            out.push_str(&format!("job_leases_lost_total{{kind=\"{kind}\"}} {n}\n"));
        }
        out.push_str("# HELP jobs_waiting Jobs recorded and not finished, by kind.\n# TYPE jobs_waiting gauge\n");
        for (kind, n) in jobs {
            out.push_str(&format!("jobs_waiting{{kind=\"{kind}\"}} {n}\n"));
        }
        out
    }
}

/// SQLite's group commit (the default store): transactions acknowledged and the commits (one WAL
/// `fsync` each) that carried them, so their ratio shows how much grouping saves. Nothing on
/// PostgreSQL, whose commits PostgreSQL's own statistics count.
pub fn render_commits(counts: Option<crate::store::CommitTotals>) -> String {
    let Some(c) = counts else {
        return String::new();
    };
    format!(
        "# HELP store_transactions_total Transactions committed by this process (SQLite).\n\
         # TYPE store_transactions_total counter\n\
         store_transactions_total {}\n\
         # HELP store_commits_total Commits (one fsync each) that carried them (SQLite group commit).\n\
         # TYPE store_commits_total counter\n\
         store_commits_total {}\n",
        c.transactions, c.commits
    )
}

/// The last expiry sweep's counts (read from the store at scrape time, so every replica reports
/// the same values whichever replica ran the sweep): `certificates_expiring{days,eab_label}` and
/// when the sweep ran.
pub fn render_expiring(snapshot: &crate::store::ExpirySnapshot) -> String {
    let mut out = String::from(
        "# HELP certificates_expiring Certificates expiring within `days` days and not renewed, \
         by EAB key label, as of the last expiry sweep.\n# TYPE certificates_expiring gauge\n",
    );
    for (days, label, n) in &snapshot.counts {
        out.push_str(&format!(
            "certificates_expiring{{days=\"{days}\",eab_label=\"{}\"}} {n}\n",
            label_value(label)
        ));
    }
    if let Some(at) = snapshot.swept_at {
        out.push_str(
            "# HELP certificates_expiring_sweep_timestamp_seconds When the last expiry sweep ran.\n\
             # TYPE certificates_expiring_sweep_timestamp_seconds gauge\n",
        );
        out.push_str(&format!(
            "certificates_expiring_sweep_timestamp_seconds {}\n",
            at.timestamp()
        ));
    }
    out
}

/// `scm_orphan_certificates_total{action}`: certificates SCM issued for orders that failed, found
/// by the reconciliation and revoked, over all replicas (read from the store at
/// scrape time, #12 item 4).
pub fn render_orphans(counts: &[(String, i64)]) -> String {
    let mut out = String::from(
        "# HELP scm_orphan_certificates_total Certificates SCM issued for orders that failed, found \
         by the reconciliation, by what was done.\n# TYPE scm_orphan_certificates_total counter\n",
    );
    if !counts.iter().any(|(a, _)| a == "revoked") {
        out.push_str("scm_orphan_certificates_total{action=\"revoked\"} 0\n");
    }
    for (action, n) in counts {
        out.push_str(&format!(
            "scm_orphan_certificates_total{{action=\"{}\"}} {n}\n",
            label_value(action)
        ));
    }
    out
}

/// A label value escaped for the text exposition format (EAB labels are free text).
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("/acme/new-order", 201, Duration::from_millis(7));
        m.observe_request("/acme/new-order", 201, Duration::from_millis(70));
        let mut enroll = Histogram::new(SCM_BUCKETS);
        enroll.observe(0.2);
        let scm_latency = [("ssl.enroll".to_string(), enroll)];
        let text = m.render(
            &[(("ssl.enroll".into(), "ok"), 3)],
            &scm_latency,
            &[("issue".into(), 2)],
        );
        assert!(text.contains("acme_requests_total{endpoint=\"/acme/new-order\",status=\"201\"} 2"));
        assert!(text.contains(
            "acme_request_duration_seconds_bucket{endpoint=\"/acme/new-order\",le=\"0.01\"} 1"
        ));
        assert!(text.contains(
            "acme_request_duration_seconds_bucket{endpoint=\"/acme/new-order\",le=\"0.1\"} 2"
        ));
        assert!(text.contains("scm_calls_total{operation=\"ssl.enroll\",outcome=\"ok\"} 3"));
        assert!(text.contains("jobs_waiting{kind=\"issue\"} 2"));
        assert!(text.contains(
            "scm_request_duration_seconds_bucket{operation=\"ssl.enroll\",le=\"0.1\"} 0"
        ));
        assert!(text.contains(
            "scm_request_duration_seconds_bucket{operation=\"ssl.enroll\",le=\"0.25\"} 1"
        ));
        assert!(text.contains("scm_request_duration_seconds_count{operation=\"ssl.enroll\"} 1"));
    }

    #[test]
    fn renders_group_commit_counts_only_on_sqlite() {
        assert_eq!(render_commits(None), "");
        let text = render_commits(Some(crate::store::CommitTotals {
            transactions: 30,
            commits: 4,
        }));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"store_transactions_total 30"), "{text}");
        assert!(lines.contains(&"store_commits_total 4"), "{text}");
        assert!(lines.iter().all(|l| !l.starts_with(' ')), "{text}");
    }

    #[test]
    fn renders_expiring_counts_with_escaped_labels() {
        let snap = crate::store::ExpirySnapshot {
            swept_at: Some(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            counts: vec![(7, "web \"a\"".into(), 2), (30, "".into(), 0)],
        };
        let text = render_expiring(&snap);
        assert!(
            text.contains("certificates_expiring{days=\"7\",eab_label=\"web \\\"a\\\"\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("certificates_expiring{days=\"30\",eab_label=\"\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("certificates_expiring_sweep_timestamp_seconds 1700000000\n"));
    }

    #[test]
    fn counts_purged_rows_by_table() {
        let m = Metrics::default();
        let batch = crate::store::Purged {
            orders_examined: 3,
            orders: 2,
            authorizations: 4,
            challenges: 12,
        };
        m.observe_purged(&batch);
        m.observe_purged(&batch);
        let text = m.render(&[], &[], &[]);
        assert!(text.contains("retention_purged_rows_total{table=\"orders\"} 4"));
        assert!(text.contains("retention_purged_rows_total{table=\"challenges\"} 24"));
    }
}
