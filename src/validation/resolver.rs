//! DNS lookups of validation, through the configured recursive resolvers.
//!
//! A fresh resolver (and so an empty cache) is used for each validation: a record an applicant just
//! fixed must be seen at once, and one validation's answer must not leak into another's.

use super::config::ValidationConfig;
use super::error::{SetupError, ValidationError};
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveError, ResolveErrorKind, TokioResolver};
use std::net::IpAddr;
use tokio::time::{timeout_at, Instant};

/// Resolver settings shared by all validations; [`DnsSettings::session`] makes a resolver for one.
#[derive(Debug, Clone)]
pub(crate) struct DnsSettings {
    config: ResolverConfig,
    opts: ResolverOpts,
    /// Shown in error details, so an operator knows which resolver answered.
    description: String,
}

impl DnsSettings {
    pub(crate) fn new(cfg: &ValidationConfig) -> Result<Self, SetupError> {
        let (config, description) = if cfg.dns_resolvers.is_empty() {
            let (config, _) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| SetupError::SystemResolver(e.to_string()))?;
            (config, "the system resolver".to_string())
        } else {
            let mut config = ResolverConfig::new();
            for addr in &cfg.dns_resolvers {
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
            }
            let list: Vec<String> = cfg.dns_resolvers.iter().map(|a| a.to_string()).collect();
            (config, format!("resolver {}", list.join(", ")))
        };
        let mut opts = ResolverOpts::default();
        // Two tries per query within the overall validation time.
        opts.timeout = (cfg.timeout() / 3).max(std::time::Duration::from_millis(300));
        opts.attempts = 2;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.edns0 = true;
        opts.validate = false;
        opts.try_tcp_on_error = true;
        opts.preserve_intermediates = true;
        opts.ndots = 0;
        Ok(Self {
            config,
            opts,
            description,
        })
    }

    /// A resolver with an empty cache for one validation whose lookups end by `deadline`.
    pub(crate) fn session(&self, deadline: Instant) -> DnsSession {
        let resolver = TokioResolver::builder_with_config(
            self.config.clone(),
            TokioConnectionProvider::default(),
        )
        .with_options(self.opts.clone())
        .build();
        DnsSession {
            resolver,
            description: self.description.clone(),
            deadline,
        }
    }
}

/// The resolver of one validation.
pub(crate) struct DnsSession {
    resolver: TokioResolver,
    description: String,
    deadline: Instant,
}

impl DnsSession {
    /// A and AAAA records of `host` (CNAMEs followed), deduplicated, IPv6 first.
    pub(crate) async fn lookup_ips(&self, host: &str) -> Result<Vec<IpAddr>, ValidationError> {
        let name = fqdn(host)?;
        let found = timeout_at(self.deadline, self.resolver.lookup_ip(name))
            .await
            .map_err(|_| self.timed_out("A/AAAA", host))?
            .map_err(|e| self.describe(&e, "A/AAAA", host))?;
        let mut v6: Vec<IpAddr> = found.iter().filter(IpAddr::is_ipv6).collect();
        let v4: Vec<IpAddr> = found.iter().filter(IpAddr::is_ipv4).collect();
        v6.extend(v4);
        let mut seen = Vec::with_capacity(v6.len());
        for a in v6 {
            if !seen.contains(&a) {
                seen.push(a);
            }
        }
        if seen.is_empty() {
            return Err(ValidationError::dns(format!(
                "DNS problem: no A or AAAA records found for {host} (asked {}).",
                self.description
            )));
        }
        Ok(seen)
    }

    /// The TXT records at `name` (CNAMEs followed), each record's strings concatenated.
    pub(crate) async fn lookup_txt(&self, name: &str) -> Result<Vec<String>, ValidationError> {
        let fq = fqdn(name)?;
        let found = timeout_at(self.deadline, self.resolver.txt_lookup(fq))
            .await
            .map_err(|_| self.timed_out("TXT", name))?
            .map_err(|e| self.describe(&e, "TXT", name))?;
        Ok(found
            .iter()
            .map(|txt| {
                let bytes: Vec<u8> = txt
                    .txt_data()
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect())
    }

    /// The CAA records at exactly `name` (CNAMEs followed by the resolver); none when the name
    /// does not exist or has none (RFC 8659 §3 then climbs to the parent). Any other failure is an
    /// error: a CA must not issue when it cannot tell (RFC 8659 §3).
    pub(crate) async fn lookup_caa(
        &self,
        name: &str,
    ) -> Result<Vec<hickory_resolver::proto::rr::rdata::CAA>, ValidationError> {
        use hickory_resolver::proto::rr::{RData, RecordType};
        let fq = fqdn(name)?;
        let found = timeout_at(self.deadline, self.resolver.lookup(fq, RecordType::CAA))
            .await
            .map_err(|_| self.timed_out("CAA", name))?;
        match found {
            Ok(lookup) => Ok(lookup
                .record_iter()
                .filter_map(|r| match r.data() {
                    RData::CAA(caa) => Some(caa.clone()),
                    _ => None,
                })
                .collect()),
            Err(e) if is_empty_answer(&e) => Ok(Vec::new()),
            Err(e) => Err(self.describe(&e, "CAA", name)),
        }
    }

    fn timed_out(&self, rtype: &str, name: &str) -> ValidationError {
        ValidationError::dns(format!(
            "DNS problem: query timed out looking up {rtype} for {name} (asked {}); the name's DNS \
             servers did not answer in time.",
            self.description
        ))
    }

    fn describe(&self, e: &ResolveError, rtype: &str, name: &str) -> ValidationError {
        let by = &self.description;
        let proto = match e.kind() {
            ResolveErrorKind::Proto(p) => Some(p.kind()),
            _ => None,
        };
        let detail = match proto {
            Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => match *response_code {
                ResponseCode::NXDomain => format!(
                    "DNS problem: NXDOMAIN looking up {rtype} for {name}: the name does not exist \
                     (asked {by}); check that the record is published."
                ),
                ResponseCode::NoError => format!(
                    "DNS problem: no {rtype} records found for {name} (asked {by}); publish one and \
                     retry."
                ),
                ResponseCode::ServFail => format!(
                    "DNS problem: SERVFAIL looking up {rtype} for {name} (asked {by}); the name's \
                     DNS servers failed to answer (check its delegation and DNSSEC)."
                ),
                code => format!(
                    "DNS problem: {} ({code:?}) looking up {rtype} for {name} (asked {by}).",
                    code.to_str()
                ),
            },
            Some(ProtoErrorKind::Timeout) => return self.timed_out(rtype, name),
            _ => format!("DNS problem: could not look up {rtype} for {name} (asked {by}): {e}."),
        };
        ValidationError::dns(detail)
    }
}

/// Whether `e` says "no such name" or "no such records" (as opposed to a failed lookup).
fn is_empty_answer(e: &ResolveError) -> bool {
    match e.kind() {
        ResolveErrorKind::Proto(p) => matches!(
            p.kind(),
            ProtoErrorKind::NoRecordsFound { response_code, .. }
                if matches!(*response_code, ResponseCode::NXDomain | ResponseCode::NoError)
        ),
        _ => false,
    }
}

/// `name` as an absolute DNS name, so no search domain is ever appended.
fn fqdn(name: &str) -> Result<Name, ValidationError> {
    let absolute = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&absolute).map_err(|e| {
        ValidationError::new(
            crate::acme::error::ProblemType::Malformed,
            format!("{name} is not a valid DNS name: {e}."),
        )
    })
}
