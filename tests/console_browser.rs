//! The web console (#15) driven by headless Chromium over WebDriver (chromedriver, fantoccini):
//! an operator logs in, creates an EAB key, a client (instant-acme) registers with it and gets a
//! certificate through the SCM sandbox, the operator finds the certificate and revokes it in the
//! console, and SCM and the audit trail show the revocation. Requests without a session or with a
//! wrong CSRF token are refused. Screenshots of every page go to target/console-screenshots/.

mod support;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, ExternalAccountKey, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use support::admin::{AdminEnv, ALICE};
use support::instant_acme::PlainHttp;
use support::process::{free_port, ChildGuard};

/// chromedriver on a loopback port, and a headless Chromium session through it.
async fn browser() -> (ChildGuard, Browser) {
    let port = free_port();
    let driver = which("chromedriver");
    let mut cmd = std::process::Command::new(driver);
    cmd.arg(format!("--port={port}"));
    let guard = ChildGuard::spawn(cmd, "console-browser", "chromedriver");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": which("chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,900", "--no-first-run", "--disable-extensions"],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(b) => return (guard, b),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("chromedriver did not start a session on {url}");
}

fn which(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not installed (scripts/install-test-deps.sh)"))
}

/// Saves a screenshot of the current page as target/console-screenshots/NAME.png.
async fn shot(b: &Browser, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = b.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits (WebDriver's own polling) until the page shows `css`: a submit returns before the next
/// page has loaded.
async fn wait_for(b: &Browser, css: &str) {
    if let Err(e) = b
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
    {
        panic!("{css}: {e}\n{}", b.source().await.unwrap_or_default());
    }
}

async fn text_of(b: &Browser, css: &str) -> String {
    b.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A certificate from the bridge for `name` through instant-acme, registered with the EAB key.
async fn issue_with_instant_acme(a: &AdminEnv, kid: &str, hmac: &[u8], name: &str) -> String {
    let eab = ExternalAccountKey::new(kid.to_string(), hmac);
    let (account, _) = Account::builder_with_http(PlainHttp::boxed())
        .create(
            &NewAccount {
                contact: &["mailto:web@example.test"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            a.env.app.url("/directory"),
            Some(&eab),
        )
        .await
        .expect("instant-acme registers with the console's EAB key");
    let ids = [Identifier::Dns(name.to_string())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.expect("authorization");
        assert_eq!(authz.status, AuthorizationStatus::Pending);
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .expect("http-01 offered");
        a.env.responder.tokens.lock().unwrap().insert(
            challenge.token.clone(),
            challenge.key_authorization().as_str().to_string(),
        );
        challenge.set_ready().await.expect("challenge accepted");
    }
    let retries = RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(30));
    let status = order.poll_ready(&retries).await.expect("order settles");
    assert_eq!(status, OrderStatus::Ready, "order: {:?}", order.state());
    let (der, _) = support::flow::csr(&[name], Some(name));
    order.finalize_csr(&der).await.expect("finalize");
    order
        .poll_certificate(&retries)
        .await
        .expect("a certificate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_issues_finds_and_revokes_in_the_console() {
    let a = AdminEnv::start().await;
    let name = "web.example.test";
    a.env
        .dns
        .add_a(name, "127.0.0.1".parse::<IpAddr>().unwrap());
    let (_driver, b) = browser().await;
    let base = &a.admin;

    // Not logged in: the console sends the browser to the login form.
    b.goto(&format!("{base}/admin/certificates")).await.unwrap();
    assert_eq!(b.current_url().await.unwrap().path(), "/admin/login");
    shot(&b, "01-login").await;
    let form = b
        .form(Locator::Css("form[action='/admin/login']"))
        .await
        .unwrap();
    form.set_by_name("token", "wrong-token-0000000000")
        .await
        .unwrap();
    form.submit().await.unwrap();
    wait_for(&b, "p.err").await;
    assert!(b.source().await.unwrap().contains("Unknown token."));
    let form = b
        .form(Locator::Css("form[action='/admin/login']"))
        .await
        .unwrap();
    form.set_by_name("token", ALICE).await.unwrap();
    form.submit().await.unwrap();
    wait_for(&b, "nav").await;
    assert_eq!(b.current_url().await.unwrap().path(), "/admin/");
    assert!(b.source().await.unwrap().contains("Certificates valid"));
    shot(&b, "02-summary-empty").await;

    // Create an EAB key: kid and HMAC key shown once, with snippets.
    b.goto(&format!("{base}/admin/eab-keys")).await.unwrap();
    let form = b.form(Locator::Id("create-key")).await.unwrap();
    form.set_by_name("label", "team-web").await.unwrap();
    form.set_by_name("allowed_patterns", "*.example.test")
        .await
        .unwrap();
    form.submit().await.unwrap();
    wait_for(&b, "#new-kid").await;
    let kid = text_of(&b, "#new-kid").await;
    let hmac_b64 = text_of(&b, "#new-hmac").await;
    let created = text_of(&b, "#created-key").await;
    assert!(created.contains(&format!("--eab-kid {kid}")), "{created}");
    assert!(created.contains("externalAccountBinding"), "{created}");
    shot(&b, "03-eab-key-created").await;
    b.goto(&format!("{base}/admin/eab-keys")).await.unwrap();
    assert!(
        !b.source().await.unwrap().contains(&hmac_b64),
        "the HMAC key is shown once"
    );

    // A client registers with it and gets a certificate.
    use base64::Engine;
    let hmac = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&hmac_b64)
        .unwrap();
    let chain = issue_with_instant_acme(&a, &kid, &hmac, name).await;
    assert!(chain.starts_with("-----BEGIN CERTIFICATE-----"));

    b.goto(&format!("{base}/admin/orders?eab_label=team-web"))
        .await
        .unwrap();
    assert!(b.source().await.unwrap().contains("dns:web.example.test"));
    shot(&b, "04-orders").await;
    b.goto(&format!("{base}/admin/")).await.unwrap();
    shot(&b, "05-summary").await;

    // Find it and revoke it in the console.
    b.goto(&format!("{base}/admin/certificates?name={name}"))
        .await
        .unwrap();
    let row = b
        .find(Locator::Css("#certificates tr[data-serial]"))
        .await
        .unwrap();
    let serial = row.attr("data-serial").await.unwrap().unwrap();
    assert_eq!(
        row.find(Locator::Css("td.state"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "valid"
    );
    shot(&b, "06-certificates").await;
    let reason = row.find(Locator::Css("select[name=reason]")).await.unwrap();
    reason.select_by_value("4").await.unwrap();
    row.find(Locator::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(b.current_url().await.unwrap().path(), "/admin/certificates");

    // SCM (the sandbox) revokes it; the console and the trail show it.
    let cert = a
        .env
        .app
        .store
        .certificate_by_serial(&serial)
        .await
        .unwrap()
        .unwrap();
    let mut revoked = false;
    for _ in 0..200 {
        if a.env.sandbox.status(cert.ssl_id).as_deref() == Some("Revoked")
            && a.env
                .app
                .store
                .certificate(&cert.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(revoked, "SCM did not revoke the certificate");
    b.goto(&format!("{base}/admin/certificates?serial={serial}"))
        .await
        .unwrap();
    assert_eq!(text_of(&b, "#certificates td.state").await, "revoked");
    shot(&b, "07-certificate-revoked").await;
    b.goto(&format!("{base}/admin/audit?serial={serial}"))
        .await
        .unwrap();
    let trail = text_of(&b, "#audit").await;
    assert!(
        trail.contains("certificate.revocation_requested"),
        "{trail}"
    );
    assert!(trail.contains("operator:alice"), "{trail}");
    assert!(trail.contains("certificate.revoked"), "{trail}");
    assert!(trail.contains("\"reason\":4"), "{trail}");
    shot(&b, "08-audit").await;
    b.goto(&format!("{base}/admin/audit")).await.unwrap();
    let all = text_of(&b, "#audit").await;
    assert!(
        all.contains("operator.login") && all.contains("eab.created"),
        "{all}"
    );

    // Refusals: a form posted without a session, and with the session but a wrong CSRF token.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{base}/admin/eab-keys");
    let r = plain
        .post(&url)
        .form(&[("csrf", "x"), ("label", "sneaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let session = b
        .get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name() == "bridge_admin")
        .expect("the session cookie");
    assert!(session.http_only().unwrap_or(false));
    let cookie = format!("bridge_admin={}", session.value());
    for csrf in ["", "forged-csrf-token"] {
        let r = plain
            .post(&url)
            .header("cookie", &cookie)
            .form(&[("csrf", csrf), ("label", "sneaky")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
    }
    let login = plain
        .post(format!("{base}/admin/login"))
        .form(&[("csrf", "guess"), ("token", ALICE)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403, "login without its CSRF cookie");
    assert!(a
        .env
        .app
        .store
        .list_eab_keys()
        .await
        .unwrap()
        .iter()
        .all(|k| k.label != "sneaky"));
    // Nothing on a console page comes from elsewhere.
    for path in [
        "/admin/",
        "/admin/eab-keys",
        "/admin/orders",
        "/admin/certificates",
        "/admin/audit",
    ] {
        b.goto(&format!("{base}{path}")).await.unwrap();
        let html = b.source().await.unwrap();
        assert!(!html.contains("<script"), "{path} has a script");
        assert!(
            !html.contains("src=\"http"),
            "{path} fetches from elsewhere"
        );
    }
    b.close().await.unwrap();
}
