//! lego (Debian) against the bridge as separate processes: http-01 and tls-alpn-01 with lego's own
//! challenge servers, renewal, revocation.
//!
//! The revocation test (`lego_revokes_with_account_key`) needs the bridge's revokeCert.

mod support;

use std::time::Duration;
use support::e2e::{certs, tools, Stack};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Longest a single lego run may take.
const LEGO_LIMIT: Duration = Duration::from_secs(90);

/// Which challenge lego solves, with its own server on the port the bridge validates against.
#[derive(Clone, Copy)]
enum Challenge {
    Http01,
    TlsAlpn01,
}

/// `lego <global flags> <command args>` with its data in the test's temp dir (ECDSA P-256 keys).
async fn lego(stack: &Stack, domains: &[&str], challenge: Challenge, command: &[&str]) -> String {
    lego_with(stack, domains, challenge, &[], command).await
}

/// As [`lego`], with extra global flags.
async fn lego_with(
    stack: &Stack,
    domains: &[&str],
    challenge: Challenge,
    flags: &[&str],
    command: &[&str],
) -> String {
    let (out, what) = lego_output(stack, domains, challenge, flags, command).await;
    assert!(out.status.success(), "{what}");
    what
}

/// Runs lego as [`lego_with`] does, successful or not; returns its output and a description.
async fn lego_output(
    stack: &Stack,
    domains: &[&str],
    challenge: Challenge,
    flags: &[&str],
    command: &[&str],
) -> (std::process::Output, String) {
    let mut c = tools::lego();
    c.args(flags);
    c.arg("--server")
        .arg(stack.directory())
        .args(["--accept-tos", "--email", "ops@example.test"])
        .args(["--eab", "--kid", &stack.eab_kid, "--hmac", &stack.eab_hmac])
        .arg("--path")
        .arg(stack.path("lego"));
    match challenge {
        Challenge::Http01 => c
            .arg("--http")
            .arg("--http.port")
            .arg(format!("127.0.0.1:{}", stack.http01_port)),
        Challenge::TlsAlpn01 => c
            .arg("--tls")
            .arg("--tls.port")
            .arg(format!("127.0.0.1:{}", stack.tls_alpn_port)),
    };
    for d in domains {
        c.args(["--domains", d]);
    }
    c.args(command);
    let out = tools::run("lego", c, LEGO_LIMIT).await;
    let what = format!(
        "lego {command:?} for {domains:?}\n{}",
        tools::describe(&out)
    );
    (out, what)
}

/// lego's files for `domain` verify against the sandbox root and the leaf has exactly `names`;
/// returns the leaf.
async fn check_certificate(stack: &Stack, domain: &str, names: &[&str]) -> Vec<u8> {
    let dir = stack.path("lego/certificates");
    let crt = dir.join(format!("{domain}.crt"));
    let issuer = dir.join(format!("{domain}.issuer.crt"));
    let root = stack.root_pem().await;
    certs::assert_verifies(&root, &issuer, &crt);
    // lego bundles the issuer into <domain>.crt by default.
    certs::assert_leaf_then_intermediate(&crt);
    let leaf = certs::leaf(&crt);
    certs::assert_names(&leaf, names);
    leaf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lego_http01_run_then_renew() {
    let stack = Stack::start().await;
    let names = ["l1.example.test", "l2.example.test"];
    lego(&stack, &names, Challenge::Http01, &["run"]).await;
    let first = check_certificate(&stack, names[0], &names).await;
    assert_eq!(stack.enrollments().await, 1);
    assert_eq!(stack.valid_challenge_types().await, ["http-01", "http-01"]);
    assert_eq!(
        stack.account_key_types().await,
        ["EC"],
        "lego's default ec256 key"
    );

    // A 90-day certificate always has fewer than 9999 days left, so this renews now.
    let renew = ["renew", "--days", "9999", "--no-random-sleep"];
    lego(&stack, &names, Challenge::Http01, &renew).await;
    let second = check_certificate(&stack, names[0], &names).await;
    assert_ne!(
        certs::serial_hex(&first),
        certs::serial_hex(&second),
        "renewal stored a new certificate"
    );
    assert_eq!(stack.enrollments().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lego_tls_alpn01_run_with_rsa_keys() {
    let stack = Stack::start().await;
    let names = ["t.example.test"];
    // RSA for both the account key (RS256 JWS) and the certificate key (RSA CSR).
    let rsa = ["--key-type", "rsa2048"];
    lego_with(&stack, &names, Challenge::TlsAlpn01, &rsa, &["run"]).await;
    let leaf = check_certificate(&stack, names[0], &names).await;
    let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
    assert_eq!(
        cert.public_key().algorithm.algorithm,
        x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION,
        "the leaf carries lego's RSA key"
    );
    assert_eq!(stack.enrollments().await, 1);
    assert_eq!(stack.account_key_types().await, ["RSA"]);
    assert_eq!(stack.valid_challenge_types().await, ["tls-alpn-01"]);
}

/// Needs revokeCert in the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lego_revokes_with_account_key() {
    let stack = Stack::start().await;
    let names = ["lr.example.test"];
    lego(&stack, &names, Challenge::Http01, &["run"]).await;
    let leaf = check_certificate(&stack, names[0], &names).await;
    let serial = certs::serial_hex(&leaf);
    assert_eq!(stack.scm_status(&serial).await, "Issued");
    lego(
        &stack,
        &names,
        Challenge::Http01,
        &["revoke", "--reason", "4", "--keep"],
    )
    .await;
    stack.wait_scm_status(&serial, "Revoked").await;
}

/// CAA through the DNS server the bridge resolves with (pebble-challtestsrv): a name whose CAA
/// names another CA fails with a `caa` problem naming the record and nothing is enrolled; a record
/// naming Sectigo lets the same kind of order through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lego_is_refused_by_caa_and_allowed_by_a_sectigo_record() {
    let stack = Stack::start().await;
    let caa = |host: &str, value: &str| {
        let body =
            serde_json::json!({"host": host, "policies": [{"tag": "issue", "value": value}]});
        let req = stack
            .http
            .post(format!("{}/add-caa", stack.dns_mgmt))
            .json(&body);
        async move { assert!(req.send().await.unwrap().status().is_success()) }
    };
    caa("other-ca.example.test", "letsencrypt.org").await;
    let (out, what) = lego_output(
        &stack,
        &["www.other-ca.example.test"],
        Challenge::Http01,
        &[],
        &["run"],
    )
    .await;
    assert!(!out.status.success(), "{what}");
    assert!(what.contains("urn:ietf:params:acme:error:caa"), "{what}");
    assert!(
        what.contains("other-ca.example.test. CAA 0 issue") && what.contains("letsencrypt.org"),
        "names the record: {what}"
    );
    assert_eq!(stack.enrollments().await, 0);

    caa("sectigo-ok.example.test", "sectigo.com").await;
    let names = ["www.sectigo-ok.example.test"];
    lego(&stack, &names, Challenge::Http01, &["run"]).await;
    check_certificate(&stack, names[0], &names).await;
    assert_eq!(stack.enrollments().await, 1);
}
