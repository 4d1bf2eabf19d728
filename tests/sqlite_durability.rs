//! The default store's durability promise, tested the way it is broken in practice: the bridge on
//! SQLite (its zero-setup default) is SIGKILLed while clients have requests in flight, then started
//! again on the same file. Every account and order whose creation was acknowledged (201 with a
//! `Location`) before the kill must be there after the restart. (Power loss is the other half of
//! the promise: `synchronous = FULL` with WAL puts each commit on disk before the answer; a test
//! cannot pull the plug, so docs/performance.md states that guarantee instead.)

mod support;

use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::app::TestApp;
use support::client::{Client, TestKey};
use support::db::TestDb;
use support::process::{free_port, Bridge, SandboxProcess};

/// What a client was told was created: the account (its key and URL) and, when acknowledged too,
/// an order of it.
#[derive(Clone)]
struct Acknowledged {
    key: TestKey,
    account_url: String,
    order_url: Option<String>,
}

/// Registers accounts and creates an order for each, until `stop`, recording every 201. A request
/// cut off by the kill panics inside its own task, which ends the loop without recording anything.
async fn client_loop(
    app: Arc<TestApp>,
    worker: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Acknowledged>>>,
    sent: Arc<AtomicUsize>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        sent.fetch_add(1, Ordering::Relaxed);
        let app = app.clone();
        let attempt = tokio::spawn(async move {
            let mut c = Client::new(&app);
            let r = c.register(None).await;
            if r.status != 201 {
                return None;
            }
            let account_url = c.kid.clone().expect("a registered account has a URL");
            let mut ack = Acknowledged {
                key: c.key.clone(),
                account_url,
                order_url: None,
            };
            let ids = json!({"identifiers": [
                {"type": "dns", "value": format!("o{n}.w{worker}.durability.example.com")}
            ]});
            let url = app.url("/acme/new-order");
            // The account is acknowledged whatever happens to the order request.
            let order = tokio::spawn({
                let app = app.clone();
                let key = ack.key.clone();
                let kid = ack.account_url.clone();
                async move {
                    let mut c = Client::with_key(&app, key);
                    c.kid = Some(kid);
                    let r = c.post(&url, Some(&ids)).await;
                    (r.status == 201).then(|| r.location().map(str::to_string))?
                }
            })
            .await;
            ack.order_url = order.ok().flatten();
            Some(ack)
        })
        .await;
        match attempt {
            Ok(Some(ack)) => acked.lock().unwrap().push(ack),
            Ok(None) => {}
            // The connection broke: the server is gone.
            Err(_) => break,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_accounts_and_orders_survive_sigkill_on_sqlite() {
    // The PostgreSQL test database only names this test's processes and files; the bridge's state
    // goes to the SQLite file.
    let db = TestDb::create().await;
    let dir = std::env::temp_dir().join(format!("bridge-durability-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite_url = acme_sectigo_bridge::store::default_sqlite_url(&dir);
    let sandbox = SandboxProcess::start(&db.name).await;
    let mut env = sandbox.bridge_env();
    env.push(("BRIDGE_DATABASE__URL", sqlite_url.clone()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut bridge = Bridge::start(&db, "before-kill", port, &base, &env).await;
    let app = Arc::new(TestApp::attach(base.clone(), db).await);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            tokio::spawn(client_loop(
                app.clone(),
                w,
                stop.clone(),
                acked.clone(),
                sent.clone(),
            ))
        })
        .collect();
    // Kill once a good number of creations were acknowledged, with eight more in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 60 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bridge.kill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let orders = acked.iter().filter(|a| a.order_url.is_some()).count();
    assert!(
        acked.len() >= 60 && orders > 0,
        "too little was acknowledged before the kill to test anything: {} accounts, {orders} \
         orders of {} attempts",
        acked.len(),
        sent.load(Ordering::Relaxed)
    );

    let _after = Bridge::start(app.db.as_ref(), "after-kill", port, &base, &env).await;
    for a in &acked {
        let mut c = Client::with_key(&app, a.key.clone());
        c.kid = Some(a.account_url.clone());
        let r = c.post(&a.account_url, None).await;
        assert_eq!(
            r.status, 200,
            "acknowledged account {} is gone after the kill: {r:?}",
            a.account_url
        );
        assert_eq!(r.body["status"], "valid", "{r:?}");
        if let Some(order_url) = &a.order_url {
            let r = c.post(order_url, None).await;
            assert_eq!(
                r.status, 200,
                "acknowledged order {order_url} is gone after the kill: {r:?}"
            );
            assert_eq!(r.body["status"], "pending", "{r:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_nonces_are_spent_once_and_not_accepted_after_a_restart() {
    // On SQLite nonces are spent in memory under a key of the process (no row per request):
    // a replay must still be refused, and a nonce minted before a restart must not work after it.
    let db = TestDb::create().await;
    let dir = std::env::temp_dir().join(format!("bridge-nonces-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let sandbox = SandboxProcess::start(&db.name).await;
    let mut env = sandbox.bridge_env();
    env.push((
        "BRIDGE_DATABASE__URL",
        acme_sectigo_bridge::store::default_sqlite_url(&dir),
    ));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut bridge = Bridge::start(&db, "nonces-first", port, &base, &env).await;
    let app = TestApp::attach(base.clone(), db).await;

    let mut c = Client::new(&app);
    assert_eq!(c.register(None).await.status, 201);
    let account = c.kid.clone().unwrap();
    let h = c.protected(&account).await;
    assert_eq!(c.post_signed(&account, &h, None).await.status, 200);
    let replay = c.post_signed(&account, &h, None).await;
    assert_eq!(replay.status, 400, "{replay:?}");
    assert_eq!(replay.problem_type(), "badNonce");
    assert!(
        replay.body["detail"]
            .as_str()
            .unwrap()
            .contains("already been used"),
        "{replay:?}"
    );

    let minted_before = c.protected(&account).await;
    bridge.kill();
    drop(bridge);
    let _after = Bridge::start(app.db.as_ref(), "nonces-second", port, &base, &env).await;
    let r = c.post_signed(&account, &minted_before, None).await;
    assert_eq!(
        r.status, 400,
        "a nonce from before the restart was accepted: {r:?}"
    );
    assert_eq!(r.problem_type(), "badNonce");
    // The client retries with the nonce the error carries, as RFC 8555 §6.5 has it.
    let mut retry = minted_before.clone();
    retry["nonce"] = serde_json::json!(r.header("replay-nonce").unwrap());
    assert_eq!(c.post_signed(&account, &retry, None).await.status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_locked_by_another_process_answers_503_with_retry_after() {
    // Another process (a long CLI command, a backup tool) holds SQLite's write lock for longer
    // than database.acquire_timeout_secs: the client is told to come back (503, Retry-After), not
    // that the server failed (500), and the next request after the lock is gone succeeds.
    use sqlx::{ConnectOptions, Executor};
    let db = TestDb::create().await;
    let dir = std::env::temp_dir().join(format!("bridge-locked-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let sandbox = SandboxProcess::start(&db.name).await;
    let url = acme_sectigo_bridge::store::default_sqlite_url(&dir);
    let mut env = sandbox.bridge_env();
    env.push(("BRIDGE_DATABASE__URL", url.clone()));
    env.push(("BRIDGE_DATABASE__ACQUIRE_TIMEOUT_SECS", "1".into()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _bridge = Bridge::start(&db, "locked", port, &base, &env).await;
    let app = TestApp::attach(base.clone(), db).await;
    assert_eq!(Client::new(&app).register(None).await.status, 201);

    let mut other: sqlx::SqliteConnection =
        <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .connect()
            .await
            .unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let r = Client::new(&app).register(None).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    other.execute("ROLLBACK").await.unwrap();
    assert_eq!(Client::new(&app).register(None).await.status, 201);
    let _ = std::fs::remove_dir_all(&dir);
}
