//! Revoking an EAB key stops the accounts bound to it from ordering — on every replica within
//! `acme.eab_cache_secs` — unless the operator revokes it with `--keep-accounts`.

mod support;

use acme_sectigo_bridge::cli::{Command, EabCommand};
use acme_sectigo_bridge::config::Config;
use acme_sectigo_bridge::secret::Secret;
use serde_json::json;
use std::time::{Duration, Instant};
use support::acme::{challenge, dns};
use support::app::TestApp;
use support::client::{Client, Reply};

/// The policy cache of the replicas under test: short, so the test waits little.
const CACHE: Duration = Duration::from_secs(1);

fn short_cache(c: &mut Config) {
    c.acme.eab_cache_secs = CACHE.as_secs();
}

/// `acme-sectigo-bridge eab revoke KID [--keep-accounts]` on the app's database.
async fn revoke_with_cli(app: &TestApp, kid: &str, keep_accounts: bool) {
    let mut config = Config::load_with_env(None, Vec::new()).unwrap();
    config.database.url = Some(Secret::new(app.db.url.clone()));
    let cmd = Command::Eab(EabCommand::Revoke {
        kid: kid.into(),
        keep_accounts,
    });
    acme_sectigo_bridge::cli::run(config, std::path::Path::new("unused"), cmd)
        .await
        .unwrap();
}

/// The account of `client` as seen through `replica`: same key, account URL on that replica.
fn on_replica<'a>(replica: &'a TestApp, client: &Client<'_>) -> Client<'a> {
    let account = client.kid.as_deref().expect("registered");
    let path = account.strip_prefix(&client.app.base).expect("account URL");
    let mut c = Client::with_key(replica, client.key.clone());
    c.kid = Some(replica.url(path));
    c
}

fn assert_stopped(r: &Reply, kid: &str) {
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.problem_type(), "unauthorized", "{r:?}");
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(kid), "{detail}");
    assert!(
        detail.contains("revoked by the server operator"),
        "{detail}"
    );
}

#[tokio::test]
async fn revoking_a_key_stops_its_accounts_on_every_replica_within_the_cache_bound() {
    let a = TestApp::spawn_with(short_cache).await;
    let b = a.replica(short_cache).await;
    let (kid, hmac) = a.eab_key(false).await;
    let mut on_a = Client::new(&a);
    assert_eq!(on_a.register(Some((&kid, &hmac))).await.status, 201);
    let on_b = on_replica(&b, &on_a);
    // B reads the key's policy (and keeps it for CACHE).
    let (_, order) = on_b.order(&[dns("www.example.test")]).await;

    revoke_with_cli(&a, &kid, false).await;
    let revoked = Instant::now();
    let refused = loop {
        let r = on_b
            .new_order_with(&[dns("api.example.test")], json!({}))
            .await;
        if r.status != 201 {
            break r;
        }
        assert!(
            revoked.elapsed() < CACHE + Duration::from_secs(2),
            "replica B still lets the account order {:?} after the revocation",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_stopped(&refused, &kid);
    assert_stopped(
        &on_a
            .new_order_with(&[dns("www.example.test")], json!({}))
            .await,
        &kid,
    );
    // The order made before cannot go on either.
    let (_, authz) = on_b.first_authz(&order).await;
    let url = challenge(&authz, "http-01")["url"].as_str().unwrap();
    assert_stopped(&on_b.post(url, Some(&json!({}))).await, &kid);
    // The account itself stays valid: it can still be read, deactivated, revoke certificates.
    let account = on_b.fetch(on_b.kid.as_deref().unwrap()).await;
    assert_eq!(account["status"], "valid");
    b.stop().await;
}

#[tokio::test]
async fn revoking_with_keep_accounts_only_stops_new_bindings() {
    let app = TestApp::spawn_with(|c| c.acme.eab_cache_secs = 0).await;
    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(&app);
    assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);

    revoke_with_cli(&app, &kid, true).await;
    c.order(&[dns("www.example.test")]).await;
    let mut late = Client::new(&app);
    let r = late.register(Some((&kid, &hmac))).await;
    assert_eq!((r.status, r.problem_type()), (403, "unauthorized"), "{r:?}");

    // Revoked again without --keep-accounts: now its accounts stop too.
    revoke_with_cli(&app, &kid, false).await;
    assert_stopped(
        &c.new_order_with(&[dns("api.example.test")], json!({}))
            .await,
        &kid,
    );
}
