//! ACME Renewal Information (RFC 9773) against the SCM sandbox: the renewalInfo resource and its
//! errors, `replaces` in newOrder (checked, claimed once, echoed, linked in SCM's comments), the
//! window moving to the past when SCM reports a certificate revoked/replaced or the bridge revoked
//! it, and the operator's `certs renew-now`.

mod support;

use acme_sectigo_bridge::acme::ari::CertId;
use acme_sectigo_bridge::sandbox::{Mark, SandboxConfig};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::time::Instant;
use support::client::{b64, reply, Client, Reply};
use support::flow::{csr, finalize, Env};
use x509_parser::prelude::{FromDer, X509Certificate};

const FIRST_SSL_ID: i64 = 4300000001;

/// Issues a certificate for `ips` (optionally with newOrder's `replaces`); returns its leaf DER
/// and the order.
async fn issue(
    env: &Env,
    c: &Client<'_>,
    ips: &[&str],
    replaces: Option<&str>,
) -> (Vec<u8>, Value) {
    let ids: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"type": "ip", "value": ip}))
        .collect();
    let mut payload = json!({ "identifiers": ids });
    if let Some(r) = replaces {
        payload["replaces"] = json!(r);
    }
    let (_, order) = env.ready_order_with(c, &payload).await;
    let (der, _) = csr(ips, None);
    let r = finalize(c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let chain = c.post(r.body["certificate"].as_str().unwrap(), None).await;
    let leaf = acme_sectigo_bridge::scm::certificates_in(chain.body.as_str().unwrap().as_bytes())
        .unwrap()
        .remove(0);
    (leaf, r.body)
}

fn cert_id(leaf: &[u8]) -> String {
    CertId::of_der(leaf)
        .expect("the sandbox's leaves carry an AKI")
        .encode()
}

async fn renewal_info(env: &Env, id: &str) -> Reply {
    let r = env
        .app
        .http
        .get(env.app.url(&format!("/acme/renewal-info/{id}")))
        .send()
        .await
        .unwrap();
    reply(r).await
}

fn window(r: &Reply) -> (DateTime<Utc>, DateTime<Utc>) {
    let w = &r.body["suggestedWindow"];
    let t = |k: &str| {
        DateTime::parse_from_rfc3339(w[k].as_str().unwrap_or_else(|| panic!("{r:?}")))
            .unwrap()
            .with_timezone(&Utc)
    };
    (t("start"), t("end"))
}

fn validity(leaf: &[u8]) -> (DateTime<Utc>, DateTime<Utc>) {
    let (_, x) = X509Certificate::from_der(leaf).unwrap();
    let t = |a: i64| DateTime::from_timestamp(a, 0).unwrap();
    (
        t(x.validity().not_before.timestamp()),
        t(x.validity().not_after.timestamp()),
    )
}

async fn new_order(c: &Client<'_>, env: &Env, ips: &[&str], replaces: &str) -> Reply {
    let ids: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"type": "ip", "value": ip}))
        .collect();
    c.post(
        &env.app.url("/acme/new-order"),
        Some(&json!({"identifiers": ids, "replaces": replaces})),
    )
    .await
}

/// Polls renewalInfo until its window ends before now (the sweep marked the certificate).
async fn wait_renew_now(env: &Env, id: &str) -> Reply {
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = renewal_info(env, id).await;
        assert_eq!(r.status, 200, "{r:?}");
        if window(&r).1 < Utc::now() {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "the window stayed in the future: {r:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_info_answers_the_window_and_each_error() {
    let env = Env::start().await;
    let c = env.client().await;
    let (leaf, _) = issue(&env, &c, &["127.0.0.1"], None).await;

    let dir = reply(
        env.app
            .http
            .get(env.app.url("/directory"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(dir.body["renewalInfo"], env.app.url("/acme/renewal-info"));

    // An unauthenticated GET (RFC 9773 §4.1), with Retry-After.
    let id = cert_id(&leaf);
    let r = renewal_info(&env, &id).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("retry-after"), Some("21600"));
    assert!(
        r.body.get("explanationURL").is_none(),
        "none configured: {r:?}"
    );
    let (start, end) = window(&r);
    let (nb, na) = validity(&leaf);
    let life = (na - nb).num_seconds();
    // The default window: from 67 % to 90 % of the validity (the last third, with a margin).
    assert_eq!(start, nb + Duration::seconds(life * 67 / 100));
    assert_eq!(end, nb + Duration::seconds(life * 90 / 100));
    assert!(Utc::now() < start && start < end && end < na);

    // Not a certID: 400 malformed.
    for bad in ["abc", "abc.", ".abc", "a.b.c", "YWJj=.AQ", "not*base64.AQ"] {
        let r = renewal_info(&env, bad).await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert_eq!(r.problem_type(), "malformed", "{bad}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    // A well-formed certID of a certificate the bridge did not issue: 404 with a problem document.
    let mut unknown = CertId::parse(&id).unwrap();
    unknown.serial = vec![0x01, 0x02, 0x03];
    let r = renewal_info(&env, &unknown.encode()).await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    // Right serial, another issuer key: not ours either.
    let mut other_issuer = CertId::parse(&id).unwrap();
    other_issuer.key_id = vec![7; 20];
    assert_eq!(renewal_info(&env, &other_issuer.encode()).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaces_is_checked_claimed_once_echoed_and_linked_in_scm() {
    let env = Env::start().await;
    let c = env.client().await;
    let (leaf, _) = issue(&env, &c, &["127.0.0.1"], None).await;
    let id = cert_id(&leaf);

    // Another account may not replace it.
    let other = env.client().await;
    let r = new_order(&other, &env, &["127.0.0.1"], &id).await;
    assert_eq!((r.status, r.problem_type()), (403, "unauthorized"), "{r:?}");
    // Not a certID, not ours, no shared identifier: refused.
    let r = new_order(&c, &env, &["127.0.0.1"], "nonsense").await;
    assert_eq!((r.status, r.problem_type()), (400, "malformed"), "{r:?}");
    let mut unknown = CertId::parse(&id).unwrap();
    unknown.serial = vec![0x42];
    let r = new_order(&c, &env, &["127.0.0.1"], &unknown.encode()).await;
    assert_eq!((r.status, r.problem_type()), (400, "malformed"), "{r:?}");
    let r = new_order(&c, &env, &["127.0.0.2"], &id).await;
    assert_eq!((r.status, r.problem_type()), (400, "malformed"), "{r:?}");
    assert!(r.body["detail"].as_str().unwrap().contains("no identifier"));

    // Accepted: the order echoes it, on creation and when read again.
    let r = new_order(&c, &env, &["127.0.0.1"], &id).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["replaces"], id.as_str());
    let order_url = r.location().unwrap().to_string();
    assert_eq!(c.post(&order_url, None).await.body["replaces"], id.as_str());
    // The same request again is the same order, not a different one replacing it.
    let again = new_order(&c, &env, &["127.0.0.1"], &id).await;
    assert_eq!(again.location(), Some(order_url.as_str()), "{again:?}");
    // A different order may not replace it too: 409 alreadyReplaced.
    let r = new_order(&c, &env, &["127.0.0.1", "127.0.0.2"], &id).await;
    assert_eq!(
        (r.status, r.problem_type()),
        (409, "alreadyReplaced"),
        "{r:?}"
    );
    assert!(
        r.body["detail"].as_str().unwrap().contains(&order_url),
        "{r:?}"
    );

    // Issued: SCM's comments keep the order's marker and name the sslId it replaces.
    let order = c.post(&order_url, None).await.body;
    assert_eq!(order["status"], "ready", "authorization reused: {order}");
    let (der, _) = csr(&["127.0.0.1"], None);
    let done = finalize(&c, &order, &der).await;
    assert_eq!(done.body["status"], "valid", "{done:?}");
    let scm = acme_sectigo_bridge::scm::ScmClient::new(&env.sandbox.scm_config()).unwrap();
    let details = scm.details(FIRST_SSL_ID + 1).await.unwrap();
    let comments = details.comments.unwrap_or_default();
    let order_id = order_url.rsplit('/').next().unwrap();
    assert_eq!(
        comments,
        format!("acme-sectigo-bridge order {order_id}; replaces sslId {FIRST_SSL_ID}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_replacing_order_no_longer_holds_the_certificate() {
    let env = Env::start().await;
    let c = env.client().await;
    let (leaf, _) = issue(&env, &c, &["127.0.0.1"], None).await;
    let id = cert_id(&leaf);
    let first = new_order(&c, &env, &["127.0.0.1"], &id).await;
    assert_eq!(first.status, 201, "{first:?}");
    let first_id = first.location().unwrap().rsplit('/').next().unwrap();
    // The first replacing order fails (RFC 9773 §5: only an order that is not invalid counts).
    env.app
        .store
        .abandon_order(
            first_id,
            &json!({"type": "urn:ietf:params:acme:error:serverInternal"}),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let second = new_order(&c, &env, &["127.0.0.1", "127.0.0.2"], &id).await;
    assert_eq!(second.status, 201, "{second:?}");
    assert_eq!(second.body["replaces"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scm_side_revocation_and_replacement_and_our_revocation_mean_renew_now() {
    let env = Env::start_with(SandboxConfig::default(), |c| {
        c.issuance.status_sweep_calls_per_hour = 36_000;
        c.issuance.status_sweep_interval_secs = 1;
        c.acme.ari_explanation_url = Some("https://ops.example.test/ari".parse().unwrap());
    })
    .await;
    let c = env.client().await;
    let (a, _) = issue(&env, &c, &["127.0.0.1"], None).await;
    let (b, _) = issue(&env, &c, &["127.0.0.1"], None).await;
    let (d, _) = issue(&env, &c, &["127.0.0.1"], None).await;
    for leaf in [&a, &b, &d] {
        let r = renewal_info(&env, &cert_id(leaf)).await;
        assert!(window(&r).0 > Utc::now(), "{r:?}");
        assert_eq!(r.body["explanationURL"], "https://ops.example.test/ari");
    }

    // An SCM administrator revokes one and replaces another behind the bridge's back.
    env.sandbox
        .revoke_as_admin(FIRST_SSL_ID, 1, "key compromise")
        .unwrap();
    env.sandbox.mark(FIRST_SSL_ID + 1, Mark::Replaced).unwrap();
    let r = wait_renew_now(&env, &cert_id(&a)).await;
    let (start, end) = window(&r);
    assert!(start < end, "RFC 9773 §4.2: start before end");
    assert_eq!(
        r.body["explanationURL"],
        "https://ops.example.test/ari?reason=scm-revoked"
    );
    let r = wait_renew_now(&env, &cert_id(&b)).await;
    assert_eq!(
        r.body["explanationURL"],
        "https://ops.example.test/ari?reason=scm-replaced"
    );
    // The third, still Issued in SCM, keeps its window.
    let r = renewal_info(&env, &cert_id(&d)).await;
    assert!(window(&r).0 > Utc::now(), "{r:?}");

    // Revoked through the bridge: renew now as well.
    let rv = c
        .post(
            &env.app.url("/acme/revoke-cert"),
            Some(&json!({"certificate": b64(&d)})),
        )
        .await;
    assert_eq!(rv.status, 200, "{rv:?}");
    let r = renewal_info(&env, &cert_id(&d)).await;
    assert!(window(&r).1 < Utc::now(), "{r:?}");
    assert_eq!(
        r.body["explanationURL"],
        "https://ops.example.test/ari?reason=revoked"
    );
}

/// Runs the bridge binary's `certs renew-now` on the test's database.
async fn renew_now(env: &Env, args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_acme-sectigo-bridge"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BRIDGE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("BRIDGE_DATABASE__URL", &env.app.db.url)
        .env("RUST_LOG", "warn")
        .args(["certs", "renew-now"])
        .args(args);
    cmd.output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_now_marks_what_the_operator_selects() {
    let env = Env::start().await;
    let c = env.client().await;
    let (one, _) = issue(&env, &c, &["127.0.0.1"], None).await;
    let (two, _) = issue(&env, &c, &["127.0.0.2"], None).await;

    let out = renew_now(&env, &[]).await;
    assert!(!out.status.success(), "no filter and no --all is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--all"));

    let kid: String = sqlx::query_scalar("SELECT eab_kid FROM accounts LIMIT 1")
        .fetch_one(&mut env.app.db.connect().await)
        .await
        .unwrap();
    let selected = |out: &std::process::Output| -> Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = selected(&renew_now(&env, &["--name", "127.0.0.2", "--dry-run", "--json"]).await);
    assert_eq!(
        (v["selected"].as_u64(), v["marked"].as_u64()),
        (Some(1), Some(0))
    );
    let v = selected(&renew_now(&env, &["--eab-kid", "kid-nobody", "--json"]).await);
    assert_eq!(v["selected"], 0);
    let v = selected(&renew_now(&env, &["--profile", "ov", "--json"]).await);
    assert_eq!(v["selected"], 0, "no certificate has a profile here");
    assert!(window(&renewal_info(&env, &cert_id(&two)).await).0 > Utc::now());

    // The serial as an operator copies it from a certificate viewer: upper case with colons.
    let (_, x) = X509Certificate::from_der(&two).unwrap();
    let serial = x.raw_serial_as_string().to_uppercase();
    let v = selected(
        &renew_now(
            &env,
            &[
                "--serial",
                &serial,
                "--eab-kid",
                &kid,
                "--reason",
                "ca-incident",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(
        (v["selected"].as_u64(), v["marked"].as_u64()),
        (Some(1), Some(1))
    );
    let r = renewal_info(&env, &cert_id(&two)).await;
    assert!(window(&r).1 < Utc::now(), "{r:?}");
    let r = renewal_info(&env, &cert_id(&one)).await;
    assert!(
        window(&r).0 > Utc::now(),
        "the other certificate is untouched: {r:?}"
    );

    // --all marks the rest; a marked certificate is not selected again.
    let v = selected(&renew_now(&env, &["--all", "--json"]).await);
    assert_eq!(
        (v["selected"].as_u64(), v["marked"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(window(&renewal_info(&env, &cert_id(&one)).await).1 < Utc::now());
}
