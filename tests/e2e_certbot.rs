//! certbot (PyPI) against the bridge as separate processes: http-01 (standalone), dns-01 with manual
//! hooks feeding pebble-challtestsrv (wildcard included), renewal, revocation.
//!
//! The revocation tests (`certbot_revokes_*`) need the bridge's revokeCert.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::e2e::{certs, tools, Stack};

/// Longest a single certbot run may take (issuance normally needs a few seconds).
const CERTBOT_LIMIT: Duration = Duration::from_secs(90);

/// certbot with its directories in the test's temp dir, pointed at the bridge, non-interactive.
fn certbot(stack: &Stack, args: &[&str]) -> tokio::process::Command {
    let mut c = tools::certbot();
    c.args(args)
        .arg("--server")
        .arg(stack.directory())
        .arg("--config-dir")
        .arg(stack.path("certbot/config"))
        .arg("--work-dir")
        .arg(stack.path("certbot/work"))
        .arg("--logs-dir")
        .arg(stack.path("certbot/logs"))
        .args(["--non-interactive", "--agree-tos", "-m", "ops@example.test"])
        // `=`: a base64url HMAC may start with `-`, which argparse would take for an option.
        .args(["--eab-kid", &stack.eab_kid])
        .arg(format!("--eab-hmac-key={}", stack.eab_hmac));
    c
}

/// Runs certbot; returns whether it succeeded and a description (output plus certbot's debug log).
async fn run(stack: &Stack, args: &[&str]) -> (bool, String) {
    let out = tools::run("certbot", certbot(stack, args), CERTBOT_LIMIT).await;
    let log =
        std::fs::read_to_string(stack.path("certbot/logs/letsencrypt.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(120).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    (
        out.status.success(),
        format!(
            "certbot {args:?}\n{}\n--- letsencrypt.log (last lines) ---\n{}",
            tools::describe(&out),
            tail.join("\n")
        ),
    )
}

/// Runs certbot and panics with its output and log unless it succeeded.
async fn run_ok(stack: &Stack, args: &[&str]) {
    let (ok, what) = run(stack, args).await;
    assert!(ok, "{what}");
}

/// `live/<name>/` of a lineage.
fn live(stack: &Stack, name: &str) -> PathBuf {
    stack.path(&format!("certbot/config/live/{name}"))
}

/// The lineage verifies against the sandbox root and its leaf has exactly `names`; returns the leaf.
async fn check_lineage(stack: &Stack, name: &str, names: &[&str]) -> Vec<u8> {
    let dir = live(stack, name);
    let root = stack.root_pem().await;
    certs::assert_verifies(&root, &dir.join("chain.pem"), &dir.join("cert.pem"));
    certs::assert_leaf_then_intermediate(&dir.join("fullchain.pem"));
    let leaf = certs::leaf(&dir.join("cert.pem"));
    certs::assert_names(&leaf, names);
    leaf
}

/// certonly with the standalone http-01 server on the port the bridge validates against.
async fn certonly_http01(stack: &Stack, cert_name: &str, names: &[&str]) {
    let port = stack.http01_port.to_string();
    let mut args = vec![
        "certonly",
        "--standalone",
        "--preferred-challenges",
        "http",
        "--http-01-port",
        &port,
        "--http-01-address",
        "127.0.0.1",
        "--cert-name",
        cert_name,
    ];
    for n in names {
        args.extend(["-d", n]);
    }
    run_ok(stack, &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_http01_issues_two_names_then_force_renews() {
    let stack = Stack::start().await;
    let names = ["a.example.test", "b.example.test"];
    certonly_http01(&stack, "ab", &names).await;
    let first = check_lineage(&stack, "ab", &names).await;
    assert_eq!(stack.enrollments().await, 1, "one SCM enrollment per order");
    assert_eq!(stack.valid_challenge_types().await, ["http-01", "http-01"]);
    assert_eq!(
        stack.account_key_types().await,
        ["RSA"],
        "certbot's account key"
    );

    let port = stack.http01_port.to_string();
    run_ok(
        &stack,
        &[
            "renew",
            "--force-renewal",
            "--no-random-sleep-on-renew",
            "--cert-name",
            "ab",
            "--http-01-port",
            &port,
            "--http-01-address",
            "127.0.0.1",
        ],
    )
    .await;
    let second = check_lineage(&stack, "ab", &names).await;
    assert_ne!(
        certs::serial_hex(&first),
        certs::serial_hex(&second),
        "renewal installed a new certificate"
    );
    assert_eq!(stack.enrollments().await, 2, "renewal enrolled once more");
}

/// Hook script for certbot's manual plugin: publishes/removes the TXT record through challtestsrv's
/// management API and records each call in `hooks.log`.
const DNS_HOOK: &str = r#"
import json, os, sys, urllib.request
action, mgmt, record = sys.argv[1], sys.argv[2], sys.argv[3]
host = "_acme-challenge." + os.environ["CERTBOT_DOMAIN"] + "."
body = {"host": host}
if action == "set":
    body["value"] = os.environ["CERTBOT_VALIDATION"]
req = urllib.request.Request(mgmt + "/" + action + "-txt", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req, timeout=10).read()
with open(record, "a") as f:
    f.write(action + " " + os.environ["CERTBOT_DOMAIN"] + "\n")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_dns01_wildcard_with_manual_hooks() {
    let stack = Stack::start().await;
    let hook = stack.path("dns_hook.py");
    std::fs::write(&hook, DNS_HOOK).unwrap();
    let record = stack.path("hooks.log");
    let hook_cmd = |action: &str| {
        format!(
            "python3 {} {action} {} {}",
            hook.display(),
            stack.dns_mgmt,
            record.display()
        )
    };
    let (auth, cleanup) = (hook_cmd("set"), hook_cmd("clear"));
    let names = ["*.w.example.test", "c.example.test"];
    run_ok(
        &stack,
        &[
            "certonly",
            "--manual",
            "--preferred-challenges",
            "dns",
            "--manual-auth-hook",
            &auth,
            "--manual-cleanup-hook",
            &cleanup,
            "--cert-name",
            "wild",
            "-d",
            names[0],
            "-d",
            names[1],
        ],
    )
    .await;
    check_lineage(&stack, "wild", &names).await;
    assert_eq!(stack.enrollments().await, 1);
    assert_eq!(stack.valid_challenge_types().await, ["dns-01", "dns-01"]);

    let mut calls: Vec<String> = std::fs::read_to_string(&record)
        .expect("the hooks ran")
        .lines()
        .map(str::to_string)
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            "clear c.example.test",
            "clear w.example.test",
            "set c.example.test",
            "set w.example.test"
        ],
        "each name was published and cleaned up once"
    );
}

/// Issues a one-name certificate over http-01 and returns (cert.pem, privkey.pem, serial hex).
async fn issue_one(stack: &Stack, name: &str) -> (PathBuf, PathBuf, String) {
    certonly_http01(stack, "r", &[name]).await;
    let leaf = check_lineage(stack, "r", &[name]).await;
    let serial = certs::serial_hex(&leaf);
    assert_eq!(stack.scm_status(&serial).await, "Issued");
    let dir = live(stack, "r");
    (dir.join("cert.pem"), dir.join("privkey.pem"), serial)
}

/// Revoking again must fail: the certificate is already revoked.
async fn assert_second_revoke_fails(stack: &Stack, cert: &Path) {
    let cert = cert.to_str().unwrap();
    let (ok, what) = run(
        stack,
        &["revoke", "--cert-path", cert, "--no-delete-after-revoke"],
    )
    .await;
    assert!(!ok, "a second revocation succeeded: {what}");
    assert!(what.contains("alreadyRevoked"), "{what}");
}

/// Needs revokeCert in the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_revokes_with_account_key() {
    let stack = Stack::start().await;
    let (cert, _key, serial) = issue_one(&stack, "r1.example.test").await;
    run_ok(
        &stack,
        &[
            "revoke",
            "--cert-path",
            cert.to_str().unwrap(),
            "--reason",
            "superseded",
            "--no-delete-after-revoke",
        ],
    )
    .await;
    stack.wait_scm_status(&serial, "Revoked").await;
    assert_second_revoke_fails(&stack, &cert).await;
}

/// Needs revokeCert in the bridge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_revokes_with_certificate_key() {
    let stack = Stack::start().await;
    let (cert, key, serial) = issue_one(&stack, "r2.example.test").await;
    // --key-path makes certbot sign the request with the certificate's key (a JWS with `jwk`), not
    // with the account key.
    run_ok(
        &stack,
        &[
            "revoke",
            "--cert-path",
            cert.to_str().unwrap(),
            "--key-path",
            key.to_str().unwrap(),
            "--no-delete-after-revoke",
        ],
    )
    .await;
    stack.wait_scm_status(&serial, "Revoked").await;
    assert_second_revoke_fails(&stack, &cert).await;
}
