//! Zero-setup mode, followed as a newcomer would: the README's first command (`serve`, no
//! configuration, no environment, no database) prints a directory URL, a CA bundle, an EAB key and
//! a certbot command; running that command obtains a certificate; a restart keeps the SQLite
//! database (accounts, orders, certificates), the EAB key, the CA and the TLS certificate.

use sqlx::{Connection, SqliteConnection};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` in `cwd` exactly as the README does — no flags, and an environment holding
/// nothing of ours except the port (the default 14000 may be taken on a test machine) — and returns
/// the banner lines (label → value).
fn start(cwd: &std::path::Path, port: u16) -> (Server, Vec<(String, String)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acme-sectigo-bridge"))
        .arg("serve")
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BRIDGE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(cwd.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut banner = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some((k, v)) = line.split_once(':') {
                banner.push((k.trim().to_string(), v.trim().to_string()));
            }
            if line.starts_with("certbot:") {
                return (server, banner);
            }
        }
    }
    let log = std::fs::read_to_string(cwd.join("server.log")).unwrap_or_default();
    panic!("no banner within 60 s: {banner:?}\nserver log:\n{log}");
}

fn field<'a>(banner: &'a [(String, String)], key: &str) -> &'a str {
    &banner
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} in {banner:?}"))
        .1
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_certbot_command_obtains_a_certificate_and_restarts_keep_state() {
    let cwd = tempdir();
    let dir = cwd.join("data");
    let port = free_port();
    let (server, banner) = start(&cwd, port);
    let directory = field(&banner, "directory").to_string();
    assert_eq!(directory, format!("https://localhost:{port}/directory"));
    let ca = field(&banner, "CA bundle").to_string();
    let kid = field(&banner, "EAB kid").to_string();
    let ca_pem = std::fs::read(&ca).unwrap();
    assert!(field(
        &banner,
        "acme-sectigo-bridge quickstart — SCM sandbox in-process"
    )
    .contains("TEST"));

    // The directory answers over HTTPS trusted through the printed CA bundle.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(&directory).send().await {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "directory never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(field(&banner, "database").starts_with("SQLite"));

    // Run exactly the printed certbot command.
    let cmd = field(&banner, "certbot").to_string();
    run_certbot(&cmd);
    let live = dir.join("certbot/live/www.example.com/fullchain.pem");
    let chain = std::fs::read_to_string(&live).unwrap();
    let leaf = acme_sectigo_bridge::scm::certificates_in(chain.as_bytes())
        .unwrap()
        .remove(0);
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    let names: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|g| g.to_string())
        .collect();
    assert_eq!(names, vec!["DNSName(www.example.com)".to_string()]);

    let before = counts(&dir).await;
    assert_eq!(
        before,
        (1, 1, 1),
        "accounts, orders, certificates after one certbot run"
    );

    // Restart: same CA, same TLS certificate, same EAB key, same database.
    let tls_before = std::fs::read(dir.join("tls.crt")).unwrap();
    drop(server);
    let (_server, again) = start(&cwd, port);
    assert_eq!(field(&again, "EAB kid"), kid);
    assert_eq!(std::fs::read(&ca).unwrap(), ca_pem);
    assert_eq!(std::fs::read(dir.join("tls.crt")).unwrap(), tls_before);
    assert_eq!(counts(&dir).await, before);
    // certbot's saved account still exists on the server: a forced renewal goes through with it
    // (an unknown account would fail with accountDoesNotExist) and adds one order and certificate.
    run_certbot(&format!("{cmd} --force-renewal"));
    assert_eq!(counts(&dir).await, (1, 2, 2));
    let _ = std::fs::remove_dir_all(&cwd);
}

fn run_certbot(cmd: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("certbot must be installed (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "certbot failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Accounts, orders and certificates in the default SQLite database of `data_dir`.
async fn counts(data_dir: &std::path::Path) -> (i64, i64, i64) {
    let url = format!("sqlite://{}", data_dir.join("bridge.db").display());
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    let mut n = Vec::new();
    for table in ["accounts", "orders", "certificates"] {
        let v: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut c)
            .await
            .unwrap();
        n.push(v);
    }
    (n[0], n[1], n[2])
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "bridge-quickstart-{}",
        acme_sectigo_bridge::ids::random_b64(6).replace(['-', '_'], "x")
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
