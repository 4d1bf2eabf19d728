//! Must-show 3: an SCM client written by others against the live service — the `cert-manager`
//! package from PyPI — lists organizations and profiles, enrolls and collects from the sandbox
//! unchanged. Fails (does not skip) when python3 or the package is missing:
//! `pip install cert-manager`.

mod common_scm;

use acme_sectigo_bridge::sandbox::{Behavior, Issuance, SandboxConfig};
use common_scm::{csr, pem_ders, sandbox};
use x509_parser::prelude::*;

#[tokio::test]
async fn cert_manager_pypi_client_enrolls_and_collects() {
    let sb = sandbox(SandboxConfig::default());
    // Make the Python client go through its PendingError path once.
    sb.set_behavior(Behavior {
        issuance: Some(Issuance::AfterPolls(2)),
        ..Default::default()
    });
    let (pem, spki) = csr("py.example.com");
    let dir = std::env::temp_dir().join(format!("scm-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csr_path = dir.join("req.csr");
    std::fs::write(&csr_path, &pem).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/cert_manager_client.py"
    );
    let base = sb.base_url().to_string();
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&base)
        .arg(&csr_path)
        .output()
        .await
        .expect("python3 must be installed (with `pip install cert-manager`)");
    assert!(
        out.status.success(),
        "the cert-manager client failed (is `pip install cert-manager` done?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from the script");
    assert_eq!(v["orgs"], serde_json::json!([1001, 1003]));
    assert_eq!(v["department"], 1002);
    assert_eq!(v["types"]["Demo OV Multi-Domain"], 502);
    assert_eq!(v["pending_seen"], 1);
    assert_eq!(v["status"], "Issued");
    assert_eq!(
        v["sans"],
        serde_json::json!(["py.example.com", "www.py.example.com"])
    );
    let ssl_id = v["ssl_id"].as_i64().unwrap();
    assert_eq!(v["listed"], serde_json::json!([ssl_id]));
    assert_eq!(v["count"], 1);
    assert_eq!(sb.enrollment_count(), 1);

    let leaf = pem_ders(v["leaf"].as_str().unwrap());
    assert_eq!(leaf.len(), 1);
    let (_, cert) = X509Certificate::from_der(&leaf[0]).unwrap();
    assert_eq!(cert.public_key().raw, spki.as_slice());
    let chain = pem_ders(v["chain"].as_str().unwrap());
    assert_eq!(chain[0], leaf[0]);
    assert_eq!(chain[1], pem_ders(&sb.intermediate_pem())[0]);
}
