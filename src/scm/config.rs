//! `[scm]`: how the bridge reaches Sectigo Certificate Manager, and which org/profile it uses by default.

use crate::config::InvalidSetting;
use crate::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// The public SCM instance; other instances (e.g. `hard.cert-manager.com`) need `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://cert-manager.com/api";

/// `[scm]`: connection, credentials and limits of the SCM REST client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScmConfig {
    /// Base URL up to and including `/api`, e.g. `https://cert-manager.com/api`. With client-certificate
    /// authentication a trailing `/api` is rewritten to `/private/api` (SCM's prefix for that method).
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Tenant slug (`customerUri` header), the `foo` in `https://cert-manager.com/customer/foo`.
    pub customer_uri: String,
    /// Login of the API admin account (ideally a dedicated "WS API use only" admin).
    pub login: String,
    /// Password of `login` (or `password_file`). Never logged. Not sent with client-certificate auth.
    #[serde(default)]
    pub password: Option<Secret>,
    /// PEM client certificate for certificate authentication (with `client_key`): switches to the
    /// `/private/api` prefix and sends no password.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Seconds a single SCM call may take (enroll can be slow: real clients use 30–300 s).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Seconds to establish a connection; kept short because a failed connect is safe to retry.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Upper bound of SCM calls in flight from this process, so a burst of orders cannot hammer SCM.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_requests: usize,
    /// Organization or department id certificates are enrolled under when nothing more specific
    /// (e.g. the EAB key) names one; `scm check` verifies it.
    #[serde(default)]
    pub org_id: Option<i64>,
    /// SSL certificate type (profile) id used when an order names no profile; `scm check` verifies it.
    #[serde(default)]
    pub cert_type: Option<i64>,
    /// Term in days for `cert_type`; must be one of the profile's terms (`scm types`).
    #[serde(default)]
    pub term: Option<u32>,
    /// Extra PEM CA certificate(s) to trust for SCM's TLS (e.g. a sandbox started with its own
    /// certificate); the system roots stay trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_base_url() -> url::Url {
    url::Url::parse(DEFAULT_BASE_URL).expect("static URL")
}
fn default_timeout_secs() -> u64 {
    120
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_max_concurrent() -> usize {
    8
}

impl ScmConfig {
    /// A configuration with defaults for everything but the credentials (tests, the embedded sandbox).
    pub fn new(base_url: url::Url, customer_uri: &str, login: &str, password: &str) -> Self {
        Self {
            base_url,
            customer_uri: customer_uri.into(),
            login: login.into(),
            password: Some(Secret::new(password)),
            client_cert: None,
            client_key: None,
            timeout_secs: default_timeout_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            max_concurrent_requests: default_max_concurrent(),
            org_id: None,
            cert_type: None,
            term: None,
            ca_file: None,
        }
    }

    /// True when the client authenticates with a TLS client certificate instead of a password.
    pub fn uses_client_cert(&self) -> bool {
        self.client_cert.is_some()
    }

    /// Checks combinations serde cannot express; the message names the keys to fix.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err("scm.client_cert and scm.client_key must be given together".into());
        }
        if !self.uses_client_cert() && self.password.is_none() {
            return Err(
                "scm.password (or scm.password_file, or BRIDGE_SCM__PASSWORD) is required unless \
                 scm.client_cert/scm.client_key are set"
                    .into(),
            );
        }
        if !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(InvalidSetting(format!(
                "scm.base_url must be http(s), got {}",
                self.base_url
            )));
        }
        if self.max_concurrent_requests == 0 {
            return Err("scm.max_concurrent_requests must be at least 1".into());
        }
        Ok(())
    }

    /// The URL every path is appended to: `base_url`, with `/api` → `/private/api` for certificate auth.
    pub fn effective_base(&self) -> String {
        let base = self.base_url.as_str().trim_end_matches('/').to_string();
        if self.uses_client_cert() && base.ends_with("/api") && !base.ends_with("/private/api") {
            format!("{}/private/api", &base[..base.len() - 4])
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cert_switches_prefix() {
        let mut c = ScmConfig::new(default_base_url(), "t", "l", "p");
        assert_eq!(c.effective_base(), "https://cert-manager.com/api");
        c.client_cert = Some("c.pem".into());
        c.client_key = Some("k.pem".into());
        assert_eq!(c.effective_base(), "https://cert-manager.com/private/api");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn password_required_without_cert() {
        let mut c = ScmConfig::new(default_base_url(), "t", "l", "p");
        c.password = None;
        assert!(c.validate().unwrap_err().mentions("password"));
    }

    #[test]
    fn debug_hides_password() {
        let c = ScmConfig::new(default_base_url(), "t", "l", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
