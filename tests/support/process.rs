//! The real binary as child processes: a guard that SIGKILLs the child when dropped and prints its
//! log if the test failed, the bridge (`serve`, configured only by `BRIDGE_*` variables) and the SCM
//! sandbox (`sandbox --listen`) with its control API.

pub use super::child::ChildGuard;
use super::db::TestDb;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The binary under test, with every `BRIDGE_*` variable of the test's own environment removed.
pub fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acme-sectigo-bridge"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("BRIDGE_")) {
        cmd.env_remove(k);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// `acme-sectigo-bridge serve` on a loopback port; `env` adds or overrides `BRIDGE_*` variables.
pub struct Bridge {
    pub proc: ChildGuard,
    /// Where it listens (`http://127.0.0.1:port`), which may differ from its external URL.
    pub direct: String,
}

impl Bridge {
    /// Starts the bridge on `port` with `db`, announcing `external_url`, and waits for `/readyz`.
    pub async fn start(
        db: &TestDb,
        name: &str,
        port: u16,
        external_url: &str,
        env: &[(&str, String)],
    ) -> Self {
        let mut cmd = binary();
        cmd.arg("serve")
            .env("RUST_LOG", "info")
            .env("BRIDGE_DATABASE__URL", &db.url)
            .env("BRIDGE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("BRIDGE_SERVER__EXTERNAL_URL", external_url)
            .env("BRIDGE_ACME__EAB_REQUIRED", "false")
            // Without [scm] `serve` runs zero-setup mode: keep its files out of the checkout.
            .env("BRIDGE_DATA_DIR", std::env::temp_dir().join(&db.name));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = ChildGuard::spawn(cmd, &db.name, name);
        let direct = format!("http://127.0.0.1:{port}");
        proc.wait_ok(&format!("{direct}/readyz"), Duration::from_secs(30))
            .await;
        Self { proc, direct }
    }

    pub fn kill(&mut self) {
        self.proc.kill();
    }
}

/// The SCM sandbox as its own process, so what it recorded survives the bridge being killed.
pub struct SandboxProcess {
    pub proc: ChildGuard,
    /// Origin, e.g. `http://127.0.0.1:1234`.
    pub origin: String,
    http: reqwest::Client,
}

impl SandboxProcess {
    /// Starts `acme-sectigo-bridge sandbox --listen 127.0.0.1:PORT` and waits for its control API.
    pub async fn start(prefix: &str) -> Self {
        let port = free_port();
        let mut cmd = binary();
        cmd.arg("sandbox")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info");
        let mut proc = ChildGuard::spawn(cmd, prefix, "sandbox");
        let origin = format!("http://127.0.0.1:{port}");
        proc.wait_ok(
            &format!("{origin}/__sandbox/enrollments"),
            Duration::from_secs(30),
        )
        .await;
        Self {
            proc,
            origin,
            http: reqwest::Client::new(),
        }
    }

    /// The bridge's `[scm]` settings for the demo tenant, org 1001, profile 501, 90 days.
    pub fn bridge_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BRIDGE_SCM__BASE_URL", format!("{}/api", self.origin)),
            ("BRIDGE_SCM__CUSTOMER_URI", "demo".into()),
            ("BRIDGE_SCM__LOGIN", "demo".into()),
            ("BRIDGE_SCM__PASSWORD", "demo".into()),
            ("BRIDGE_SCM__ORG_ID", "1001".into()),
            ("BRIDGE_SCM__CERT_TYPE", "501".into()),
            ("BRIDGE_SCM__TERM", "90".into()),
        ]
    }

    /// Certificates created so far (including ones whose enroll answer was dropped).
    pub async fn enrollments(&self) -> u64 {
        let v: Value = self
            .http
            .get(format!("{}/__sandbox/enrollments", self.origin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["count"].as_u64().unwrap()
    }

    /// Waits until the enrollment count reaches `n` (panics after `within`).
    pub async fn wait_enrollments(&self, n: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.enrollments().await;
            if got >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the sandbox has {got} enrollments, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
        let mut r = self
            .http
            .request(method, format!("{}/__sandbox{path}", self.origin));
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap().status().as_u16()
    }

    /// `PUT /__sandbox/faults`.
    pub async fn faults(&self, faults: Value) {
        let s = self
            .control(reqwest::Method::PUT, "/faults", Some(faults))
            .await;
        assert_eq!(s, 204, "setting sandbox faults");
    }

    /// `POST /__sandbox/behavior`.
    pub async fn behavior(&self, behavior: Value) {
        let s = self
            .control(reqwest::Method::POST, "/behavior", Some(behavior))
            .await;
        assert_eq!(s, 204, "setting sandbox behavior");
    }

    /// `POST /__sandbox/{approve|decline|issue}/{sslId}`; returns the HTTP status.
    pub async fn act(&self, action: &str, ssl_id: i64) -> u16 {
        self.control(reqwest::Method::POST, &format!("/{action}/{ssl_id}"), None)
            .await
    }

    /// The certificate's status as SCM's details call reports it.
    pub async fn status(&self, ssl_id: i64) -> String {
        let v: Value = self
            .http
            .get(format!("{}/api/ssl/v1/{ssl_id}", self.origin))
            .header("customerUri", "demo")
            .header("login", "demo")
            .header("password", "demo")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(json!({}));
        v["status"].as_str().unwrap_or("").to_string()
    }
}

/// `BRIDGE_*` settings for issuance tests: SCM = `sandbox`, http-01 against a loopback responder on
/// `http_port`, short leases (3 s), quick polling, finalize answering at once (`processing`) and
/// collect polled every second.
pub fn issuance_env(sandbox: &SandboxProcess, http_port: u16) -> Vec<(&'static str, String)> {
    let mut env = sandbox.bridge_env();
    env.extend([
        ("BRIDGE_VALIDATION__HTTP_PORT", http_port.to_string()),
        (
            "BRIDGE_VALIDATION__ALLOWED_NETWORKS",
            r#"["127.0.0.0/8"]"#.to_string(),
        ),
        ("BRIDGE_VALIDATION__TIMEOUT_SECS", "5".to_string()),
        ("BRIDGE_ISSUANCE__LEASE_SECS", "3".to_string()),
        ("BRIDGE_ISSUANCE__POLL_INTERVAL_MS", "100".to_string()),
        ("BRIDGE_ISSUANCE__FINALIZE_WAIT_SECS", "0".to_string()),
        ("BRIDGE_ISSUANCE__COLLECT_INITIAL_SECS", "1".to_string()),
        ("BRIDGE_ISSUANCE__COLLECT_MAX_SECS", "1".to_string()),
        ("BRIDGE_SCM__TIMEOUT_SECS", "10".to_string()),
    ]);
    env
}

/// What the `enrollments` row of an order says.
#[derive(Debug, Clone)]
pub struct EnrollmentRow {
    pub ssl_id: Option<i64>,
    pub enroll_started: bool,
    pub enroll_attempts: i32,
    pub collect_attempts: i32,
}

/// The enrollment of `order_id` as stored.
pub async fn enrollment_row(db: &TestDb, order_id: &str) -> Option<EnrollmentRow> {
    use sqlx::Row;
    let mut c = db.connect().await;
    let row = sqlx::query(
        "SELECT ssl_id, enroll_started_at IS NOT NULL AS started, enroll_attempts, \
         collect_attempts FROM enrollments WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut c)
    .await
    .unwrap()?;
    Some(EnrollmentRow {
        ssl_id: row.get("ssl_id"),
        enroll_started: row.get("started"),
        enroll_attempts: row.get("enroll_attempts"),
        collect_attempts: row.get("collect_attempts"),
    })
}

/// Polls the enrollment of `order_id` until `pred` holds (panics after `within`).
pub async fn wait_enrollment(
    db: &TestDb,
    order_id: &str,
    within: Duration,
    pred: impl Fn(&EnrollmentRow) -> bool,
) -> EnrollmentRow {
    let deadline = Instant::now() + within;
    loop {
        let row = enrollment_row(db, order_id).await;
        if let Some(r) = row.as_ref().filter(|r| pred(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "enrollment of {order_id} never got there: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The order's status as stored.
pub async fn order_status(db: &TestDb, order_id: &str) -> String {
    let mut c = db.connect().await;
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

/// The order id at the end of an order URL.
pub fn order_id(order_url: &str) -> String {
    order_url.rsplit('/').next().unwrap().to_string()
}
