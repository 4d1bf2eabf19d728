//! Must-show: two bridge processes on one database behave as one server. A round-robin TCP
//! forwarder (a load balancer on loopback) sits in front of both, so consecutive requests of one
//! client land on alternating replicas — a nonce issued by one is redeemed by the other, an account
//! created on one is used on the other — and both workers compete for the jobs. Every order is
//! issued with exactly one SCM enrollment, also when SCM answers more slowly than a job's lease.

mod support;

use acme_sectigo_bridge::model::JobKind;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::app::TestApp;
use support::db::TestDb;
use support::flow::Responder;
use support::process::{enrollment_row, free_port, issuance_env, order_id, Bridge, SandboxProcess};
use support::remote::Session;
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections on loopback and hands them to the backends in turn.
struct Forwarder {
    /// Backends taken out of rotation (as a health check would).
    down: Arc<[AtomicBool; 2]>,
    /// Connections given to each backend.
    connections: Arc<[AtomicUsize; 2]>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    async fn start(listener: TcpListener, backends: [SocketAddr; 2]) -> Self {
        let connections: Arc<[AtomicUsize; 2]> = Arc::default();
        let counts = connections.clone();
        let down: Arc<[AtomicBool; 2]> = Arc::default();
        let skip = down.clone();
        let task = tokio::spawn(async move {
            let mut next = 0usize;
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut i = next % 2;
                next += 1;
                if skip[i].load(Ordering::SeqCst) {
                    i = 1 - i;
                }
                counts[i].fetch_add(1, Ordering::SeqCst);
                let backend = backends[i];
                tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Self {
            down,
            connections,
            task,
        }
    }

    /// Sends every new connection to the other backend.
    fn take_out(&self, i: usize) {
        self.down[i].store(true, Ordering::SeqCst);
    }

    fn counts(&self) -> [usize; 2] {
        [
            self.connections[0].load(Ordering::SeqCst),
            self.connections[1].load(Ordering::SeqCst),
        ]
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Two replicas behind a forwarder; the client's view uses a fresh connection for every request,
/// so the forwarder alternates per request.
struct Cluster {
    sandbox: SandboxProcess,
    responder: Responder,
    replicas: [Bridge; 2],
    lb: Forwarder,
}

impl Cluster {
    /// Returns the client's view first, so the processes are dropped (killed) before the database.
    async fn start(extra_env: &[(&'static str, String)]) -> (TestApp, Self) {
        let db = TestDb::create().await;
        let sandbox = SandboxProcess::start(&db.name).await;
        let responder = Responder::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut env = issuance_env(&sandbox, responder.port);
        env.extend_from_slice(extra_env);
        let (p1, p2) = (free_port(), free_port());
        let a = Bridge::start(&db, "replica-a", p1, &base, &env).await;
        let b = Bridge::start(&db, "replica-b", p2, &base, &env).await;
        let backends = [
            format!("127.0.0.1:{p1}").parse().unwrap(),
            format!("127.0.0.1:{p2}").parse().unwrap(),
        ];
        let lb = Forwarder::start(listener, backends).await;
        let mut app = TestApp::attach(base, db).await;
        app.http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let cluster = Self {
            sandbox,
            responder,
            replicas: [a, b],
            lb,
        };
        (app, cluster)
    }

    /// How many lines of each replica's log contain `needle`.
    fn log_lines(&self, needle: &str) -> [usize; 2] {
        let n = |b: &Bridge| {
            b.proc
                .log_text()
                .lines()
                .filter(|l| l.contains(needle))
                .count()
        };
        [n(&self.replicas[0]), n(&self.replicas[1])]
    }
}

/// Runs one order for `ips` to `valid` and downloads its certificate; returns the order id.
async fn issue(s: &Session<'_>, cluster: &Cluster, ips: &[&str]) -> String {
    let (url, order) = s.ready_order(&cluster.responder, ips).await;
    let (r, key) = s.finalize(&order, ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    let order = s
        .wait_status(&url, &["valid"], Duration::from_secs(30))
        .await;
    s.download(&order, ips, &key).await;
    order_id(&url)
}

#[tokio::test]
async fn two_replicas_behind_a_load_balancer_issue_every_order_once() {
    let (app, cluster) = Cluster::start(&[]).await;
    // Some orders take a few collect polls, so both workers get a chance at the jobs.
    cluster
        .sandbox
        .behavior(json!({"org_id": 1001, "issuance": {"after_polls": 2}}))
        .await;
    let s = Session::register(&app).await;

    // Three at once (different identifier sets: pending orders for the same ones are reused)…
    let (a, b, c) = tokio::join!(
        issue(&s, &cluster, &["127.0.0.1"]),
        issue(&s, &cluster, &["127.0.0.2"]),
        issue(&s, &cluster, &["127.0.0.1", "127.0.0.2"]),
    );
    // …then two one after the other.
    let d = issue(&s, &cluster, &["127.0.0.2", "127.0.0.1"]).await;
    let e = issue(&s, &cluster, &["127.0.0.1"]).await;
    let ids = [a, b, c, d, e];

    assert_eq!(
        cluster.sandbox.enrollments().await,
        5,
        "one enrollment per order"
    );
    let mut ssl_ids = Vec::new();
    for id in &ids {
        let row = enrollment_row(&app.db, id).await.unwrap();
        assert_eq!(row.enroll_attempts, 1, "{id}: {row:?}");
        ssl_ids.push(row.ssl_id.expect("an sslId"));
    }
    ssl_ids.sort();
    ssl_ids.dedup();
    assert_eq!(ssl_ids.len(), 5, "every order has its own SCM certificate");
    assert_eq!(app.db.count("certificates").await, 5);
    assert_eq!(app.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);

    let [ca, cb] = cluster.lb.counts();
    assert!(
        ca >= 20 && cb >= 20,
        "both replicas served the client: {ca} and {cb} connections"
    );
    let issued = cluster.log_lines("certificate issued");
    assert_eq!(issued[0] + issued[1], 5, "issued per replica: {issued:?}");
    eprintln!(
        "connections per replica: {:?}; certificates issued per replica: {issued:?}; \
         enrolls per replica: {:?}",
        cluster.lb.counts(),
        cluster.log_lines("enrolled in SCM")
    );
}

#[tokio::test]
async fn an_enroll_slower_than_the_lease_is_not_repeated() {
    let (app, cluster) = Cluster::start(&[]).await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.1"];
    let (url, order) = s.ready_order(&cluster.responder, &ips).await;
    // SCM takes 5 s to answer the enroll (the next SCM call); the job's lease is 3 s.
    cluster
        .sandbox
        .faults(json!({"delay_ms": 5000, "delay_next": 1}))
        .await;
    let finalized = Instant::now();
    let (r, key) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    let order = s
        .wait_status(&url, &["valid"], Duration::from_secs(30))
        .await;
    s.download(&order, &ips, &key).await;
    let row = enrollment_row(&app.db, &order_id(&url)).await.unwrap();
    assert_eq!(
        row.enroll_attempts, 1,
        "no replica enrolled again while the first enroll was still under way: {row:?}"
    );
    // Whatever was sent has been answered by now (the delay is 5 s, the SCM timeout 10 s).
    let settled = finalized + Duration::from_secs(6);
    tokio::time::sleep(settled.saturating_duration_since(Instant::now())).await;
    assert_eq!(cluster.sandbox.enrollments().await, 1);
    let sent = cluster.log_lines("enrolled in SCM");
    assert_eq!(sent[0] + sent[1], 1, "{sent:?}");
    assert_eq!(
        cluster.log_lines("may still be under way"),
        [0, 0],
        "the lease was renewed: no replica took the job over while its enroll was running"
    );
}

#[tokio::test]
async fn a_replica_frozen_mid_enroll_is_taken_over_without_a_second_enroll() {
    // SCM timeout 6 s: the other replica may conclude "never created" 11 s after the enroll began.
    let (app, mut cluster) = Cluster::start(&[("BRIDGE_SCM__TIMEOUT_SECS", "6".to_string())]).await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.2"];
    let (url, order) = s.ready_order(&cluster.responder, &ips).await;
    // SCM takes 5 s to create the certificate and answer.
    cluster
        .sandbox
        .faults(json!({"delay_ms": 5000, "delay_next": 1}))
        .await;
    let (r, key) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");

    // Freeze the replica whose enroll is under way (a stalled VM, a long pause): its lease runs out
    // while SCM is still working on its request, and SCM answers into a socket nobody reads.
    let deadline = Instant::now() + Duration::from_secs(15);
    let frozen = loop {
        let sending = cluster.log_lines("sending enroll to SCM");
        if let Some(i) = sending.iter().position(|n| *n > 0) {
            break i;
        }
        assert!(Instant::now() < deadline, "no replica sent the enroll");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    cluster.replicas[frozen].proc.signal("STOP");
    cluster.lb.take_out(frozen);
    assert_eq!(
        cluster.sandbox.enrollments().await,
        0,
        "SCM is still working on it"
    );

    let order = s
        .wait_status(&url, &["valid"], Duration::from_secs(40))
        .await;
    s.download(&order, &ips, &key).await;
    let other = 1 - frozen;
    assert_eq!(
        cluster.sandbox.enrollments().await,
        1,
        "the other replica waited for the frozen one's enroll and adopted it"
    );
    let row = enrollment_row(&app.db, &order_id(&url)).await.unwrap();
    assert_eq!(row.enroll_attempts, 1, "{row:?}");
    let adopted = cluster.log_lines("adopted the certificate of an earlier enroll");
    assert_eq!(adopted[other], 1, "{adopted:?}");
    cluster.replicas[frozen].kill();
}
