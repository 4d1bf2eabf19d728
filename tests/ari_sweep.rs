//! The SCM status sweep keeps to its budget (`issuance.status_sweep_calls_per_hour`), counted on
//! the SCM side (the sandbox's call counter), with two replicas sharing the database: the sweep is
//! one job row, so only one replica sweeps at a time and the budget is not multiplied.

mod support;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use std::time::{Duration, Instant};
use support::flow::{csr, finalize, Env};

/// SCM status reads as the sandbox counts them.
const DETAILS: &str = "GET /ssl/v1/{id}";

fn tweak(c: &mut acme_sectigo_bridge::config::Config) {
    // 7200 reads per hour = 2 per second: rounds of 2 reads, one second apart.
    c.issuance.status_sweep_calls_per_hour = 7200;
    c.issuance.status_sweep_interval_secs = 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_keeps_to_its_scm_call_budget_across_replicas() {
    let env = Env::start_with(SandboxConfig::default(), tweak).await;
    let mut scm = env.sandbox.scm_config();
    scm.org_id = Some(1001);
    scm.cert_type = Some(501);
    scm.term = Some(90);
    let port = env.responder.port;
    let replica = env
        .app
        .replica(|c| {
            // Configured like the first replica (Env::start_with): it may run any job.
            c.scm = Some(scm);
            c.validation.http_port = port;
            c.validation.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
            c.validation.timeout_secs = 3;
            c.issuance.poll_interval_ms = 50;
            c.issuance.collect_initial_secs = 1;
            c.issuance.collect_max_secs = 1;
            tweak(c);
        })
        .await;

    let c = env.client().await;
    let mut certs = Vec::new();
    for _ in 0..3 {
        let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
        let (der, _) = csr(&["127.0.0.1"], None);
        let r = finalize(&c, &order, &der).await;
        assert_eq!(r.body["status"], "valid", "{r:?}");
        let url = r.body["certificate"].as_str().unwrap();
        certs.push(url.rsplit('/').next().unwrap().to_string());
    }
    // The sweep reaches every certificate.
    let deadline = Instant::now() + Duration::from_secs(20);
    for id in &certs {
        loop {
            let s = env.app.store.ari_state(id).await.unwrap().unwrap();
            if s.scm_checked_at.is_some() {
                assert_eq!(s.scm_status.as_deref(), Some("Issued"));
                assert_eq!(s.renew_now_at, None);
                break;
            }
            assert!(Instant::now() < deadline, "certificate {id} never swept");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Then it keeps re-reading them, at the budget's pace and no faster.
    env.sandbox.reset_calls();
    let window = Duration::from_millis(4500);
    tokio::time::sleep(window).await;
    let calls = env.sandbox.calls();
    let reads = calls.get(DETAILS).copied().unwrap_or(0);
    // Budget: 2 reads per second. Rounds start at least 1 s apart, so at most 5 rounds of 2
    // start in 4.5 s; two replicas sweeping independently would make about twice that.
    assert!(reads <= 10, "{reads} status reads in {window:?}: {calls:?}");
    assert!(
        reads >= 4,
        "the sweep goes on: {reads} reads in {window:?}: {calls:?}"
    );
    assert_eq!(
        calls.keys().collect::<Vec<_>>(),
        [DETAILS],
        "the sweep only reads statuses: {calls:?}"
    );
    replica.stop().await;
}
