//! newAccount with External Account Binding, account update and deactivation (RFC 8555 §7.3).

mod support;

use acme_sectigo_bridge::store::EabRevocation;
use serde_json::json;
use support::app::TestApp;
use support::client::{eab, Client, TestKey};

#[tokio::test]
async fn new_account_with_eab_then_existing_then_only_return_existing() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(&app);
    let r = c.register(Some((&kid, &hmac))).await;
    assert_eq!(r.status, 201, "{r:?}");
    let loc = r.location().unwrap().to_string();
    assert!(loc.starts_with(&app.url("/acme/acct/")));
    assert_eq!(r.body["status"], "valid");
    assert_eq!(r.body["contact"], json!(["mailto:ops@example.test"]));
    assert_eq!(r.body["orders"], format!("{loc}/orders"));
    // The account remembers its EAB key.
    let id = loc.rsplit('/').next().unwrap();
    let stored = app.store.account(id).await.unwrap().unwrap();
    assert_eq!(stored.eab_kid.as_deref(), Some(kid.as_str()));
    assert_eq!(stored.key_thumbprint, c.key.thumbprint());

    // Same key again: 200 + same Location, no new row.
    let mut again = Client::with_key(&app, c.key.clone());
    let r = again.register(None).await;
    assert_eq!(r.status, 200, "existing key is answered before EAB: {r:?}");
    assert_eq!(r.location(), Some(loc.as_str()));
    again.kid = None; // newAccount is always signed with the jwk
    let r = again
        .post(
            &app.url("/acme/new-account"),
            Some(&json!({"onlyReturnExisting": true})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.location(), Some(loc.as_str()));
    assert_eq!(app.db.count("accounts").await, 1);

    // onlyReturnExisting for an unknown key.
    let other = Client::new(&app);
    let r = other
        .post(
            &app.url("/acme/new-account"),
            Some(&json!({"onlyReturnExisting": true})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_type(), "accountDoesNotExist");
    assert_eq!(app.db.count("accounts").await, 1);
}

#[tokio::test]
async fn eab_is_required_by_default() {
    let app = TestApp::spawn().await;
    let mut c = Client::new(&app);
    let r = c.register(None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_type(), "externalAccountRequired");
    assert_eq!(app.db.count("accounts").await, 0);
}

#[tokio::test]
async fn eab_not_required_when_configured_off() {
    let app = TestApp::spawn_with(|c| c.acme.eab_required = false).await;
    let mut c = Client::with_key(&app, TestKey::ed25519());
    let r = c.register(None).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(app.db.count("accounts").await, 1);
}

/// Registers with a hand-made EAB and returns the problem type (or "" on success).
async fn register_with(
    app: &TestApp,
    eab_value: serde_json::Value,
    key: &TestKey,
) -> (u16, String) {
    let c = Client::with_key(app, key.clone());
    let payload = json!({"termsOfServiceAgreed": true, "externalAccountBinding": eab_value});
    let r = c.post(&app.url("/acme/new-account"), Some(&payload)).await;
    (r.status, r.problem_type().to_string())
}

#[tokio::test]
async fn eab_failures_store_nothing() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let url = app.url("/acme/new-account");
    let key = TestKey::es256();

    // Wrong MAC key.
    let wrong = eab(&kid, &[9u8; 32], &url, &key.public(), "HS256");
    assert_eq!(
        register_with(&app, wrong, &key).await,
        (403, "unauthorized".into())
    );
    // EAB binds a different account key.
    let other = TestKey::es256();
    let wrong_key = eab(&kid, &hmac, &url, &other.public(), "HS256");
    assert_eq!(
        register_with(&app, wrong_key, &key).await,
        (403, "unauthorized".into())
    );
    // Unknown kid.
    let unknown = eab("kid-unknown", &hmac, &url, &key.public(), "HS256");
    assert_eq!(
        register_with(&app, unknown, &key).await,
        (403, "unauthorized".into())
    );
    // EAB url differs from the request url.
    let bad_url = eab(&kid, &hmac, &app.url("/acme/other"), &key.public(), "HS256");
    assert_eq!(
        register_with(&app, bad_url, &key).await,
        (403, "unauthorized".into())
    );
    // An asymmetric algorithm on the EAB.
    let mut bad_alg = eab(&kid, &hmac, &url, &key.public(), "HS256");
    let p = json!({"alg": "ES256", "kid": kid, "url": url});
    bad_alg["protected"] = json!(support::client::b64(p.to_string().as_bytes()));
    assert_eq!(
        register_with(&app, bad_alg, &key).await,
        (400, "badSignatureAlgorithm".into())
    );
    // Revoked kid.
    assert!(app
        .store
        .revoke_eab_key(&kid, EabRevocation::KeepAccounts, chrono::Utc::now())
        .await
        .unwrap());
    let revoked = eab(&kid, &hmac, &url, &key.public(), "HS256");
    assert_eq!(
        register_with(&app, revoked, &key).await,
        (403, "unauthorized".into())
    );

    assert_eq!(app.db.count("accounts").await, 0);
}

#[tokio::test]
async fn eab_hs384_and_hs512_work() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let url = app.url("/acme/new-account");
    for alg in ["HS384", "HS512"] {
        let key = TestKey::es256();
        let v = eab(&kid, &hmac, &url, &key.public(), alg);
        assert_eq!(
            register_with(&app, v, &key).await,
            (201, "".into()),
            "{alg}"
        );
    }
    assert_eq!(app.db.count("accounts").await, 2);
}

#[tokio::test]
async fn single_use_key_binds_one_account() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(true).await;
    let mut first = Client::new(&app);
    assert_eq!(first.register(Some((&kid, &hmac))).await.status, 201);
    let mut second = Client::new(&app);
    let r = second.register(Some((&kid, &hmac))).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_type(), "unauthorized");
    assert!(r.body["detail"].as_str().unwrap().contains("single-use"));
    // Re-registering the first key still works (it is not a new binding).
    let mut again = Client::with_key(&app, first.key.clone());
    assert_eq!(again.register(Some((&kid, &hmac))).await.status, 200);
    assert_eq!(app.db.count("accounts").await, 1);
}

#[tokio::test]
async fn contacts_are_validated() {
    let app = TestApp::spawn_with(|c| c.acme.eab_required = false).await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let r = c
        .post(&url, Some(&json!({"contact": ["tel:+15551234"]})))
        .await;
    assert_eq!(r.problem_type(), "unsupportedContact");
    let r = c
        .post(&url, Some(&json!({"contact": ["mailto:not-an-address"]})))
        .await;
    assert_eq!(r.problem_type(), "invalidContact");
    assert_eq!(app.db.count("accounts").await, 0);
}

#[tokio::test]
async fn terms_of_service_must_be_agreed_when_published() {
    let app = TestApp::spawn_with(|c| {
        c.acme.eab_required = false;
        c.acme.terms_of_service_url = Some(url::Url::parse("https://example.test/tos").unwrap());
    })
    .await;
    let c = Client::new(&app);
    let r = c
        .post(&app.url("/acme/new-account"), Some(&json!({})))
        .await;
    assert_eq!(r.problem_type(), "malformed");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("terms of service"));
    assert_eq!(app.db.count("accounts").await, 0);
}

#[tokio::test]
async fn account_fetch_update_and_deactivate() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(&app);
    c.register(Some((&kid, &hmac))).await;
    let acct = c.kid.clone().unwrap();

    let r = c.post(&acct, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "valid");

    let r = c
        .post(
            &acct,
            Some(&json!({"contact": ["mailto:new@example.test"]})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["contact"], json!(["mailto:new@example.test"]));
    let r = c.post(&acct, None).await;
    assert_eq!(r.body["contact"], json!(["mailto:new@example.test"]));

    // Another account may not touch this one.
    let mut other = Client::new(&app);
    other.register(Some((&kid, &hmac))).await;
    let r = other
        .post(&acct, Some(&json!({"status": "deactivated"})))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_type(), "unauthorized");

    let r = c.post(&acct, Some(&json!({"status": "revoked"}))).await;
    assert_eq!(r.problem_type(), "malformed");

    let r = c.post(&acct, Some(&json!({"status": "deactivated"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "deactivated");
    // Every later request with that kid is unauthorized, with 401 (RFC 8555 §7.3.6).
    let r = c.post(&acct, None).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.problem_type(), "unauthorized");
    let r = c.post(&app.url("/acme/key-change"), Some(&json!({}))).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.problem_type(), "unauthorized");
    let r = c
        .post(
            &app.url("/acme/new-order"),
            Some(&json!({"identifiers": [{"type": "dns", "value": "a.example.test"}]})),
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    // newAccount with the deactivated account's key is a request from that account too.
    let mut again = Client::with_key(&app, c.key.clone());
    let r = again.register(Some((&kid, &hmac))).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.problem_type(), "unauthorized");
}

#[tokio::test]
async fn account_object_echoes_the_external_account_binding() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let binding = eab(&kid, &hmac, &url, &c.key.public(), "HS256");
    let r = c
        .post(
            &url,
            Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        r.body["externalAccountBinding"], binding,
        "newAccount echoes it"
    );
    c.kid = r.location().map(str::to_string);
    let acct = c.kid.clone().unwrap();
    // Fetching the account later (and the "existing key" answer) carries it too.
    let r = c.post(&acct, None).await;
    assert_eq!(r.body["externalAccountBinding"], binding, "{r:?}");
    let mut again = Client::with_key(&app, c.key.clone());
    let r = again
        .post(&url, Some(&json!({"onlyReturnExisting": true})))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["externalAccountBinding"], binding);
    again.kid = None;
    // An account registered without EAB has none.
    let open = TestApp::spawn_with(|c| c.acme.eab_required = false).await;
    let mut plain = Client::new(&open);
    let r = plain.register(None).await;
    assert_eq!(r.status, 201);
    assert!(r.body.get("externalAccountBinding").is_none(), "{r:?}");
}

#[tokio::test]
async fn rsa_account_key_with_a_small_exponent_is_refused() {
    let app = TestApp::spawn_with(|c| c.acme.eab_required = false).await;
    let mut c = Client::with_key(&app, TestKey::rsa_with_exponent(2048, 3));
    let r = c.register(None).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "badPublicKey");
    assert!(
        r.body["detail"].as_str().unwrap().contains("65537"),
        "{r:?}"
    );
    assert_eq!(app.db.count("accounts").await, 0);
    // 65537 through the same OpenSSL-signed path is accepted (the refusal is about e).
    let mut ok = Client::with_key(&app, TestKey::rsa_with_exponent(2048, 65537));
    assert_eq!(ok.register(None).await.status, 201);
}
