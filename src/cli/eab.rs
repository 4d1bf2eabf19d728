//! `eab …`: the operator's External Account Binding keys (create, list, reencrypt, revoke).

use crate::config::Config;
use crate::model::Actor;
use crate::store::{EabCipher, EabRevocation, Store};
use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Subcommand;
use std::path::{Path, PathBuf};

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
    /// Encrypt every stored HMAC key with `acme.eab_encryption_key`: the plaintext ones and, with
    /// `--old-key-file`, those encrypted under the previous key (rotation). All or nothing.
    Reencrypt {
        /// File holding the previous encryption key (same format as acme.eab_encryption_key_file).
        #[arg(long, value_name = "FILE")]
        old_key_file: Option<PathBuf>,
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

/// `migrate`'s part for EAB keys: seals the plaintext ones when an encryption key is configured,
/// else reminds the operator that they lie in plaintext.
pub async fn encrypt_plaintext_keys(store: &Store) -> anyhow::Result<()> {
    if !store.encrypts_eab_keys() {
        if store.count_plaintext_eab_keys().await? > 0 {
            println!(
                "warning: EAB HMAC keys are stored in plaintext; set acme.eab_encryption_key_file \
                 (or BRIDGE_ACME__EAB_ENCRYPTION_KEY) and run migrate again to encrypt them"
            );
        }
        return Ok(());
    }
    let done = store.encrypt_eab_keys(None).await?;
    if done.encrypted > 0 {
        println!(
            "encrypted {} EAB HMAC keys that were stored in plaintext",
            done.encrypted
        );
    }
    Ok(())
}

/// Runs one `eab` subcommand against the configured database.
pub async fn run(config: &Config, cmd: EabCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
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
            // The same checks as the admin API and console (label, every pattern parses): a
            // pattern no order could match was stored before and failed every newOrder of the
            // key's accounts with a server error.
            let new = crate::admin::NewEabKey {
                label,
                allowed_patterns: allow,
                scm_org_id: org_id,
                profiles,
                trust_scm_dcv,
                single_use,
            };
            let key =
                crate::admin::create_eab_key(&store, new, &Actor::Cli, chrono::Utc::now()).await?;
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
        EabCommand::Reencrypt { old_key_file } => {
            let old = match &old_key_file {
                Some(path) => Some(read_old_key(path)?),
                None => None,
            };
            let done = store.encrypt_eab_keys(old.as_ref()).await?;
            println!(
                "EAB HMAC keys: {} encrypted from plaintext, {} re-encrypted from the old key, {} \
                 already under acme.eab_encryption_key",
                done.encrypted, done.reencrypted, done.unchanged
            );
        }
        EabCommand::Revoke { kid, keep_accounts } => {
            let how = if keep_accounts {
                EabRevocation::KeepAccounts
            } else {
                EabRevocation::StopAccounts
            };
            if !store.revoke_eab_key(&kid, how, chrono::Utc::now()).await? {
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

/// The previous encryption key for `eab reencrypt --old-key-file`.
fn read_old_key(path: &Path) -> anyhow::Result<EabCipher> {
    let text = crate::secret::read_secret_file(path)
        .with_context(|| format!("reading --old-key-file {}", path.display()))?;
    EabCipher::from_text(&text)
        .map_err(|e| anyhow::anyhow!("--old-key-file {}: {e}", path.display()))
}
