//! Child processes of one test: started with their output in files of the test's temp dir, killed on
//! drop (also when the test panics), their output printed when the test failed.

use crate::support::child::ChildGuard;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory for one test, removed on drop unless the test failed or `E2E_KEEP_TMP=1` is set (then
/// kept for inspection: logs of every process, certbot's and lego's files).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let name = format!(
            "bridge-e2e-{}",
            acme_sectigo_bridge::ids::random_b64(9).replace(['-', '_'], "x")
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("E2E_KEEP_TMP").is_some_and(|v| v == "1") {
            eprintln!("e2e: kept {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The long-running children of one test (sandbox, DNS server, bridge), stopped in reverse order.
pub struct Procs {
    children: Vec<ChildGuard>,
}

impl Procs {
    pub fn new() -> Self {
        Self {
            children: Vec::new(),
        }
    }

    /// Starts `cmd` with stdout and stderr going to `<dir>/<name>.log`.
    pub fn spawn(&mut self, name: &str, cmd: Command, dir: &Path) {
        let log = dir.join(format!("{name}.log"));
        self.children
            .push(ChildGuard::spawn_logging_to(cmd, name, log));
    }

    fn child(&mut self, name: &str) -> &mut ChildGuard {
        self.children
            .iter_mut()
            .find(|c| c.name == name)
            .expect("known child")
    }

    /// Panics with the child's log if it has exited (used while waiting for it to become ready).
    pub fn check_alive(&mut self, name: &str) {
        self.child(name).assert_running();
    }

    /// The log of `name` so far.
    pub fn log(&self, name: &str) -> String {
        self.children
            .iter()
            .find(|c| c.name == name)
            .map(ChildGuard::log_text)
            .unwrap_or_default()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        while let Some(child) = self.children.pop() {
            drop(child);
        }
    }
}
