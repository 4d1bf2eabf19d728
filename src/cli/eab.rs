//! `eab …`: the operator's External Account Binding keys (create, list, revoke).

use crate::config::Config;
use crate::store::{EabKey, EabRevocation, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Subcommand;

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
    /// Revoke a key: no new account can bind with it, and the accounts bound to it can no longer
    /// order (every replica refuses them within `acme.eab_cache_secs`). Revoking a key revoked
    /// with `--keep-accounts` again without it stops its accounts.
    Revoke {
        /// The key's kid.
        kid: String,
        /// Only stop new bindings: accounts already bound keep ordering.
        #[arg(long)]
        keep_accounts: bool,
    },
}

/// Runs one `eab` subcommand against the configured database.
pub async fn run(config: &Config, cmd: EabCommand) -> anyhow::Result<()> {
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
                accounts_stopped: false,
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
                            "revoked_at": k.revoked_at, "accounts_stopped": k.accounts_stopped,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!(
                    "{:<28} {:<20} {:<8} {:<23} ALLOW",
                    "KID", "LABEL", "ORG", "STATE"
                );
                for k in keys {
                    let state = if k.stops_accounts() {
                        "revoked"
                    } else if k.revoked_at.is_some() {
                        "revoked (accounts kept)"
                    } else if k.single_use && k.used_at.is_some() {
                        "used"
                    } else {
                        "active"
                    };
                    let org = k.scm_org_id.map(|o| o.to_string()).unwrap_or("-".into());
                    println!(
                        "{:<28} {:<20} {:<8} {:<23} {}",
                        k.kid,
                        k.label,
                        org,
                        state,
                        k.allowed_patterns.join(",")
                    );
                }
            }
        }
        EabCommand::Revoke { kid, keep_accounts } => {
            let how = if keep_accounts {
                EabRevocation::KeepAccounts
            } else {
                EabRevocation::StopAccounts
            };
            if !store.revoke_eab_key(&kid, how).await? {
                anyhow::bail!(
                    "nothing to revoke: there is no EAB key {kid}, or it is already revoked{}",
                    if keep_accounts {
                        ""
                    } else {
                        " with its accounts stopped"
                    }
                );
            }
            if keep_accounts {
                println!(
                    "revoked {kid}: no new account can bind with it; its accounts keep ordering"
                );
            } else {
                println!(
                    "revoked {kid}: no new account can bind with it, and its accounts can no longer \
                     order (every replica within acme.eab_cache_secs = {} s)",
                    config.acme.eab_cache_secs
                );
            }
        }
    }
    Ok(())
}
