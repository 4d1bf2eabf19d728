//! Issue #12 item 5: a PostgreSQL restart under the bridge is ridden out. Requests retry what is
//! safe within a bounded budget and otherwise answer 503 with `Retry-After`, never a bare 500; a
//! finalize that committed answers its order `processing`; `/readyz` stays green through a blip
//! and turns red after its grace; `serve` started while the database is down waits for it.
//! Each test runs its own throwaway cluster (tests/support/pg_cluster.rs), never the shared one.

mod support;

use acme_sectigo_bridge::sandbox::{Issuance, SandboxConfig};
use serde_json::json;
use sqlx::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::client::{Client, Reply};
use support::flow::{csr, finalize, Env};
use support::pg_cluster::PgCluster;

/// Runs a blocking cluster operation off the async threads.
async fn blocking(cluster: &Arc<PgCluster>, op: fn(&PgCluster)) {
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || op(&c)).await.unwrap();
}

/// Starts the stopped cluster again after `delay`, in the background.
fn start_again_in(cluster: &Arc<PgCluster>, delay: Duration) -> tokio::task::JoinHandle<()> {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        blocking(&cluster, PgCluster::start_again).await;
    })
}

/// What a client must be able to act on: success, or 503 with `Retry-After` (never a 500).
fn acceptable(r: &Reply) -> bool {
    r.status < 500 || (r.status == 503 && r.header("retry-after").is_some())
}

/// Creates orders (and reads each back) until `stop`; every answer with whether it came after the
/// restart.
async fn orders_until(
    c: &Client<'_>,
    new_order: &str,
    n: usize,
    stop: &AtomicBool,
    restarted: &AtomicBool,
) -> Vec<(bool, Reply)> {
    let mut seen = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let ip = format!("127.0.{}.{}", n + 1, i % 250 + 1);
        let r = c
            .post(
                new_order,
                Some(&json!({"identifiers": [{"type": "ip", "value": ip}]})),
            )
            .await;
        let after = restarted.load(Ordering::SeqCst);
        if r.status == 201 {
            let url = r.location().unwrap().to_string();
            let o = c.post(&url, None).await;
            seen.push((after, o));
        }
        seen.push((after, r));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_answers_no_500() {
    let cluster = Arc::new(PgCluster::start());
    let db = Arc::new(cluster.database().await);
    let env = Env::start_on(db, SandboxConfig::default(), |c| {
        c.limits.enabled = false;
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(env.client().await);
    }
    let stop = AtomicBool::new(false);
    let new_order = env.app.url("/acme/new-order");
    let restarted = AtomicBool::new(false);
    let load = futures::future::join_all(
        clients
            .iter()
            .enumerate()
            .map(|(n, c)| orders_until(c, &new_order, n, &stop, &restarted)),
    );
    let chaos = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        blocking(&cluster, PgCluster::restart).await;
        restarted.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::SeqCst);
    };
    let (seen, ()) = tokio::join!(load, chaos);
    let seen: Vec<(bool, Reply)> = seen.into_iter().flatten().collect();
    let bad: Vec<&Reply> = seen
        .iter()
        .map(|(_, r)| r)
        .filter(|r| !acceptable(r))
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} answers were errors a client cannot act on, e.g. {:?}",
        bad.len(),
        seen.len(),
        bad.first()
    );
    assert!(
        seen.iter().any(|(after, r)| *after && r.status == 201),
        "no order was created after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finalize_that_committed_answers_processing_when_the_database_goes_away() {
    let cluster = Arc::new(PgCluster::start());
    let db = Arc::new(cluster.database().await);
    let url = db.url.clone();
    let sandbox = SandboxConfig {
        issuance: Issuance::Never,
        ..SandboxConfig::default()
    };
    let env = Env::start_on(db, sandbox, |c| {
        c.issuance.finalize_wait_secs = 20;
        c.server.request_timeout_secs = 0;
    })
    .await;
    let c = env.client().await;
    let (order_url, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let order_id = order_url.rsplit('/').next().unwrap().to_string();
    let (der, _key) = csr(&["127.0.0.1"], None);
    // Stop the database once the finalize has committed (the order is `processing`), while the
    // request is still waiting for the worker.
    let stopper = async {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        loop {
            let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
                .bind(&order_id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            if status == "processing" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(conn);
        blocking(&cluster, PgCluster::stop).await;
    };
    let (r, ()) = tokio::join!(finalize(&c, &order, &der), stopper);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "processing", "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    blocking(&cluster, PgCluster::start_again).await;
    // The client re-sends its finalize (e.g. after a lost answer): the same CSR gets the order,
    // a different one is still refused.
    let again = finalize(&c, &order, &der).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["status"], "processing", "{again:?}");
    let (other, _k) = csr(&["127.0.0.1"], None);
    let refused = finalize(&c, &order, &other).await;
    assert_eq!(refused.problem_type(), "orderNotReady", "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_stays_green_through_a_blip_and_turns_red_after_the_grace() {
    let cluster = Arc::new(PgCluster::start());
    let db = Arc::new(cluster.database().await);
    let app = support::app::TestApp::spawn_on(db, |c| c.server.readiness_grace_secs = 3).await;
    let readyz = || async {
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 200);
    blocking(&cluster, PgCluster::restart).await;
    assert_eq!(readyz().await, 200, "a restart is a blip");
    blocking(&cluster, PgCluster::stop).await;
    assert_eq!(
        readyz().await,
        200,
        "the first failed probe is within the grace"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while readyz().await != 503 {
        assert!(
            Instant::now() < deadline,
            "/readyz never turned red with the database down"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    blocking(&cluster, PgCluster::start_again).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while readyz().await != 200 {
        assert!(
            Instant::now() < deadline,
            "/readyz stayed red with the database back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_started_while_the_database_is_down_waits_and_then_serves() {
    let cluster = Arc::new(PgCluster::start());
    let db = cluster.database().await;
    blocking(&cluster, PgCluster::stop).await;
    let starter = start_again_in(&cluster, Duration::from_secs(3));
    let port = support::process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // Waits for /readyz (panicking if the process exits, as it did before the fix).
    let bridge = support::process::Bridge::start(&db, "waits-for-db", port, &base, &[]).await;
    starter.await.unwrap();
    let dir = reqwest::get(format!("{}/directory", bridge.direct))
        .await
        .unwrap();
    assert_eq!(dir.status(), 200);
    assert!(
        bridge.proc.log_text().contains("not reachable yet"),
        "the bridge did not wait for the database"
    );
}

/// `migrate` runs ahead of a rollout (a Kubernetes Job, a deploy script), which may start it
/// while the database is still coming up: it waits up to `database.startup_wait_secs` as `serve`
/// does, instead of failing at the first refused connection (it did before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_run_while_the_database_is_down_waits_and_then_migrates() {
    let cluster = Arc::new(PgCluster::start());
    let db = cluster.database().await;
    blocking(&cluster, PgCluster::stop).await;
    let starter = start_again_in(&cluster, Duration::from_secs(3));
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        support::process::binary()
            .arg("migrate")
            .env("BRIDGE_DATABASE__URL", &url)
            .env("BRIDGE_DATABASE__STARTUP_WAIT_SECS", "60")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    starter.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "migrate failed: {stdout}{stderr}");
    assert!(stdout.contains("database is up to date"), "{stdout}");
    assert!(
        stderr.contains("not reachable yet"),
        "migrate did not wait for the database: {stderr}"
    );
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(applied > 0);
}
