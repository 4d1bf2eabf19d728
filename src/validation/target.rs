//! Where a validation connects: a name resolved once and filtered by the address policy, or an IP
//! identifier checked directly. Connections only ever go to addresses returned from here, so a
//! second lookup (DNS rebinding) cannot steer validation to a refused address.

use super::address_policy::{AddressPolicy, RefusedAddress};
use super::error::ValidationError;
use super::resolver::DnsSession;
use std::net::IpAddr;

/// A validation target host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// The host of an identifier (`ip` identifiers are addresses, everything else a name).
    pub(crate) fn of(kind: &str, value: &str) -> Self {
        match (kind, value.parse::<IpAddr>()) {
            ("ip", Ok(ip)) => Host::Ip(ip),
            _ => Host::Name(value.to_ascii_lowercase()),
        }
    }

    /// Host as written in a URL authority (IPv6 in brackets).
    pub(crate) fn url_host(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// The addresses a host resolved to, and those of them validation may use.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// Everything DNS returned (empty for an IP host).
    pub resolved: Vec<IpAddr>,
    /// The allowed subset, in preference order (IPv6 first).
    pub usable: Vec<IpAddr>,
}

/// Resolves `host` once and applies the address policy; fails with `connection` when no address
/// is left, naming each refused address and the setting that would allow it.
pub(crate) async fn resolve_checked(
    dns: &DnsSession,
    policy: &AddressPolicy,
    host: &Host,
) -> Result<Checked, ValidationError> {
    let resolved = match host {
        Host::Ip(ip) => {
            policy
                .check(*ip)
                .map_err(|r| refused(host, std::slice::from_ref(&r)))?;
            return Ok(Checked {
                resolved: Vec::new(),
                usable: vec![*ip],
            });
        }
        Host::Name(name) => dns.lookup_ips(name).await?,
    };
    let mut usable = Vec::new();
    let mut refusals = Vec::new();
    for a in &resolved {
        match policy.check(*a) {
            Ok(()) => usable.push(*a),
            Err(r) => {
                tracing::info!(%host, address = %a, "validation skips a refused address");
                refusals.push(r);
            }
        }
    }
    if usable.is_empty() {
        return Err(refused(host, &refusals));
    }
    Ok(Checked { resolved, usable })
}

fn refused(host: &Host, refusals: &[RefusedAddress]) -> ValidationError {
    let list: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    let what = match host {
        Host::Ip(_) => format!("The address {} is in a refused network", list.join(", ")),
        Host::Name(_) => format!(
            "{host} resolves only to addresses in refused networks: {}",
            list.join(", ")
        ),
    };
    ValidationError::connection(format!(
        "{what}. Validation does not connect to private, loopback or other special-purpose \
         addresses unless the server operator adds the network to [validation] allowed_networks."
    ))
}
