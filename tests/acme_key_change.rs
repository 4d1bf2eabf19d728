//! Account key rollover (RFC 8555 §7.3.5).

mod support;

use serde_json::json;
use support::app::TestApp;
use support::client::{jws, Client, TestKey};

async fn registered(app: &TestApp) -> Client<'_> {
    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(app);
    assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);
    c
}

fn inner(
    new_key: &TestKey,
    url: &str,
    account: &str,
    old: &serde_json::Value,
) -> serde_json::Value {
    let protected = json!({"alg": new_key.alg, "jwk": new_key.public(), "url": url});
    let payload = json!({"account": account, "oldKey": old});
    jws(new_key, &protected, payload.to_string().as_bytes())
}

#[tokio::test]
async fn key_change_rolls_the_account_over() {
    let app = TestApp::spawn().await;
    let mut c = registered(&app).await;
    let acct = c.kid.clone().unwrap();
    let url = app.url("/acme/key-change");
    let new_key = TestKey::es256();
    let body = inner(&new_key, &url, &acct, &c.key.public());
    let r = c.post(&url, Some(&body)).await;
    assert_eq!(r.status, 200, "{r:?}");

    // The new key works on the very first request after the rollover (no old-key request
    // first: that used to refresh this replica's key cache and hide the lock-out).
    let old_key = std::mem::replace(&mut c.key, new_key.clone());
    let r = c.post(&acct, None).await;
    assert_eq!(
        r.status, 200,
        "the new key is refused right after keyChange: {r:?}"
    );
    // The old key no longer works.
    c.key = old_key;
    let r = c.post(&acct, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.problem_type(),
        "malformed",
        "old key's signature no longer verifies"
    );
    c.key = new_key.clone();
    let mut lookup = Client::with_key(&app, new_key);
    let r = lookup
        .post(
            &app.url("/acme/new-account"),
            Some(&json!({"onlyReturnExisting": true})),
        )
        .await;
    assert_eq!(r.location(), Some(acct.as_str()));
    lookup.kid = None;
}

#[tokio::test]
async fn key_change_to_a_key_in_use_is_409_with_location() {
    let app = TestApp::spawn().await;
    let c = registered(&app).await;
    let other = registered(&app).await;
    let url = app.url("/acme/key-change");
    let body = inner(&other.key, &url, c.kid.as_ref().unwrap(), &c.key.public());
    let r = c.post(&url, Some(&body)).await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.location(), other.kid.as_deref());
    // Nothing changed: c still uses its old key.
    let stored = app
        .store
        .account(c.kid.as_ref().unwrap().rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.key_thumbprint, c.key.thumbprint());
}

#[tokio::test]
async fn key_change_with_wrong_old_key_or_account_is_refused() {
    let app = TestApp::spawn().await;
    let c = registered(&app).await;
    let acct = c.kid.clone().unwrap();
    let url = app.url("/acme/key-change");
    let new_key = TestKey::es256();

    let wrong_old = inner(&new_key, &url, &acct, &TestKey::es256().public());
    let r = c.post(&url, Some(&wrong_old)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_type(), "unauthorized");

    let wrong_account = inner(
        &new_key,
        &url,
        &app.url("/acme/acct/AAAAAAAAAAAAAAAAAAAAAA"),
        &c.key.public(),
    );
    assert_eq!(
        c.post(&url, Some(&wrong_account)).await.problem_type(),
        "unauthorized"
    );

    let wrong_url = inner(
        &new_key,
        &app.url("/acme/new-order"),
        &acct,
        &c.key.public(),
    );
    assert_eq!(
        c.post(&url, Some(&wrong_url)).await.problem_type(),
        "malformed"
    );

    // Inner JWS signed by a different key than the one it carries.
    let mut forged = inner(&new_key, &url, &acct, &c.key.public());
    let impostor = inner(&TestKey::es256(), &url, &acct, &c.key.public());
    forged["signature"] = impostor["signature"].clone();
    assert_eq!(
        c.post(&url, Some(&forged)).await.problem_type(),
        "malformed"
    );

    let stored = app
        .store
        .account(acct.rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.key_thumbprint, c.key.thumbprint());
}

#[tokio::test]
async fn concurrent_rollovers_to_one_key_have_one_winner() {
    let app = TestApp::spawn().await;
    let a = registered(&app).await;
    let b = registered(&app).await;
    let url = app.url("/acme/key-change");
    let target = TestKey::es256();
    let body_a = inner(&target, &url, a.kid.as_ref().unwrap(), &a.key.public());
    let body_b = inner(&target, &url, b.kid.as_ref().unwrap(), &b.key.public());
    let (ra, rb) = tokio::join!(a.post(&url, Some(&body_a)), b.post(&url, Some(&body_b)));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{ra:?} {rb:?}");
}

#[tokio::test]
async fn new_key_works_at_once_on_another_replica() {
    // Two replicas on one database, each with its own account-key cache.
    let a = TestApp::spawn().await;
    let b = a.replica(|_| {}).await;
    let mut on_a = registered(&a).await;
    let acct = on_a.kid.clone().unwrap();
    // Replica B learns (and caches) the old key.
    let mut on_b = Client::with_key(&b, on_a.key.clone());
    on_b.kid = Some(acct.replace(&a.base, &b.base));
    let acct_b = on_b.kid.clone().unwrap();
    assert_eq!(on_b.post(&acct_b, None).await.status, 200);

    // keyChange through A.
    let url = a.url("/acme/key-change");
    let new_key = TestKey::es256();
    let body = inner(&new_key, &url, &acct, &on_a.key.public());
    let r = on_a.post(&url, Some(&body)).await;
    assert_eq!(r.status, 200, "{r:?}");

    // The new key works at once through B, whose cache still holds the old key.
    let old_key = std::mem::replace(&mut on_b.key, new_key.clone());
    let r = on_b.post(&acct_b, None).await;
    assert_eq!(r.status, 200, "replica B refuses the new key: {r:?}");
    assert_eq!(r.body["status"], "valid");
    // And through A.
    on_a.key = new_key;
    assert_eq!(on_a.post(&acct, None).await.status, 200);
    // The old key is refused on B, although B had it cached.
    on_b.key = old_key;
    let r = on_b.post(&acct_b, None).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "malformed");
}
