//! Configuration: one TOML file plus `BRIDGE_*` environment overrides, read once at start-up and passed
//! down explicitly (no global). Every subcommand reads the same configuration, so `eab create` and
//! `serve` can never disagree about which database they use.
//!
//! Rules (documented in `config/example.toml` and the README):
//! - `BRIDGE_SECTION__KEY=value` overrides `[section] key` (`__` separates nesting levels; keys are
//!   lower-cased). Values are read as TOML scalars when they parse as such (`true`, `42`), else as strings.
//! - A secret's `NAME_file = "/path"` is replaced by `NAME = <file contents>` (trailing newline removed),
//!   so every secret can come from a mounted file; `load::SECRET_KEYS` lists them. Other keys ending
//!   in `_file` (`scm.ca_file`) are paths and stay so.
//! - Unknown keys and invalid values stop start-up with a message naming the key.

use crate::secret::Secret;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

mod invalid;
mod load;
mod validate;

pub use invalid::InvalidSetting;
#[cfg(test)]
mod tests;

/// Prefix of every environment variable that overrides a configuration key.
pub const ENV_PREFIX: &str = "BRIDGE_";

/// The whole configuration of one bridge process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub acme: AcmeConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Sectigo Certificate Manager; absent means no real SCM is configured.
    #[serde(default)]
    pub scm: Option<crate::scm::ScmConfig>,
    /// The SCM emulator (`sandbox` subcommand, and the embedded default).
    #[serde(default)]
    pub sandbox: crate::sandbox::SandboxConfig,
    /// Challenge validation.
    #[serde(default)]
    pub validation: crate::validation::ValidationConfig,
    /// Limits on what accounts may order.
    #[serde(default)]
    pub policy: crate::policy::PolicyConfig,
    /// Certificate profiles by name (`meta.profiles`).
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, crate::policy::ProfileConfig>,
    /// The background workers (validation, enrollment, collection).
    #[serde(default)]
    pub issuance: crate::issuance::IssuanceConfig,
    /// Rate limits for abusive or broken clients.
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
    /// How long finished orders are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// `[retention]`: finished orders, their authorizations and challenges would otherwise grow
/// without bound; certificates, enrollments and accounts are always kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after an order finished (valid, invalid) or expired before it is purged; 0 keeps
    /// everything.
    pub orders_days: u32,
    /// Orders purged per transaction, so no purge holds locks for long.
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            orders_days: 90,
            batch_size: 500,
        }
    }
}

/// The HTTP front end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the ACME server listens on.
    pub listen: SocketAddr,
    /// Public base URL clients use (scheme, host, optional port, optional path prefix). Every URL the
    /// bridge hands out and the JWS `url` check are computed from it, so behind a TLS-terminating proxy
    /// it is the proxy's URL, not `listen`.
    pub external_url: Option<url::Url>,
    /// PEM certificate chain to serve HTTPS with; plain HTTP when absent.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Address serving Prometheus `/metrics` only. Alone (without `admin_listen`) it is the
    /// admin listener, as before the admin API existed; set to another address than
    /// `admin_listen` it stays a plain, token-free metrics listener beside the admin one.
    pub metrics_listen: Option<SocketAddr>,
    /// Address of the admin listener: `/metrics`, and with `admin_tokens_file` the admin API
    /// (`/admin/api/…`) and the web console (`/admin/…`). Off when absent.
    pub admin_listen: Option<SocketAddr>,
    /// File of admin bearer tokens, one `name:token` a line (`#` comments); the name is the actor
    /// the audit trail records. Without it the admin API and console are off. Tokens are never
    /// logged; the file is read at start.
    pub admin_tokens_file: Option<PathBuf>,
    /// PEM certificate chain for the admin listener; without it the admin API is refused unless
    /// the listener is bound to loopback.
    pub admin_tls_cert: Option<PathBuf>,
    /// PEM private key for `admin_tls_cert`.
    pub admin_tls_key: Option<PathBuf>,
    /// Seconds a console login lasts (the session cookie's lifetime).
    pub admin_session_secs: u64,
    /// Largest JWS body accepted; larger ones are refused before parsing.
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Seconds a request may take (reading its body included) before it is answered 503 with
    /// `Retry-After`, so a slow client or a stuck handler does not hold resources forever. Must
    /// leave room for finalize's and revokeCert's intentional waits. 0 = no limit.
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send a request's headers, counted from when the connection
    /// waits for them (so it also ends an idle keep-alive connection): a client trickling headers
    /// (slowloris) or sending none would otherwise hold a socket for ever, before the request
    /// timeout or the in-flight limit ever sees a request. Longer by default than the idle timeout
    /// of common load balancers (60 s): one that reuses an idle connection the bridge is just
    /// closing answers its client 502. 1–3600.
    pub header_read_timeout_secs: u64,
    /// Requests handled at once by this replica; one more is answered 503 with `Retry-After`
    /// at once instead of queueing. 0 = no limit.
    pub max_concurrent_requests: usize,
    /// Load balancers and proxies whose `X-Forwarded-For` is believed: when the direct peer is in
    /// one of these networks, the client address (for the per-address rate limits) is the
    /// right-most `X-Forwarded-For` entry not in them. Empty: the direct peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Seconds the database may be unreachable before `/readyz` turns red: a sub-second restart
    /// must not take every replica out of the load balancer at once. 0 = red at the first failure.
    pub readiness_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:14000".parse().expect("static address"),
            external_url: None,
            tls_cert: None,
            tls_key: None,
            metrics_listen: None,
            admin_listen: None,
            admin_tokens_file: None,
            admin_tls_cert: None,
            admin_tls_key: None,
            admin_session_secs: 8 * 3600,
            max_body_bytes: 64 * 1024,
            shutdown_grace_secs: 10,
            request_timeout_secs: 30,
            header_read_timeout_secs: 75,
            max_concurrent_requests: 1024,
            trusted_proxies: Vec::new(),
            readiness_grace_secs: 5,
        }
    }
}

impl ServerConfig {
    /// The admin listener's address: `admin_listen`, else the older `metrics_listen`.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_listen.or(self.metrics_listen)
    }

    /// A separate metrics-only listener: `metrics_listen` when `admin_listen` is another address.
    pub fn separate_metrics_addr(&self) -> Option<SocketAddr> {
        match (self.admin_listen, self.metrics_listen) {
            (Some(a), Some(m)) if a != m => Some(m),
            _ => None,
        }
    }

    /// Checks the admin listener's settings: one address, TLS files together, and the admin API
    /// (tokens configured) only over TLS or on loopback, so tokens never cross a network in clear.
    pub fn check_admin(&self) -> Result<(), InvalidSetting> {
        if self.admin_tls_cert.is_some() != self.admin_tls_key.is_some() {
            return Err(
                "server.admin_tls_cert and server.admin_tls_key must be given together".into(),
            );
        }
        if self.admin_tokens_file.is_some() {
            let Some(addr) = self.admin_addr() else {
                return Err("server.admin_tokens_file needs server.admin_listen".into());
            };
            if self.admin_tls_cert.is_none() && !addr.ip().is_loopback() {
                return Err(format!(
                    "server.admin_listen {addr} is not loopback and has no TLS: set \
                     server.admin_tls_cert and server.admin_tls_key (admin tokens must not cross \
                     a network in clear), or bind it to 127.0.0.1"
                )
                .into());
            }
        }
        if !(60..=7 * 86400).contains(&self.admin_session_secs) {
            return Err("server.admin_session_secs must be between 60 and 604800".into());
        }
        Ok(())
    }

    /// The base URL every ACME URL is built from: `external_url`, else derived from `listen`.
    pub fn base_url(&self) -> url::Url {
        if let Some(u) = &self.external_url {
            return u.clone();
        }
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let host = if self.listen.ip().is_unspecified() {
            "localhost".to_string()
        } else {
            match self.listen.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            }
        };
        url::Url::parse(&format!("{scheme}://{host}:{}", self.listen.port())).expect("valid URL")
    }
}

/// The store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user:pass@host/db`. The password part is never logged.
    pub url: Option<Secret>,
    /// Upper bound of pooled connections per replica.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before failing a request.
    pub acquire_timeout_secs: u64,
    /// `Retry-After` of a request answered 503 because the database was away (a restart) for
    /// longer than the in-request retry budget, so clients come back instead of giving up.
    pub unavailable_retry_secs: u64,
    /// How long `serve` waits for an unreachable or starting database before giving up, so a
    /// replica started during a database restart comes up once it is back. 0 = fail at once.
    pub startup_wait_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            acquire_timeout_secs: 10,
            unavailable_retry_secs: 5,
            startup_wait_secs: 60,
        }
    }
}

/// ACME protocol behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeConfig {
    /// Require External Account Binding for new accounts (RFC 8555 §7.3.4).
    pub eab_required: bool,
    /// Shown as `meta.termsOfService`; when set, new accounts must agree to it.
    pub terms_of_service_url: Option<url::Url>,
    /// Shown as `meta.website`.
    pub website: Option<url::Url>,
    /// Shown as `meta.caaIdentities`, and the issuer domain names the CAA pre-check accepts in
    /// `issue`/`issuewild` records. Default: the names Sectigo documents as its own (sectigo.com and
    /// the older comodo.com, comodoca.com, usertrust.com, trust-provider.com), so the pre-check
    /// never refuses what SCM would issue.
    pub caa_identities: Vec<String>,
    /// Check CAA (RFC 8659) for every DNS name before enrolling in SCM, so a name whose CAA records
    /// forbid the CA fails at once with a `caa` problem naming the record instead of as SCM's
    /// refusal later. Off: SCM's own CAA check is the only one.
    pub caa_check: bool,
    /// Key that authenticates nonces; every replica must share it. When absent, one is generated once
    /// and kept in the database, which all replicas share anyway.
    pub nonce_key: Option<Secret>,
    /// Key sealing EAB HMAC keys in the database (32 bytes as base64 or 64 hex digits), usually
    /// given as `eab_encryption_key_file` or `BRIDGE_ACME__EAB_ENCRYPTION_KEY`. Without it the HMAC
    /// keys are stored in plaintext and anyone with a database backup can register accounts.
    pub eab_encryption_key: Option<Secret>,
    /// Seconds a nonce stays redeemable.
    pub nonce_lifetime_secs: u64,
    /// Seconds a new order (and its new authorizations) stays usable before it expires.
    pub order_lifetime_secs: i64,
    /// Seconds a validated authorization stays valid.
    pub authz_valid_secs: i64,
    /// A valid authorization validated less than this many seconds ago is reused by new orders of the
    /// same account instead of asking for a new challenge. 0 disables reuse.
    pub authz_reuse_secs: i64,
    /// Orders per page of an account's orders list.
    pub orders_page_size: i64,
    /// Seconds SCM's answers about domain validation are reused (EAB keys with `--trust-scm-dcv`).
    pub scm_dcv_cache_secs: u64,
    /// Seconds a replica reuses an EAB key's policy (name patterns, org, profiles, revocation)
    /// before reading it again. This bounds how long an account of a key revoked with
    /// `eab revoke` can still order on a replica that read the key just before. 0 = read on every
    /// request.
    pub eab_cache_secs: u64,
    /// RFC 9773 `explanationURL` of renewalInfo answers (a page about the CA's renewal policy and
    /// mass revocations); a certificate to renew now adds `?reason=CODE`. None: no URL is sent.
    pub ari_explanation_url: Option<url::Url>,
    /// renewalInfo's `Retry-After` in seconds: how soon clients ask again, i.e. how quickly they
    /// learn that a certificate must be renewed now (RFC 9773 §4.3).
    pub ari_retry_after_secs: u64,
    /// Where the suggested renewal window lies, in percent of a certificate's validity, for
    /// profiles that set no `renewal_window_percent` of their own (and orders without profile).
    pub ari_renewal_window_percent: crate::acme::ari::WindowPercent,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        Self {
            eab_required: true,
            terms_of_service_url: None,
            website: None,
            caa_identities: [
                "sectigo.com",
                "comodoca.com",
                "comodo.com",
                "usertrust.com",
                "trust-provider.com",
            ]
            .map(String::from)
            .to_vec(),
            caa_check: true,
            nonce_key: None,
            eab_encryption_key: None,
            nonce_lifetime_secs: 3600,
            order_lifetime_secs: 7 * 24 * 3600,
            authz_valid_secs: 30 * 24 * 3600,
            authz_reuse_secs: 3600,
            orders_page_size: 100,
            scm_dcv_cache_secs: 300,
            eab_cache_secs: 30,
            ari_explanation_url: None,
            ari_retry_after_secs: 6 * 3600,
            ari_renewal_window_percent: Default::default(),
        }
    }
}

impl AcmeConfig {
    /// The cipher for EAB HMAC keys at rest, when `acme.eab_encryption_key` is set.
    pub fn eab_cipher(&self) -> Result<Option<crate::store::EabCipher>, ConfigError> {
        self.eab_encryption_key
            .as_ref()
            .map(crate::store::EabCipher::from_text)
            .transpose()
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// `human` (default) or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `acme_sectigo_bridge=debug,info`; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info,sqlx=warn".into(),
        }
    }
}

/// How log lines are rendered.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("cannot read `{key}` from {path}: {source}")]
    SecretFile {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The shortest request timeout that still lets every intentional wait finish: finalize's
    /// and revokeCert's waits (`issuance.finalize_wait_secs`, revokeCert at least 5 s) and the
    /// 413 body drain (10 s), plus 10 s for the work around them.
    pub fn min_request_timeout_secs(&self) -> u64 {
        let waits = self
            .issuance
            .finalize_wait_secs
            .max(5)
            .max(crate::web::body::DRAIN_TIME.as_secs());
        waits + 10
    }
}
