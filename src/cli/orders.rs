//! `orders …`: search orders and show one with its authorizations and SCM state.

use crate::admin::views;
use crate::config::Config;
use crate::store::{OrderFilter, Page};
use clap::Subcommand;

/// `orders …`
#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders, oldest first; filters must all match.
    List {
        /// Orders naming this (part of a) name.
        #[arg(long)]
        name: Option<String>,
        /// pending, ready, processing, valid or invalid.
        #[arg(long)]
        status: Option<String>,
        /// Orders of accounts bound to EAB keys with this label.
        #[arg(long = "eab-label")]
        eab_label: Option<String>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one order: authorizations, challenges, validation records, SCM sslId and attempts.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `orders` subcommand against the configured database.
pub async fn run(config: &Config, cmd: OrdersCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    match cmd {
        OrdersCommand::List {
            name,
            status,
            eab_label,
            account,
            limit,
            offset,
            json,
        } => {
            let filter = OrderFilter {
                name,
                status,
                eab_label,
                account_id: account,
            };
            let page = Page::new(Some(limit), Some(offset));
            for o in store.orders_page(&filter, page).await? {
                if json {
                    println!("{}", serde_json::to_string(&o)?);
                } else {
                    println!(
                        "{}  {:<10} {}  ssl_id={}  {}",
                        o.id,
                        o.status,
                        o.created_at.to_rfc3339(),
                        o.ssl_id
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| "-".into()),
                        o.names
                    );
                }
            }
        }
        OrdersCommand::Show { id, json } => {
            let v = views::order_detail(&store, &id)
                .await
                .map_err(|e| anyhow::anyhow!("order {id}: {e}"))?;
            if json {
                println!("{v}");
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        }
    }
    Ok(())
}
