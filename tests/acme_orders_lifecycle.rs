//! The orders list (§7.1.2.1, `Link: rel="next"`), authorization deactivation (§7.5.2), and orders
//! whose authorization expired.

mod support;

use serde_json::json;
use support::acme::{dns, links};
use support::acme_env::{app_with, client_for};

#[tokio::test]
async fn orders_list_is_paginated_with_link_next() {
    let app = app_with(|c| c.acme.orders_page_size = 2).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let mut created = Vec::new();
    for name in ["l1.example.test", "l2.example.test", "l3.example.test"] {
        created.push(c.order(&[dns(name)]).await.0);
    }
    let account = c.fetch(c.kid.as_deref().unwrap()).await;
    let list_url = account["orders"].as_str().unwrap().to_string();
    let first = c.post(&list_url, None).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["orders"], json!(created[..2]));
    let next = links(&first, "next");
    assert_eq!(next.len(), 1, "{first:?}");
    assert!(next[0].starts_with(&list_url), "{next:?}");
    // The client signs the next URL exactly as given, query included (RFC 8555 §6.4).
    let second = c.post(&next[0], None).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body["orders"], json!(created[2..]));
    assert!(links(&second, "next").is_empty(), "{second:?}");
    // A JWS whose url omits the query was not addressed to this URL.
    let protected = c.protected(&list_url).await;
    let r = c.post_signed(&next[0], &protected, None).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.problem_type(), "unauthorized");

    // Another account's list is not shown to this one.
    let other = client_for(&app, &["*.example.test"]).await;
    let r = other.post(&list_url, None).await;
    assert_eq!(r.problem_type(), "unauthorized", "{r:?}");
}

#[tokio::test]
async fn deactivating_an_authorization_invalidates_its_order() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let (loc, o) = c
        .order(&[dns("d1.example.test"), dns("d2.example.test")])
        .await;
    let (authz_url, _) = c.first_authz(&o).await;
    let r = c.post(&authz_url, Some(&json!({"status": "valid"}))).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "malformed");

    let r = c
        .post(&authz_url, Some(&json!({"status": "deactivated"})))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "deactivated");
    assert_eq!(r.location(), Some(authz_url.as_str()));
    assert_eq!(c.fetch(&authz_url).await["status"], "deactivated");
    let order = c.fetch(&loc).await;
    assert_eq!(order["status"], "invalid");
    assert_eq!(
        order["error"]["type"],
        "urn:ietf:params:acme:error:unauthorized"
    );
    // The other authorization is untouched; a deactivated one cannot be deactivated again.
    let other = c.fetch(o["authorizations"][1].as_str().unwrap()).await;
    assert_eq!(other["status"], "pending");
    let r = c
        .post(&authz_url, Some(&json!({"status": "deactivated"})))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body["detail"].as_str().unwrap().contains("deactivated"));
    // Its challenges can no longer be started.
    let chall = c.fetch(&authz_url).await["challenges"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.post(&chall, Some(&json!({}))).await;
    assert_eq!(r.body["status"], "pending", "{r:?}");
    assert_eq!(app.db.pending_work().await, 0);
    // An invalid order is not reused: the same names give a new order.
    let (again, _) = c
        .order(&[dns("d1.example.test"), dns("d2.example.test")])
        .await;
    assert_ne!(again, loc);
}

#[tokio::test]
async fn an_order_whose_authorization_expired_is_not_returned_again() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let names = [dns("x1.example.test"), dns("x2.example.test")];
    let (loc, o) = c.order(&names).await;
    let (authz_url, _) = c.first_authz(&o).await;
    // Time passes for one authorization (the status rules evaluate expiry when read).
    let authz_id = authz_url.rsplit('/').next().unwrap();
    let mut conn = app.db.connect().await;
    sqlx::query("UPDATE authorizations SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(authz_id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(c.fetch(&authz_url).await["status"], "expired");
    let order = c.fetch(&loc).await;
    assert_eq!(order["status"], "invalid", "{order}");
    // The same names again: a fresh, usable order, not the dead one.
    let (again, o2) = c.order(&names).await;
    assert_ne!(again, loc, "an invalid order was handed out again");
    assert_eq!(o2["status"], "pending");
    assert_ne!(o2["authorizations"][0], o["authorizations"][0]);
}
