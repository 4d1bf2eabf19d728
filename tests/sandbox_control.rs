//! The control API under `/__sandbox` that tests use when the sandbox runs as a separate process:
//! root certificate, enrollment count, approve/decline/issue, administrator actions (revoke, mass
//! revoke, mark expired/replaced), faults and chaos statistics, behaviour overrides.

mod support;

use acme_sectigo_bridge::sandbox::{Behavior, Issuance, Mark, Refusal, SandboxConfig};
use acme_sectigo_bridge::scm::types::{ListFilter, RevocationReason};
use acme_sectigo_bridge::scm::{CertStatus, CollectFormat, ErrorClass, ScmClient};
use serde_json::json;
use support::scm::{client, csr, request, sandbox};

/// Enrolls `cn` in department 1002 (issued at once by default) and returns the sslId.
async fn issued(c: &ScmClient, cn: &str) -> i64 {
    let (pem, _) = csr(cn);
    c.enroll(&request(&pem, &[cn])).await.unwrap().ssl_id
}

/// sslIds listed with `status`.
async fn with_status(c: &ScmClient, status: &str) -> Vec<i64> {
    let page = c
        .list(&ListFilter {
            status: Some(status.into()),
            size: Some(200),
            ..Default::default()
        })
        .await
        .unwrap();
    page.items.iter().map(|i| i.ssl_id).collect()
}

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

#[tokio::test]
async fn an_administrators_revocation_looks_like_an_api_revocation() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}{p}", sb.control_url());
    let a = issued(&c, "admin-a.example.com").await;
    let b = issued(&c, "admin-b.example.com").await;

    // Through the control API, as a separate process would.
    let r = http
        .post(ctl(&format!("/revoke/{a}")))
        .json(&json!({"reason_code": 1, "reason": "key compromise reported to SCM"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let d = c.details(a).await.unwrap();
    assert_eq!((d.status, d.reason_code), (CertStatus::Revoked, Some(1)));
    assert_eq!(d.revoked, Some(chrono::Utc::now().date_naive()));
    let e = c.collect(a, CollectFormat::X509).await.unwrap_err();
    assert_eq!(e.code(), Some(-110));
    assert_eq!(with_status(&c, "Revoked").await, [a]);
    // The bridge's own revoke now meets SCM's "already revoked".
    let e = c
        .revoke(a, RevocationReason::Superseded, "too late")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(-102));
    // Refusals: twice, unknown id, a code that is no revocation reason.
    let r = http
        .post(ctl(&format!("/revoke/{a}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http.post(ctl("/revoke/12345")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(ctl(&format!("/revoke/{b}")))
        .json(&json!({"reason_code": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(sb.status(b).as_deref(), Some("Issued"));

    // In process, with a CA-side reason the API would refuse.
    sb.revoke_as_admin(b, 9, "privilege withdrawn").unwrap();
    assert_eq!(c.details(b).await.unwrap().reason_code, Some(9));
    assert_eq!(
        sb.revoke_as_admin(b, 0, "again"),
        Err(Refusal::NotIssued(b, "Revoked".into()))
    );

    // A mass revocation of one department, then of everything left.
    let c1 = issued(&c, "mass-1.example.com").await;
    let c2 = issued(&c, "mass-2.example.com").await;
    let (pem, _) = csr("other-org.example.com");
    let mut req = request(&pem, &["other-org.example.com"]);
    req.org_id = 1001;
    let other = c.enroll(&req).await.unwrap().ssl_id;
    sb.set_behavior(Behavior {
        issuance: Some(Issuance::Never),
        ..Default::default()
    });
    let pending = issued(&c, "pending.example.com").await;
    let v: serde_json::Value = http
        .post(ctl("/revoke"))
        .json(&json!({"org_id": 1002, "reason_code": 4, "reason": "mis-issuance"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["revoked"], json!([c1, c2]));
    assert_eq!(c.details(c2).await.unwrap().reason_code, Some(4));
    assert_eq!(sb.status(other).as_deref(), Some("Issued"));
    assert_eq!(sb.revoke_all(None, 5).unwrap(), [other]);
    assert_eq!(
        sb.status(pending).as_deref(),
        Some("Applied"),
        "only issued ones"
    );
    assert_eq!(with_status(&c, "Revoked").await, [a, b, c1, c2, other]);
}

#[tokio::test]
async fn certificates_can_be_marked_expired_or_replaced() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}{p}", sb.control_url());
    let x = issued(&c, "expired.example.com").await;
    let y = issued(&c, "replaced.example.com").await;

    let r = http
        .post(ctl(&format!("/mark/{x}")))
        .json(&json!({"status": "Expired"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let d = c.details(x).await.unwrap();
    assert_eq!(d.status, CertStatus::Expired);
    assert_eq!(d.expires, Some(chrono::Utc::now().date_naive()));
    assert_eq!(with_status(&c, "Expired").await, [x]);
    c.collect(x, CollectFormat::X509CO).await.unwrap();

    sb.mark(y, Mark::Replaced).unwrap();
    assert_eq!(c.details(y).await.unwrap().status, CertStatus::Replaced);
    assert_eq!(with_status(&c, "Replaced").await, [y]);
    let e = c.collect(y, CollectFormat::X509CO).await.unwrap_err();
    assert_eq!(e.code(), Some(-183));

    // Only issued certificates; only these two statuses; known ids.
    assert_eq!(
        sb.mark(y, Mark::Expired),
        Err(Refusal::NotIssued(y, "Replaced".into()))
    );
    let r = http
        .post(ctl(&format!("/mark/{x}")))
        .json(&json!({"status": "Replaced"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let z = issued(&c, "z.example.com").await;
    let r = http
        .post(ctl(&format!("/mark/{z}")))
        .json(&json!({"status": "Revoked"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(sb.status(z).as_deref(), Some("Issued"));
    let r = http
        .post(ctl("/mark/999"))
        .json(&json!({"status": "Expired"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn chaos_is_driven_through_the_control_api() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}{p}", sb.control_url());
    let r = http
        .put(ctl("/faults"))
        .json(&json!({"fault_rate": 1.0, "fault_kinds": ["error_500"], "fault_seed": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for _ in 0..3 {
        assert_eq!(c.organizations().await.unwrap_err().status(), Some(500));
    }
    let stats: serde_json::Value = http
        .get(ctl("/faults/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, json!({"calls": 3, "injected": {"error_500": 3}}));
    // The control API itself is never faulted; a rate above 1 is refused; DELETE turns it off.
    let r = http
        .put(ctl("/faults"))
        .json(&json!({"fault_rate": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .put(ctl("/faults"))
        .json(&json!({"fault_kinds": ["meteor"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(c.organizations().await.unwrap_err().status(), Some(500));
    http.delete(ctl("/faults")).send().await.unwrap();
    c.organizations().await.unwrap();
    // Without cross-signing there is no alternate root to fetch.
    let r = http.get(ctl("/old-root.pem")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(sb.cross_signed_root_pem().is_none());
}
