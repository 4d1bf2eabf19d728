//! Child processes of one test: started with their output in files of the test's temp dir, killed on
//! drop (also when the test panics), their output printed when the test failed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// The long-running children of one test (sandbox, DNS server, bridge).
pub struct Procs {
    children: Vec<(String, Child, PathBuf)>,
}

impl Procs {
    pub fn new() -> Self {
        Self {
            children: Vec::new(),
        }
    }

    /// Starts `cmd` with stdout and stderr going to `<dir>/<name>.log`.
    pub fn spawn(&mut self, name: &str, mut cmd: Command, dir: &Path) -> &mut Child {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        self.children.push((name.to_string(), child, log));
        &mut self.children.last_mut().unwrap().1
    }

    /// Panics with the child's log if it has exited (used while waiting for it to become ready).
    pub fn check_alive(&mut self, name: &str) {
        let (_, child, log) = self
            .children
            .iter_mut()
            .find(|(n, _, _)| n == name)
            .expect("known child");
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{name} exited early ({status}):\n{text}");
        }
    }

    /// The log of `name` so far.
    pub fn log(&self, name: &str) -> String {
        self.children
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, log)| std::fs::read_to_string(log).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        for (name, child, log) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
            if failed {
                let text = std::fs::read_to_string(&*log).unwrap_or_default();
                eprintln!("===== {name} output ({}) =====\n{text}", log.display());
            }
        }
    }
}
