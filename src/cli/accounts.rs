//! `accounts …`: list ACME accounts and deactivate one for good (recorded as the CLI's action).

use crate::admin::views;
use crate::config::Config;
use crate::model::Actor;
use crate::store::Page;
use clap::Subcommand;

/// `accounts …`
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// List accounts, oldest first.
    List {
        /// Only accounts bound to this EAB key.
        #[arg(long = "eab-kid")]
        eab_kid: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Deactivate an account: it can no longer order, finalize or revoke (RFC 8555 §7.3.6).
    Deactivate {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `accounts` subcommand against the configured database.
pub async fn run(config: &Config, cmd: AccountsCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    match cmd {
        AccountsCommand::List {
            eab_kid,
            limit,
            offset,
            json,
        } => {
            let page = Page::new(Some(limit), Some(offset));
            for a in store.accounts_page(eab_kid.as_deref(), page).await? {
                if json {
                    println!("{}", views::account(&a));
                } else {
                    println!(
                        "{}  {:<11} {}  eab={}  {}",
                        a.id,
                        a.status.as_str(),
                        a.created_at.to_rfc3339(),
                        a.eab_kid.as_deref().unwrap_or("-"),
                        a.contact.join(",")
                    );
                }
            }
        }
        AccountsCommand::Deactivate { id, json } => {
            crate::admin::deactivate_account(&store, &id, &Actor::Cli, chrono::Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("account {id}: {e}"))?;
            if json {
                println!("{}", serde_json::json!({"id": id, "status": "deactivated"}));
            } else {
                println!("account {id} deactivated");
            }
        }
    }
    Ok(())
}
