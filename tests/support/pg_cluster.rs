//! A throwaway PostgreSQL cluster on its own port, for tests that stop or restart the database
//! under the bridge (never the shared server of `DATABASE_URL`). Uses the installed `initdb` and
//! `pg_ctl` (/usr/lib/postgresql/*/bin); as root they run as the `postgres` user, which initdb
//! requires.

use super::db::TestDb;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A cluster in a temporary directory, stopped (immediately) and removed when dropped.
pub struct PgCluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The newest installed PostgreSQL's binaries.
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL binaries under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect("an installed PostgreSQL with pg_ctl")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    /// initdb (trust authentication, fsync off) and start on a free loopback port.
    pub fn start() -> Self {
        let port = super::process::free_port();
        let dir = std::env::temp_dir().join(format!(
            "bridge-pg-{}",
            acme_sectigo_bridge::ids::random_b64(9).replace(['-', '_'], "x")
        ));
        let cluster = Self {
            port,
            dir,
            bin: bin_dir(),
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                cluster.dir_str(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.pg_ctl(&["start", "-w", "-t", "60"]);
        cluster
    }

    fn dir_str(&self) -> &str {
        self.dir.to_str().expect("utf-8 temp dir")
    }

    fn log(&self) -> PathBuf {
        Path::new(&format!("{}.log", self.dir_str())).to_path_buf()
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when we are root); panics on failure.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\nlog:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir_str()
        );
        let log = self.log();
        let mut all = vec![
            "-D",
            self.dir_str(),
            "-l",
            log.to_str().unwrap(),
            "-o",
            &opts,
        ];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    /// `pg_ctl restart -m immediate`: every connection is cut, the server recovers and is back.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "immediate", "-w", "-t", "60"]);
    }

    /// `pg_ctl stop -m immediate`.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    /// Starts the stopped server again and waits until it accepts connections.
    pub fn start_again(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60"]);
    }

    /// The URL of `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A fresh database on this cluster (it goes with the cluster).
    pub async fn database(&self) -> TestDb {
        use sqlx::Connection;
        let name = format!(
            "bridge_{}",
            acme_sectigo_bridge::ids::random_b64(6)
                .to_ascii_lowercase()
                .replace(['-', '_'], "x")
        );
        let mut c = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the throwaway cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .expect("create database");
        TestDb::external(name.clone(), self.url(&name))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new(if is_root() { "runuser" } else { "true" })
            .args(if is_root() {
                vec!["-u", "postgres", "--"]
            } else {
                vec![]
            })
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", self.dir_str(), "stop", "-m", "immediate", "-w"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.log());
    }
}
