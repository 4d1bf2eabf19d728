//! revokeCert (§7.6) against the SCM sandbox: by the owning account, by the certificate's key,
//! refused for others, reasons checked, a second revoke is alreadyRevoked, SCM's own state reconciled.

mod support;

use serde_json::json;
use support::client::{b64, Client, TestKey};
use support::flow::{csr, finalize, Env};

/// Issues a certificate for 127.0.0.1; returns (leaf DER, certificate key).
async fn issue(env: &Env, c: &Client<'_>) -> (Vec<u8>, rcgen::KeyPair) {
    let (_, order) = env.ready_order(c, &["127.0.0.1"]).await;
    let (der, key) = csr(&["127.0.0.1"], None);
    let r = finalize(c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let chain = c.post(r.body["certificate"].as_str().unwrap(), None).await;
    let leaf = acme_sectigo_bridge::scm::certificates_in(chain.body.as_str().unwrap().as_bytes())
        .unwrap()
        .remove(0);
    (leaf, key)
}

fn ssl_status(env: &Env) -> Option<String> {
    env.sandbox.status(4300000001)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_by_account_then_again_is_already_revoked() {
    let env = Env::start().await;
    let c = env.client().await;
    let (leaf, _) = issue(&env, &c).await;
    let url = env.app.url("/acme/revoke-cert");

    let r = c
        .post(&url, Some(&json!({"certificate": b64(&leaf), "reason": 2})))
        .await;
    assert_eq!(r.problem_type(), "badRevocationReason");

    let other = env.client().await;
    let r = other
        .post(&url, Some(&json!({"certificate": b64(&leaf)})))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_type(), "unauthorized");
    assert_ne!(ssl_status(&env).as_deref(), Some("Revoked"));

    let r = c
        .post(&url, Some(&json!({"certificate": b64(&leaf), "reason": 4})))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(ssl_status(&env).as_deref(), Some("Revoked"));

    let r = c
        .post(&url, Some(&json!({"certificate": b64(&leaf)})))
        .await;
    assert_eq!(r.problem_type(), "alreadyRevoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_with_the_certificate_key() {
    let env = Env::start().await;
    let c = env.client().await;
    let (leaf, key) = issue(&env, &c).await;
    let by_key = Client::with_key(&env.app, TestKey::from_p256_pkcs8(&key.serialize_der()));
    let r = by_key
        .post(
            &env.app.url("/acme/revoke-cert"),
            Some(&json!({"certificate": b64(&leaf), "reason": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(ssl_status(&env).as_deref(), Some("Revoked"));

    // Some other key cannot.
    let (leaf2, _) = issue(&env, &c).await;
    let stranger = Client::new(&env.app);
    let r = stranger
        .post(
            &env.app.url("/acme/revoke-cert"),
            Some(&json!({"certificate": b64(&leaf2)})),
        )
        .await;
    assert_eq!(r.problem_type(), "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_in_scm_behind_our_back_is_reconciled() {
    let env = Env::start().await;
    let c = env.client().await;
    let (leaf, _) = issue(&env, &c).await;
    // Someone revokes it in SCM directly.
    let scm = acme_sectigo_bridge::scm::ScmClient::new(&env.sandbox.scm_config()).unwrap();
    scm.revoke(
        4300000001,
        acme_sectigo_bridge::scm::RevocationReason::Superseded,
        "by hand",
    )
    .await
    .unwrap();
    let r = c
        .post(
            &env.app.url("/acme/revoke-cert"),
            Some(&json!({"certificate": b64(&leaf)})),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "SCM's -102 is reconciled with its status: {r:?}"
    );
    let r = c
        .post(
            &env.app.url("/acme/revoke-cert"),
            Some(&json!({"certificate": b64(&leaf)})),
        )
        .await;
    assert_eq!(r.problem_type(), "alreadyRevoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_certificate_is_not_found() {
    let env = Env::start().await;
    let c = env.client().await;
    let (der, _) = {
        let k = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x.example.test".to_string()])
            .unwrap()
            .self_signed(&k)
            .unwrap();
        (cert.der().to_vec(), k)
    };
    let r = c
        .post(
            &env.app.url("/acme/revoke-cert"),
            Some(&json!({"certificate": b64(&der)})),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}
