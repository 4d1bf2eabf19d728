//! `acme-sectigo-bridge sandbox`: run the SCM emulator as its own server.

use clap::Args;

/// Arguments of the `sandbox` subcommand.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub listen: std::net::SocketAddr,
}

/// Runs the emulator until SIGTERM/Ctrl-C.
pub async fn run(_config: &crate::config::Config, _args: SandboxArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
