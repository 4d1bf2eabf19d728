//! `acme-sectigo-bridge scm …`: operator commands answering "which orgId / profile do I use?" and
//! "will my configuration work?". Tables by default, `--json` for scripts.

use crate::scm::check::{run_checks, CheckTarget, Level, ProfileTarget};
use crate::scm::{ScmClient, ScmConfig};
use clap::Subcommand;
use futures::future::join_all;

/// Operator commands that talk to SCM.
#[derive(Debug, Subcommand)]
pub enum ScmCommand {
    /// List organizations and departments with their ids (the `orgId` to configure) and whether the
    /// SSL Web API is enabled.
    Orgs {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List SSL certificate types (profiles) with ids and allowed terms.
    Types {
        /// Only the types available to this organization or department.
        #[arg(long)]
        org: Option<i64>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check credentials, the org/department and the profile/term; prints a fix for each problem.
    Check {
        /// Organization or department to check (default: scm.org_id).
        #[arg(long)]
        org: Option<i64>,
        /// Profile (certType) id to check (default: scm.cert_type).
        #[arg(long = "type")]
        cert_type: Option<i64>,
        /// Term in days to check (default: scm.term).
        #[arg(long)]
        term: Option<u32>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

fn scm_config(config: &crate::config::Config) -> anyhow::Result<&ScmConfig> {
    config.scm.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "no [scm] section: set scm.base_url, scm.customer_uri, scm.login and scm.password \
             (or BRIDGE_SCM__BASE_URL, BRIDGE_SCM__CUSTOMER_URI, BRIDGE_SCM__LOGIN, \
             BRIDGE_SCM__PASSWORD)"
        )
    })
}

/// Runs an `scm` subcommand.
pub async fn run(config: &crate::config::Config, cmd: ScmCommand) -> anyhow::Result<()> {
    let cfg = scm_config(config)?;
    let client = ScmClient::new(cfg)?;
    match cmd {
        ScmCommand::Orgs { json } => orgs(&client, json).await,
        ScmCommand::Types { org, json } => types(&client, org, json).await,
        ScmCommand::Check {
            org,
            cert_type,
            term,
            json,
        } => {
            let cert_type = cert_type.or(cfg.cert_type);
            let target = CheckTarget {
                org_id: org.or(cfg.org_id),
                profiles: cert_type
                    .map(|t| ProfileTarget {
                        label: "scm.cert_type".into(),
                        cert_type: t,
                        term: term.or(cfg.term),
                    })
                    .into_iter()
                    .collect(),
            };
            check(&client, &target, json).await
        }
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "?",
    }
}

async fn orgs(client: &ScmClient, json: bool) -> anyhow::Result<()> {
    let orgs = client.organizations().await?;
    // (id, name, kind, parent)
    let mut rows: Vec<(i64, String, &str, String)> = Vec::new();
    for o in &orgs {
        rows.push((o.id, o.name.clone(), "organization", String::new()));
        for d in &o.departments {
            rows.push((d.id, d.name.clone(), "department", o.name.clone()));
        }
    }
    let web_api: Vec<Option<bool>> = join_all(rows.iter().map(|r| client.organization(r.0)))
        .await
        .into_iter()
        .map(|d| d.ok().and_then(|d| d.ssl_certs_api_enabled))
        .collect();
    if json {
        let v: Vec<_> = rows
            .iter()
            .zip(&web_api)
            .map(|((id, name, kind, parent), api)| {
                serde_json::json!({"id": id, "name": name, "kind": kind,
                    "parent": (!parent.is_empty()).then_some(parent), "ssl_web_api": api})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{:<10} {:<13} {:<8} NAME", "ORG ID", "KIND", "WEB API");
    for ((id, name, kind, parent), api) in rows.iter().zip(&web_api) {
        let name = if parent.is_empty() {
            name.clone()
        } else {
            format!("  {name} (in {parent})")
        };
        println!("{id:<10} {kind:<13} {:<8} {name}", yes_no(*api));
    }
    println!();
    println!("Use an ORG ID as scm.org_id (or --org-id of `eab create`). An org or department");
    println!("with WEB API \"NO\" refuses enrollments (-1021): enable Web API on its SSL tab.");
    Ok(())
}

async fn types(client: &ScmClient, org: Option<i64>, json: bool) -> anyhow::Result<()> {
    let types = client.ssl_types(org).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&types)?);
        return Ok(());
    }
    println!(
        "{:<8} {:<16} {:<24} NAME",
        "TYPE ID", "TERMS (days)", "KEY TYPES"
    );
    for t in &types {
        let terms = t
            .terms
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let keys = t.key_types.keys().cloned().collect::<Vec<_>>().join(",");
        println!("{:<8} {:<16} {:<24} {}", t.id, terms, keys, t.name);
    }
    println!();
    println!("Use a TYPE ID as scm.cert_type and one of its TERMS as scm.term.");
    Ok(())
}

async fn check(client: &ScmClient, target: &CheckTarget, json: bool) -> anyhow::Result<()> {
    let findings = run_checks(client, target).await;
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": failed == 0, "findings": findings
            }))?
        );
    } else {
        for f in &findings {
            println!("{}", f.line());
        }
    }
    if failed > 0 {
        anyhow::bail!("scm check found {failed} problem(s)");
    }
    if !json {
        println!("SCM configuration looks good.");
    }
    Ok(())
}
