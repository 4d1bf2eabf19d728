//! The checks a configuration must pass that serde cannot express: settings given together,
//! ranges, and settings that only work in combination. Kept apart from the types so that adding a
//! knob's bound does not mean reading through every section's definition.

use super::{Config, ConfigError};

impl Config {
    /// Every check; the first failure names the key to fix.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.server
            .check_admin()
            .map_err(|e| ConfigError::Invalid(e.0))?;
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "server.tls_cert and server.tls_key must be given together".into(),
            ));
        }
        if let Some(u) = &self.server.external_url {
            if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                return Err(ConfigError::Invalid(format!(
                    "server.external_url must be an http(s) URL with a host, got {u}"
                )));
            }
            if u.query().is_some() || u.fragment().is_some() {
                return Err(ConfigError::Invalid(
                    "server.external_url must not have a query or fragment".into(),
                ));
            }
        }
        if self.acme.nonce_lifetime_secs < 10 {
            return Err(ConfigError::Invalid(
                "acme.nonce_lifetime_secs must be at least 10".into(),
            ));
        }
        if self.acme.order_lifetime_secs < 60 || self.acme.authz_valid_secs < 60 {
            return Err(ConfigError::Invalid(
                "acme.order_lifetime_secs and acme.authz_valid_secs must be at least 60".into(),
            ));
        }
        self.acme.eab_cipher()?;
        if self.acme.eab_cache_secs > 3600 {
            return Err(ConfigError::Invalid(
                "acme.eab_cache_secs must be at most 3600: it bounds how long an account of a \
                 revoked EAB key can still order"
                    .into(),
            ));
        }
        if !(1..=1000).contains(&self.acme.orders_page_size) {
            return Err(ConfigError::Invalid(
                "acme.orders_page_size must be between 1 and 1000".into(),
            ));
        }
        crate::policy::validate_profiles(&self.policy, &self.profiles)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        crate::acme::ari::validate_config(self).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(scm) = &self.scm {
            scm.validate()
                .map_err(|e| ConfigError::Invalid(format!("[scm]: {e}")))?;
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "server.max_body_bytes must be at least 1024".into(),
            ));
        }
        let min_timeout = self.min_request_timeout_secs();
        if self.server.request_timeout_secs != 0 && self.server.request_timeout_secs < min_timeout {
            return Err(ConfigError::Invalid(format!(
                "server.request_timeout_secs must be 0 (off) or at least {min_timeout}: finalize \
                 and revokeCert wait up to issuance.finalize_wait_secs ({}) on purpose, and an \
                 oversized body is drained for up to 10 s before its 413",
                self.issuance.finalize_wait_secs
            )));
        }
        if !(1..=3600).contains(&self.server.header_read_timeout_secs) {
            return Err(ConfigError::Invalid(
                "server.header_read_timeout_secs must be between 1 and 3600".into(),
            ));
        }
        if !(1..=300).contains(&self.database.unavailable_retry_secs) {
            return Err(ConfigError::Invalid(
                "database.unavailable_retry_secs must be between 1 and 300".into(),
            ));
        }
        if self.database.startup_wait_secs > 3600 {
            return Err(ConfigError::Invalid(
                "database.startup_wait_secs must be at most 3600".into(),
            ));
        }
        if self.server.readiness_grace_secs > 300 {
            return Err(ConfigError::Invalid(
                "server.readiness_grace_secs must be at most 300: a replica that cannot reach \
                 its database longer than that must leave the load balancer"
                    .into(),
            ));
        }
        self.limits
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if !(1..=300).contains(&self.issuance.enroll_settle_secs) {
            return Err(ConfigError::Invalid(
                "issuance.enroll_settle_secs must be between 1 and 300: it is how long a \
                 certificate may still appear in SCM after an enroll with an unknown outcome ended"
                    .into(),
            ));
        }
        if self.issuance.reconcile_interval_secs > 7 * 86_400 {
            return Err(ConfigError::Invalid(
                "issuance.reconcile_interval_secs must be at most 604800 (a week; 0 turns the \
                 orphan reconciliation off)"
                    .into(),
            ));
        }
        if self.retention.batch_size == 0 {
            return Err(ConfigError::Invalid(
                "retention.batch_size must be at least 1 (retention.orders_days = 0 turns \
                 retention off)"
                    .into(),
            ));
        }
        Ok(())
    }
}
