//! `[policy]` and `[profiles.NAME]` configuration.

use serde::Deserialize;

/// `[policy]`: limits that apply to every account, whatever its EAB key allows.
///
/// They exist so an operator can switch whole identifier classes off (IP addresses, wildcards) and
/// bound the work one order can cause, independently of the per-key name patterns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Most distinct identifiers (after normalisation) one order may carry.
    pub max_identifiers: usize,
    /// Whether `*.example.com` may be ordered at all (only dns-01 can validate them).
    pub allow_wildcards: bool,
    /// Whether `ip` identifiers (RFC 8738) may be ordered.
    pub allow_ip_identifiers: bool,
    /// Profile used when a newOrder names none; must be a key of `[profiles]`.
    pub default_profile: Option<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            max_identifiers: 100,
            allow_wildcards: true,
            allow_ip_identifiers: true,
            default_profile: None,
        }
    }
}

/// `[profiles.NAME]`: one certificate profile offered to clients (`meta.profiles`), mapped to the
/// SCM certificate type and term that an order with this profile is enrolled with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Shown to clients in the directory's `meta.profiles`.
    pub description: String,
    /// SCM certificate type id (`/ssl/v1/types`), checked against SCM at start-up.
    pub scm_cert_type: i64,
    /// Certificate term in days; must be one SCM offers for `scm_cert_type`.
    pub term_days: i64,
    /// RFC 9773 renewal window of this profile's certificates, `[start, end]` in percent of their
    /// validity; absent: `acme.ari_renewal_window_percent`.
    #[serde(default)]
    pub renewal_window_percent: Option<crate::acme::ari::WindowPercent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c: PolicyConfig = toml::from_str("").unwrap();
        assert_eq!(c.max_identifiers, 100);
        assert!(c.allow_wildcards && c.allow_ip_identifiers);
        assert!(c.default_profile.is_none());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<PolicyConfig>("max_identifier = 3").is_err());
        let e = toml::from_str::<ProfileConfig>(
            "description = \"x\"\nscm_cert_type = 1\nterm_days = 365\ncolor = 1",
        );
        assert!(e.is_err());
    }

    #[test]
    fn profile_parses() {
        let p: ProfileConfig =
            toml::from_str("description = \"DV\"\nscm_cert_type = 224\nterm_days = 365").unwrap();
        assert_eq!(p.scm_cert_type, 224);
        assert_eq!(p.term_days, 365);
    }
}
