//! `audit export`: the audit trail as JSON lines, for archiving or a SIEM.

use crate::config::Config;
use crate::model::AuditQuery;
use chrono::{DateTime, Utc};
use clap::Subcommand;

/// `audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print events as JSON lines, oldest first; filters must all match.
    Export {
        /// From this instant (RFC 3339, e.g. 2026-01-01T00:00:00Z), inclusive.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Up to this instant, exclusive.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        #[arg(long = "eab-label")]
        eab_label: Option<String>,
        #[arg(long)]
        account: Option<String>,
        /// Events naming this (part of a) name.
        #[arg(long)]
        name: Option<String>,
        /// Certificate serial (hex).
        #[arg(long)]
        serial: Option<String>,
    },
}

/// Runs `audit export` against the configured database, in pages so the trail is never held
/// in memory at once.
pub async fn run(config: &Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let AuditCommand::Export {
        since,
        until,
        eab_label,
        account,
        name,
        serial,
    } = cmd;
    let mut q = AuditQuery {
        since,
        until,
        eab_label,
        account_id: account,
        name,
        serial: serial
            .map(|s| super::certs::normalize_serial(&s))
            .transpose()?,
        after_id: None,
        limit: 1000,
    };
    loop {
        let page = store.audit_events(&q).await?;
        let Some(last) = page.last() else { break };
        q.after_id = Some(last.id);
        for ev in &page {
            println!("{}", serde_json::to_string(ev)?);
        }
    }
    Ok(())
}
