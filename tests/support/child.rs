//! A child process of a test (the bridge, the SCM sandbox, pebble-challtestsrv): its output goes to
//! a log file, it is SIGKILLed when the guard drops, and its log is printed if the test failed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process writing to a log file; SIGKILLed when dropped, its log printed if the test is
/// panicking.
pub struct ChildGuard {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout and stderr going to a log in the temp dir named after `prefix`
    /// and `name`.
    pub fn spawn(cmd: Command, prefix: &str, name: &str) -> Self {
        let log = std::env::temp_dir().join(format!("{prefix}-{name}.log"));
        Self::spawn_logging_to(cmd, name, log)
    }

    /// Spawns `cmd` with stdin closed and stdout and stderr going to `log`.
    pub fn spawn_logging_to(mut cmd: Command, name: &str, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited with {status}:\n{}", self.name, self.log_text());
        }
    }

    /// Polls `url` until it answers 200 (panics after `within` or if the process exits).
    pub async fn wait_ok(&mut self, url: &str, within: Duration) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            self.assert_running();
            if let Ok(r) = http.get(url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready at {url}:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (a name `kill -s` knows, e.g. `STOP`, `CONT`) to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -s {signal} {}", self.name);
    }

    /// SIGKILL: no graceful shutdown, no lease released.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- {} log {} ---\n{}",
                self.name,
                self.log.display(),
                self.log_text()
            );
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
