//! Challenge validation end to end (RFC 8555 §7.5.1, §8; RFC 8737): a client answers challenges
//! through the real server, the durable worker validates over real HTTP, DNS and TLS on loopback,
//! and the outcome reaches the challenge, its authorization and the order.

mod support;

use acme_sectigo_bridge::validation::dns01_txt_value;
use serde_json::{json, Value};
use support::acme::{challenge, dns, ip, links};
use support::acme_env::*;
use support::validation::closed_port;
use support::validation::servers::{spawn_tls_alpn, TlsChallenge};

#[tokio::test]
async fn http01_validates_and_later_orders_reuse_the_authorizations() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    e.dns.add_a("h1.example.test", LOOPBACK);
    e.dns.add_a("h2.example.test", LOOPBACK);
    let (order_url, order) = c
        .order(&[dns("h1.example.test"), dns("h2.example.test")])
        .await;
    let mut authz_urls = Vec::new();
    for i in 0..2 {
        let (url, a) = authz(&c, &order, i).await;
        let ch = challenge(&a, "http-01");
        e.http.serve(token(ch), &c.key_authorization(token(ch)));
        respond(&c, ch, &url).await;
        authz_urls.push(url);
    }
    for (url, name) in authz_urls
        .iter()
        .zip(["h1.example.test", "h2.example.test"])
    {
        let record = assert_valid(&c.settle(url).await, "http-01");
        assert_eq!(record["hostname"], name);
        assert_eq!(record["addressUsed"], "127.0.0.1");
        assert_eq!(record["port"], e.http.addr.port());
    }
    let order = c.settle(&order_url).await;
    assert_eq!(order["status"], "ready", "{order}");
    assert_eq!(e.app.db.pending_work().await, 0);

    // A new order for an already validated name needs no challenge: ready at once.
    let (again_url, again) = c.order(&[dns("h1.example.test")]).await;
    assert_ne!(again_url, order_url);
    assert_eq!(again["status"], "ready", "{again}");
    assert_eq!(again["authorizations"], json!([authz_urls[0]]));
    // Mixed with a new name: the valid one is reused, the order waits for the other.
    let (_, mixed) = c
        .order(&[dns("h2.example.test"), dns("h3.example.test")])
        .await;
    assert_eq!(mixed["status"], "pending");
    assert_eq!(mixed["authorizations"][0], authz_urls[1].as_str());
    assert_eq!(e.app.db.count("authorizations").await, 3);

    // Another account cannot reuse them.
    let other = client(&e.app).await;
    let (_, theirs) = other.order(&[dns("h1.example.test")]).await;
    assert_eq!(theirs["status"], "pending");
}

#[tokio::test]
async fn http01_validates_an_ip_identifier() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    let (order_url, order) = c.order(&[ip("127.0.0.1")]).await;
    let (url, a) = authz(&c, &order, 0).await;
    let ch = challenge(&a, "http-01");
    e.http.serve(token(ch), &c.key_authorization(token(ch)));
    respond(&c, ch, &url).await;
    let record = assert_valid(&c.settle(&url).await, "http-01");
    assert_eq!(record["hostname"], "127.0.0.1");
    assert_eq!(c.settle(&order_url).await["status"], "ready");
}

#[tokio::test]
async fn dns01_validates_a_wildcard_and_a_name_delegated_by_cname() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    let (order_url, order) = c
        .order(&[dns("*.w.example.test"), dns("c.example.test")])
        .await;
    let (wild_url, wild) = authz(&c, &order, 0).await;
    assert_eq!(wild["wildcard"], true);
    let ch = challenge(&wild, "dns-01");
    e.dns.add_txt(
        "_acme-challenge.w.example.test",
        &dns01_txt_value(&c.key_authorization(token(ch))),
    );
    respond(&c, ch, &wild_url).await;

    let (cname_url, cname) = authz(&c, &order, 1).await;
    let ch = challenge(&cname, "dns-01");
    e.dns.add_cname(
        "_acme-challenge.c.example.test",
        "c.acme-delegation.example.net",
    );
    e.dns.add_txt(
        "c.acme-delegation.example.net",
        &dns01_txt_value(&c.key_authorization(token(ch))),
    );
    respond(&c, ch, &cname_url).await;

    let record = assert_valid(&c.settle(&wild_url).await, "dns-01");
    assert_eq!(record["recordName"], "_acme-challenge.w.example.test");
    assert_valid(&c.settle(&cname_url).await, "dns-01");
    assert_eq!(c.settle(&order_url).await["status"], "ready");
}

#[tokio::test]
async fn tls_alpn01_validates() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    e.dns.add_a("t.example.test", LOOPBACK);
    let (order_url, order) = c.order(&[dns("t.example.test")]).await;
    let (url, a) = authz(&c, &order, 0).await;
    let ch = challenge(&a, "tls-alpn-01");
    let server = spawn_tls_alpn(TlsChallenge::new(
        "t.example.test",
        &c.key_authorization(token(ch)),
    ))
    .await;
    e.tls.forward_to(server.addr);
    respond(&c, ch, &url).await;
    let record = assert_valid(&c.settle(&url).await, "tls-alpn-01");
    assert_eq!(record["hostname"], "t.example.test");
    assert_eq!(c.settle(&order_url).await["status"], "ready");
    assert_eq!(
        server.sni_seen.lock().unwrap().first(),
        Some(&Some("t.example.test".to_string()))
    );
}

#[tokio::test]
async fn wrong_key_authorizations_invalidate_challenge_authorization_and_order() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    let wrong = |token: &str| format!("{token}.{}", "A".repeat(43));
    let mut started = Vec::new();
    for (name, kind) in [
        ("fh.example.test", "http-01"),
        ("fd.example.test", "dns-01"),
        ("ft.example.test", "tls-alpn-01"),
    ] {
        e.dns.add_a(name, LOOPBACK);
        let (order_url, order) = c.order(&[dns(name)]).await;
        let (url, a) = authz(&c, &order, 0).await;
        let ch = challenge(&a, kind);
        match kind {
            "http-01" => e.http.serve(token(ch), &wrong(token(ch))),
            "dns-01" => e.dns.add_txt(
                &format!("_acme-challenge.{name}"),
                &dns01_txt_value(&wrong(token(ch))),
            ),
            _ => {
                let server = spawn_tls_alpn(TlsChallenge::new(name, &wrong(token(ch)))).await;
                e.tls.forward_to(server.addr);
            }
        }
        respond(&c, ch, &url).await;
        started.push((order_url, url, kind));
    }
    for ((order_url, url, kind), want) in
        started
            .iter()
            .zip(["incorrectResponse", "incorrectResponse", "unauthorized"])
    {
        assert_invalid(&c, order_url, url, kind, want).await;
    }
    // The other challenges of an invalid authorization cannot be tried any more.
    let (_, url, _) = &started[0];
    let a = c.fetch(url).await;
    let other = challenge(&a, "dns-01");
    let r = c
        .post(other["url"].as_str().unwrap(), Some(&json!({})))
        .await;
    assert_eq!(r.body["status"], "pending", "{r:?}");
    assert_eq!(e.app.db.pending_work().await, 0);
}

#[tokio::test]
async fn unreachable_port_is_a_connection_problem() {
    let e = env(true, Some(closed_port())).await;
    let c = client(&e.app).await;
    e.dns.add_a("closed.example.test", LOOPBACK);
    let (order_url, order) = c.order(&[dns("closed.example.test")]).await;
    let (url, a) = authz(&c, &order, 0).await;
    respond(&c, challenge(&a, "http-01"), &url).await;
    assert_invalid(&c, &order_url, &url, "http-01", "connection").await;
}

#[tokio::test]
async fn refused_network_is_a_connection_problem_naming_the_address() {
    let e = env(false, None).await;
    let c = client(&e.app).await;
    e.dns.add_a("private.example.test", LOOPBACK);
    let (order_url, order) = c.order(&[dns("private.example.test")]).await;
    let (url, a) = authz(&c, &order, 0).await;
    let ch = challenge(&a, "http-01");
    e.http.serve(token(ch), &c.key_authorization(token(ch)));
    respond(&c, ch, &url).await;
    assert_invalid(&c, &order_url, &url, "http-01", "connection").await;
    let a = c.fetch(&url).await;
    let detail = challenge(&a, "http-01")["error"]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("127.0.0.1"), "{detail}");
    assert!(detail.contains("allowed_networks"), "{detail}");
    assert_eq!(e.http.hits(), 0, "a refused address is never connected to");
}

#[tokio::test]
async fn post_as_get_does_not_start_validation_and_a_second_response_is_idempotent() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    e.dns.add_a("g.example.test", LOOPBACK);
    let (order_url, order) = c.order(&[dns("g.example.test")]).await;
    let (url, a) = authz(&c, &order, 0).await;
    let ch = challenge(&a, "http-01");
    e.http.serve(token(ch), &c.key_authorization(token(ch)));
    let chall_url = ch["url"].as_str().unwrap();

    let r = c.post(chall_url, None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "pending");
    assert_eq!(links(&r, "up"), [url.as_str()]);
    // The job would have been recorded in the same transaction as a status change.
    assert_eq!(e.app.db.pending_work().await, 0);
    assert_eq!(c.fetch(&url).await["status"], "pending");
    assert_eq!(c.fetch(&order_url).await["status"], "pending");

    respond(&c, ch, &url).await;
    respond(&c, ch, &url).await;
    assert_valid(&c.settle(&url).await, "http-01");
    assert_eq!(e.http.hits(), 1, "one validation for two responses");
    // Other challenges of a valid authorization are not started either.
    let dns01 = challenge(&a, "dns-01");
    let r = c
        .post(dns01["url"].as_str().unwrap(), Some(&json!({})))
        .await;
    assert_eq!(r.body["status"], "pending", "{r:?}");
    assert_eq!(e.app.db.pending_work().await, 0);
    assert_eq!(c.settle(&order_url).await["status"], "ready");
}

#[tokio::test]
async fn concurrent_responses_to_one_authorization_start_one_validation() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    let names: Vec<String> = (0..6).map(|i| format!("race{i}.example.test")).collect();
    let ids: Vec<Value> = names.iter().map(|n| dns(n)).collect();
    for n in &names {
        e.dns.add_a(n, LOOPBACK);
    }
    let (order_url, order) = c.order(&ids).await;
    let mut authzs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (url, a) = authz(&c, &order, i).await;
        let ch = challenge(&a, "http-01");
        e.http.serve(token(ch), &c.key_authorization(token(ch)));
        e.dns.add_txt(
            &format!("_acme-challenge.{name}"),
            &dns01_txt_value(&c.key_authorization(token(challenge(&a, "dns-01")))),
        );
        authzs.push((url, a));
    }
    // Every challenge of every authorization answered at once.
    let empty = json!({});
    let posts = authzs.iter().flat_map(|(_, a)| {
        a["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ch| c.post(ch["url"].as_str().unwrap(), Some(&empty)))
    });
    for r in futures::future::join_all(posts).await {
        assert_eq!(r.status, 200, "{r:?}");
    }
    // Whichever challenge came first decides (tls-alpn-01 has no server here and fails).
    for (url, _) in &authzs {
        let a = c.settle(url).await;
        assert!(
            matches!(a["status"].as_str(), Some("valid" | "invalid")),
            "{a}"
        );
    }
    // Let any validation started besides the first one finish before counting.
    let deadline = std::time::Instant::now() + support::acme::WAIT;
    while e.app.db.pending_work().await > 0 {
        assert!(std::time::Instant::now() < deadline, "jobs left over");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut conn = e.app.db.connect().await;
    let started: Vec<(String, i64)> = sqlx::query_as(
        "SELECT authz_id, count(*) FROM challenges WHERE status <> 'pending' GROUP BY authz_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(started.len(), names.len());
    assert!(
        started.iter().all(|(_, n)| *n == 1),
        "one challenge per authorization is validated: {started:?}"
    );
    assert_ne!(c.settle(&order_url).await["status"], "pending");
}

#[tokio::test]
async fn a_validation_finishing_after_the_authorization_expired_does_not_revive_it() {
    let e = env(true, None).await;
    let c = client(&e.app).await;
    e.dns.add_a("late.example.test", LOOPBACK);
    let (order_url, order) = c.order(&[dns("late.example.test")]).await;
    let (url, a) = authz(&c, &order, 0).await;
    let ch = challenge(&a, "http-01");
    e.http.serve(token(ch), &c.key_authorization(token(ch)));
    let held = e.http.hold().await;
    respond(&c, ch, &url).await;
    let deadline = std::time::Instant::now() + support::acme::WAIT;
    while e.http.hits() == 0 {
        assert!(std::time::Instant::now() < deadline, "never validated");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The authorization's deadline passes while the worker waits for the answer.
    let mut conn = e.app.db.connect().await;
    sqlx::query("UPDATE authorizations SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(url.rsplit('/').next().unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
    drop(held);
    while e.app.db.pending_work().await > 0 {
        assert!(std::time::Instant::now() < deadline, "job never finished");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let a = c.fetch(&url).await;
    assert_eq!(
        a["status"], "expired",
        "an expired authorization stays expired: {a}"
    );
    assert_eq!(c.fetch(&order_url).await["status"], "invalid");
    // Nor is it reused by a new order.
    let (_, again) = c.order(&[dns("late.example.test")]).await;
    assert_eq!(again["status"], "pending", "{again}");
    assert_ne!(again["authorizations"][0], url.as_str());
}
