//! `certs …`: the operator's side of certificates the bridge issued. `renew-now` is for the day a
//! CA announces a mass revocation (or a team must rotate keys): it marks certificates so their
//! renewalInfo (RFC 9773) answers a window in the past, and ARI clients replace them at their next
//! check — no client-side action needed.

use crate::acme::ari::reasons;
use crate::config::Config;
use crate::policy::NamePattern;
use crate::store::RenewCandidate;
use clap::Subcommand;

/// `certs …`
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// List certificates, oldest first; filters must all match.
    List {
        /// Certificates naming this (part of a) name.
        #[arg(long)]
        name: Option<String>,
        /// The certificate with this serial (hex, colons and case ignored).
        #[arg(long)]
        serial: Option<String>,
        /// Expiring at or after this instant (RFC 3339).
        #[arg(long = "expires-after")]
        expires_after: Option<chrono::DateTime<chrono::Utc>>,
        /// Expiring before this instant (RFC 3339).
        #[arg(long = "expires-before")]
        expires_before: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one certificate with its chain.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a certificate through SCM (as revokeCert does): a running server's worker makes
    /// the SCM call; `certs show` tells when it is done.
    Revoke {
        id: String,
        /// RFC 5280 reason: 0 unspecified, 1 keyCompromise, 3 affiliationChanged, 4 superseded,
        /// 5 cessationOfOperation.
        #[arg(long, default_value_t = 0)]
        reason: i32,
        #[arg(long)]
        json: bool,
    },
    /// Mark valid certificates for renewal now: their ACME renewalInfo window moves to the past,
    /// so ARI clients (certbot, lego --ari-enable, Caddy, cert-manager …) renew them at their next check.
    /// Filters of different kinds must all match; repeated filters of one kind match any.
    RenewNow {
        /// Certificates with an identifier matching this pattern (`www.example.edu`,
        /// `*.example.edu` = every name below it, a CIDR for IP addresses). Repeatable.
        #[arg(long = "name", value_name = "PATTERN")]
        names: Vec<String>,
        /// Certificates of accounts bound to this EAB key. Repeatable.
        #[arg(long = "eab-kid", value_name = "KID")]
        eab_kids: Vec<String>,
        /// Certificates issued under this profile. Repeatable.
        #[arg(long = "profile", value_name = "NAME")]
        profiles: Vec<String>,
        /// The certificate with this serial number (hex, colons and case ignored). Repeatable.
        #[arg(long = "serial", value_name = "HEX")]
        serials: Vec<String>,
        /// Every valid certificate (required when no filter is given, so a typo cannot mark all).
        #[arg(long)]
        all: bool,
        /// Reason code shown to clients as `explanationURL?reason=CODE` and logged
        /// (lower-case letters, digits, `-`).
        #[arg(long, default_value = reasons::OPERATOR)]
        reason: String,
        /// Only list what would be marked.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The filters of `renew-now`, parsed.
#[derive(Debug, Default)]
pub struct Selection {
    pub names: Vec<NamePattern>,
    pub eab_kids: Vec<String>,
    pub profiles: Vec<String>,
    /// Normalised like the store's serials (lower-case hex, no leading zero bytes).
    pub serials: Vec<String>,
}

impl Selection {
    /// Whether a certificate passes every filter given.
    pub fn matches(&self, c: &RenewCandidate) -> bool {
        (self.names.is_empty()
            || c.identifiers
                .iter()
                .any(|id| self.names.iter().any(|p| p.matches(id))))
            && (self.eab_kids.is_empty()
                || c.eab_kid
                    .as_ref()
                    .is_some_and(|k| self.eab_kids.contains(k)))
            && (self.profiles.is_empty()
                || c.profile
                    .as_ref()
                    .is_some_and(|p| self.profiles.contains(p)))
            && (self.serials.is_empty() || self.serials.contains(&c.serial))
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty()
            && self.eab_kids.is_empty()
            && self.profiles.is_empty()
            && self.serials.is_empty()
    }
}

/// A serial as typed by an operator (`0A:1b:…`, `0x…`) in the store's spelling.
pub fn normalize_serial(text: &str) -> anyhow::Result<String> {
    let hex: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("--serial {text:?} is not a hexadecimal serial number");
    }
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex
    };
    let bytes: Vec<u8> = (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).expect("checked hex"))
        .collect();
    Ok(crate::encoding::serial_hex(&bytes))
}

/// Runs one `certs` subcommand against the configured database.
pub async fn run(config: &Config, cmd: CertsCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    match cmd {
        CertsCommand::List {
            name,
            serial,
            expires_after,
            expires_before,
            limit,
            offset,
            json,
        } => {
            let filter = crate::store::CertFilter {
                name,
                serial: serial.map(|s| normalize_serial(&s)).transpose()?,
                expires_after,
                expires_before,
            };
            let page = crate::store::Page::new(Some(limit), Some(offset));
            for c in store.certificates_page(&filter, page).await? {
                if json {
                    println!("{}", serde_json::to_string(&c)?);
                } else {
                    let state = if c.revoked_at.is_some() {
                        "revoked"
                    } else if c.revocation_requested_at.is_some() {
                        "revoking"
                    } else {
                        "valid"
                    };
                    println!(
                        "{}  {}  {:<8} not_after={}  {}",
                        c.id,
                        c.serial,
                        state,
                        c.not_after.to_rfc3339(),
                        c.names
                    );
                }
            }
        }
        CertsCommand::Show { id, json } => {
            let v = crate::admin::views::certificate_detail(&store, &id)
                .await
                .map_err(|e| anyhow::anyhow!("certificate {id}: {e}"))?;
            if json {
                println!("{v}");
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        }
        CertsCommand::Revoke { id, reason, json } => {
            let state = crate::admin::revoke_certificate(
                &store,
                &id,
                reason,
                &crate::model::Actor::Cli,
                chrono::Utc::now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("certificate {id}: {e}"))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": id, "revocation": format!("{state:?}")})
                );
            } else {
                println!(
                    "revocation of {id} requested (reason {reason}); a running server revokes it                      through SCM"
                );
            }
        }
        CertsCommand::RenewNow {
            names,
            eab_kids,
            profiles,
            serials,
            all,
            reason,
            dry_run,
            json,
        } => {
            if !reasons::is_valid(&reason) {
                anyhow::bail!(
                    "--reason {reason:?}: use a short code of lower-case letters, digits and `-` \
                     (it becomes explanationURL?reason=CODE)"
                );
            }
            let sel = Selection {
                names: NamePattern::parse_all(&names)
                    .map_err(|e| anyhow::anyhow!("--name {}: {}", e.pattern, e.reason))?,
                eab_kids,
                profiles,
                serials: serials
                    .iter()
                    .map(|s| normalize_serial(s))
                    .collect::<anyhow::Result<_>>()?,
            };
            if sel.is_empty() && !all {
                anyhow::bail!(
                    "give at least one of --name, --eab-kid, --profile, --serial, or --all to mark \
                     every valid certificate"
                );
            }
            let now = chrono::Utc::now();
            let chosen: Vec<RenewCandidate> = store
                .renew_now_candidates(now)
                .await?
                .into_iter()
                .filter(|c| sel.matches(c))
                .collect();
            let marked = if dry_run {
                0
            } else {
                let ids: Vec<String> = chosen.iter().map(|c| c.id.clone()).collect();
                store.mark_renew_now(&ids, &reason, now).await?
            };
            tracing::info!(marked, selected = chosen.len(), reason = %reason, dry_run, "certs renew-now");
            print_outcome(config, &chosen, marked, &reason, dry_run, json);
        }
    }
    Ok(())
}

fn print_outcome(
    config: &Config,
    chosen: &[RenewCandidate],
    marked: u64,
    reason: &str,
    dry_run: bool,
    json: bool,
) {
    if json {
        let certs: Vec<_> = chosen
            .iter()
            .map(|c| {
                serde_json::json!({
                    "serial": c.serial, "not_after": c.not_after, "profile": c.profile,
                    "eab_kid": c.eab_kid,
                    "identifiers": c.identifiers.iter().map(|i| &i.value).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"selected": chosen.len(), "marked": marked, "reason": reason,
                               "dry_run": dry_run, "certificates": certs})
        );
        return;
    }
    for c in chosen {
        let names: Vec<&str> = c.identifiers.iter().map(|i| i.value.as_str()).collect();
        println!(
            "{}  {}  {}",
            c.serial,
            c.not_after.format("%Y-%m-%d"),
            names.join(",")
        );
    }
    if dry_run {
        println!("{} certificates would be marked (dry run)", chosen.len());
    } else {
        println!(
            "marked {marked} certificates for renewal now (reason {reason}); ARI clients renew them \
             at their next renewalInfo check, within acme.ari_retry_after_secs = {} s",
            config.acme.ari_retry_after_secs
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_normalised_like_the_store() {
        assert_eq!(normalize_serial("00:8A:01").unwrap(), "8a01");
        assert_eq!(normalize_serial("0x8a01").unwrap(), "8a01");
        assert_eq!(normalize_serial("A01").unwrap(), "0a01");
        assert!(normalize_serial("xyz").is_err());
        assert!(normalize_serial("").is_err());
    }
}
