//! Command line: every subcommand reads the same configuration (`--config FILE` plus `BRIDGE_*`).

mod accounts;
mod audit;
mod certs;
mod eab;
mod orders;

pub use accounts::AccountsCommand;
pub use audit::AuditCommand;
pub use certs::CertsCommand;
pub use eab::EabCommand;
pub use orders::OrdersCommand;

use crate::config::Config;
use crate::store::Store;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// An ACME server that issues certificates through Sectigo Certificate Manager.
#[derive(Debug, Parser)]
#[command(name = "acme-sectigo-bridge", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables `BRIDGE_SECTION__KEY` override it.
    #[arg(long, global = true, env = "BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the bridge keeps its own files: the SQLite database when `database.url` is not set,
    /// and in zero-setup mode the local CA, TLS certificate and demo EAB key.
    #[arg(long, global = true, env = "BRIDGE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ACME server (applies database migrations first). Without `[scm]` it runs in
    /// zero-setup mode: the SCM sandbox in-process, HTTPS with a local CA, a demo EAB key.
    Serve,
    /// Apply database migrations and exit; with `acme.eab_encryption_key` configured, also
    /// encrypt EAB HMAC keys stored in plaintext.
    Migrate,
    /// Manage External Account Binding keys.
    #[command(subcommand)]
    Eab(EabCommand),
    /// Certificates the bridge issued: list, show, revoke, and `renew-now` on a mass revocation day.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// ACME accounts: list, deactivate.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Orders: search, show with authorizations and SCM state.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// The audit trail: `audit export --since … --until …` as JSON lines.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Talk to Sectigo Certificate Manager (find org ids, profiles; check the configuration).
    #[command(subcommand)]
    Scm(crate::scm::cli::ScmCommand),
    /// Run the SCM emulator (a test stand-in for Sectigo Certificate Manager).
    Sandbox(crate::sandbox::cli::SandboxArgs),
}

/// Connects to the configured database with the EAB encryption key (if any) and migrates it.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database)
        .await?
        .with_eab_cipher(config.acme.eab_cipher()?);
    store.migrate().await?;
    Ok(store)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config.logging);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, &cli.data_dir, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand with a loaded configuration. Without `database.url`, every subcommand uses
/// the SQLite file in `data_dir`, so `eab create` reaches the same database as `serve`.
pub async fn run(mut config: Config, data_dir: &Path, command: Command) -> anyhow::Result<()> {
    if config.database.url.is_none() {
        let url = crate::store::default_sqlite_url(data_dir);
        config.database.url = Some(crate::secret::Secret::new(url));
    }
    match command {
        Command::Serve => crate::app::serve(config, data_dir).await,
        Command::Migrate => {
            // Often run ahead of a rollout (a Kubernetes Job, a deploy script) that may start it
            // while the database is still coming up: it waits for it as `serve` does.
            let cipher = config.acme.eab_cipher()?;
            let store = crate::app::connect_and_migrate(&config.database)
                .await?
                .with_eab_cipher(cipher);
            println!("database is up to date");
            eab::encrypt_plaintext_keys(&store).await
        }
        Command::Eab(cmd) => eab::run(&config, cmd).await,
        Command::Certs(cmd) => certs::run(&config, cmd).await,
        Command::Accounts(cmd) => accounts::run(&config, cmd).await,
        Command::Orders(cmd) => orders::run(&config, cmd).await,
        Command::Audit(cmd) => audit::run(&config, cmd).await,
        Command::Scm(cmd) => crate::scm::cli::run(&config, cmd).await,
        Command::Sandbox(args) => crate::sandbox::cli::run(&config, args).await,
    }
}
