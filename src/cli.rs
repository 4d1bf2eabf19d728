//! Command line: every subcommand reads the same configuration (`--config FILE` plus `BRIDGE_*`).

use crate::config::Config;
use crate::store::{EabKey, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
    /// Apply database migrations and exit.
    Migrate,
    /// Manage External Account Binding keys.
    #[command(subcommand)]
    Eab(EabCommand),
    /// Talk to Sectigo Certificate Manager (find org ids, profiles; check the configuration).
    #[command(subcommand)]
    Scm(crate::scm::cli::ScmCommand),
    /// Run the SCM emulator (a test stand-in for Sectigo Certificate Manager).
    Sandbox(crate::sandbox::cli::SandboxArgs),
}

/// `eab …`
#[derive(Debug, Subcommand)]
pub enum EabCommand {
    /// Create a key; prints its kid and HMAC key (shown once, store it safely).
    Create {
        /// Who the key is for, e.g. a team name.
        #[arg(long)]
        label: String,
        /// Name pattern accounts of this key may order (`example.edu`, `*.example.edu`, a CIDR).
        /// Repeatable; none means no name is allowed.
        #[arg(long = "allow", value_name = "PATTERN")]
        allow: Vec<String>,
        /// SCM organization or department id certificates are enrolled under.
        #[arg(long)]
        org_id: Option<i64>,
        /// Profile this key may use (repeatable; none = every profile).
        #[arg(long = "profile", value_name = "NAME")]
        profiles: Vec<String>,
        /// Authorize names that SCM already validated for the org, without a challenge.
        #[arg(long)]
        trust_scm_dcv: bool,
        /// The key binds at most one account.
        #[arg(long)]
        single_use: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their HMAC).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: no new account can bind with it (existing accounts keep working).
    Revoke {
        /// The key's kid.
        kid: String,
    },
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
            let store = Store::connect(&config.database).await?;
            store.migrate().await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Eab(cmd) => run_eab(&config, cmd).await,
        Command::Scm(cmd) => crate::scm::cli::run(&config, cmd).await,
        Command::Sandbox(args) => crate::sandbox::cli::run(&config, args).await,
    }
}

async fn run_eab(config: &Config, cmd: EabCommand) -> anyhow::Result<()> {
    let store = Store::connect(&config.database).await?;
    store.migrate().await?;
    match cmd {
        EabCommand::Create {
            label,
            allow,
            org_id,
            profiles,
            trust_scm_dcv,
            single_use,
            json,
        } => {
            if let Some(scm) = config.scm.as_ref().filter(|s| s.org_id.is_none()) {
                if org_id.is_none() {
                    anyhow::bail!(
                        "the key would leave its accounts without an SCM organization: [scm] \
                         org_id is not set (customer {}), so give --org-id N (ids: \
                         `acme-sectigo-bridge scm orgs`) or set scm.org_id",
                        scm.customer_uri
                    );
                }
            }
            let key = EabKey {
                kid: format!("kid-{}", crate::ids::random_id()),
                hmac_key: crate::ids::random_bytes(32),
                label,
                allowed_patterns: allow,
                scm_org_id: org_id,
                profiles,
                trust_scm_dcv,
                single_use,
                created_at: chrono::Utc::now(),
                used_at: None,
                revoked_at: None,
            };
            store.create_eab_key(&key).await?;
            let hmac = URL_SAFE_NO_PAD.encode(&key.hmac_key);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"kid": key.kid, "hmac_key": hmac, "label": key.label})
                );
            } else {
                println!("kid:      {}", key.kid);
                println!("hmac_key: {hmac}");
                println!(
                    "(the HMAC key is shown only now; give both values to the team's ACME client)"
                );
            }
        }
        EabCommand::List { json } => {
            let keys = store.list_eab_keys().await?;
            if json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "kid": k.kid, "label": k.label, "allow": k.allowed_patterns,
                            "org_id": k.scm_org_id, "profiles": k.profiles,
                            "trust_scm_dcv": k.trust_scm_dcv, "single_use": k.single_use,
                            "created_at": k.created_at, "used_at": k.used_at,
                            "revoked_at": k.revoked_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!(
                    "{:<28} {:<20} {:<8} {:<8} ALLOW",
                    "KID", "LABEL", "ORG", "STATE"
                );
                for k in keys {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else if k.single_use && k.used_at.is_some() {
                        "used"
                    } else {
                        "active"
                    };
                    let org = k.scm_org_id.map(|o| o.to_string()).unwrap_or("-".into());
                    println!(
                        "{:<28} {:<20} {:<8} {:<8} {}",
                        k.kid,
                        k.label,
                        org,
                        state,
                        k.allowed_patterns.join(",")
                    );
                }
            }
        }
        EabCommand::Revoke { kid } => {
            if store.revoke_eab_key(&kid).await? {
                println!("revoked {kid}");
            } else {
                anyhow::bail!("no active EAB key with kid {kid}");
            }
        }
    }
    Ok(())
}
