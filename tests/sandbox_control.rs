//! The control API under `/__sandbox` that tests use when the sandbox runs as a separate process:
//! root certificate, enrollment count, approve/decline/issue, faults, behaviour overrides.

mod common_scm;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::{CollectFormat, ErrorClass};
use common_scm::{client, csr, request, sandbox};
use serde_json::json;

#[tokio::test]
async fn control_api_drives_the_sandbox() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}{p}", sb.control_url());

    let root = http
        .get(ctl("/root.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(root, sb.root_pem());
    let count = |v: serde_json::Value| v["count"].as_u64().unwrap();
    let get_count = || async {
        count(
            http.get(ctl("/enrollments"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap(),
        )
    };
    assert_eq!(get_count().await, 0);

    // Approval required for org 1001 (and its department), pending code -1400 afterwards.
    let r = http
        .post(ctl("/behavior"))
        .json(
            &json!({"org_id": 1001, "requires_approval": true, "pending_code": -1400,
                      "issuance": {"after_polls": 2}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (pem, _) = csr("ctl.example.com");
    let id = c
        .enroll(&request(&pem, &["ctl.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    assert_eq!(get_count().await, 1);
    let e = c.collect(id, CollectFormat::X509).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::AwaitingApproval);
    let r = http
        .post(ctl(&format!("/approve/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let e = c.collect(id, CollectFormat::X509).await.unwrap_err();
    assert_eq!(e.code(), Some(-1400));
    c.collect(id, CollectFormat::X509).await.unwrap();

    // Decline, and force-issue.
    let id2 = c
        .enroll(&request(&pem, &["ctl.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let r = http
        .post(ctl(&format!("/decline/{id2}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(sb.status(id2).as_deref(), Some("Declined"));
    let r = http.delete(ctl("/behavior")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    http.post(ctl("/behavior"))
        .json(&json!({"issuance": "never"}))
        .send()
        .await
        .unwrap();
    let id3 = c
        .enroll(&request(&pem, &["ctl.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    assert!(c.collect(id3, CollectFormat::X509).await.is_err());
    let v: serde_json::Value = http
        .post(ctl(&format!("/issue/{id3}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "Issued");
    c.collect(id3, CollectFormat::X509).await.unwrap();

    // Faults: drop the next enroll's response, then 503 twice.
    let r = http
        .put(ctl("/faults"))
        .json(&json!({"drop_enroll_response_next": 1, "fail_next": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let e = c
        .enroll(&request(&pem, &["ctl.example.com"]))
        .await
        .unwrap_err();
    assert!(e.may_have_taken_effect());
    assert_eq!(get_count().await, 4);
    http.put(ctl("/faults"))
        .json(&json!({"fail_next": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(c.organizations().await.unwrap_err().status(), Some(503));
    let f: serde_json::Value = http
        .get(ctl("/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["fail_next"], 1);
    http.delete(ctl("/faults")).send().await.unwrap();
    c.organizations().await.unwrap();

    // Bad pending codes are refused.
    let r = http
        .post(ctl("/behavior"))
        .json(&json!({"pending_code": -5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn sandbox_serves_https_with_a_given_certificate() {
    let dir = std::env::temp_dir().join(format!("scm-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let sb = sandbox(SandboxConfig {
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..Default::default()
    });
    assert_eq!(sb.base_url().scheme(), "https");
    let mut cfg = sb.scm_config();
    cfg.ca_file = Some(dir.join("cert.pem"));
    let c = acme_sectigo_bridge::scm::ScmClient::new(&cfg).unwrap();
    assert_eq!(c.organizations().await.unwrap().len(), 2);
    // Without trusting the certificate the client refuses to talk.
    let untrusted = acme_sectigo_bridge::scm::ScmClient::new(&sb.scm_config()).unwrap();
    assert!(untrusted.organizations().await.is_err());
}
