//! `[validation]` configuration.

use ipnet::IpNet;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// `[validation]`: ports, resolvers, time limits and the address policy of challenge validation.
///
/// The defaults are what RFC 8555 / RFC 8737 prescribe for the public Internet; every knob exists so
/// that tests and private deployments can validate against loopback or internal networks on purpose.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Port of http-01 requests (RFC 8555 §8.3: 80).
    pub http_port: u16,
    /// Port of tls-alpn-01 handshakes (RFC 8737: 443). Also the only port an http-01 redirect to
    /// `https://` may target, since both stand for "the HTTPS port" of the name.
    pub tls_alpn_port: u16,
    /// Recursive resolvers asked (UDP, and TCP for truncated answers); empty = the system's
    /// `/etc/resolv.conf`.
    pub dns_resolvers: Vec<SocketAddr>,
    /// Upper bound in seconds on one whole validation (lookups, connects, redirects, reads).
    pub timeout_secs: u64,
    /// Networks validation may connect to even though they are private or special-purpose
    /// (loopback, RFC 1918, …). Public addresses are always allowed.
    pub allowed_networks: Vec<IpNet>,
    /// Most redirects an http-01 request follows.
    pub max_redirects: usize,
    /// Most bytes of an http-01 response body read; a key authorization is under 100 bytes.
    pub http_body_limit: usize,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            http_port: 80,
            tls_alpn_port: 443,
            dns_resolvers: Vec::new(),
            timeout_secs: 10,
            allowed_networks: Vec::new(),
            max_redirects: 10,
            http_body_limit: 4096,
        }
    }
}

impl ValidationConfig {
    /// `timeout_secs` as a duration (at least one second).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parsing() {
        let c: ValidationConfig = toml::from_str("").unwrap();
        assert_eq!(
            (c.http_port, c.tls_alpn_port, c.timeout_secs),
            (80, 443, 10)
        );
        assert_eq!(c.max_redirects, 10);
        assert!(c.dns_resolvers.is_empty() && c.allowed_networks.is_empty());
        let c: ValidationConfig = toml::from_str(
            "dns_resolvers = [\"127.0.0.1:5353\"]\nallowed_networks = [\"10.0.0.0/8\"]\nhttp_port = 5002",
        )
        .unwrap();
        assert_eq!(c.dns_resolvers[0].port(), 5353);
        assert_eq!(c.allowed_networks[0].to_string(), "10.0.0.0/8");
        assert!(toml::from_str::<ValidationConfig>("http_prot = 1").is_err());
    }

    #[test]
    fn environment_overrides_reach_the_section() {
        let env = [
            ("BRIDGE_VALIDATION__HTTP_PORT", "5002"),
            (
                "BRIDGE_VALIDATION__ALLOWED_NETWORKS",
                "[\"127.0.0.0/8\", \"::1/128\"]",
            ),
            ("BRIDGE_VALIDATION__DNS_RESOLVERS", "[\"127.0.0.1:8053\"]"),
            ("BRIDGE_POLICY__ALLOW_WILDCARDS", "false"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let c = crate::config::Config::load_with_env(None, env).unwrap();
        assert_eq!(c.validation.http_port, 5002);
        assert_eq!(c.validation.allowed_networks.len(), 2);
        assert_eq!(c.validation.dns_resolvers[0].port(), 8053);
        assert!(!c.policy.allow_wildcards);
    }
}
