//! The external programs the end-to-end tests drive. A missing one fails the test (never skips it),
//! naming the script that installs it.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

const INSTALL_HINT: &str = "run `bash scripts/install-test-deps.sh` (as root) to install the \
                            end-to-end test tools (Debian packages lego, pebble; PyPI certbot)";

/// Panics unless `program args…` starts and exits successfully.
fn require(what: &str, program: &str, args: &[&str]) {
    let ok = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{what} is not available (`{program}` failed): {INSTALL_HINT}"
    );
}

/// Python code that runs certbot's command line with `sys.argv[1:]` (certbot has no `__main__`, and
/// its console script may not be on PATH when pip installed it for a pyenv/venv python3).
pub const CERTBOT_MAIN: &str = "import sys; from certbot.main import main; sys.exit(main())";

/// `python3 -c <certbot main>`; append certbot's arguments.
pub fn certbot() -> tokio::process::Command {
    require(
        "certbot (PyPI package `certbot` for python3)",
        "python3",
        &["-c", "import certbot.main"],
    );
    let mut c = tokio::process::Command::new("python3");
    c.arg("-c").arg(CERTBOT_MAIN);
    c
}

/// `lego` (Debian package `lego`).
pub fn lego() -> tokio::process::Command {
    require("lego (Debian package `lego`)", "lego", &["--version"]);
    tokio::process::Command::new("lego")
}

/// `pebble-challtestsrv` (Debian package `pebble`).
pub fn challtestsrv() -> Command {
    // It has no --version; -h prints usage and exits 0 or 2 depending on the flag package version.
    let found = Command::new("pebble-challtestsrv")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "pebble-challtestsrv (Debian package `pebble`) is not available: {INSTALL_HINT}"
    );
    Command::new("pebble-challtestsrv")
}

/// `openssl` (Debian package `openssl`).
pub fn openssl() -> Command {
    require("openssl", "openssl", &["version"]);
    Command::new("openssl")
}

/// Runs a client to completion within `limit` (killed when it overruns) and returns its output.
pub async fn run(what: &str, mut cmd: tokio::process::Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run {what}: {e}"),
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// stdout and stderr of a finished client, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
