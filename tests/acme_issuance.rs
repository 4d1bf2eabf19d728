//! finalize → SCM enroll → collect → certificate, against the SCM sandbox over real HTTP.

mod support;

use acme_sectigo_bridge::sandbox::{Behavior, Faults, Issuance, SandboxConfig};
use serde_json::json;
use support::flow::{csr, csr_with_key, csr_without_cn, finalize, wait_status, Env};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The chain's certificates (DER), leaf first.
fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    acme_sectigo_bridge::scm::certificates_in(pem.as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_issues_through_scm_and_the_chain_is_leaf_first() {
    let env = Env::start().await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1", "127.0.0.2"]).await;
    let (der, _key) = csr(&["127.0.0.1", "127.0.0.2"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.status, 200, "{r:?}");
    // SCM issues at once, so the fast path answers with a valid order.
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let cert_url = r.body["certificate"].as_str().unwrap();
    let dl = c.post(cert_url, None).await;
    assert_eq!(dl.status, 200);
    assert_eq!(
        dl.header("content-type"),
        Some("application/pem-certificate-chain")
    );
    let chain = pem_certs(dl.body.as_str().unwrap());
    assert_eq!(chain.len(), 2, "leaf and intermediate, no root by default");
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let (_, inter) = X509Certificate::from_der(&chain[1]).unwrap();
    assert_eq!(leaf.issuer(), inter.subject(), "leaf first, issuer next");
    let (_, parsed_csr) = x509_parser::prelude::X509CertificationRequest::from_der(&der).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        parsed_csr.certification_request_info.subject_pki.raw,
        "the leaf carries the CSR's key"
    );
    let mut names: Vec<String> = leaf
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|g| format!("{g:?}"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(env.sandbox.enrollment_count(), 1);

    // A second finalize cannot start a second issuance. The same CSR again (a client whose first
    // answer was lost) gets the order as it stands (docs/reliability.md, "Database outages"); a
    // different one is refused.
    let again = finalize(&c, &order, &der).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["status"], "valid", "{again:?}");
    let (other, _) = csr(&["127.0.0.1", "127.0.0.2"], None);
    let refused = finalize(&c, &order, &other).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.problem_type(), "orderNotReady");
    assert_eq!(env.sandbox.enrollment_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csr_with_an_account_key_is_refused_and_the_order_stays_ready() {
    let env = Env::start().await;
    // The account's key is the CSR's: registered from the same P-256 key pair.
    let key = rcgen::KeyPair::generate().unwrap();
    let (kid, hmac) = env
        .app
        .eab_key_for(&["127.0.0.0/8", "*.example.test"], &[], false)
        .await;
    let mut c = support::client::Client::with_key(
        &env.app,
        support::client::TestKey::from_p256_pkcs8(&key.serialize_der()),
    );
    assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);
    let (order_url, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let r = finalize(&c, &order, &csr_with_key(&["127.0.0.1"], None, &key)).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "badCSR", "{r:?}");
    assert!(
        r.body["detail"].as_str().unwrap().contains("account key"),
        "{r:?}"
    );
    assert_eq!(c.post(&order_url, None).await.body["status"], "ready");
    assert_eq!(env.sandbox.enrollment_count(), 0);
    // A certificate key of its own is then accepted.
    let (der, _) = csr(&["127.0.0.1"], None);
    assert_eq!(finalize(&c, &order, &der).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_csrs_are_refused_and_enroll_nothing() {
    let env = Env::start().await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    // Names differ from the order.
    let (der, _) = csr(&["127.0.0.1", "127.0.0.9"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.problem_type(), "badCSR", "{r:?}");
    assert!(r.body["detail"].as_str().unwrap().contains("127.0.0.9"));
    // CN not among the identifiers.
    let (der, _) = csr(&["127.0.0.1"], Some("127.0.0.5"));
    assert_eq!(finalize(&c, &order, &der).await.problem_type(), "badCSR");
    // Not a CSR.
    let r = c
        .post(
            order["finalize"].as_str().unwrap(),
            Some(&json!({"csr": "AAAA"})),
        )
        .await;
    assert_eq!(r.problem_type(), "badCSR");
    // A tampered signature.
    let (mut der, _) = csr(&["127.0.0.1"], None);
    let n = der.len();
    der[n - 3] ^= 0x55;
    assert_eq!(finalize(&c, &order, &der).await.problem_type(), "badCSR");
    assert_eq!(env.sandbox.enrollment_count(), 0);
    // The order is still ready: a good CSR works.
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    assert_eq!(env.sandbox.enrollment_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificates_cn_is_named_explicitly_never_left_to_scm() {
    let env = Env::start().await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.2", "127.0.0.1"]).await;
    // A CSR with no CN: the enroll names the order's first identifier.
    let r = finalize(&c, &order, &csr_without_cn(&["127.0.0.1", "127.0.0.2"])).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let dl = c.post(r.body["certificate"].as_str().unwrap(), None).await;
    let chain = pem_certs(dl.body.as_str().unwrap());
    let (_, leaf) = X509Certificate::from_der(&chain[0]).unwrap();
    let cns: Vec<_> = leaf
        .subject()
        .iter_common_name()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cns, ["127.0.0.2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csr_with_two_common_names_is_refused() {
    // The first CN is in the order; the second is not (and nothing allows it): a CSR carrying
    // both must not reach SCM, which could certify either.
    let env = Env::start().await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let key = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let key = openssl::pkey::PKey::from_ec_key(key).unwrap();
    let mut req = openssl::x509::X509ReqBuilder::new().unwrap();
    req.set_pubkey(&key).unwrap();
    let mut subject = openssl::x509::X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("CN", "127.0.0.1").unwrap();
    subject
        .append_entry_by_text("CN", "victim.example.org")
        .unwrap();
    req.set_subject_name(&subject.build()).unwrap();
    let mut exts = openssl::stack::Stack::new().unwrap();
    let san = openssl::x509::extension::SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&req.x509v3_context(None))
        .unwrap();
    exts.push(san).unwrap();
    req.add_extensions(&exts).unwrap();
    req.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    let der = req.build().to_der().unwrap();
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "badCSR");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("more than one common name"));
    assert_eq!(env.sandbox.enrollment_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_could_never_be_issued_is_refused_at_new_order() {
    // No [scm] org_id and an EAB key that names none: no SCM organization for the certificate.
    // The client must hear it at newOrder, with what to do, not as a 500 at finalize.
    let env = Env::start_with(SandboxConfig::default(), |c| {
        c.scm.as_mut().unwrap().org_id = None;
    })
    .await;
    let c = env.client().await;
    let r = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&json!({"identifiers": [{"type": "ip", "value": "127.0.0.1"}]})),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.problem_type(), "unauthorized");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("org_id") && detail.contains("operator"),
        "{detail}"
    );
    assert_eq!(env.app.db.count("orders").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_before_ready_is_order_not_ready() {
    let env = Env::start().await;
    let c = env.client().await;
    let r = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&json!({"identifiers": [{"type": "ip", "value": "127.0.0.1"}]})),
        )
        .await;
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &r.body, &der).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_type(), "orderNotReady");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_collect_keeps_processing_with_retry_after_then_valid() {
    let env = Env::start_with(SandboxConfig::default(), |c| {
        c.issuance.finalize_wait_secs = 0;
    })
    .await;
    env.sandbox.set_behavior(Behavior {
        issuance: Some(Issuance::AfterPolls(3)),
        ..Default::default()
    });
    let c = env.client().await;
    let (url, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.body["status"], "processing", "{r:?}");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    let done = wait_status(&c, &url, &["valid"]).await;
    assert!(done["certificate"].is_string());
    assert_eq!(env.sandbox.enrollment_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_enroll_response_is_reconciled_without_a_second_enrollment() {
    let env = Env::start().await;
    let c = env.client().await;
    let (url, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    env.sandbox.set_faults(Faults {
        drop_enroll_response_next: 1,
        ..Default::default()
    });
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.status, 200, "{r:?}");
    wait_status(&c, &url, &["valid"]).await;
    assert_eq!(
        env.sandbox.enrollment_count(),
        1,
        "the lost enroll must be adopted, not repeated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scm_refusal_makes_the_order_invalid_with_scms_reason() {
    let env = Env::start().await;
    let c = env.client().await;
    let (url, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    // Org 1003 of the demo tenant has the Web API switched off: SCM answers -1021.
    env.sandbox.set_behavior(Behavior {
        web_api: Some(false),
        org_id: Some(1001),
        ..Default::default()
    });
    let (der, _) = csr(&["127.0.0.1"], None);
    finalize(&c, &order, &der).await;
    let r = c.post(&url, None).await;
    let body = if r.body["status"] == "processing" {
        wait_status(&c, &url, &["invalid"]).await
    } else {
        r.body
    };
    assert_eq!(body["status"], "invalid", "{body}");
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("-1021"), "{detail}");
    assert_eq!(env.sandbox.enrollment_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_then_valid_and_decline_then_invalid() {
    let env = Env::start_with(SandboxConfig::default(), |c| {
        c.issuance.finalize_wait_secs = 0;
    })
    .await;
    env.sandbox.set_behavior(Behavior {
        requires_approval: Some(true),
        org_id: Some(1001),
        ..Default::default()
    });
    let c = env.client().await;
    let key = rcgen::KeyPair::generate().unwrap();

    let (url, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let r = finalize(&c, &order, &csr_with_key(&["127.0.0.1"], None, &key)).await;
    assert_eq!(r.body["status"], "processing");
    let ssl_id = wait_for_ssl_id(&env, &url).await;
    env.sandbox.approve(ssl_id).unwrap();
    wait_status(&c, &url, &["valid"]).await;

    let (url, order) = env.ready_order(&c, &["127.0.0.2"]).await;
    finalize(&c, &order, &csr_with_key(&["127.0.0.2"], None, &key)).await;
    let ssl_id = wait_for_ssl_id(&env, &url).await;
    env.sandbox.decline(ssl_id).unwrap();
    let body = wait_status(&c, &url, &["invalid"]).await;
    assert!(
        body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("Declined"),
        "{body}"
    );
}

/// The SCM id the worker stored for an order.
async fn wait_for_ssl_id(env: &Env, order_url: &str) -> i64 {
    let id = order_url.rsplit('/').next().unwrap();
    for _ in 0..200 {
        if let Some(e) = env.app.store.enrollment(id).await.unwrap() {
            if let Some(s) = e.ssl_id {
                return s;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no sslId recorded for {order_url}");
}
