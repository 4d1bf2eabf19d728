//! Must-show 4: the built binary runs `sandbox` as its own process, and `scm orgs`, `scm types` and
//! `scm check` work against it; a misconfigured `scm check` explains itself in one actionable line.
//! The `sandbox` flags for chaos runs and the cross-signed root reach the running process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_acme-sectigo-bridge");

/// A sandbox process; killed on drop.
struct SandboxProcess {
    child: Child,
    base_url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox(config: Option<&std::path::Path>) -> SandboxProcess {
    start_sandbox_with(config, &[])
}

fn start_sandbox_with(config: Option<&std::path::Path>, flags: &[&str]) -> SandboxProcess {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().args(["sandbox", "--listen", "127.0.0.1:0"]);
    cmd.args(flags);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    let base_url = first
        .trim()
        .strip_prefix("SCM sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    SandboxProcess {
        child,
        base_url,
        _stdout: reader,
    }
}

fn scm(sb: &SandboxProcess, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("BRIDGE_SCM__BASE_URL", &sb.base_url)
        .env("BRIDGE_SCM__CUSTOMER_URI", "demo")
        .env("BRIDGE_SCM__LOGIN", "demo")
        .env("BRIDGE_SCM__PASSWORD", "demo");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.arg("scm").args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn fail_lines(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(str::to_string)
        .collect()
}

#[test]
fn orgs_types_and_check_against_a_sandbox_process() {
    let sb = start_sandbox(None);
    assert!(sb.base_url.ends_with("/api"), "{}", sb.base_url);

    let o = scm(&sb, &[], &["orgs"]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    assert!(text.contains("ORG ID"), "{text}");
    let dept = text.lines().find(|l| l.starts_with("1002")).unwrap();
    assert!(
        dept.contains("department") && dept.contains("yes") && dept.contains("Demo IT Department")
    );
    let lab = text.lines().find(|l| l.starts_with("1003")).unwrap();
    assert!(lab.contains("NO"), "{lab}");

    let o = scm(&sb, &[], &["orgs", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[1]["id"], 1002);
    assert_eq!(v[1]["ssl_web_api"], true);

    let o = scm(&sb, &[], &["types", "--org", "1002"]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    for id in ["501", "502", "503"] {
        let line = text.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(line.contains("90,200"), "{line}");
    }
    let o = scm(&sb, &[], &["types", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["terms"], serde_json::json!([90, 200]));

    let good = [
        ("BRIDGE_SCM__ORG_ID", "1002"),
        ("BRIDGE_SCM__CERT_TYPE", "502"),
        ("BRIDGE_SCM__TERM", "90"),
    ];
    let o = scm(&sb, &good, &["check"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("looks good"));
    assert!(fail_lines(&o).is_empty());
}

#[test]
fn check_explains_each_misconfiguration_in_one_line() {
    let sb = start_sandbox(None);
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Env, &[&str])] = &[
        // Organization without the SSL Web API (SCM's -1021).
        (
            &[
                ("BRIDGE_SCM__ORG_ID", "1003"),
                ("BRIDGE_SCM__CERT_TYPE", "501"),
                ("BRIDGE_SCM__TERM", "90"),
            ],
            &["1003", "enable Web API on the organization's SSL tab"],
        ),
        // Unknown org.
        (
            &[
                ("BRIDGE_SCM__ORG_ID", "4242"),
                ("BRIDGE_SCM__CERT_TYPE", "501"),
                ("BRIDGE_SCM__TERM", "90"),
            ],
            &["4242 does not exist", "acme-sectigo-bridge scm orgs"],
        ),
        // Term the profile does not allow (SCM's -36).
        (
            &[
                ("BRIDGE_SCM__ORG_ID", "1002"),
                ("BRIDGE_SCM__CERT_TYPE", "501"),
                ("BRIDGE_SCM__TERM", "365"),
            ],
            &["term 365", "-36", "[90, 200]"],
        ),
        // Unknown profile.
        (
            &[
                ("BRIDGE_SCM__ORG_ID", "1002"),
                ("BRIDGE_SCM__CERT_TYPE", "999"),
                ("BRIDGE_SCM__TERM", "90"),
            ],
            &["profile 999", "scm types --org 1002"],
        ),
        // Wrong password.
        (
            &[("BRIDGE_SCM__PASSWORD", "nope")],
            &["-970", "check scm.customer_uri, scm.login and scm.password"],
        ),
    ];
    for (env, expected) in cases {
        let o = scm(&sb, env, &["check"]);
        assert!(!o.status.success(), "{env:?} should fail");
        let fails = fail_lines(&o);
        assert_eq!(fails.len(), 1, "{env:?}: {}", stdout(&o));
        for e in *expected {
            assert!(fails[0].contains(e), "{env:?}: {:?} lacks {e:?}", fails[0]);
        }
        assert!(fails[0].contains("fix:"), "{}", fails[0]);
    }
    let o = scm(&sb, &[("BRIDGE_SCM__ORG_ID", "1003")], &["check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
}

#[test]
fn sandbox_and_scm_commands_share_one_config_file() {
    let dir = std::env::temp_dir().join(format!("scm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pw"), "s3cret\n").unwrap();
    let config = dir.join("bridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sandbox]
customer_uri = "acme-univ"
login = "api-admin"
password_file = "{pw}"
issuance = {{ after_polls = 2 }}

[[sandbox.organizations]]
id = 7
name = "ACME University"
requires_approval = true

[[sandbox.profiles]]
id = 42
name = "Campus OV"
terms = [30]
"#,
            pw = dir.join("pw").display()
        ),
    )
    .unwrap();
    let sb = start_sandbox(Some(&config));
    let o = Command::new(BIN)
        .env_clear()
        .env("BRIDGE_SCM__BASE_URL", &sb.base_url)
        .env("BRIDGE_SCM__CUSTOMER_URI", "acme-univ")
        .env("BRIDGE_SCM__LOGIN", "api-admin")
        .env("BRIDGE_SCM__PASSWORD_FILE", dir.join("pw"))
        .env("BRIDGE_SCM__ORG_ID", "7")
        .env("BRIDGE_SCM__CERT_TYPE", "42")
        .env("BRIDGE_SCM__TERM", "30")
        .args(["scm", "check"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("\"Campus OV\""));
}

#[tokio::test]
async fn sandbox_flags_start_a_chaos_run_and_a_cross_signed_root() {
    let sb = start_sandbox_with(
        None,
        &[
            "--fault-rate",
            "1",
            "--fault-kinds",
            "error_503,error_500",
            "--fault-seed",
            "5",
            "--cross-signed-root",
        ],
    );
    let control = sb.base_url.replace("/api", "/__sandbox");
    let http = reqwest::Client::new();
    let faults: serde_json::Value = http
        .get(format!("{control}/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["fault_rate"], 1.0);
    assert_eq!(
        faults["fault_kinds"],
        serde_json::json!(["error_503", "error_500"])
    );
    assert_eq!(faults["fault_seed"], 5);
    let o = scm(&sb, &[], &["orgs"]);
    assert!(!o.status.success(), "every SCM call fails: {}", stdout(&o));
    let stats: serde_json::Value = http
        .get(format!("{control}/faults/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats["calls"].as_u64().unwrap() >= 1, "{stats}");
    let old_root = http
        .get(format!("{control}/old-root.pem"))
        .send()
        .await
        .unwrap();
    assert_eq!(old_root.status(), 200);

    // A kind that does not exist is refused before anything starts.
    let o = Command::new(BIN)
        .env_clear()
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--fault-kinds",
            "meteor",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown fault kind `meteor`"));
    let o = Command::new(BIN)
        .env_clear()
        .args(["sandbox", "--listen", "127.0.0.1:0", "--fault-rate", "2"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fault_rate"));
}
