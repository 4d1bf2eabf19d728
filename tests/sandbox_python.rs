//! Must-show 3: SCM clients written by others against the live service — the `cert-manager` and
//! `comodo-rest-api` packages from PyPI — enroll and collect from the sandbox unchanged. Fail (do
//! not skip) when python3 or a package is missing: `scripts/install-test-deps.sh` installs them.

mod support;

use acme_sectigo_bridge::sandbox::{Behavior, Issuance, SandboxConfig, SandboxHandle};
use support::scm::{csr, pem_ders, sandbox};
use x509_parser::prelude::*;

/// Runs `tests/python/<script> BASE_URL CSR_FILE` against `sb` and returns the JSON it prints;
/// panics with the install command for `package` when the script fails.
async fn run_script(
    script: &str,
    package: &str,
    sb: &SandboxHandle,
    csr_pem: &str,
) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("scm-py-{}-{script}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csr_path = dir.join("req.csr");
    std::fs::write(&csr_path, csr_pem).unwrap();
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("python3")
        .arg(&path)
        .arg(sb.base_url().as_str())
        .arg(&csr_path)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("python3 must be installed (then `pip install {package}`): {e}")
        });
    assert!(
        out.status.success(),
        "the {package} client failed (is `python3 -m pip install {package}` done?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the script")
}

#[tokio::test]
async fn cert_manager_pypi_client_enrolls_and_collects() {
    let sb = sandbox(SandboxConfig::default());
    // Make the Python client go through its PendingError path once.
    sb.set_behavior(Behavior {
        issuance: Some(Issuance::AfterPolls(2)),
        ..Default::default()
    });
    let (pem, spki) = csr("py.example.com");
    let v = run_script("cert_manager_client.py", "cert-manager", &sb, &pem).await;
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

#[tokio::test]
async fn comodo_rest_api_pypi_client_enrolls_and_collects() {
    // comodo-rest-api decodes the collected file with the Content-Type's charset: it fails on a
    // server that answers `application/octet-stream` without `;charset=UTF-8`, as SCM never does.
    let sb = sandbox(SandboxConfig::default());
    sb.set_behavior(Behavior {
        issuance: Some(Issuance::AfterPolls(2)),
        ..Default::default()
    });
    let (pem, spki) = csr("comodo.example.com");
    let v = run_script("comodo_rest_api_client.py", "comodo-rest-api", &sb, &pem).await;
    assert_eq!(v["pending_seen"], 1, "{v}");
    assert_eq!(sb.enrollment_count(), 1);

    let leaf = pem_ders(v["leaf"].as_str().unwrap());
    assert_eq!(leaf.len(), 1, "x509CO is the leaf only");
    let (_, cert) = X509Certificate::from_der(&leaf[0]).unwrap();
    assert_eq!(cert.public_key().raw, spki.as_slice());
    let sans: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .expect("a subjectAltName extension")
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(sans, ["comodo.example.com", "www.comodo.example.com"]);
    // x509 is root first, leaf last.
    let chain = pem_ders(v["chain"].as_str().unwrap());
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[0], pem_ders(&sb.root_pem())[0]);
    assert_eq!(chain[2], leaf[0]);
    // The package revokes without `reasonCode`, which SCM refuses since mid-2025.
    assert_eq!(v["revoke"]["status"], "error", "{v}");
    assert!(
        v["revoke"]["message"]
            .as_str()
            .unwrap()
            .contains("reasonCode"),
        "{v}"
    );
}
