//! Must-show: issuance survives the bridge being SIGKILLed while an order is `processing`, with
//! exactly one SCM enrollment per order. The bridge runs as a real child process (configured only by
//! `BRIDGE_*` variables) and the SCM sandbox as another, so what SCM recorded outlives the bridge. A
//! new bridge on the same database takes the job over once the dead one's lease expires.
//!
//! Exactly-once enrollment under faults (#12): a stalled replica whose lease ran out sends no
//! enroll for an order another replica took over; an earlier enroll is found by its marker beyond
//! the first list page; an answered enroll failure is retried shortly after the answer.
//!
//! Also: an order whose SCM org requires approval stays `processing` across a restart until an
//! administrator decides; approved → `valid`, declined → `invalid` with SCM's verdict in the error.

mod support;

use acme_sectigo_bridge::model::JobKind;
use serde_json::json;
use std::time::{Duration, Instant};
use support::app::TestApp;
use support::db::TestDb;
use support::flow::Responder;
use support::process::{
    enrollment_row, free_port, issuance_env, order_id, order_status, wait_enrollment, Bridge,
    SandboxProcess,
};
use support::remote::Session;

/// A sandbox, an http-01 responder and the first bridge, plus the test's view of the database.
struct Setup {
    sandbox: SandboxProcess,
    responder: Responder,
    port: u16,
    base: String,
    env: Vec<(&'static str, String)>,
    bridge: Option<Bridge>,
    /// Killed bridges, kept so their logs are printed if the test fails.
    dead: Vec<Bridge>,
}

impl Setup {
    /// Returns the client's view first, so the processes are dropped (killed) before the database.
    async fn start() -> (TestApp, Self) {
        Self::start_with(&[]).await
    }

    /// [`Setup::start`] with `BRIDGE_*` settings added to (or overriding) [`issuance_env`].
    async fn start_with(extra: &[(&'static str, &str)]) -> (TestApp, Self) {
        let db = TestDb::create().await;
        let sandbox = SandboxProcess::start(&db.name).await;
        let responder = Responder::start().await;
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env = issuance_env(&sandbox, responder.port);
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let bridge = Bridge::start(&db, "first", port, &base, &env).await;
        let app = TestApp::attach(base.clone(), db).await;
        let procs = Self {
            sandbox,
            responder,
            port,
            base,
            env,
            bridge: Some(bridge),
            dead: Vec::new(),
        };
        (app, procs)
    }

    /// SIGKILLs the running bridge.
    fn kill(&mut self) {
        self.bridge.as_mut().expect("a bridge runs").kill();
    }

    /// Starts a new bridge process on the same database, port and external URL.
    async fn restart(&mut self, db: &TestDb, name: &str) {
        if let Some(mut old) = self.bridge.take() {
            old.kill();
            self.dead.push(old);
        }
        self.bridge = Some(Bridge::start(db, name, self.port, &self.base, &self.env).await);
    }
}

/// Who leases the order's issue job (`None` = no job).
async fn leased_by(db: &TestDb, order_id: &str) -> Option<Option<String>> {
    let mut c = db.connect().await;
    sqlx::query_scalar("SELECT leased_by FROM jobs WHERE kind = 'issue' AND subject_id = $1")
        .bind(order_id)
        .fetch_optional(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn killed_after_enroll_was_sent_but_before_its_answer_was_stored() {
    let (app, mut t) = Setup::start().await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.1"];
    let (order_url, order) = s.ready_order(&t.responder, &ips).await;
    let id = order_id(&order_url);

    // SCM records the next enroll, then cuts the connection: the bridge never learns the sslId.
    t.sandbox
        .faults(json!({"drop_enroll_response_next": 1}))
        .await;
    let (r, key) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "processing", "{r:?}");
    t.sandbox.wait_enrollments(1, Duration::from_secs(15)).await;
    let lease = leased_by(&app.db, &id).await;
    t.kill();

    // The dead bridge left: an enroll that started, no sslId, the order processing, the job queued.
    let e = enrollment_row(&app.db, &id)
        .await
        .expect("an enrollment row");
    assert!(e.enroll_started, "{e:?}");
    assert_eq!(e.ssl_id, None, "the enroll answer was dropped: {e:?}");
    assert_eq!(order_status(&app.db, &id).await, "processing");
    assert!(lease.is_some(), "the issue job exists at the kill");
    assert_eq!(app.store.pending_jobs(JobKind::Issue).await.unwrap(), 1);
    assert_eq!(t.sandbox.enrollments().await, 1);

    t.restart(&app.db, "second").await;
    let order = s
        .wait_status(&order_url, &["valid"], Duration::from_secs(30))
        .await;
    s.download(&order, &ips, &key).await;
    assert_eq!(
        t.sandbox.enrollments().await,
        1,
        "the certificate SCM created before the crash was adopted, not enrolled again"
    );
    let e = enrollment_row(&app.db, &id).await.unwrap();
    assert!(e.ssl_id.is_some(), "{e:?}");
    assert_eq!(
        e.enroll_attempts, 1,
        "no second enroll was sent after the restart: {e:?}"
    );
    assert_eq!(app.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);
}

#[tokio::test]
async fn killed_while_collect_is_pending() {
    let (app, mut t) = Setup::start().await;
    t.sandbox
        .behavior(json!({"org_id": 1001, "issuance": "never"}))
        .await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.1", "127.0.0.2"];
    let (order_url, order) = s.ready_order(&t.responder, &ips).await;
    let id = order_id(&order_url);
    let (r, key) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "processing", "{r:?}");

    // Enrolled, and SCM answered "not yet" at least once.
    let e = wait_enrollment(&app.db, &id, Duration::from_secs(15), |e| {
        e.ssl_id.is_some() && e.collect_attempts >= 1
    })
    .await;
    let ssl_id = e.ssl_id.unwrap();
    t.kill();
    assert_eq!(order_status(&app.db, &id).await, "processing");
    assert_eq!(t.sandbox.enrollments().await, 1);

    t.restart(&app.db, "second").await;
    // The new process polls SCM again (collect_attempts grows) and the order stays processing.
    let after = enrollment_row(&app.db, &id).await.unwrap().collect_attempts;
    wait_enrollment(&app.db, &id, Duration::from_secs(15), |e| {
        e.collect_attempts >= after + 2
    })
    .await;
    let r = s.post(&order_url, None).await;
    assert_eq!(r.body["status"], "processing", "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");

    assert_eq!(t.sandbox.act("issue", ssl_id).await, 200);
    let order = s
        .wait_status(&order_url, &["valid"], Duration::from_secs(20))
        .await;
    s.download(&order, &ips, &key).await;
    assert_eq!(t.sandbox.enrollments().await, 1);
    let e = enrollment_row(&app.db, &id).await.unwrap();
    assert_eq!(e.ssl_id, Some(ssl_id), "{e:?}");
    assert_eq!(e.enroll_attempts, 1, "{e:?}");
}

#[tokio::test]
async fn approval_survives_a_restart_and_a_decline_invalidates_the_order() {
    let (app, mut t) = Setup::start().await;
    t.sandbox
        .behavior(json!({"org_id": 1001, "requires_approval": true, "issuance": "immediate"}))
        .await;
    let s = Session::register(&app).await;
    let mut orders = Vec::new();
    for ip in ["127.0.0.1", "127.0.0.2"] {
        let (url, order) = s.ready_order(&t.responder, &[ip]).await;
        let (r, key) = s.finalize(&order, &[ip]).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["status"], "processing", "{r:?}");
        let id = order_id(&url);
        let e = wait_enrollment(&app.db, &id, Duration::from_secs(15), |e| {
            e.ssl_id.is_some() && e.collect_attempts >= 1
        })
        .await;
        orders.push((url, id, e.ssl_id.unwrap(), key, ip));
    }
    for (_, _, ssl_id, _, _) in &orders {
        assert_eq!(t.sandbox.status(*ssl_id).await, "Requested");
    }

    t.kill();
    t.restart(&app.db, "second").await;
    // Still waiting for an administrator after the restart, while the new process keeps asking.
    for (url, id, _, _, _) in &orders {
        let before = enrollment_row(&app.db, id).await.unwrap().collect_attempts;
        wait_enrollment(&app.db, id, Duration::from_secs(15), |e| {
            e.collect_attempts > before
        })
        .await;
        assert_eq!(s.post(url, None).await.body["status"], "processing");
    }

    let (approved_url, _, approved_ssl, key, ip) = &orders[0];
    let (declined_url, _, declined_ssl, _, _) = &orders[1];
    assert_eq!(t.sandbox.act("approve", *approved_ssl).await, 204);
    assert_eq!(t.sandbox.act("decline", *declined_ssl).await, 204);

    let order = s
        .wait_status(approved_url, &["valid"], Duration::from_secs(20))
        .await;
    s.download(&order, &[ip], key).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let declined = loop {
        let r = s.post(declined_url, None).await;
        match r.body["status"].as_str() {
            Some("invalid") => break r.body,
            Some("processing") => {}
            _ => panic!("the declined order became {}", r.body),
        }
        assert!(Instant::now() < deadline, "declined order still {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let detail = declined["error"]["detail"].as_str().unwrap_or_default();
    eprintln!("declined order error: {detail}");
    assert!(
        detail.contains("Declined") && detail.contains(&declined_ssl.to_string()),
        "SCM's verdict and the sslId are in the error: {declined}"
    );
    assert!(declined.get("certificate").is_none(), "{declined}");
    assert_eq!(t.sandbox.enrollments().await, 2);
    assert_eq!(app.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);
}

/// Waits until the order's status in the database is `want` (panics after `within`).
async fn wait_order_status(db: &TestDb, order_id: &str, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = order_status(db, order_id).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "order {order_id} is {got}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// #12 items 1 and 2: a replica stalls (SIGSTOP) while an order's enroll waits for its only SCM
/// slot, behind another order's slow enroll. Its lease runs out; a second replica takes both jobs
/// over and issues both orders. When the stalled replica wakes up, its enroll gets the slot — and
/// must not be sent: the job is no longer its (fenced lease), and "enroll sent" was never recorded
/// for a request still waiting for a slot (on main it was, so the second replica also waited out a
/// settle window that did not cover the late send). Exactly one certificate per order in SCM.
#[tokio::test]
async fn a_stalled_replica_never_enrolls_an_order_another_replica_took_over() {
    let (app, t) = Setup::start_with(&[("BRIDGE_SCM__MAX_CONCURRENT_REQUESTS", "1")]).await;
    let s = Session::register(&app).await;
    let (slow_url, slow) = s.ready_order(&t.responder, &["127.0.0.1"]).await;
    let (late_url, late) = s.ready_order(&t.responder, &["127.0.0.2"]).await;
    let (slow_id, late_id) = (order_id(&slow_url), order_id(&late_url));

    // The first enroll holds the replica's only SCM slot for 8 s (SCM answers within the
    // client's 10 s timeout, so it creates its certificate either way).
    t.sandbox
        .faults(json!({"delay_ms": 8000, "delay_next": 1}))
        .await;
    let (r, _) = s.finalize(&slow, &["127.0.0.1"]).await;
    assert_eq!(r.status, 200, "{r:?}");
    wait_enrollment(&app.db, &slow_id, Duration::from_secs(15), |e| {
        e.enroll_started
    })
    .await;
    let (r, _) = s.finalize(&late, &["127.0.0.2"]).await;
    assert_eq!(r.status, 200, "{r:?}");
    // The second order's job is claimed; its handler goes on to wait for the slot.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !matches!(leased_by(&app.db, &late_id).await, Some(Some(_))) {
        assert!(
            Instant::now() < deadline,
            "the second order's job was never claimed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stalled = t.bridge.as_ref().expect("a bridge runs");
    stalled.proc.signal("STOP");

    // Another replica on the same database takes over once the leases ran out.
    let port = free_port();
    let mut other = Bridge::start(&app.db, "second", port, &t.base, &t.env).await;
    wait_order_status(&app.db, &slow_id, "valid", Duration::from_secs(40)).await;
    wait_order_status(&app.db, &late_id, "valid", Duration::from_secs(40)).await;
    assert_eq!(t.sandbox.enrollments().await, 2);

    // The stalled replica wakes up with the first enroll's answer in its socket and the second
    // order's enroll next in line for the slot.
    let stalled = t.bridge.as_ref().expect("a bridge runs");
    stalled.proc.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stopped = stalled.proc.log_text().contains("its lease is gone");
        let enrolled = t.sandbox.enrollments().await;
        if stopped || enrolled > 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the woken replica neither stopped its jobs nor enrolled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a late enroll the time to land before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        t.sandbox.enrollments().await,
        2,
        "the woken replica sent an enroll for an order another replica had issued"
    );
    let e = enrollment_row(&app.db, &late_id).await.unwrap();
    assert_eq!(e.enroll_attempts, 1, "{e:?}");
    other.kill();
}

/// #12 item 3: the name already has more certificates in SCM than one list page holds (200),
/// all older than the order's. An enroll whose answer was lost is found by its marker after a
/// restart — on the second page — and adopted, not enrolled again.
#[tokio::test]
async fn the_marker_is_found_beyond_the_first_page_of_a_busy_name() {
    let (app, mut t) = Setup::start().await;
    let (csr, _) = support::scm::csr("127.0.0.1");
    let http = reqwest::Client::new();
    for _ in 0..205 {
        let r = http
            .post(format!("{}/api/ssl/v1/enroll", t.sandbox.origin))
            .header("customerUri", "demo")
            .header("login", "demo")
            .header("password", "demo")
            .json(
                &json!({"orgId": 1001, "csr": csr, "certType": 501, "term": 90,
                          "subjAltNames": "127.0.0.1", "commonName": "127.0.0.1"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    assert_eq!(t.sandbox.enrollments().await, 205);

    let s = Session::register(&app).await;
    let ips = ["127.0.0.1"];
    let (order_url, order) = s.ready_order(&t.responder, &ips).await;
    let id = order_id(&order_url);
    t.sandbox
        .faults(json!({"drop_enroll_response_next": 1}))
        .await;
    let (r, key) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    t.sandbox
        .wait_enrollments(206, Duration::from_secs(15))
        .await;
    t.kill();

    t.restart(&app.db, "second").await;
    let order = s
        .wait_status(&order_url, &["valid"], Duration::from_secs(40))
        .await;
    s.download(&order, &ips, &key).await;
    assert_eq!(
        t.sandbox.enrollments().await,
        206,
        "the order's certificate was adopted from the second page, not enrolled again"
    );
    let e = enrollment_row(&app.db, &id).await.unwrap();
    assert_eq!(e.enroll_attempts, 1, "{e:?}");
}

/// #12 item 8: SCM answers an enroll with a 5xx at once. The order is looked up by its marker
/// and enrolled again `issuance.enroll_settle_secs` after that answer — not after the client's
/// timeout (here 10 minutes, so on main the order would still be waiting when the test gives up).
#[tokio::test]
async fn an_answered_enroll_failure_settles_shortly_after_the_answer() {
    let (app, t) = Setup::start_with(&[("BRIDGE_SCM__TIMEOUT_SECS", "600")]).await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.1"];
    let (order_url, order) = s.ready_order(&t.responder, &ips).await;
    let id = order_id(&order_url);
    t.sandbox
        .faults(json!({"fail_next": 1, "fail_status": 503}))
        .await;
    let (r, key) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    let order = s
        .wait_status(&order_url, &["valid"], Duration::from_secs(60))
        .await;
    s.download(&order, &ips, &key).await;
    assert_eq!(t.sandbox.enrollments().await, 1, "the 503 created nothing");
    let e = enrollment_row(&app.db, &id).await.unwrap();
    assert_eq!(e.enroll_attempts, 2, "{e:?}");
}

/// #12 item 4: an order fails at the collect deadline while SCM still waits for an administrator;
/// the administrator approves later and SCM issues a certificate no order holds. The reconcile job
/// finds it by the order's sslId, revokes it with a reason naming the order, records it and counts
/// it in `scm_orphan_certificates_total`.
#[tokio::test]
async fn a_certificate_issued_after_its_order_failed_is_revoked_as_an_orphan() {
    let metrics_at = format!("127.0.0.1:{}", free_port());
    let (app, t) = Setup::start_with(&[
        ("BRIDGE_ISSUANCE__COLLECT_DEADLINE_SECS", "2"),
        ("BRIDGE_ISSUANCE__RECONCILE_INTERVAL_SECS", "1"),
        ("BRIDGE_SERVER__METRICS_LISTEN", &metrics_at),
    ])
    .await;
    t.sandbox
        .behavior(json!({"org_id": 1001, "requires_approval": true, "issuance": "immediate"}))
        .await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.1"];
    let (order_url, order) = s.ready_order(&t.responder, &ips).await;
    let id = order_id(&order_url);
    let (r, _) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    let e = wait_enrollment(&app.db, &id, Duration::from_secs(15), |e| {
        e.ssl_id.is_some()
    })
    .await;
    let ssl_id = e.ssl_id.unwrap();
    wait_order_status(&app.db, &id, "invalid", Duration::from_secs(30)).await;
    assert_eq!(t.sandbox.status(ssl_id).await, "Requested");
    assert!(app.store.orphan(ssl_id).await.unwrap().is_none());

    // An SCM administrator approves it after all: SCM issues a certificate no order holds.
    assert_eq!(t.sandbox.act("approve", ssl_id).await, 204);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = t.sandbox.status(ssl_id).await;
        if status == "Revoked" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the orphan is still {status} in SCM"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (order_of, action, reason) = app
        .store
        .orphan(ssl_id)
        .await
        .unwrap()
        .expect("the orphan is recorded");
    assert_eq!(
        (order_of.as_str(), action.as_str()),
        (id.as_str(), "revoked")
    );
    assert!(reason.contains(&id), "{reason}");
    let metrics = reqwest::get(format!("http://{metrics_at}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scm_orphan_certificates_total{action=\"revoked\"} 1"),
        "{metrics}"
    );
    assert_eq!(t.sandbox.enrollments().await, 1);
    assert_eq!(order_status(&app.db, &id).await, "invalid");
}

/// #12 item 4, the other way an orphan arises: the enroll's answer is lost (the certificate exists
/// in SCM), SCM fails every look-up until the order's collect deadline passes, and the order
/// fails without an sslId. Once the enroll can no longer land, the reconcile job finds the
/// certificate by the order's marker and revokes it.
#[tokio::test]
async fn an_orphan_of_an_enroll_with_an_unknown_outcome_is_found_by_its_marker() {
    let (app, t) = Setup::start_with(&[
        ("BRIDGE_ISSUANCE__COLLECT_DEADLINE_SECS", "2"),
        ("BRIDGE_ISSUANCE__RECONCILE_INTERVAL_SECS", "1"),
    ])
    .await;
    let s = Session::register(&app).await;
    let ips = ["127.0.0.1"];
    let (order_url, order) = s.ready_order(&t.responder, &ips).await;
    let id = order_id(&order_url);
    t.sandbox
        .faults(json!({"drop_enroll_response_next": 1}))
        .await;
    let (r, _) = s.finalize(&order, &ips).await;
    assert_eq!(r.status, 200, "{r:?}");
    t.sandbox.wait_enrollments(1, Duration::from_secs(15)).await;
    t.sandbox
        .faults(json!({"fail_next": 3, "fail_status": 503}))
        .await;
    wait_order_status(&app.db, &id, "invalid", Duration::from_secs(30)).await;
    let e = enrollment_row(&app.db, &id).await.unwrap();
    assert_eq!(e.ssl_id, None, "{e:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let ssl_id = loop {
        let mut c = app.db.connect().await;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT ssl_id FROM orphan_certificates WHERE order_id = $1")
                .bind(&id)
                .fetch_optional(&mut c)
                .await
                .unwrap();
        if let Some(ssl_id) = found {
            break ssl_id;
        }
        assert!(Instant::now() < deadline, "no orphan was recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(t.sandbox.status(ssl_id).await, "Revoked");
    assert_eq!(t.sandbox.enrollments().await, 1);
}
