//! End-to-end harness: the SCM sandbox, a DNS server (pebble-challtestsrv) and the bridge, each a
//! separate process on loopback ports, configured only through `BRIDGE_*` variables like a real
//! deployment; real ACME clients (certbot, lego) are then pointed at the bridge.
#![allow(dead_code)]

pub mod certs;
pub mod procs;
pub mod tools;

use super::db::TestDb;
use procs::{Procs, TempDir};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The bridge binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_acme-sectigo-bridge");

/// How long a server may take to start answering.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Distinct loopback ports free for TCP and UDP, drawn from 20000–32767: below Linux's ephemeral
/// range (32768+), so an outgoing connection or a port-0 bind elsewhere cannot take one between now
/// and the moment a child process binds it.
pub fn free_ports<const N: usize>() -> [u16; N] {
    use rand::Rng;
    let mut ports = [0u16; N];
    let mut rng = rand::thread_rng();
    for i in 0..N {
        ports[i] = (0..1000)
            .map(|_| rng.gen_range(20000..32768))
            .find(|p| {
                !ports[..i].contains(p)
                    && std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                    && std::net::UdpSocket::bind(("127.0.0.1", *p)).is_ok()
            })
            .expect("a free loopback port");
    }
    ports
}

/// A command for the bridge binary with no `BRIDGE_*` variable inherited from the test's environment.
fn bridge_command(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("BRIDGE_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// One test's servers. Field order is drop order: processes die before their database is dropped.
pub struct Stack {
    pub procs: Procs,
    pub dir: TempDir,
    pub db: TestDb,
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT` of the SCM sandbox.
    pub sandbox: String,
    /// `http://127.0.0.1:PORT` of the bridge; the ACME directory is `{base}/directory`.
    pub base: String,
    /// Management API of pebble-challtestsrv.
    pub dns_mgmt: String,
    /// Port the bridge sends http-01 requests to (the client's standalone server listens there).
    pub http01_port: u16,
    /// Port the bridge sends tls-alpn-01 handshakes to.
    pub tls_alpn_port: u16,
    /// EAB key id and HMAC key (base64url) made with `eab create`.
    pub eab_kid: String,
    pub eab_hmac: String,
    env: Vec<(String, String)>,
}

impl Stack {
    /// Starts sandbox, DNS server and bridge, and creates an EAB key allowed `example.test` and every
    /// name below it.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`Stack::start`], with extra `BRIDGE_*` settings for the bridge (and its commands).
    pub async fn start_with(extra_env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        let db = TestDb::create().await;
        let mut procs = Procs::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let [sandbox_port, bridge_port, dns_port, mgmt_port, http01_port, tls_alpn_port] =
            free_ports::<6>();

        let mut sandbox = bridge_command(&[]);
        sandbox
            .arg("sandbox")
            .arg("--listen")
            .arg(format!("127.0.0.1:{sandbox_port}"));
        procs.spawn("sandbox", sandbox, dir.path());

        let mut dns = tools::challtestsrv();
        dns.args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{mgmt_port}")])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]);
        procs.spawn("challtestsrv", dns, dir.path());

        let sandbox_url = format!("http://127.0.0.1:{sandbox_port}");
        let dns_mgmt = format!("http://127.0.0.1:{mgmt_port}");
        wait_for(&mut procs, "sandbox", || {
            http.get(format!("{sandbox_url}/__sandbox/enrollments"))
                .send()
        })
        .await;
        // Any answer of the management API means challtestsrv is up (its DNS server starts first).
        wait_for(&mut procs, "challtestsrv", || {
            http.post(format!("{dns_mgmt}/set-default-ipv4"))
                .json(&serde_json::json!({"ip": "127.0.0.1"}))
                .send()
        })
        .await;

        let base = format!("http://127.0.0.1:{bridge_port}");
        let env: Vec<(String, String)> = [
            ("BRIDGE_DATABASE__URL", db.url.clone()),
            ("BRIDGE_DATABASE__MAX_CONNECTIONS", "4".into()),
            ("BRIDGE_SERVER__LISTEN", format!("127.0.0.1:{bridge_port}")),
            ("BRIDGE_SERVER__EXTERNAL_URL", base.clone()),
            ("BRIDGE_SERVER__SHUTDOWN_GRACE_SECS", "1".into()),
            ("BRIDGE_SCM__BASE_URL", format!("{sandbox_url}/api")),
            ("BRIDGE_SCM__CUSTOMER_URI", "demo".into()),
            ("BRIDGE_SCM__LOGIN", "demo".into()),
            ("BRIDGE_SCM__PASSWORD", "demo".into()),
            ("BRIDGE_SCM__ORG_ID", "1001".into()),
            ("BRIDGE_SCM__CERT_TYPE", "502".into()),
            ("BRIDGE_SCM__TERM", "90".into()),
            ("BRIDGE_VALIDATION__HTTP_PORT", http01_port.to_string()),
            (
                "BRIDGE_VALIDATION__TLS_ALPN_PORT",
                tls_alpn_port.to_string(),
            ),
            (
                "BRIDGE_VALIDATION__ALLOWED_NETWORKS",
                r#"["127.0.0.0/8"]"#.into(),
            ),
            (
                "BRIDGE_VALIDATION__DNS_RESOLVERS",
                format!(r#"["127.0.0.1:{dns_port}"]"#),
            ),
            ("BRIDGE_VALIDATION__TIMEOUT_SECS", "5".into()),
            ("BRIDGE_ISSUANCE__POLL_INTERVAL_MS", "100".into()),
            ("BRIDGE_ISSUANCE__WORKERS", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .collect();

        let mut serve = bridge_command(&env);
        serve.arg("serve");
        procs.spawn("bridge", serve, dir.path());
        wait_for(&mut procs, "bridge", || {
            let r = http.get(format!("{base}/readyz")).send();
            async { r.await.and_then(|r| r.error_for_status()) }
        })
        .await;

        let mut eab = tokio::process::Command::from(bridge_command(&env));
        eab.args(["eab", "create", "--label", "e2e"])
            .args(["--allow", "*.example.test", "--allow", "example.test"])
            .args(["--org-id", "1001", "--json"]);
        let out = tools::run("eab create", eab, Duration::from_secs(30)).await;
        assert!(
            out.status.success(),
            "eab create: {}",
            tools::describe(&out)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("eab create --json: {e}: {}", tools::describe(&out)));
        let eab_kid = v["kid"].as_str().expect("kid").to_string();
        let eab_hmac = v["hmac_key"].as_str().expect("hmac_key").to_string();

        Self {
            procs,
            dir,
            db,
            http,
            sandbox: sandbox_url,
            base,
            dns_mgmt,
            http01_port,
            tls_alpn_port,
            eab_kid,
            eab_hmac,
            env,
        }
    }

    /// The ACME directory URL.
    pub fn directory(&self) -> String {
        format!("{}/directory", self.base)
    }

    /// A path inside the test's temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Enrollments the sandbox has received.
    pub async fn enrollments(&self) -> u64 {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/__sandbox/enrollments", self.sandbox))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("sandbox enrollments")
            .json()
            .await
            .expect("enrollments JSON");
        v["count"].as_u64().expect("count")
    }

    /// The sandbox's root certificate, written to `root.pem` in the temp dir; returns the path.
    pub async fn root_pem(&self) -> PathBuf {
        let pem = self
            .http
            .get(format!("{}/__sandbox/root.pem", self.sandbox))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("sandbox root.pem")
            .text()
            .await
            .expect("root.pem body");
        assert!(pem.contains("BEGIN CERTIFICATE"), "root.pem: {pem}");
        let path = self.path("root.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }

    /// The status SCM (the sandbox) reports for the certificate with this serial (hex), e.g. "Issued"
    /// or "Revoked".
    pub async fn scm_status(&self, serial_hex: &str) -> String {
        let scm = |path: String| {
            self.http
                .get(format!("{}/api/ssl/v1{path}", self.sandbox))
                .header("customerUri", "demo")
                .header("login", "demo")
                .header("password", "demo")
                .send()
        };
        let rows: Vec<serde_json::Value> = scm(format!("?serialNumber={serial_hex}"))
            .await
            .and_then(|r| r.error_for_status())
            .expect("SCM list by serial")
            .json()
            .await
            .expect("SCM list JSON");
        assert_eq!(rows.len(), 1, "SCM certificates with serial {serial_hex}");
        let id = &rows[0]["sslId"];
        let details: serde_json::Value = scm(format!("/{id}"))
            .await
            .and_then(|r| r.error_for_status())
            .expect("SCM details")
            .json()
            .await
            .expect("SCM details JSON");
        details["status"].as_str().expect("status").to_string()
    }

    /// Waits (up to 15 s) until SCM reports `want` for the serial, e.g. "Revoked" after revokeCert,
    /// in case the bridge forwards revocations to SCM in the background.
    pub async fn wait_scm_status(&self, serial_hex: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = self.scm_status(serial_hex).await;
            if status == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "SCM status of {serial_hex} is still {status:?}, expected {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `kty` of every account's key, sorted.
    pub async fn account_key_types(&self) -> Vec<String> {
        let mut c = self.db.connect().await;
        sqlx::query_scalar("SELECT jwk->>'kty' FROM accounts ORDER BY 1")
            .fetch_all(&mut c)
            .await
            .expect("query accounts")
    }

    /// The types of the challenges the bridge validated, sorted (one entry per valid challenge).
    pub async fn valid_challenge_types(&self) -> Vec<String> {
        let mut c = self.db.connect().await;
        sqlx::query_scalar("SELECT type FROM challenges WHERE status = 'valid' ORDER BY type")
            .fetch_all(&mut c)
            .await
            .expect("query challenges")
    }

    /// The bridge's log so far (for failure messages).
    pub fn bridge_log(&self) -> String {
        self.procs.log("bridge")
    }
}

/// Retries `probe` until it succeeds, failing when `name` exits or [`START_LIMIT`] passes.
async fn wait_for<F, Fut, T>(procs: &mut Procs, name: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<T>>,
{
    let deadline = Instant::now() + START_LIMIT;
    loop {
        procs.check_alive(name);
        let last = match probe().await {
            Ok(_) => return,
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "{name} did not become ready within {START_LIMIT:?}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
