//! The admin listener's Prometheus metrics after one issuance: ACME requests by route, SCM calls by
//! operation (an immediately issued certificate costs one enroll and one collect), issuance time.

mod support;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use support::flow::{csr, finalize, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_scm_calls_and_issuance() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::start_with(SandboxConfig::default(), move |c| {
        c.server.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    })
    .await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    assert_eq!(finalize(&c, &order, &der).await.body["status"], "valid");

    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("acme_requests_total{endpoint=\"/acme/new-order\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("scm_calls_total{operation=\"ssl.enroll\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("scm_calls_total{operation=\"ssl.collect\",outcome=\"ok\"} 1"),
        "{text}"
    );
    let scm_calls: u64 = text
        .lines()
        .filter(|l| l.starts_with("scm_calls_total{operation=\"ssl."))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(scm_calls, 2, "enroll + one collect: {text}");
    assert!(text.contains("issuance_duration_seconds_count 1"), "{text}");
    // How long SCM took, by operation: one enroll and one collect timed.
    for op in ["ssl.enroll", "ssl.collect"] {
        assert!(
            text.contains(&format!(
                "scm_request_duration_seconds_count{{operation=\"{op}\"}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "scm_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} 1"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains(
            "acme_request_duration_seconds_bucket{endpoint=\"/acme/order/{id}/finalize\""
        ),
        "{text}"
    );
}

/// The expiry sweep runs in the worker (here every second), and every scrape serves its last counts
/// by threshold and EAB key label: the sandbox's 90-day certificate is within 100 days, not 30.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_certificates_are_counted_by_days_and_eab_label() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::start_with(SandboxConfig::default(), move |c| {
        c.server.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
        c.issuance.expiry_warning_days = vec![100, 30];
        c.issuance.expiry_sweep_interval_secs = 1;
    })
    .await;
    let c = env.client().await; // EAB key labelled "test"
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    assert_eq!(finalize(&c, &order, &der).await.body["status"], "valid");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("# TYPE certificates_expiring gauge"),
            "{text}"
        );
        if text.contains("certificates_expiring{days=\"100\",eab_label=\"test\"} 1") {
            assert!(
                text.contains("certificates_expiring{days=\"30\",eab_label=\"test\"} 0"),
                "{text}"
            );
            assert!(
                text.contains("certificates_expiring_sweep_timestamp_seconds "),
                "{text}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sweep counted the certificate: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
