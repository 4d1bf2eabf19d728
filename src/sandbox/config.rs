//! `[sandbox]`: the emulated SCM tenant (credentials, organizations, profiles, custom fields, domains)
//! and its timing and faults. `Default` is the demo tenant (`demo`/`demo`/`demo`) that lets anyone try
//! the bridge without a Sectigo account.

use crate::config::InvalidSetting;
use crate::sandbox::faults::Faults;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[sandbox]`: the tenant the emulator serves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// `customerUri` header value accepted.
    pub customer_uri: String,
    /// `login` header value accepted.
    pub login: String,
    /// `password` header value accepted (or `password_file`).
    pub password: Secret,
    /// Organizations with their departments (`[[sandbox.organizations]]`).
    pub organizations: Vec<OrgConfig>,
    /// SSL certificate types (`[[sandbox.profiles]]`), as `/ssl/v1/types` lists them.
    pub profiles: Vec<ProfileConfig>,
    /// Custom fields (`[[sandbox.custom_fields]]`); mandatory ones must be sent with enroll (-62).
    pub custom_fields: Vec<CustomFieldConfig>,
    /// Domains with their delegation and DCV state (`[[sandbox.domains]]`).
    pub domains: Vec<DomainConfig>,
    /// Treat every name as delegated to every org and validated (the demo's permissive mode); when
    /// false only `domains` count and anything else fails enroll with -107.
    pub allow_any_domain: bool,
    /// When an enrolled certificate becomes collectable, unless its org or profile says otherwise.
    pub issuance: Issuance,
    /// Collect's "not ready" code unless the org or profile says otherwise: 0, -183, -1400 or -109.
    pub pending_code: i64,
    /// Faults active from start-up (they can be changed at run time through `/__sandbox/faults`).
    pub faults: Faults,
    /// PEM certificate (chain) to serve HTTPS with; plain HTTP when absent.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// First sslId handed out; above 2^32 by default so clients that truncate ids to 32 bits fail.
    pub first_ssl_id: i64,
    /// Give the PKI an alternate path, as real Sectigo tenants have: the root's key and subject are
    /// also certified by an older root, and collect's formats that carry the root carry the
    /// cross-signed root and the old root as well. Off by default (3-certificate chains).
    pub cross_signed_root: bool,
}

/// An organization or (inside `departments`) a department.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// The `orgId` clients use.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The SSL tab's "Web API" setting; enroll fails with -1021 when false.
    #[serde(default = "yes")]
    pub web_api: bool,
    /// Enrollments wait in `Requested` until approved (collect says -23). A department without the
    /// key inherits its organization's value.
    #[serde(default)]
    pub requires_approval: Option<bool>,
    /// Issuance timing for this org/department (wins over the profile's and the global one).
    #[serde(default)]
    pub issuance: Option<Issuance>,
    /// Pending code for this org/department.
    #[serde(default)]
    pub pending_code: Option<i64>,
    /// Profile ids this org may use (`/ssl/v1/types?organizationId=`); absent = every profile.
    #[serde(default)]
    pub ssl_types: Option<Vec<i64>>,
    /// Departments (only one level: departments of departments are rejected).
    #[serde(default)]
    pub departments: Vec<OrgConfig>,
}

/// An SSL certificate type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The `certType` id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Allowed terms in days (enroll with another: -36).
    pub terms: Vec<u32>,
    /// Allowed key types, e.g. `{ RSA = ["2048","3072","4096"], EC = ["P-256","P-384"] }`.
    #[serde(default = "default_key_types")]
    pub key_types: BTreeMap<String, Vec<String>>,
    /// Issuance timing for this profile (the org's setting wins).
    #[serde(default)]
    pub issuance: Option<Issuance>,
    /// Pending code for this profile (the org's setting wins).
    #[serde(default)]
    pub pending_code: Option<i64>,
}

/// A custom field definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldConfig {
    /// Field id.
    pub id: i64,
    /// Field name.
    pub name: String,
    /// Enroll without it fails with -62.
    #[serde(default)]
    pub mandatory: bool,
}

/// A domain as SCM knows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Domain id.
    pub id: i64,
    /// `example.com` (covers subdomains and wildcards below it unless `subdomains = false`) or
    /// `*.example.com`.
    pub name: String,
    /// DCV completed.
    #[serde(default = "yes")]
    pub validated: bool,
    /// DCV expiry (`yyyy-mm-dd`); past dates count as not validated.
    #[serde(default)]
    pub dcv_expiration: Option<chrono::NaiveDate>,
    /// Orgs/departments it is delegated to; empty = all. A department also gets its org's domains.
    #[serde(default)]
    pub delegated_to: Vec<i64>,
    /// Whether names below it are covered too.
    #[serde(default = "yes")]
    pub subdomains: bool,
}

/// When an enrolled (and, if needed, approved) certificate becomes collectable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Issuance {
    /// At once: the first collect returns it.
    Immediate,
    /// Never (stays `Applied`).
    Never,
    /// `{ after_polls = N }`: the N-th collect call returns it (earlier ones get the pending code).
    AfterPolls(u32),
    /// `{ after_millis = T }`: T ms after it was applied.
    AfterMillis(u64),
}

fn yes() -> bool {
    true
}

fn default_key_types() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        (
            "RSA".to_string(),
            vec!["2048".into(), "3072".into(), "4096".into()],
        ),
        ("EC".to_string(), vec!["P-256".into(), "P-384".into()]),
    ])
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let profile = |id, name: &str, description: &str| ProfileConfig {
            id,
            name: name.into(),
            description: description.into(),
            terms: vec![90, 200],
            key_types: default_key_types(),
            issuance: None,
            pending_code: None,
        };
        let org = |id, name: &str, web_api, departments| OrgConfig {
            id,
            name: name.into(),
            web_api,
            requires_approval: None,
            issuance: None,
            pending_code: None,
            ssl_types: None,
            departments,
        };
        Self {
            customer_uri: "demo".into(),
            login: "demo".into(),
            password: Secret::new("demo"),
            organizations: vec![
                org(
                    1001,
                    "Demo University",
                    true,
                    vec![org(1002, "Demo IT Department", true, vec![])],
                ),
                org(1003, "Demo Lab (Web API disabled)", false, vec![]),
            ],
            profiles: vec![
                profile(501, "Demo OV SSL", "Single-domain OV certificate"),
                profile(502, "Demo OV Multi-Domain", "Multi-domain OV certificate"),
                profile(503, "Demo Wildcard SSL", "Wildcard OV certificate"),
            ],
            custom_fields: vec![CustomFieldConfig {
                id: 1,
                name: "Cost Center".into(),
                mandatory: false,
            }],
            domains: vec![
                domain(1, "example.com"),
                domain(2, "*.example.com"),
                domain(3, "example.org"),
            ],
            allow_any_domain: true,
            issuance: Issuance::Immediate,
            pending_code: 0,
            faults: Faults::default(),
            tls_cert: None,
            tls_key: None,
            first_ssl_id: 4_300_000_001,
            cross_signed_root: false,
        }
    }
}

fn domain(id: i64, name: &str) -> DomainConfig {
    DomainConfig {
        id,
        name: name.into(),
        validated: true,
        dcv_expiration: None,
        delegated_to: vec![],
        subdomains: true,
    }
}

impl SandboxConfig {
    /// Checks what serde cannot: unique ids, one department level, known pending codes.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let mut ids = std::collections::BTreeSet::new();
        for o in &self.organizations {
            for u in std::iter::once(o).chain(o.departments.iter()) {
                if !ids.insert(u.id) {
                    return Err(InvalidSetting(format!(
                        "sandbox: organization id {} used twice",
                        u.id
                    )));
                }
            }
            if o.departments.iter().any(|d| !d.departments.is_empty()) {
                return Err(InvalidSetting(format!(
                    "sandbox: departments of organization {} cannot have departments",
                    o.id
                )));
            }
        }
        let codes = std::iter::once(self.pending_code)
            .chain(self.profiles.iter().filter_map(|p| p.pending_code))
            .chain(self.organizations.iter().filter_map(|o| o.pending_code));
        for c in codes {
            if !matches!(c, 0 | -183 | -1400 | -109) {
                return Err(InvalidSetting(format!(
                    "sandbox: pending_code must be 0, -183, -1400 or -109, got {c}"
                )));
            }
        }
        self.faults
            .validate()
            .map_err(|e| e.within("sandbox.faults"))?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("sandbox.tls_cert and sandbox.tls_key must be given together".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::sandbox::FaultKind;

    #[test]
    fn chaos_and_cross_signing_are_config_keys_and_environment_variables() {
        let env = [
            ("BRIDGE_SANDBOX__FAULTS__FAULT_RATE", "0.25"),
            ("BRIDGE_SANDBOX__FAULTS__FAULT_SEED", "9"),
            (
                "BRIDGE_SANDBOX__FAULTS__FAULT_KINDS",
                r#"["reset", "slow"]"#,
            ),
            ("BRIDGE_SANDBOX__FAULTS__FAULT_SLOW_MAX_MS", "300"),
            ("BRIDGE_SANDBOX__CROSS_SIGNED_ROOT", "true"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let mut s = Config::load_with_env(None, env).unwrap().sandbox;
        assert_eq!(s.faults.fault_rate, 0.25);
        assert_eq!(s.faults.fault_seed, Some(9));
        assert_eq!(s.faults.fault_kinds, [FaultKind::Reset, FaultKind::Slow]);
        assert_eq!(s.faults.fault_slow_max_ms, 300);
        assert!(s.cross_signed_root);
        s.validate().unwrap();
        s.faults.fault_rate = 1.5;
        let e = s.validate().unwrap_err();
        assert!(e.mentions("sandbox.faults: fault_rate"), "{e}");
        let d = Config::load_with_env(None, []).unwrap().sandbox;
        assert_eq!((d.faults.fault_rate, d.cross_signed_root), (0.0, false));
    }
}
