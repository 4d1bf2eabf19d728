//! newOrder, orders and authorizations over real HTTP (RFC 8555 §7.4, §7.5): what is created, what
//! is refused (and that nothing is stored then), which challenges are offered, who may see what.
//! tests/acme_orders_lifecycle.rs covers the orders list, deactivation and expiry.

mod support;

use serde_json::{json, Value};
use support::acme::{challenge_types, dns, ip};
use support::acme_env::{app_with, client_for, stored_rows};
use support::client::Client;

#[tokio::test]
async fn new_order_is_created_and_an_identical_pending_one_is_returned() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let before = chrono::Utc::now();
    let r = c
        .new_order_with(&[dns("a.example.test"), dns("b.example.test")], json!({}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let loc = r.location().expect("Location").to_string();
    assert!(loc.starts_with(&app.url("/acme/order/")), "{loc}");
    let o = &r.body;
    assert_eq!(o["status"], "pending");
    assert_eq!(
        o["identifiers"],
        json!([dns("a.example.test"), dns("b.example.test")])
    );
    assert_eq!(o["finalize"], format!("{loc}/finalize"));
    let expires = chrono::DateTime::parse_from_rfc3339(o["expires"].as_str().unwrap()).unwrap();
    assert!(expires > before + chrono::Duration::days(6), "{expires}");
    let authzs: Vec<&str> = o["authorizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(authzs.len(), 2);
    assert!(authzs
        .iter()
        .all(|a| a.starts_with(&app.url("/acme/authz/"))));
    assert_ne!(authzs[0], authzs[1]);
    let a = c.fetch(authzs[0]).await;
    assert_eq!(a["identifier"], dns("a.example.test"));
    assert_eq!(a["status"], "pending");
    assert_eq!(a["expires"], o["expires"]);
    // The order URL answers POST-as-GET with the same object.
    assert_eq!(c.fetch(&loc).await, r.body);

    // The same names in another order and spelling: the same order, nothing new stored.
    let again = c
        .new_order_with(&[dns("B.example.test."), dns("a.example.test")], json!({}))
        .await;
    assert!(matches!(again.status, 200 | 201), "{again:?}");
    assert_eq!(again.location(), Some(loc.as_str()));
    assert_eq!(again.body["authorizations"], o["authorizations"]);
    assert_eq!(stored_rows(&app).await, (1, 2, 6));

    // Another account ordering the same names gets its own order.
    let other = client_for(&app, &["*.example.test"]).await;
    let (other_loc, _) = other
        .order(&[dns("a.example.test"), dns("b.example.test")])
        .await;
    assert_ne!(other_loc, loc);
    assert_eq!(app.db.count("orders").await, 2);
}

#[tokio::test]
async fn names_outside_the_eab_patterns_are_rejected_with_one_subproblem_each() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let r = c
        .new_order_with(
            &[
                dns("ok.example.test"),
                dns("evil.test"),
                dns("example.test"),
                ip("127.0.0.1"),
            ],
            json!({}),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "rejectedIdentifier");
    let subs = r.body["subproblems"].as_array().expect("subproblems");
    let named: Vec<&Value> = subs.iter().map(|s| &s["identifier"]).collect();
    assert_eq!(
        named,
        [&dns("evil.test"), &dns("example.test"), &ip("127.0.0.1")]
    );
    for s in subs {
        assert_eq!(s["type"], "urn:ietf:params:acme:error:rejectedIdentifier");
        let value = s["identifier"]["value"].as_str().unwrap();
        assert!(s["detail"].as_str().unwrap().contains(value), "{s}");
    }
    assert_eq!(stored_rows(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn malformed_names_and_not_before_are_refused_without_storing() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let r = c
        .new_order_with(
            &[
                dns("good.example.test"),
                dns("-bad-.example.test"),
                dns("a..b.example.test"),
            ],
            json!({}),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "malformed");
    let subs = r.body["subproblems"].as_array().expect("subproblems");
    assert_eq!(subs.len(), 2, "{r:?}");
    assert_eq!(subs[0]["identifier"], dns("-bad-.example.test"));
    assert_eq!(subs[1]["identifier"], dns("a..b.example.test"));
    assert!(subs
        .iter()
        .all(|s| s["type"] == "urn:ietf:params:acme:error:malformed"));

    // A malformed name and a forbidden one: the common type is rejectedIdentifier.
    let r = c
        .new_order_with(&[dns("a..b.example.test"), dns("evil.test")], json!({}))
        .await;
    assert_eq!(r.problem_type(), "rejectedIdentifier", "{r:?}");
    assert_eq!(r.body["subproblems"].as_array().unwrap().len(), 2);

    let r = c
        .new_order_with(
            &[dns("good.example.test")],
            json!({"notBefore": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "malformed");
    assert!(r.body["detail"].as_str().unwrap().contains("notBefore"));
    let r = c.new_order_with(&[], json!({})).await;
    assert_eq!(r.problem_type(), "malformed", "{r:?}");
    assert_eq!(stored_rows(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn profiles_are_listed_chosen_and_checked() {
    let app = app_with(|c| {
        for (name, desc, term) in [("dv", "Domain validated", 365), ("ov", "Organization", 398)] {
            c.profiles.insert(
                name.into(),
                acme_sectigo_bridge::policy::ProfileConfig {
                    description: desc.into(),
                    scm_cert_type: 1,
                    term_days: term,
                    renewal_window_percent: None,
                },
            );
        }
        c.policy.default_profile = Some("dv".into());
    })
    .await;
    let dir: Value = app
        .http
        .get(app.url("/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        dir["meta"]["profiles"],
        json!({"dv": "Domain validated", "ov": "Organization"})
    );
    let c = client_for(&app, &["*.example.test"]).await;
    let names = [dns("p.example.test")];
    let r = c.new_order_with(&names, json!({"profile": "ev"})).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "invalidProfile");
    assert!(
        r.body["detail"].as_str().unwrap().contains("dv, ov"),
        "{r:?}"
    );
    assert_eq!(stored_rows(&app).await, (0, 0, 0));

    let (default_loc, o) = c.order(&names).await;
    assert_eq!(o["profile"], "dv");
    let (ov_loc, o) = c.order_with_profile(&names, "ov").await;
    assert_eq!(o["profile"], "ov");
    assert_ne!(
        ov_loc, default_loc,
        "the profile is part of what makes orders identical"
    );
    let (dv_loc, _) = c.order_with_profile(&names, "dv").await;
    assert_eq!(dv_loc, default_loc);

    // A key limited to one profile cannot order another.
    let (kid, hmac) = app.eab_key_for(&["*.example.test"], &["dv"], false).await;
    let mut limited = Client::new(&app);
    assert_eq!(limited.register(Some((&kid, &hmac))).await.status, 201);
    let r = limited
        .new_order_with(&names, json!({"profile": "ov"}))
        .await;
    assert_eq!(r.problem_type(), "invalidProfile", "{r:?}");
}

#[tokio::test]
async fn challenges_offered_depend_on_the_identifier() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test", "127.0.0.0/8"]).await;
    let (_, o) = c
        .order(&[
            dns("*.w.example.test"),
            dns("plain.example.test"),
            ip("127.0.0.1"),
        ])
        .await;
    let urls = o["authorizations"].as_array().unwrap();
    assert_eq!(urls.len(), 3);
    let wild = c.fetch(urls[0].as_str().unwrap()).await;
    assert_eq!(wild["identifier"], dns("w.example.test"));
    assert_eq!(wild["wildcard"], true);
    assert_eq!(challenge_types(&wild), ["dns-01"]);
    let plain = c.fetch(urls[1].as_str().unwrap()).await;
    assert_eq!(plain["identifier"], dns("plain.example.test"));
    assert!(plain.get("wildcard").is_none() || plain["wildcard"] == false);
    assert_eq!(
        challenge_types(&plain),
        ["http-01", "dns-01", "tls-alpn-01"]
    );
    let addr = c.fetch(urls[2].as_str().unwrap()).await;
    assert_eq!(addr["identifier"], ip("127.0.0.1"));
    assert_eq!(challenge_types(&addr), ["http-01", "tls-alpn-01"]);

    let mut tokens = std::collections::HashSet::new();
    for a in [&wild, &plain, &addr] {
        for ch in a["challenges"].as_array().unwrap() {
            assert_eq!(ch["status"], "pending");
            assert!(ch["url"]
                .as_str()
                .unwrap()
                .starts_with(&app.url("/acme/chall/")));
            let token = ch["token"].as_str().unwrap();
            assert!(token.len() >= 43, "token has 256 bits: {token}");
            assert!(tokens.insert(token.to_string()), "tokens are unique");
        }
    }
}

#[tokio::test]
async fn resources_of_another_account_are_not_found() {
    let app = app_with(|_| {}).await;
    let owner = client_for(&app, &["*.example.test"]).await;
    let (loc, o) = owner.order(&[dns("mine.example.test")]).await;
    let (authz_url, authz) = owner.first_authz(&o).await;
    let chall_url = authz["challenges"][0]["url"].as_str().unwrap().to_string();

    let stranger = client_for(&app, &["*.example.test"]).await;
    for url in [&loc, &authz_url, &chall_url] {
        let r = stranger.post(url, None).await;
        assert_eq!(r.status, 404, "{url}: {r:?}");
        assert_eq!(r.problem_type(), "malformed");
    }
    // Nor can the stranger start a validation or deactivate.
    let r = stranger.post(&chall_url, Some(&json!({}))).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = stranger
        .post(&authz_url, Some(&json!({"status": "deactivated"})))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let authz = owner.fetch(&authz_url).await;
    assert_eq!(authz["status"], "pending");
    assert_eq!(authz["challenges"][0]["status"], "pending");
    assert_eq!(app.db.pending_work().await, 0);
    // Unknown ids are 404 as well.
    let r = owner.post(&app.url("/acme/order/nonexistent"), None).await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn get_instead_of_post_as_get_is_a_405_problem() {
    let app = app_with(|_| {}).await;
    let c = client_for(&app, &["*.example.test"]).await;
    let (loc, o) = c.order(&[dns("get.example.test")]).await;
    let authz_url = o["authorizations"][0].as_str().unwrap();
    for url in [loc.as_str(), authz_url] {
        let r = support::client::reply(app.http.get(url).send().await.unwrap()).await;
        assert_eq!(r.status, 405, "{url}: {r:?}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.problem_type(), "malformed");
        assert!(r.body["detail"].as_str().unwrap().contains("POST-as-GET"));
    }
}
