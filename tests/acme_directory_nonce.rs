//! Directory and nonce headers (RFC 8555 §7.1.1, §7.2, §6.5) over real HTTP.

mod support;

use support::app::TestApp;
use support::client::{reply, Client};

#[tokio::test]
async fn directory_lists_endpoints_and_meta() {
    let app = TestApp::spawn_with(|c| {
        c.acme.terms_of_service_url = Some(url::Url::parse("https://example.test/tos").unwrap());
        c.acme.website = Some(url::Url::parse("https://example.test/").unwrap());
    })
    .await;
    let r = reply(app.http.get(app.url("/directory")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    for (k, path) in [
        ("newNonce", "/acme/new-nonce"),
        ("newAccount", "/acme/new-account"),
        ("newOrder", "/acme/new-order"),
        ("revokeCert", "/acme/revoke-cert"),
        ("keyChange", "/acme/key-change"),
    ] {
        assert_eq!(r.body[k], app.url(path), "{k}");
    }
    let meta = &r.body["meta"];
    assert_eq!(meta["termsOfService"], "https://example.test/tos");
    assert_eq!(meta["website"], "https://example.test/");
    assert_eq!(
        meta["caaIdentities"],
        serde_json::json!([
            "sectigo.com",
            "comodoca.com",
            "comodo.com",
            "usertrust.com",
            "trust-provider.com"
        ])
    );
    assert_eq!(meta["externalAccountRequired"], true);
    assert!(r.header("replay-nonce").is_some());
    assert!(
        r.header("link").is_none(),
        "the directory itself has no index link"
    );
}

#[tokio::test]
async fn new_nonce_head_and_get() {
    let app = TestApp::spawn().await;
    let head = app
        .http
        .head(app.url("/acme/new-nonce"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let get = app
        .http
        .get(app.url("/acme/new-nonce"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 204);
    let n1 = head.headers()["replay-nonce"].to_str().unwrap().to_string();
    let n2 = get.headers()["replay-nonce"].to_str().unwrap().to_string();
    assert_ne!(n1, n2);
    for r in [&head, &get] {
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(
            r.headers()["link"],
            format!("<{}>;rel=\"index\"", app.url("/directory"))
        );
    }
}

#[tokio::test]
async fn every_response_carries_a_nonce_and_index_link() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app);
    // An error (415), a 404, a 405, a 201 — all carry Replay-Nonce and Link.
    let e415 = reply(
        app.http
            .post(app.url("/acme/new-account"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(e415.status, 415);
    assert_eq!(e415.problem_type(), "malformed");
    let e404 = c.post(&app.url("/acme/nope"), None).await;
    assert_eq!(e404.status, 404);
    let e405 = reply(
        app.http
            .get(app.url("/acme/new-account"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(e405.status, 405);
    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(&app);
    let created = c.register(Some((&kid, &hmac))).await;
    assert_eq!(created.status, 201);
    for r in [&e415, &e404, &e405, &created] {
        assert!(r.header("replay-nonce").is_some(), "{r:?}");
        assert!(r.header("link").unwrap().contains("rel=\"index\""), "{r:?}");
    }
    assert_eq!(
        e415.header("content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn health_and_readiness() {
    // No grace: red at the first failed probe (the grace itself is tested in tests/db_outage.rs).
    let app = TestApp::spawn_with(|c| c.server.readiness_grace_secs = 0).await;
    let h = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Make the database refuse this replica: new connections are not allowed and the existing ones
    // are killed, as when the database server goes away. Readiness must say so.
    let mut admin = support::db::admin_connection().await;
    for sql in [
        format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", app.db.name),
        format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            app.db.name
        ),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    sqlx::query(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        app.db.name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "ready again once the database is back");
}
