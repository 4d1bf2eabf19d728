//! `acme-sectigo-bridge scm …`: operator commands answering "which orgId / profile do I use?".

use clap::Subcommand;

/// Operator commands that talk to SCM.
#[derive(Debug, Subcommand)]
pub enum ScmCommand {
    /// List organizations and departments with their ids.
    Orgs,
}

/// Runs an `scm` subcommand.
pub async fn run(_config: &crate::config::Config, _cmd: ScmCommand) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
