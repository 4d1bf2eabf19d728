//! `serve` refuses to start when issuance through SCM cannot work, naming the fix (issue #11 item
//! 14), and starts with a warning when SCM cannot be reached; `eab create` refuses a key that
//! would leave its accounts without an SCM organization. The real binary, against the sandbox as
//! its own process, on a SQLite file of its own.

mod support;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use support::process::{binary, free_port, SandboxProcess};

/// A data directory of its own and the sandbox's credentials.
struct Setup {
    dir: std::path::PathBuf,
    scm_env: Vec<(&'static str, String)>,
}

impl Setup {
    fn new(name: &str, scm_base: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "preflight-{name}-{}",
            acme_sectigo_bridge::ids::random_b64(6)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            scm_env: vec![
                ("BRIDGE_SCM__BASE_URL", scm_base.to_string()),
                ("BRIDGE_SCM__CUSTOMER_URI", "demo".into()),
                ("BRIDGE_SCM__LOGIN", "demo".into()),
                ("BRIDGE_SCM__PASSWORD", "demo".into()),
                ("BRIDGE_SCM__TIMEOUT_SECS", "3".into()),
            ],
        }
    }

    fn command(&self, extra: &[(&str, &str)]) -> std::process::Command {
        let mut cmd = binary();
        cmd.env("BRIDGE_DATA_DIR", &self.dir)
            .env("RUST_LOG", "warn")
            .env(
                "BRIDGE_SERVER__LISTEN",
                format!("127.0.0.1:{}", free_port()),
            );
        for (k, v) in &self.scm_env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// `serve` until it exits or `wait` passes (then killed): (exited by itself, output).
    fn serve(&self, extra: &[(&str, &str)], wait: Duration) -> (bool, Output) {
        let mut child = self
            .command(extra)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + wait;
        let exited = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break false;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (exited, child.wait_with_output().unwrap())
    }

    fn eab_create(&self, extra: &[(&str, &str)], args: &[&str]) -> Output {
        self.command(extra)
            .args(["eab", "create", "--label", "team"])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const TYPE_TERM: [(&str, &str); 2] = [("BRIDGE_SCM__CERT_TYPE", "502"), ("BRIDGE_SCM__TERM", "90")];

#[tokio::test]
async fn no_organization_for_accounts_without_eab_stops_serve() {
    let sb = SandboxProcess::start("preflight-org").await;
    let s = Setup::new("no-org", &format!("{}/api", sb.origin));
    let mut env = TYPE_TERM.to_vec();
    env.push(("BRIDGE_ACME__EAB_REQUIRED", "false"));
    let (exited, out) = s.serve(&env, Duration::from_secs(20));
    assert!(exited, "serve kept running: {}", text(&out));
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("org_id") && t.contains("fix:"), "{t}");
}

#[tokio::test]
async fn eab_keys_without_organization_stop_serve_and_cannot_be_created() {
    let sb = SandboxProcess::start("preflight-eab").await;
    let s = Setup::new("eab", &format!("{}/api", sb.origin));
    // With [scm] lacking org_id, `eab create` refuses a key without --org-id …
    let out = s.eab_create(&TYPE_TERM, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--org-id"), "{}", text(&out));
    // … and accepts one with it.
    let out = s.eab_create(&TYPE_TERM, &["--org-id", "1002"]);
    assert!(out.status.success(), "{}", text(&out));
    // A key made before [scm] was configured (no [scm] at all: nothing to check then) …
    let out = binary()
        .env("BRIDGE_DATA_DIR", &s.dir)
        .args(["eab", "create", "--label", "legacy"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let kid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("kid:").map(|k| k.trim().to_string()))
        .unwrap();
    // … stops serve, which names it.
    let (exited, out) = s.serve(&TYPE_TERM, Duration::from_secs(20));
    assert!(exited && !out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&kid), "{}", text(&out));
}

#[tokio::test]
async fn a_term_scm_does_not_offer_stops_serve() {
    let sb = SandboxProcess::start("preflight-term").await;
    let s = Setup::new("term", &format!("{}/api", sb.origin));
    let env = [
        ("BRIDGE_SCM__ORG_ID", "1001"),
        ("BRIDGE_PROFILES__SHORT__SCM_CERT_TYPE", "502"),
        ("BRIDGE_PROFILES__SHORT__TERM_DAYS", "7"),
        ("BRIDGE_PROFILES__SHORT__DESCRIPTION", "a week"),
    ];
    let (exited, out) = s.serve(&env, Duration::from_secs(20));
    assert!(exited && !out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("profiles.short") && t.contains("term 7"), "{t}");
    // The same profile with a term SCM offers starts (and keeps running).
    let env = [
        ("BRIDGE_SCM__ORG_ID", "1001"),
        ("BRIDGE_PROFILES__SHORT__SCM_CERT_TYPE", "502"),
        ("BRIDGE_PROFILES__SHORT__TERM_DAYS", "90"),
        ("BRIDGE_PROFILES__SHORT__DESCRIPTION", "three months"),
    ];
    let (exited, out) = s.serve(&env, Duration::from_secs(8));
    assert!(!exited, "serve stopped: {}", text(&out));
}

#[tokio::test]
async fn an_unreachable_scm_is_a_warning_not_a_refusal() {
    let port = free_port(); // nothing listens there
    let s = Setup::new("unreachable", &format!("http://127.0.0.1:{port}/api"));
    let mut env = TYPE_TERM.to_vec();
    env.push(("BRIDGE_SCM__ORG_ID", "1001"));
    let (exited, out) = s.serve(&env, Duration::from_secs(10));
    assert!(!exited, "serve stopped: {}", text(&out));
    assert!(
        text(&out).contains("SCM cannot be reached at start"),
        "{}",
        text(&out)
    );
}
