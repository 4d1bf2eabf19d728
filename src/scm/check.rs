//! `scm check`: verifies that the configured credentials, org/department and profiles will work
//! before the first order fails, and says for each problem what to change (one line each).

use crate::scm::client::ScmClient;
use crate::scm::error::{ErrorClass, ScmError};
use serde::Serialize;

/// What to check: the org/department and the (profile, term) pairs the bridge will enroll with.
#[derive(Debug, Clone, Default)]
pub struct CheckTarget {
    /// Org or department id (`scm.org_id`).
    pub org_id: Option<i64>,
    /// Profiles to verify.
    pub profiles: Vec<ProfileTarget>,
}

/// One profile the bridge will use.
#[derive(Debug, Clone)]
pub struct ProfileTarget {
    /// Where it is configured, for the message (e.g. `scm.cert_type` or `profiles.default`).
    pub label: String,
    /// SCM certType id.
    pub cert_type: i64,
    /// Term in days, if fixed.
    pub term: Option<u32>,
}

/// Severity of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Works.
    Ok,
    /// Will not stop issuance by itself but deserves a look.
    Warn,
    /// Issuance will fail until fixed.
    Fail,
}

/// One finding with the action that fixes it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Severity.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(m: impl Into<String>) -> Self {
        Self {
            level: Level::Ok,
            message: m.into(),
            fix: None,
        }
    }
    /// A failure with its fix.
    pub fn fail(m: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Fail,
            message: m.into(),
            fix: Some(fix.into()),
        }
    }
    fn warn(m: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Warn,
            message: m.into(),
            fix: Some(fix.into()),
        }
    }

    /// One line: `FAIL  message — fix: …`.
    pub fn line(&self) -> String {
        let tag = match self.level {
            Level::Ok => "OK  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        match &self.fix {
            Some(f) => format!("{tag}  {} — fix: {f}", self.message),
            None => format!("{tag}  {}", self.message),
        }
    }
}

/// The fix for a failed call, keyed on SCM's code and the error class.
pub fn fix_for(e: &ScmError) -> String {
    match e.code() {
        Some(-1021) => "enable Web API on the organization's SSL tab in SCM (Settings → \
                        Organizations → Edit → SSL Certificate)"
            .into(),
        Some(-16) | Some(-970) => "check scm.customer_uri, scm.login and scm.password (use a \
                                   dedicated API admin with \"WS API use only\")"
            .into(),
        Some(-36) => "use one of the profile's terms (see `acme-sectigo-bridge scm types`)".into(),
        Some(-39) | Some(-111) => {
            "pick a profile id from `acme-sectigo-bridge scm types --org N`".into()
        }
        Some(-1023) | Some(-639) => "pick an id from `acme-sectigo-bridge scm orgs`".into(),
        _ => match e.class() {
            ErrorClass::Auth => "check scm.customer_uri, scm.login and scm.password".into(),
            ErrorClass::Retryable => {
                "check scm.base_url and network access to SCM, then retry".into()
            }
            _ => "see SCM's message above".into(),
        },
    }
}

/// Runs every check; stops after a failed login because nothing else can work then.
pub async fn run_checks(client: &ScmClient, target: &CheckTarget) -> Vec<Finding> {
    let mut out = Vec::new();
    let orgs = match client.organizations().await {
        Ok(o) => {
            out.push(Finding::ok(format!(
                "credentials accepted by {} ({} organization(s) visible)",
                client.base_url(),
                o.len()
            )));
            o
        }
        Err(e) => {
            out.push(Finding::fail(
                format!("cannot list organizations at {}: {e}", client.base_url()),
                fix_for(&e),
            ));
            return out;
        }
    };
    let org_id = target.org_id;
    match org_id {
        None => out.push(Finding::warn(
            "scm.org_id is not set (every EAB key must then name its org)",
            "run `acme-sectigo-bridge scm orgs` and set scm.org_id",
        )),
        Some(id) => {
            let known = orgs
                .iter()
                .any(|o| o.id == id || o.departments.iter().any(|d| d.id == id));
            if !known {
                out.push(Finding::fail(
                    format!("organization/department {id} does not exist for this account"),
                    "pick an id from `acme-sectigo-bridge scm orgs` and set scm.org_id",
                ));
                return out;
            }
            match client.organization(id).await {
                Ok(d) => match d.ssl_certs_api_enabled {
                    Some(true) => out.push(Finding::ok(format!(
                        "organization {id} \"{}\" exists and has the SSL Web API enabled",
                        d.name
                    ))),
                    Some(false) => out.push(Finding::fail(
                        format!(
                            "organization {id} \"{}\" does not have the SSL Web API enabled \
                             (enroll would fail with -1021)",
                            d.name
                        ),
                        fix_for(&ScmError::Api {
                            status: 400,
                            code: Some(-1021),
                            description: String::new(),
                            mutating: false,
                        }),
                    )),
                    None => out.push(Finding::warn(
                        format!("SCM did not say whether organization {id} has the Web API on"),
                        "check the organization's SSL tab in SCM",
                    )),
                },
                Err(e) => out.push(Finding::fail(
                    format!("cannot read organization {id}: {e}"),
                    fix_for(&e),
                )),
            }
        }
    }
    check_profiles(client, org_id, &target.profiles, &mut out).await;
    if let Ok(fields) = client.custom_fields().await {
        let mandatory: Vec<_> = fields
            .iter()
            .filter(|f| f.mandatory)
            .map(|f| &f.name)
            .collect();
        if !mandatory.is_empty() {
            out.push(Finding::warn(
                format!("SCM requires custom field(s) on enroll: {mandatory:?} (else -62)"),
                "ask the SCM admin to make them optional for API enrollments",
            ));
        }
    }
    out
}

async fn check_profiles(
    client: &ScmClient,
    org_id: Option<i64>,
    profiles: &[ProfileTarget],
    out: &mut Vec<Finding>,
) {
    if profiles.is_empty() {
        out.push(Finding::warn(
            "no profile configured (scm.cert_type / scm.term)",
            "run `acme-sectigo-bridge scm types` and set scm.cert_type and scm.term",
        ));
        return;
    }
    let types = match client.ssl_types(org_id).await {
        Ok(t) => t,
        Err(e) => {
            out.push(Finding::fail(
                format!("cannot list SSL types: {e}"),
                fix_for(&e),
            ));
            return;
        }
    };
    let scope = org_id.map(|o| format!(" --org {o}")).unwrap_or_default();
    for p in profiles {
        let Some(t) = types.iter().find(|t| t.id == p.cert_type) else {
            out.push(Finding::fail(
                format!(
                    "{}: profile {} is not available{}",
                    p.label,
                    p.cert_type,
                    org_id
                        .map(|o| format!(" to organization {o}"))
                        .unwrap_or_default()
                ),
                format!("pick an id from `acme-sectigo-bridge scm types{scope}`"),
            ));
            continue;
        };
        match p.term {
            Some(term) if !t.terms.contains(&term) => out.push(Finding::fail(
                format!(
                    "{}: term {term} is not allowed for profile {} \"{}\" (enroll would fail \
                     with -36)",
                    p.label, t.id, t.name
                ),
                format!("set the term to one of {:?}", t.terms),
            )),
            Some(term) => out.push(Finding::ok(format!(
                "{}: profile {} \"{}\" with term {term} days is available",
                p.label, t.id, t.name
            ))),
            None => out.push(Finding::ok(format!(
                "{}: profile {} \"{}\" is available (terms {:?})",
                p.label, t.id, t.name, t.terms
            ))),
        }
    }
}
