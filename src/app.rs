//! Wiring: builds the state from the configuration, serves HTTP(S), shuts down gracefully.

use crate::config::Config;

/// Runs the server until SIGTERM/Ctrl-C.
pub async fn serve(_config: Config) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
