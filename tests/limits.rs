//! Limits for abusive or broken clients, over real HTTP: each rate limit answers `rateLimited`
//! (429) with `Retry-After` once its burst is used up, the in-flight limit and the request
//! timeout answer 503 problem documents, and behind a trusted proxy the client address comes
//! from `X-Forwarded-For`.

mod support;

use acme_sectigo_bridge::limits::Rate;
use acme_sectigo_bridge::model::EabKey;
use serde_json::{json, Value};
use support::app::TestApp;
use support::client::{jws, reply, Client, Reply};
use support::flow::{wait_status, Env};

/// A rate that allows `burst` requests and then one per minute: the test never waits that long.
fn burst(n: u32) -> Rate {
    Rate::new(1.0, n)
}

fn assert_rate_limited(r: &Reply, what: &str) {
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.problem_type(), "rateLimited", "{r:?}");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    // A token comes back within a minute; a failure leaves its window within burst minutes.
    assert!((1..=180).contains(&retry), "Retry-After {retry}");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(what), "{detail}");
}

fn dns_order(name: &str) -> Value {
    json!({"identifiers": [{"type": "dns", "value": name}]})
}

async fn get_nonce(app: &TestApp, forwarded_for: Option<&str>) -> Reply {
    let mut req = app.http.get(app.url("/acme/new-nonce"));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    reply(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_nonce_is_limited_per_client_address() {
    let app = TestApp::spawn_with(|c| c.limits.new_nonce_per_address = burst(3)).await;
    for _ in 0..3 {
        assert_eq!(get_nonce(&app, None).await.status, 204);
    }
    let r = get_nonce(&app, None).await;
    assert_rate_limited(&r, "limits.new_nonce_per_address");
    assert!(
        r.header("replay-nonce").is_some(),
        "a refusal still carries a nonce"
    );
    // Other endpoints are not affected.
    let d = reply(app.http.get(app.url("/directory")).send().await.unwrap()).await;
    assert_eq!(d.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited() {
    let app = TestApp::spawn_with(|c| {
        c.limits.new_nonce_per_address = burst(1);
        c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    // The first entry is what a client could forge; the proxy appended the real address.
    let a = "198.51.100.1, 203.0.113.1";
    assert_eq!(get_nonce(&app, Some(a)).await.status, 204);
    assert_rate_limited(&get_nonce(&app, Some(a)).await, "203.0.113.1");
    // Forging another left-most entry does not help; another client has its own bucket.
    assert_rate_limited(
        &get_nonce(&app, Some("198.51.100.2, 203.0.113.1")).await,
        "203.0.113.1",
    );
    assert_eq!(get_nonce(&app, Some("203.0.113.2")).await.status, 204);

    // Without trusting the proxy, the header is ignored: the peer (127.0.0.1) is the client.
    let direct = TestApp::spawn_with(|c| c.limits.new_nonce_per_address = burst(1)).await;
    assert_eq!(get_nonce(&direct, Some("203.0.113.1")).await.status, 204);
    assert_rate_limited(&get_nonce(&direct, Some("203.0.113.2")).await, "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_account_is_limited_per_client_address() {
    let app = TestApp::spawn_with(|c| c.limits.new_account_per_address = burst(2)).await;
    let (kid, hmac) = app.eab_key(false).await;
    for _ in 0..2 {
        let mut c = Client::new(&app);
        assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);
    }
    let mut c = Client::new(&app);
    let r = c.register(Some((&kid, &hmac))).await;
    assert_rate_limited(&r, "limits.new_account_per_address");
    assert!(c.kid.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_order_is_limited_per_account() {
    let app = TestApp::spawn_with(|c| c.limits.new_order_per_account = burst(2)).await;
    let (kid, hmac) = app.eab_key(false).await;
    let mut first = Client::new(&app);
    first.register(Some((&kid, &hmac))).await;
    let url = app.url("/acme/new-order");
    for i in 0..2 {
        let r = first
            .post(&url, Some(&dns_order(&format!("h{i}.example.test"))))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let r = first.post(&url, Some(&dns_order("h9.example.test"))).await;
    assert_rate_limited(&r, "limits.new_order_per_account");

    // Another account of the same key has its own bucket.
    let mut second = Client::new(&app);
    second.register(Some((&kid, &hmac))).await;
    let r = second.post(&url, Some(&dns_order("h0.example.test"))).await;
    assert_eq!(r.status, 201, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_order_is_limited_per_eab_key() {
    let app = TestApp::spawn_with(|c| {
        c.limits.new_order_per_account = Rate::new(0.0, 0); // off: only the key's limit counts
        c.limits.new_order_per_eab_key = burst(2);
    })
    .await;
    let (kid, hmac) = app.eab_key(false).await;
    let url = app.url("/acme/new-order");
    let mut a = Client::new(&app);
    a.register(Some((&kid, &hmac))).await;
    let mut b = Client::new(&app);
    b.register(Some((&kid, &hmac))).await;
    assert_eq!(
        a.post(&url, Some(&dns_order("a.example.test")))
            .await
            .status,
        201
    );
    assert_eq!(
        b.post(&url, Some(&dns_order("b.example.test")))
            .await
            .status,
        201
    );
    let r = a.post(&url, Some(&dns_order("c.example.test"))).await;
    assert_rate_limited(&r, "limits.new_order_per_eab_key");

    // An account of another key is not affected.
    let (kid2, hmac2) = app.eab_key(false).await;
    let mut other = Client::new(&app);
    other.register(Some((&kid2, &hmac2))).await;
    assert_eq!(
        other
            .post(&url, Some(&dns_order("d.example.test")))
            .await
            .status,
        201
    );
}

/// Creates an order for `ip`, answers its http-01 challenge without serving the key
/// authorization, and waits until the challenge failed.
async fn fail_a_validation(env: &Env, c: &Client<'_>, ip: &str) {
    let (challenge_url, authz_url) = http01_of_new_order(env, c, ip).await;
    let r = c.post(&challenge_url, Some(&json!({}))).await;
    assert_eq!(r.status, 200, "{r:?}");
    wait_status(c, &authz_url, &["invalid"]).await;
}

/// A new order for `ip`: its http-01 challenge URL and its authorization URL.
async fn http01_of_new_order(env: &Env, c: &Client<'_>, ip: &str) -> (String, String) {
    let r = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&json!({"identifiers": [{"type": "ip", "value": ip}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let authz_url = r.body["authorizations"][0].as_str().unwrap().to_string();
    let a = c.post(&authz_url, None).await;
    let ch = a.body["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["type"] == "http-01")
        .unwrap();
    (ch["url"].as_str().unwrap().to_string(), authz_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validations_are_limited_per_account() {
    let env = Env::start_with(Default::default(), |c| {
        c.limits.failed_validations_per_account = burst(2);
    })
    .await;
    let c = env.client().await;
    fail_a_validation(&env, &c, "127.0.0.1").await;
    fail_a_validation(&env, &c, "127.0.0.2").await;

    // A third validation is refused before it starts; fetching the challenge still works.
    let (challenge_url, _) = http01_of_new_order(&env, &c, "127.0.0.3").await;
    let r = c.post(&challenge_url, Some(&json!({}))).await;
    assert_rate_limited(&r, "limits.failed_validations_per_account");
    let r = c.post(&challenge_url, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "pending", "no validation was started");

    // The failures are counted in the database: another replica refuses too, and another
    // account is not affected.
    let replica = env
        .app
        .replica(|cfg| {
            cfg.limits.failed_validations_per_account = burst(2);
        })
        .await;
    let on_replica = Client {
        app: &replica,
        key: c.key.clone(),
        kid: c.kid.clone(),
    };
    let r = on_replica.post(&challenge_url, Some(&json!({}))).await;
    assert_rate_limited(&r, "limits.failed_validations_per_account");
    let other = env.client().await;
    let (challenge_url, _) = http01_of_new_order(&env, &other, "127.0.0.1").await;
    assert_eq!(
        other.post(&challenge_url, Some(&json!({}))).await.status,
        200
    );
}

/// An EAB key trusting SCM's domain validation for org 1001: its newOrder asks SCM.
async fn trusting_key(env: &Env) -> (String, Vec<u8>) {
    let k = EabKey {
        kid: format!("kid-{}", acme_sectigo_bridge::ids::random_id()),
        hmac_key: acme_sectigo_bridge::ids::random_bytes(32),
        label: "slow".into(),
        allowed_patterns: vec!["*.example.com".into()],
        scm_org_id: Some(1001),
        profiles: vec![],
        trust_scm_dcv: true,
        single_use: false,
        created_at: chrono::Utc::now(),
        used_at: None,
        revoked_at: None,
        accounts_stopped: false,
    };
    env.app.store.create_eab_key(&k).await.unwrap();
    (k.kid, k.hmac_key)
}

/// Starts a newOrder that hangs on a minute-long SCM answer, and returns once SCM holds it.
async fn start_stuck_new_order(
    env: &Env,
    c: &Client<'_>,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let url = env.app.url("/acme/new-order");
    let protected = c.protected(&url).await;
    let body = jws(
        &c.key,
        &protected,
        dns_order("www.example.com").to_string().as_bytes(),
    );
    env.sandbox
        .set_faults(acme_sectigo_bridge::sandbox::Faults {
            delay_ms: 60_000,
            delay_next: Some(1),
            ..Default::default()
        });
    let http = env.app.http.clone();
    let stuck = tokio::spawn(async move {
        http.post(url)
            .header("content-type", "application/jose+json")
            .body(body.to_string())
            .send()
            .await
    });
    while env.sandbox.faults().delay_next != Some(0) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stuck
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_is_answered_503() {
    let env = Env::start_with(Default::default(), |c| {
        // Below what configuration validation allows, to keep the test short.
        c.server.request_timeout_secs = 2;
    })
    .await;
    let (kid, hmac) = trusting_key(&env).await;
    let mut c = Client::new(&env.app);
    assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);

    let stuck = start_stuck_new_order(&env, &c).await;
    let r = reply(
        stuck
            .await
            .unwrap()
            .expect("an answer, not a dropped connection"),
    )
    .await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.problem_type(), "serverInternal");
    assert!(r.header("retry-after").is_some());
    assert!(r.header("replay-nonce").is_some());
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("server.request_timeout_secs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_limit_are_answered_503() {
    let env = Env::start_with(Default::default(), |c| {
        c.server.max_concurrent_requests = 1;
    })
    .await;
    let (kid, hmac) = trusting_key(&env).await;
    let mut c = Client::new(&env.app);
    assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);

    let stuck = start_stuck_new_order(&env, &c).await;
    let r = reply(
        env.app
            .http
            .get(env.app.url("/directory"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.problem_type(), "serverInternal");
    assert!(r.header("retry-after").is_some());
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("server.max_concurrent_requests"));
    assert!(!stuck.is_finished(), "the first request still runs");
    stuck.abort();
    // Health checks are outside the limit.
    let h = env
        .app
        .http
        .get(env.app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
}
