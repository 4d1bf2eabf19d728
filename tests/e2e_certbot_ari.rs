//! certbot (PyPI, 5.x: it reads renewalInfo during `certbot renew`) against the bridge as separate
//! processes: a certificate an SCM administrator revokes is found by the status sweep, its
//! renewalInfo window moves to the past, and the next plain `certbot renew` replaces it — while a
//! `renew` before the revocation leaves it alone.
//!
//! certbot 5.8.0 does not send `replaces` in newOrder (its acme library has no such field), so
//! this test checks that the renewal was driven by ARI; `replaces` and its link in SCM's comments
//! are covered with instant-acme in `tests/instant_acme_client.rs` and with the project's own
//! client in `tests/acme_ari.rs`.

mod support;

use acme_sectigo_bridge::acme::ari::CertId;
use std::time::{Duration, Instant};
use support::e2e::{certs, tools, Stack};

const CERTBOT_LIMIT: Duration = Duration::from_secs(90);

async fn certbot(stack: &Stack, args: &[&str]) -> (bool, String) {
    let port = stack.http01_port.to_string();
    let mut c = tools::certbot();
    c.args(args)
        .args(["--server", &stack.directory()])
        .arg("--config-dir")
        .arg(stack.path("certbot/config"))
        .arg("--work-dir")
        .arg(stack.path("certbot/work"))
        .arg("--logs-dir")
        .arg(stack.path("certbot/logs"))
        .args(["--non-interactive", "--agree-tos", "-m", "ops@example.test"])
        // `=`: a base64url HMAC may start with `-`, which argparse would take for an option.
        .args(["--eab-kid", &stack.eab_kid])
        .arg(format!("--eab-hmac-key={}", stack.eab_hmac))
        .args(["--standalone", "--preferred-challenges", "http"])
        .args(["--http-01-port", &port, "--http-01-address", "127.0.0.1"]);
    let out = tools::run("certbot", c, CERTBOT_LIMIT).await;
    let log =
        std::fs::read_to_string(stack.path("certbot/logs/letsencrypt.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(80).collect::<Vec<_>>();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    (
        out.status.success(),
        format!(
            "certbot {args:?}\n{}\n--- letsencrypt.log (last lines) ---\n{}\n--- bridge ---\n{}",
            tools::describe(&out),
            tail.join("\n"),
            stack.bridge_log()
        ),
    )
}

/// The leaf certbot installed for lineage `ari`.
fn installed_leaf(stack: &Stack) -> Vec<u8> {
    certs::leaf(&stack.path("certbot/config/live/ari/cert.pem"))
}

/// The sandbox's sslId of the certificate with this serial.
async fn ssl_id(stack: &Stack, serial_hex: &str) -> i64 {
    let rows: Vec<serde_json::Value> = stack
        .http
        .get(format!(
            "{}/api/ssl/v1?serialNumber={serial_hex}",
            stack.sandbox
        ))
        .header("customerUri", "demo")
        .header("login", "demo")
        .header("password", "demo")
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("SCM list")
        .json()
        .await
        .expect("SCM list JSON");
    rows[0]["sslId"].as_i64().expect("sslId")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_renews_a_certificate_revoked_in_scm_at_its_next_renew() {
    let stack = Stack::start_with(&[
        // The sweep reads SCM statuses quickly here (production default: 600 per hour).
        ("BRIDGE_ISSUANCE__STATUS_SWEEP_CALLS_PER_HOUR", "36000"),
        ("BRIDGE_ISSUANCE__STATUS_SWEEP_INTERVAL_SECS", "1"),
        // certbot asks again after Retry-After; keep the test short (production default: 6 h).
        ("BRIDGE_ACME__ARI_RETRY_AFTER_SECS", "1"),
    ])
    .await;
    let (ok, what) = certbot(
        &stack,
        &["certonly", "--cert-name", "ari", "-d", "ari.example.test"],
    )
    .await;
    assert!(ok, "{what}");
    let first = installed_leaf(&stack);
    assert_eq!(stack.enrollments().await, 1);

    // Not due: the window lies in the last third of the validity.
    let (ok, what) = certbot(&stack, &["renew", "--no-random-sleep-on-renew"]).await;
    assert!(ok, "{what}");
    assert!(what.contains("not yet due"), "{what}");
    assert_eq!(stack.enrollments().await, 1, "nothing renewed: {what}");

    // An SCM administrator revokes it; the bridge's sweep notices.
    let serial = certs::serial_hex(&first);
    let id = ssl_id(&stack, &serial).await;
    stack
        .http
        .post(format!("{}/__sandbox/revoke/{id}", stack.sandbox))
        .json(&serde_json::json!({"reason_code": 1, "reason": "key compromise"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("sandbox admin revocation");
    let cert_id = CertId::of_der(&first).unwrap().encode();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v: serde_json::Value = stack
            .http
            .get(format!("{}/acme/renewal-info/{cert_id}", stack.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let end = v["suggestedWindow"]["end"].as_str().unwrap_or_default();
        let end = chrono::DateTime::parse_from_rfc3339(end).expect("window end");
        if end < chrono::Utc::now() {
            break;
        }
        assert!(Instant::now() < deadline, "window never moved: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // certbot waits for the Retry-After of its last renewalInfo read (1 s here).
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // A plain `renew` (no --force-renewal) now replaces it.
    let (ok, what) = certbot(&stack, &["renew", "--no-random-sleep-on-renew"]).await;
    assert!(ok, "{what}");
    assert_eq!(stack.enrollments().await, 2, "renewed once: {what}");
    // Because of renewalInfo: certbot read it, and OCSP (which it also consults) played no part.
    let log = std::fs::read_to_string(stack.path("certbot/logs/letsencrypt.log")).unwrap();
    assert!(
        log.contains(&format!("/acme/renewal-info/{cert_id}")),
        "{what}"
    );
    assert!(!log.contains("certificate is revoked"), "{what}");
    let second = installed_leaf(&stack);
    assert_ne!(
        certs::serial_hex(&second),
        serial,
        "a new certificate was installed"
    );
    let dir = stack.path("certbot/config/live/ari");
    certs::assert_verifies(
        &stack.root_pem().await,
        &dir.join("chain.pem"),
        &dir.join("cert.pem"),
    );
    certs::assert_names(&second, &["ari.example.test"]);
    assert_eq!(
        stack.scm_status(&certs::serial_hex(&second)).await,
        "Issued"
    );
}
