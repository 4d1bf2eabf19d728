//! EAB keys created with --trust-scm-dcv: names under a domain SCM reports validated and delegated to
//! the key's org are authorized without a challenge; other names get challenges as usual.

mod support;

use acme_sectigo_bridge::model::EabKey;
use serde_json::json;
use support::client::Client;
use support::flow::{csr, finalize, Env};

async fn key(env: &Env, trust: bool) -> (String, Vec<u8>) {
    let k = EabKey {
        kid: format!("kid-{}", acme_sectigo_bridge::ids::random_id()),
        hmac_key: acme_sectigo_bridge::ids::random_bytes(32),
        label: "dcv".into(),
        allowed_patterns: vec![
            "example.com".into(),
            "*.example.com".into(),
            "*.example.net".into(),
        ],
        scm_org_id: Some(1001),
        profiles: vec![],
        trust_scm_dcv: trust,
        single_use: false,
        created_at: chrono::Utc::now(),
        used_at: None,
        revoked_at: None,
        accounts_stopped: false,
    };
    env.app.store.create_eab_key(&k).await.unwrap();
    (k.kid, k.hmac_key)
}

fn dns(names: &[&str]) -> serde_json::Value {
    json!({"identifiers": names.iter().map(|n| json!({"type": "dns", "value": n})).collect::<Vec<_>>()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scm_validated_names_need_no_challenge() {
    let env = Env::start().await;
    let (kid, hmac) = key(&env, true).await;
    let mut c = Client::new(&env.app);
    c.register(Some((&kid, &hmac))).await;

    // example.com (and *.example.com) are validated and delegated in the demo tenant.
    let r = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&dns(&["www.example.com", "example.com", "*.example.com"])),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["status"], "ready", "no challenge needed: {r:?}");
    for authz in r.body["authorizations"].as_array().unwrap() {
        let a = c.post(authz.as_str().unwrap(), None).await;
        assert_eq!(a.body["status"], "valid", "{a:?}");
    }
    let (der, _) = csr(&["www.example.com", "example.com", "*.example.com"], None);
    let done = finalize(&c, &r.body, &der).await;
    assert_eq!(done.body["status"], "valid", "{done:?}");
    assert_eq!(env.sandbox.enrollment_count(), 1);

    // example.net is not a domain SCM validated: challenges as usual.
    let r = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&dns(&["host.example.net"])),
        )
        .await;
    assert_eq!(r.body["status"], "pending", "{r:?}");
    let a = c
        .post(r.body["authorizations"][0].as_str().unwrap(), None)
        .await;
    assert_eq!(a.body["status"], "pending");
    assert!(!a.body["challenges"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_without_trust_still_get_challenges() {
    let env = Env::start().await;
    let (kid, hmac) = key(&env, false).await;
    let mut c = Client::new(&env.app);
    c.register(Some((&kid, &hmac))).await;
    let r = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&dns(&["www.example.com"])),
        )
        .await;
    assert_eq!(r.body["status"], "pending", "{r:?}");
}

/// A DCV cache on its own sandbox, and the sandbox (to slow it down).
fn dcv_on_sandbox(
    ttl: std::time::Duration,
) -> (
    acme_sectigo_bridge::sandbox::SandboxHandle,
    std::sync::Arc<acme_sectigo_bridge::acme::dcv_trust::DcvTrust>,
) {
    use acme_sectigo_bridge::sandbox::{Sandbox, SandboxConfig};
    let sb = Sandbox::bind(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let scm = acme_sectigo_bridge::scm::ScmClient::new(&sb.scm_config()).unwrap();
    let dcv = acme_sectigo_bridge::acme::dcv_trust::DcvTrust::new(scm, ttl);
    (sb, std::sync::Arc::new(dcv))
}

/// Makes the sandbox hold the next SCM request for a minute, starts `covers` for `name` in
/// `org`, and returns once SCM has that request in hand (the delay was taken).
async fn start_slow_lookup(
    sb: &acme_sectigo_bridge::sandbox::SandboxHandle,
    dcv: &std::sync::Arc<acme_sectigo_bridge::acme::dcv_trust::DcvTrust>,
    org: i64,
    name: &'static str,
) -> tokio::task::JoinHandle<bool> {
    sb.set_faults(acme_sectigo_bridge::sandbox::Faults {
        delay_ms: 60_000,
        delay_next: Some(1),
        ..Default::default()
    });
    let d = dcv.clone();
    let slow = tokio::spawn(async move { d.covers(org, name, false).await });
    while sb.faults().delay_next != Some(0) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    slow
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_scm_listing_does_not_hold_other_organizations() {
    let (sb, dcv) = dcv_on_sandbox(std::time::Duration::from_secs(300));
    let slow = start_slow_lookup(&sb, &dcv, 1001, "www.example.com").await;

    // Department 1002 has its own list: its look-up must not queue behind org 1001's SCM page,
    // which stays stuck for a minute (far beyond this bound).
    let other = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        dcv.covers(1002, "www.example.com", false),
    )
    .await
    .expect("a look-up for another organization waited for the slow SCM listing");
    assert!(other, "example.com is validated and delegated to 1002");
    assert!(
        !slow.is_finished(),
        "the first look-up is still waiting for SCM"
    );
    slow.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_list_is_used_while_one_request_refreshes_it() {
    let ttl = std::time::Duration::from_millis(300);
    let (sb, dcv) = dcv_on_sandbox(ttl);
    assert!(dcv.covers(1001, "a.example.com", false).await);
    tokio::time::sleep(ttl * 2).await; // the list (and the details) expire

    let slow = start_slow_lookup(&sb, &dcv, 1001, "b.example.com").await;
    let other = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        dcv.covers(1001, "c.example.com", false),
    )
    .await
    .expect("a look-up waited for another request's refresh of the same list");
    assert!(other);
    assert!(!slow.is_finished(), "the refresh is still waiting for SCM");
    slow.abort();
}
