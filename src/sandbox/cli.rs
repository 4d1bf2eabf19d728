//! `acme-sectigo-bridge sandbox`: run the SCM emulator as its own server and print how to reach it.

use crate::sandbox::Sandbox;
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
}

/// Runs the emulator until SIGTERM/Ctrl-C.
pub async fn run(config: &crate::config::Config, args: SandboxArgs) -> anyhow::Result<()> {
    let mut cfg = config.sandbox.clone();
    if let (Some(c), Some(k)) = (args.tls_cert, args.tls_key) {
        cfg.tls_cert = Some(c);
        cfg.tls_key = Some(k);
    }
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
