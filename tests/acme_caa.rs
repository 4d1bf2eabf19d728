//! The CAA pre-check (RFC 8659) before SCM is asked: names under example.com are authorized from
//! SCM's domain validation (no challenge), the bridge's resolver is the in-process test DNS server,
//! and CAA records there decide whether the order is issued or fails with a `caa` problem naming
//! the record — without an enrollment.

mod support;

use acme_sectigo_bridge::model::EabKey;
use acme_sectigo_bridge::sandbox::SandboxConfig;
use serde_json::{json, Value};
use support::client::Client;
use support::flow::{csr, finalize, wait_status, Env};

/// A client whose EAB key trusts SCM's validation of example.com (so orders are ready at once).
async fn client(env: &Env) -> Client<'_> {
    let k = EabKey {
        kid: format!("kid-{}", acme_sectigo_bridge::ids::random_id()),
        hmac_key: acme_sectigo_bridge::ids::random_bytes(32),
        label: "caa".into(),
        allowed_patterns: vec!["example.com".into(), "*.example.com".into()],
        scm_org_id: Some(1001),
        profiles: vec![],
        trust_scm_dcv: true,
        single_use: false,
        created_at: chrono::Utc::now(),
        used_at: None,
        revoked_at: None,
        accounts_stopped: false,
    };
    env.app.store.create_eab_key(&k).await.unwrap();
    let mut c = Client::new(&env.app);
    assert_eq!(c.register(Some((&k.kid, &k.hmac_key))).await.status, 201);
    c
}

/// Orders and finalizes `names`; returns the order once it is valid or invalid.
async fn issue(c: &Client<'_>, names: &[&str]) -> Value {
    let ids: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    let r = c
        .post(
            &c.app.url("/acme/new-order"),
            Some(&json!({ "identifiers": ids })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["status"], "ready", "trusted from SCM's DCV: {r:?}");
    let order_url = r.location().unwrap().to_string();
    let (der, _) = csr(names, None);
    let f = finalize(c, &r.body, &der).await;
    assert_eq!(f.status, 200, "{f:?}");
    wait_status(c, &order_url, &["valid", "invalid"]).await
}

fn assert_refused(order: &Value, name: &str, record: &str) {
    assert_eq!(order["status"], "invalid", "{order}");
    let e = &order["error"];
    assert_eq!(e["type"], "urn:ietf:params:acme:error:caa", "{order}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains(record),
        "names the record {record}: {detail}"
    );
    let subs = e["subproblems"].as_array().unwrap();
    assert!(
        subs.iter()
            .any(|s| s["identifier"]["value"] == name
                && s["type"] == "urn:ietf:params:acme:error:caa"),
        "{order}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caa_records_decide_before_anything_is_enrolled() {
    let env = Env::start().await;
    let c = client(&env).await;
    let dns = &env.dns;

    // No CAA anywhere: allowed.
    assert_eq!(issue(&c, &["none.example.com"]).await["status"], "valid");
    assert_eq!(env.sandbox.enrollment_count(), 1);

    // Found by climbing from the name to an ancestor that names Sectigo: allowed.
    dns.add_caa("ok.example.com", 0, "issue", "sectigo.com");
    dns.add_caa("ok.example.com", 0, "iodef", "mailto:security@example.com");
    assert_eq!(issue(&c, &["www.ok.example.com"]).await["status"], "valid");
    assert_eq!(env.sandbox.enrollment_count(), 2);

    // Another CA only: refused with the record named, and nothing enrolled.
    dns.add_caa("no.example.com", 0, "issue", "letsencrypt.org");
    let o = issue(&c, &["www.no.example.com", "none.example.com"]).await;
    assert_refused(
        &o,
        "www.no.example.com",
        "no.example.com. CAA 0 issue \"letsencrypt.org\"",
    );
    assert_eq!(
        o["error"]["subproblems"].as_array().unwrap().len(),
        1,
        "only the forbidden name: {o}"
    );
    assert_eq!(env.sandbox.enrollment_count(), 2, "SCM was not asked");

    // The closest record set wins: the name's own record allows, its parent's would not.
    dns.add_caa("sub.no.example.com", 0, "issue", "comodoca.com");
    assert_eq!(issue(&c, &["sub.no.example.com"]).await["status"], "valid");
    assert_eq!(env.sandbox.enrollment_count(), 3);

    // issuewild governs wildcards only.
    dns.add_caa("wild.example.com", 0, "issue", "sectigo.com");
    dns.add_caa("wild.example.com", 0, "issuewild", "letsencrypt.org");
    assert_eq!(
        issue(&c, &["www.wild.example.com"]).await["status"],
        "valid"
    );
    let o = issue(&c, &["*.wild.example.com"]).await;
    assert_refused(
        &o,
        "*.wild.example.com",
        "wild.example.com. CAA 0 issuewild \"letsencrypt.org\"",
    );
    dns.add_caa("wild2.example.com", 0, "issue", "letsencrypt.org");
    dns.add_caa("wild2.example.com", 0, "issuewild", "sectigo.com");
    assert_eq!(issue(&c, &["*.wild2.example.com"]).await["status"], "valid");
    assert_eq!(env.sandbox.enrollment_count(), 5);

    // A critical property the CA does not know forbids, even beside a record naming Sectigo.
    dns.add_caa("crit.example.com", 0, "issue", "sectigo.com");
    dns.add_caa("crit.example.com", 128, "futuretag", "x");
    let o = issue(&c, &["crit.example.com"]).await;
    assert_refused(
        &o,
        "crit.example.com",
        "crit.example.com. CAA 128 futuretag \"x\"",
    );
    assert_eq!(env.sandbox.enrollment_count(), 5, "SCM was not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_caa_lookup_is_retried_then_refused_as_dns() {
    let env = Env::start().await;
    let c = client(&env).await;
    env.dns.servfail("broken.example.com");
    let o = issue(&c, &["broken.example.com"]).await;
    assert_eq!(o["status"], "invalid", "{o}");
    assert_eq!(o["error"]["type"], "urn:ietf:params:acme:error:dns", "{o}");
    assert!(
        o["error"]["detail"].as_str().unwrap().contains("SERVFAIL"),
        "{o}"
    );
    assert_eq!(env.sandbox.enrollment_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_check_off_caa_is_left_to_scm() {
    let env = Env::start_with(SandboxConfig::default(), |c| c.acme.caa_check = false).await;
    let c = client(&env).await;
    env.dns
        .add_caa("no.example.com", 0, "issue", "letsencrypt.org");
    assert_eq!(issue(&c, &["no.example.com"]).await["status"], "valid");
    assert_eq!(env.sandbox.enrollment_count(), 1);
}
