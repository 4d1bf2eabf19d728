//! The admin API (#15) over real HTTP on the admin listener: every endpoint refuses a missing or
//! wrong token; EAB keys, accounts, orders, issuances, certificates (revoked through the SCM
//! sandbox), the audit trail and the summary answer what the store holds; lists page.

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use support::admin::{AdminEnv, ALICE, BOB};
use support::client::Client;
use support::flow::{csr, finalize};

/// Every endpoint, with its method.
const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/summary"),
    ("GET", "/eab-keys"),
    ("POST", "/eab-keys"),
    ("POST", "/eab-keys/kid-x/revoke"),
    ("POST", "/eab-keys/kid-x/rotate"),
    ("GET", "/accounts"),
    ("POST", "/accounts/x/deactivate"),
    ("GET", "/orders"),
    ("GET", "/orders/x"),
    ("GET", "/issuances"),
    ("GET", "/certificates"),
    ("GET", "/certificates/x"),
    ("GET", "/certificates/x/pem"),
    ("POST", "/certificates/x/revoke"),
    ("GET", "/audit"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_a_missing_or_wrong_token() {
    let a = AdminEnv::start().await;
    for (method, path) in ENDPOINTS {
        for token in [None, Some("not-a-token-at-all-0000"), Some("")] {
            let (status, body) = match *method {
                "GET" => a.get(token, path).await,
                _ => a.post(token, path, Some(&json!({"label": "x"}))).await,
            };
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert_eq!(body["status"], 401);
        }
    }
    // A refused request changed nothing.
    assert_eq!(a.env.app.db.count("eab_keys").await, 0);
    // /metrics stays open on the same listener (Prometheus scrapes it without a token).
    let r = a
        .http
        .get(format!("{}/metrics", a.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The console's pages send a browser to the login form.
    let r = a
        .http
        .get(format!("{}/admin/", a.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_creates_a_key_and_revokes_the_certificate_it_got() {
    let a = AdminEnv::start().await;
    // Create an EAB key: its HMAC key is in this answer only.
    let (status, key) = a
        .post(
            Some(ALICE),
            "/eab-keys",
            Some(&json!({"label": "team-web", "allowed_patterns": ["127.0.0.0/8"]})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let kid = key["kid"].as_str().unwrap().to_string();
    let hmac = URL_SAFE_NO_PAD
        .decode(key["hmac_key"].as_str().unwrap())
        .unwrap();
    assert!(key["certbot"].as_str().unwrap().contains(&kid));
    assert!(key["cert_manager"]
        .as_str()
        .unwrap()
        .contains("externalAccountBinding"));
    let (_, list) = a.get(Some(ALICE), "/eab-keys").await;
    assert_eq!(list["items"][0]["kid"], kid.as_str());
    assert!(list["items"][0].get("hmac_key").is_none(), "{list}");
    let (status, bad) = a
        .post(
            Some(ALICE),
            "/eab-keys",
            Some(&json!({"label": "x", "allowed_patterns": ["*.*bad"]})),
        )
        .await;
    assert_eq!(status, 400, "{bad}");

    // A client registers with it and gets a certificate through SCM.
    let mut c = Client::new(&a.env.app);
    assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);
    let (_, order) = a.env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");

    // Accounts of the key, orders by EAB label and name, the order in detail.
    let (_, accounts) = a
        .get(Some(ALICE), &format!("/accounts?eab_kid={kid}"))
        .await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 1, "{accounts}");
    let account_id = accounts["items"][0]["id"].as_str().unwrap().to_string();
    let (_, orders) = a
        .get(Some(ALICE), "/orders?eab_label=team-web&status=valid")
        .await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "{orders}");
    let order_id = orders["items"][0]["id"].as_str().unwrap().to_string();
    let (_, none) = a.get(Some(ALICE), "/orders?eab_label=other-team").await;
    assert_eq!(none["items"], json!([]));
    let (_, by_name) = a.get(Some(ALICE), "/orders?name=127.0.0.1").await;
    assert_eq!(by_name["items"][0]["id"], order_id.as_str());
    let (_, detail) = a.get(Some(ALICE), &format!("/orders/{order_id}")).await;
    assert_eq!(detail["status"], "valid");
    let ssl_id = detail["scm"]["ssl_id"].as_i64().expect("sslId recorded");
    let challenges = detail["authorizations"][0]["challenges"]
        .as_array()
        .unwrap();
    assert!(
        challenges
            .iter()
            .any(|ch| ch["status"] == "valid" && !ch["validation_record"].is_null()),
        "{detail}"
    );
    assert_eq!(a.get(Some(ALICE), "/orders/nope").await.0, 404);
    let (_, waiting) = a.get(Some(ALICE), "/issuances").await;
    assert_eq!(waiting["items"], json!([]), "nothing waits on SCM any more");

    // The certificate: by name, by serial, expiring within a year, downloadable.
    let (_, certs) = a.get(Some(ALICE), "/certificates?name=127.0.0.1").await;
    let cert = certs["items"][0].clone();
    let (cert_id, serial) = (
        cert["id"].as_str().unwrap(),
        cert["serial"].as_str().unwrap(),
    );
    assert_eq!(cert["ssl_id"].as_i64(), Some(ssl_id));
    let (_, by_serial) = a
        .get(
            Some(ALICE),
            &format!("/certificates?serial={}", serial.to_uppercase()),
        )
        .await;
    assert_eq!(by_serial["items"][0]["id"], cert_id);
    let soon = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    let window = format!("/certificates?expires_before={}", urlencode(&soon));
    assert_eq!(
        a.get(Some(ALICE), &window).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let window = format!("/certificates?expires_before={}", urlencode(&past));
    assert_eq!(a.get(Some(ALICE), &window).await.1["items"], json!([]));
    let pem = a
        .http
        .get(format!("{}/admin/api/certificates/{cert_id}/pem", a.admin))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pem.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    assert!(pem
        .text()
        .await
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    // Revoke through SCM, as bob: a reason SCM does not take is refused first.
    let path = format!("/certificates/{cert_id}/revoke");
    assert_eq!(
        a.post(Some(BOB), &path, Some(&json!({"reason": 2})))
            .await
            .0,
        400
    );
    let (status, body) = a.post(Some(BOB), &path, Some(&json!({"reason": 4}))).await;
    assert_eq!(status, 202, "{body}");
    let revoked = wait_revoked(&a, cert_id).await;
    assert_eq!(revoked["revocation_reason"], 4);
    assert_eq!(a.env.sandbox.status(ssl_id).as_deref(), Some("Revoked"));
    assert_eq!(
        a.post(Some(BOB), &path, None).await.0,
        409,
        "already revoked"
    );
    assert_eq!(
        a.post(Some(BOB), "/certificates/nope/revoke", None).await.0,
        404
    );

    // The trail says who did what.
    let (_, trail) = a.get(Some(ALICE), &format!("/audit?serial={serial}")).await;
    let kinds: Vec<(&str, &str)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("scm.issued", "system"),
            ("certificate.revocation_requested", "operator:bob"),
            ("certificate.revoked", "system"),
        ]
    );
    let (_, by_label) = a.get(Some(ALICE), "/audit?eab_label=team-web").await;
    let first = &by_label["items"][0];
    assert_eq!(
        (first["kind"].as_str(), first["actor"].as_str()),
        (Some("eab.created"), Some("operator:alice"))
    );

    // Rotate the HMAC, revoke the key, deactivate the account.
    let (status, rotated) = a
        .post(Some(ALICE), &format!("/eab-keys/{kid}/rotate"), None)
        .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["hmac_key"], key["hmac_key"]);
    let (status, revoked_key) = a
        .post(Some(ALICE), &format!("/eab-keys/{kid}/revoke"), None)
        .await;
    assert_eq!(status, 200);
    assert!(revoked_key["revoked_at"].is_string());
    assert_eq!(
        a.post(Some(ALICE), &format!("/eab-keys/{kid}/rotate"), None)
            .await
            .0,
        409
    );
    assert_eq!(
        a.post(Some(ALICE), "/eab-keys/kid-nope/revoke", None)
            .await
            .0,
        404
    );
    let (status, acct) = a
        .post(
            Some(ALICE),
            &format!("/accounts/{account_id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(
        (status, acct["status"].as_str()),
        (200, Some("deactivated"))
    );
    assert_eq!(
        a.post(Some(ALICE), "/accounts/nope/deactivate", None)
            .await
            .0,
        404
    );

    // The summary counts it all.
    let (_, summary) = a.get(Some(ALICE), "/summary").await;
    assert_eq!(summary["certificates_revoked"], 1, "{summary}");
    assert_eq!(summary["certificates_valid"], 0);
    assert_eq!(summary["issued_per_day"][13], 1);
    assert!(summary["scm_last_hour"]
        .as_array()
        .unwrap()
        .contains(&json!(["scm.issued", 1])));
    assert!(summary["scm_calls_since_start"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["operation"] == "ssl.enroll"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_limit_and_offset_and_the_trail_with_after() {
    let a = AdminEnv::start().await;
    for i in 0..5 {
        let (status, _) = a
            .post(
                Some(ALICE),
                "/eab-keys",
                Some(&json!({"label": format!("k{i}")})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let mut labels = Vec::new();
    let mut offset = Some(0);
    let mut pages = 0;
    while let Some(o) = offset {
        let (_, page) = a
            .get(Some(ALICE), &format!("/eab-keys?limit=2&offset={o}"))
            .await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        labels.extend(
            items
                .iter()
                .map(|k| k["label"].as_str().unwrap().to_string()),
        );
        offset = page["next_offset"].as_i64();
        pages += 1;
    }
    assert_eq!(labels, ["k0", "k1", "k2", "k3", "k4"]);
    assert_eq!(pages, 3);

    let mut kinds = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let path = match after {
            Some(id) => format!("/audit?limit=2&after={id}"),
            None => "/audit?limit=2".to_string(),
        };
        let (_, page) = a.get(Some(BOB), &path).await;
        kinds.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["details"]["label"].clone()),
        );
        match page["next_after"].as_i64() {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    assert_eq!(
        kinds,
        (0..5).map(|i| json!(format!("k{i}"))).collect::<Vec<_>>()
    );

    // Accounts page the same way.
    for _ in 0..3 {
        a.env.client().await;
    }
    let (_, first) = a.get(Some(ALICE), "/accounts?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["next_offset"], 2);
    let (_, last) = a.get(Some(ALICE), "/accounts?limit=2&offset=2").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["next_offset"], Value::Null);
    // Sizes are bounded.
    let (_, big) = a.get(Some(ALICE), "/accounts?limit=100000").await;
    assert_eq!(big["items"].as_array().unwrap().len(), 3);

    // Orders too, oldest first.
    let c = a.env.client().await;
    let mut created = Vec::new();
    for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        let r = c
            .post(
                &a.env.app.url("/acme/new-order"),
                Some(&json!({"identifiers": [{"type": "ip", "value": ip}]})),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        created.push(format!("ip:{ip}"));
    }
    let (_, p1) = a.get(Some(ALICE), "/orders?status=pending&limit=2").await;
    let (_, p2) = a
        .get(Some(ALICE), "/orders?status=pending&limit=2&offset=2")
        .await;
    assert_eq!(p1["next_offset"], 2);
    assert_eq!(p2["next_offset"], Value::Null);
    let names: Vec<&str> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["items"].as_array().unwrap())
        .map(|o| o["names"].as_str().unwrap())
        .collect();
    assert_eq!(names, created);
}

#[test]
fn the_admin_api_is_refused_off_loopback_without_tls() {
    let env = |listen: &str| {
        vec![
            (
                "BRIDGE_SERVER__ADMIN_LISTEN".to_string(),
                listen.to_string(),
            ),
            (
                "BRIDGE_SERVER__ADMIN_TOKENS_FILE".to_string(),
                "/etc/bridge/tokens".to_string(),
            ),
        ]
    };
    let err = acme_sectigo_bridge::config::Config::load_with_env(None, env("0.0.0.0:9000"))
        .expect_err("refused");
    assert!(err.to_string().contains("admin_tls_cert"), "{err}");
    acme_sectigo_bridge::config::Config::load_with_env(None, env("127.0.0.1:9000")).unwrap();
    // The former name still works, alone.
    let old = vec![(
        "BRIDGE_SERVER__METRICS_LISTEN".to_string(),
        "0.0.0.0:9100".to_string(),
    )];
    let c = acme_sectigo_bridge::config::Config::load_with_env(None, old).unwrap();
    assert_eq!(c.server.admin_addr(), Some("0.0.0.0:9100".parse().unwrap()));
    assert_eq!(c.server.separate_metrics_addr(), None);
    // Beside a different admin_listen it stays a separate, token-free metrics listener.
    let mut both = env("127.0.0.1:9443");
    both.push((
        "BRIDGE_SERVER__METRICS_LISTEN".into(),
        "0.0.0.0:9100".into(),
    ));
    let c = acme_sectigo_bridge::config::Config::load_with_env(None, both).unwrap();
    assert_eq!(
        c.server.admin_addr(),
        Some("127.0.0.1:9443".parse().unwrap())
    );
    assert_eq!(
        c.server.separate_metrics_addr(),
        Some("0.0.0.0:9100".parse().unwrap())
    );
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// Polls the certificate until the worker recorded SCM's revocation.
async fn wait_revoked(a: &AdminEnv, cert_id: &str) -> Value {
    for _ in 0..200 {
        let (_, c) = a
            .get(Some(ALICE), &format!("/certificates/{cert_id}"))
            .await;
        if c["revoked_at"].is_string() {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("certificate {cert_id} was not revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_speaks_tls_when_configured() {
    let dir = std::env::temp_dir().join(format!(
        "bridge-admin-tls-{}",
        acme_sectigo_bridge::ids::random_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("admin.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("admin.key"), cert.key_pair.serialize_pem()).unwrap();
    std::fs::write(dir.join("tokens"), format!("alice:{ALICE}\n")).unwrap();
    let port = support::process::free_port();
    let d = dir.clone();
    let app = support::app::TestApp::spawn_with(move |c| {
        c.server.admin_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
        c.server.admin_tokens_file = Some(d.join("tokens"));
        c.server.admin_tls_cert = Some(d.join("admin.crt"));
        c.server.admin_tls_key = Some(d.join("admin.key"));
    })
    .await;
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/admin/api/summary");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(r) = trusting.get(&url).bearer_auth(ALICE).send().await {
            answer = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = answer.expect("the admin listener answers over TLS");
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["eab_keys_active"].is_i64());
    // Plain HTTP on the same port gets no answer from the API.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/admin/api/summary"))
        .bearer_auth(ALICE)
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
