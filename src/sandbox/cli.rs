//! `acme-sectigo-bridge sandbox`: run the SCM emulator as its own server and print how to reach it.

use crate::sandbox::{FaultKind, Sandbox, SandboxConfig};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of the `sandbox` subcommand.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub listen: std::net::SocketAddr,
    /// PEM certificate to serve HTTPS with (overrides `sandbox.tls_cert`).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Chaos run: fraction (0–1) of SCM calls that get a random fault (overrides
    /// `sandbox.faults.fault_rate`; the control API can change it later).
    #[arg(long, value_name = "RATE")]
    pub fault_rate: Option<f64>,
    /// Faults the rate draws from, comma-separated: error_500, error_503, reset, slow,
    /// drop_enroll_response, delay_enroll_response (default: all; overrides
    /// `sandbox.faults.fault_kinds`).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub fault_kinds: Vec<FaultKind>,
    /// Seed of the random faults, to replay a run (overrides `sandbox.faults.fault_seed`).
    #[arg(long, value_name = "SEED")]
    pub fault_seed: Option<u64>,
    /// Longest delay of a random `slow` fault in ms (overrides `sandbox.faults.fault_slow_max_ms`).
    #[arg(long, value_name = "MS")]
    pub fault_slow_max_ms: Option<u64>,
    /// Cross-sign the root by an older root, so collect returns an alternate chain too (overrides
    /// `sandbox.cross_signed_root`).
    #[arg(long)]
    pub cross_signed_root: bool,
}

impl SandboxArgs {
    /// The configuration with the flags applied over `[sandbox]`.
    pub fn apply(&self, mut cfg: SandboxConfig) -> SandboxConfig {
        if let (Some(c), Some(k)) = (&self.tls_cert, &self.tls_key) {
            cfg.tls_cert = Some(c.clone());
            cfg.tls_key = Some(k.clone());
        }
        if let Some(r) = self.fault_rate {
            cfg.faults.fault_rate = r;
        }
        if !self.fault_kinds.is_empty() {
            cfg.faults.fault_kinds = self.fault_kinds.clone();
        }
        if let Some(s) = self.fault_seed {
            cfg.faults.fault_seed = Some(s);
        }
        if let Some(ms) = self.fault_slow_max_ms {
            cfg.faults.fault_slow_max_ms = ms;
        }
        cfg.cross_signed_root |= self.cross_signed_root;
        cfg
    }
}

/// Runs the emulator until SIGTERM/Ctrl-C.
pub async fn run(config: &crate::config::Config, args: SandboxArgs) -> anyhow::Result<()> {
    let cfg = args.apply(config.sandbox.clone());
    let chaos = (cfg.faults.fault_rate > 0.0).then(|| {
        let kinds: Vec<&str> = cfg.faults.fault_kinds.iter().map(|k| k.as_str()).collect();
        format!(
            "  chaos:       {} of SCM calls get a random fault ({}), seed {}\n",
            cfg.faults.fault_rate,
            if kinds.is_empty() {
                "any kind".to_string()
            } else {
                kinds.join(", ")
            },
            cfg.faults
                .fault_seed
                .map_or("random".to_string(), |s| s.to_string()),
        )
    });
    let handle = Sandbox::bind(cfg, args.listen)?;
    let base = handle.base_url();
    // Printing is best effort: a closed stdout (a test that read the first line) must not stop us.
    let banner = format!(
        "SCM sandbox listening on {base}\n  customerUri: {c}   login: {l}   password: {p}\n  \
         root CA:     {root}/root.pem\n  point the bridge at it: BRIDGE_SCM__BASE_URL={base} \
         BRIDGE_SCM__CUSTOMER_URI={c} BRIDGE_SCM__LOGIN={l} BRIDGE_SCM__PASSWORD={p}\n",
        c = handle.customer_uri(),
        l = handle.login(),
        p = handle.password(),
        root = handle.control_url(),
    );
    let banner = banner + chaos.as_deref().unwrap_or("");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|_| out.flush());
    drop(out);
    shutdown_signal().await;
    handle.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
