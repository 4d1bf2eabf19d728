//! Proving control of identifiers: http-01, dns-01 (RFC 8555 §8) and tls-alpn-01 (RFC 8737).
//!
//! One [`Validator`] is built at start-up from `[validation]` and shared by the issuance workers. Each
//! call of [`Validator::validate`] does real network checks, bounded by `timeout_secs`, with a fresh
//! DNS cache, and connects only to addresses the [address policy](AddressPolicy) allows.

mod address_policy;
pub mod caa;
mod challenge;
mod config;
mod dns01;
mod error;
mod http01;
mod resolver;
mod target;
mod tls_alpn01;

pub use address_policy::{AddressPolicy, RefusedAddress};
pub use challenge::{ChallengeType, UnknownChallengeType};
pub use config::ValidationConfig;
pub use dns01::{dns01_record_name, dns01_txt_value};
pub use error::{SetupError, ValidationError, ValidationRecord};
pub use tls_alpn01::{reverse_dns_name, ACME_TLS_ALPN};

use crate::acme::error::ProblemType;
use crate::model::Identifier;
use std::sync::Arc;
use tokio::time::Instant;

/// Validates challenges. Cheap to clone (one `Arc`); build it once with [`Validator::new`].
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ValidationConfig,
    policy: AddressPolicy,
    dns: resolver::DnsSettings,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Reads the resolver configuration (the system's when `dns_resolvers` is empty) and prepares the
    /// TLS client, so configuration problems stop start-up rather than the first validation.
    pub fn new(cfg: &ValidationConfig) -> Result<Self, SetupError> {
        let dns = resolver::DnsSettings::new(cfg)?;
        let tls = tls_alpn01::client_config().map_err(|e| SetupError::Tls(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                policy: AddressPolicy::new(&cfg.allowed_networks),
                dns,
                tls,
            }),
        })
    }

    /// The configuration this validator was built from.
    pub fn config(&self) -> &ValidationConfig {
        &self.inner.cfg
    }

    /// Checks one challenge of a *normalised* identifier (see `policy::normalize_identifier`):
    /// `token` is the challenge token, `key_authorization` is `token || '.' || thumbprint`
    /// (RFC 8555 §8.1). Ok means the challenge is valid; the record says what was checked.
    pub async fn validate(
        &self,
        kind: ChallengeType,
        id: &Identifier,
        token: &str,
        key_authorization: &str,
    ) -> Result<ValidationRecord, ValidationError> {
        check_applicable(kind, id, token)?;
        let cfg = &self.inner.cfg;
        let deadline = Instant::now() + cfg.timeout();
        let dns = self.inner.dns.session(deadline);
        let host = target::Host::of(&id.kind, &id.value);
        let work = async {
            match kind {
                ChallengeType::Dns01 => dns01::validate(&dns, &id.value, key_authorization).await,
                ChallengeType::Http01 => {
                    http01::Http01 {
                        dns: &dns,
                        policy: &self.inner.policy,
                        http_port: cfg.http_port,
                        https_port: cfg.tls_alpn_port,
                        max_redirects: cfg.max_redirects,
                        body_limit: cfg.http_body_limit,
                        deadline,
                    }
                    .validate(&host, token, key_authorization)
                    .await
                }
                ChallengeType::TlsAlpn01 => {
                    tls_alpn01::TlsAlpn {
                        dns: &dns,
                        policy: &self.inner.policy,
                        tls: self.inner.tls.clone(),
                        port: cfg.tls_alpn_port,
                        deadline,
                    }
                    .validate(&host, key_authorization)
                    .await
                }
            }
        };
        // Every step is bounded by `deadline` and reports which step timed out; this outer bound is
        // only a backstop.
        let backstop = deadline + std::time::Duration::from_millis(500);
        let result = match tokio::time::timeout_at(backstop, work).await {
            Ok(r) => r,
            Err(_) => Err(timed_out(kind, id, cfg.timeout_secs)),
        };
        match &result {
            Ok(_) => tracing::info!(challenge = %kind, identifier = %id.value, "validation passed"),
            Err(e) => tracing::info!(
                challenge = %kind, identifier = %id.value, problem = e.kind.name(),
                detail = %e.detail, "validation failed"
            ),
        }
        result
    }
}

impl Validator {
    /// CAA pre-check of one DNS name against `identities` (RFC 8659, see [`caa`]) with this
    /// validator's resolvers, bounded by `validation.timeout_secs`. `Err` is a `caa` problem naming
    /// the forbidding record, or a `dns` problem when the records could not be read.
    pub async fn check_caa(
        &self,
        name: &str,
        identities: &[String],
    ) -> Result<caa::CaaPermit, ValidationError> {
        let deadline = Instant::now() + self.inner.cfg.timeout();
        let dns = self.inner.dns.session(deadline);
        caa::check(&dns, name, identities).await
    }
}

fn timed_out(kind: ChallengeType, id: &Identifier, secs: u64) -> ValidationError {
    let detail = format!(
        "Validating {kind} for {} did not finish within {secs} s; check that its servers answer \
         promptly.",
        id.value
    );
    match kind {
        ChallengeType::Dns01 => ValidationError::dns(format!("DNS problem: {detail}")),
        _ => ValidationError::connection(detail),
    }
}

/// Refuses combinations RFC 8555/8738 rule out, and tokens that could escape the URL path.
fn check_applicable(
    kind: ChallengeType,
    id: &Identifier,
    token: &str,
) -> Result<(), ValidationError> {
    let malformed = |d: String| ValidationError::new(ProblemType::Malformed, d);
    match (kind, id.kind.as_str()) {
        (ChallengeType::Dns01, "ip") => {
            return Err(malformed(format!(
                "dns-01 cannot validate the IP address {}; use http-01 or tls-alpn-01.",
                id.value
            )))
        }
        (_, "ip" | "dns") => {}
        (_, other) => {
            return Err(ValidationError::new(
                ProblemType::UnsupportedIdentifier,
                format!("Identifier type \"{other}\" cannot be validated."),
            ))
        }
    }
    if kind != ChallengeType::Dns01 && id.value.starts_with("*.") {
        return Err(malformed(format!(
            "{kind} cannot validate the wildcard {}; only dns-01 can.",
            id.value
        )));
    }
    if kind == ChallengeType::Http01
        && (token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(malformed(format!(
            "The http-01 token \"{token}\" is not base64url text."
        )));
    }
    Ok(())
}
