//! EAB keys created with --trust-scm-dcv: names under a domain SCM reports validated and delegated to
//! the key's org are authorized without a challenge; other names get challenges as usual.

mod common;

use acme_sectigo_bridge::model::EabKey;
use common::client::Client;
use common::flow::{csr, finalize, Env};
use serde_json::json;

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
