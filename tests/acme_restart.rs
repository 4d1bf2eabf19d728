//! Must-show: a restart of the server while a challenge is processing still ends with the challenge
//! validated. The real binary runs as a child process configured only through `BRIDGE_*`
//! variables; it is SIGKILLed mid-validation and a new process on the same database finishes the
//! job once the dead one's lease runs out.

mod support;

use acme_sectigo_bridge::model::JobKind;
use axum::extract::{Path, State};
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::acme::{challenge, dns};
use support::app::TestApp;
use support::client::Client;
use support::db::TestDb;
use support::process::{free_port, Bridge};
use support::validation::dns::DnsServer;
use tokio::sync::mpsc;

/// How long the first http-01 request is held: far longer than the test needs to kill the process.
const FIRST_RESPONSE_DELAY: Duration = Duration::from_secs(3);

/// Starts `acme-sectigo-bridge serve` on `port` (external URL the same) and waits for `/readyz`.
async fn start_bridge(
    db: &TestDb,
    port: u16,
    http_port: u16,
    dns: SocketAddr,
    name: &str,
) -> Bridge {
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("BRIDGE_VALIDATION__HTTP_PORT", http_port.to_string()),
        (
            "BRIDGE_VALIDATION__ALLOWED_NETWORKS",
            r#"["127.0.0.0/8"]"#.to_string(),
        ),
        ("BRIDGE_VALIDATION__DNS_RESOLVERS", format!(r#"["{dns}"]"#)),
        ("BRIDGE_VALIDATION__TIMEOUT_SECS", "10".to_string()),
        ("BRIDGE_ISSUANCE__LEASE_SECS", "3".to_string()),
        ("BRIDGE_ISSUANCE__POLL_INTERVAL_MS", "100".to_string()),
    ];
    Bridge::start(db, name, port, &base, &env).await
}

/// An http-01 responder whose first request is announced on a channel and then held for
/// [`FIRST_RESPONSE_DELAY`]; later requests are answered at once.
#[derive(Clone)]
struct SlowFirst {
    body: Arc<Mutex<Option<String>>>,
    hits: Arc<AtomicUsize>,
    arrived: mpsc::UnboundedSender<()>,
}

async fn slow_first(State(s): State<SlowFirst>, Path(token): Path<String>) -> String {
    let n = s.hits.fetch_add(1, Ordering::SeqCst);
    let _ = s.arrived.send(());
    if n == 0 {
        tokio::time::sleep(FIRST_RESPONSE_DELAY).await;
    }
    let body = s.body.lock().unwrap().clone().unwrap_or_default();
    assert!(body.starts_with(&token), "asked for token {token}");
    body
}

#[tokio::test]
async fn restart_while_a_challenge_is_processing_still_validates_it() {
    let db = TestDb::create().await;
    let dns_server = DnsServer::start().await;
    dns_server.add_a("restart.example.test", "127.0.0.1".parse().unwrap());
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel();
    let responder = SlowFirst {
        body: Arc::default(),
        hits: Arc::default(),
        arrived: arrived_tx,
    };
    let router = Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(slow_first),
        )
        .with_state(responder.clone());
    let http_addr = support::validation::servers::spawn_http(router).await;

    let port = free_port();
    let mut first = start_bridge(&db, port, http_addr.port(), dns_server.addr, "first").await;
    let app = TestApp::attach(format!("http://127.0.0.1:{port}"), db).await;
    let mut c = Client::new(&app);
    assert_eq!(c.register(None).await.status, 201);
    let (order_url, order) = c.order(&[dns("restart.example.test")]).await;
    let (authz_url, authz) = c.first_authz(&order).await;
    let ch = challenge(&authz, "http-01").clone();
    let chall_url = ch["url"].as_str().unwrap().to_string();
    let chall_id = chall_url.rsplit('/').next().unwrap().to_string();
    *responder.body.lock().unwrap() = Some(c.key_authorization(ch["token"].as_str().unwrap()));
    let r = c.post(&chall_url, Some(&json!({}))).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "processing");

    // The first process's worker is now inside the validation, holding the job's lease.
    tokio::time::timeout(Duration::from_secs(10), arrived.recv())
        .await
        .expect("the first bridge never asked for the challenge");
    assert_eq!(c.fetch(&chall_url).await["status"], "processing");
    let mut conn = app.db.connect().await;
    let leased: Option<String> = sqlx::query_scalar(
        "SELECT leased_by FROM jobs WHERE kind = 'validate' AND subject_id = $1",
    )
    .bind(&chall_id)
    .fetch_one(&mut conn)
    .await
    .expect("a validate job row exists");
    assert!(leased.is_some(), "the job is leased by the first bridge");
    assert_eq!(responder.hits.load(Ordering::SeqCst), 1);

    first.kill();
    let status: String = sqlx::query_scalar("SELECT status FROM challenges WHERE id = $1")
        .bind(&chall_id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        status, "processing",
        "killed before the validation finished"
    );
    assert_eq!(app.store.pending_jobs(JobKind::Validate).await.unwrap(), 1);

    // A new process on the same database (same URL, so the account's kid still matches).
    let _second = start_bridge(&app.db, port, http_addr.port(), dns_server.addr, "second").await;
    let authz = c.settle(&authz_url).await;
    assert_eq!(authz["status"], "valid", "{authz}");
    let ch = c.fetch(&chall_url).await;
    assert_eq!(ch["status"], "valid", "{ch}");
    assert_eq!(ch["validationRecord"][0]["addressUsed"], "127.0.0.1");
    assert_eq!(c.settle(&order_url).await["status"], "ready");
    assert_eq!(app.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);
    assert_eq!(
        responder.hits.load(Ordering::SeqCst),
        2,
        "validated again by the second process, exactly once"
    );
}
