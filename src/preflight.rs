//! Start-up checks of `serve`: refuse to start when issuance cannot work, naming the fix, instead
//! of letting clients register and validate and then fail every finalize. Two halves:
//!
//! - **Local** (always): every account must end up with an SCM organization (`[scm] org_id`, or
//!   one on each active EAB key — and `org_id` is needed for accounts without EAB), and orders
//!   without a profile need `[scm] cert_type` and `term` when no profiles are offered.
//! - **Against SCM** (the same checks as `scm check`): the organizations exist and have the Web
//!   API on, each profile's certificate type and term are offered by `/ssl/v1/types`. When SCM
//!   cannot be reached, this half is skipped with a warning: an SCM outage must not keep replicas
//!   from starting; the issue jobs wait for SCM anyway. A failure of this half is confirmed by
//!   running it twice more, 1 s apart: a transient fault on a later call is not a wrong setting.

use crate::config::Config;
use crate::scm::check::{run_checks, CheckTarget, Finding, Level, ProfileTarget};
use crate::scm::{ErrorClass, ScmClient};
use crate::store::Store;
use std::collections::BTreeSet;

/// Runs both halves; `Err` lists every failure with its fix, one per line.
pub async fn check(config: &Config, store: &Store, scm: &ScmClient) -> anyhow::Result<()> {
    let mut failures = local_failures(config, store).await?;
    for f in scm_findings_settled(config, store, scm).await? {
        match f.level {
            Level::Fail => failures.push(f.line()),
            Level::Warn => tracing::warn!("{}", f.line()),
            Level::Ok => tracing::debug!("{}", f.line()),
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "issuance through SCM cannot work with this configuration; not starting:\n  {}",
        failures.join("\n  ")
    )
}

/// Attempts of the SCM half before its failures count: a transient SCM fault on one of its calls
/// (a 503, a reset, after the first call succeeded) must not keep a replica from starting, while a
/// wrong setting fails every attempt.
const SCM_CHECK_ATTEMPTS: u32 = 3;

/// The SCM half, run again (1 s apart, up to [`SCM_CHECK_ATTEMPTS`]) while it reports failures.
async fn scm_findings_settled(
    config: &Config,
    store: &Store,
    scm: &ScmClient,
) -> anyhow::Result<Vec<Finding>> {
    let mut attempt = 1;
    loop {
        let findings = scm_findings(config, store, scm).await?;
        let failed = findings.iter().any(|f| f.level == Level::Fail);
        if !failed || attempt >= SCM_CHECK_ATTEMPTS {
            return Ok(findings);
        }
        tracing::warn!(
            attempt,
            "the start-up check against SCM failed; checking again in case it was transient"
        );
        attempt += 1;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// What can be decided without SCM.
async fn local_failures(config: &Config, store: &Store) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let Some(scm) = &config.scm else {
        return Ok(out);
    };
    if scm.org_id.is_none() {
        if !config.acme.eab_required {
            out.push(
                "FAIL  accounts may register without External Account Binding \
                 (acme.eab_required = false), but [scm] org_id is not set, so their orders have \
                 no SCM organization — fix: set scm.org_id (see `acme-sectigo-bridge scm orgs`)"
                    .to_string(),
            );
        }
        let orphans: Vec<String> = store
            .list_eab_keys()
            .await?
            .into_iter()
            .filter(|k| k.revoked_at.is_none() && k.scm_org_id.is_none())
            .map(|k| format!("{} (\"{}\")", k.kid, k.label))
            .collect();
        if !orphans.is_empty() {
            out.push(format!(
                "FAIL  EAB key(s) {} name no SCM organization and [scm] org_id is not set — fix: \
                 set scm.org_id, or revoke them and create keys with `eab create --org-id N`",
                orphans.join(", ")
            ));
        }
    }
    if config.profiles.is_empty() && (scm.cert_type.is_none() || scm.term.is_none()) {
        out.push(
            "FAIL  no profiles are configured and [scm] cert_type/term are not both set, so no \
             order has a certificate type — fix: set scm.cert_type and scm.term (see \
             `acme-sectigo-bridge scm types`), or configure [profiles.NAME]"
                .to_string(),
        );
    }
    Ok(out)
}

/// The `scm check` findings for the configured org, profiles and the EAB keys' organizations;
/// none (with a warning logged) when SCM cannot be reached.
async fn scm_findings(
    config: &Config,
    store: &Store,
    client: &ScmClient,
) -> anyhow::Result<Vec<Finding>> {
    let Some(scm) = &config.scm else {
        return Ok(Vec::new());
    };
    let orgs = match client.organizations().await {
        Ok(o) => o,
        Err(e) if matches!(e.class(), ErrorClass::Retryable) => {
            tracing::warn!(
                error = %e,
                "SCM cannot be reached at start: the organization and profiles were not checked \
                 against it (run `acme-sectigo-bridge scm check` once it answers)"
            );
            return Ok(Vec::new());
        }
        // Anything else (wrong credentials…) is reported by run_checks with its fix.
        Err(_) => Vec::new(),
    };
    let mut profiles: Vec<ProfileTarget> = config
        .profiles
        .iter()
        .map(|(name, p)| ProfileTarget {
            label: format!("profiles.{name}"),
            cert_type: p.scm_cert_type,
            term: u32::try_from(p.term_days).ok(),
        })
        .collect();
    if let Some(t) = scm.cert_type {
        profiles.push(ProfileTarget {
            label: "scm.cert_type".into(),
            cert_type: t,
            term: scm.term,
        });
    }
    let mut findings = run_checks(
        client,
        &CheckTarget {
            org_id: scm.org_id,
            profiles,
        },
    )
    .await;
    // run_checks warns when scm.org_id is unset; the local half already judged that.
    findings.retain(|f| !(f.level == Level::Warn && f.message.starts_with("scm.org_id")));
    if !orgs.is_empty() {
        let known: BTreeSet<i64> = orgs
            .iter()
            .flat_map(|o| std::iter::once(o.id).chain(o.departments.iter().map(|d| d.id)))
            .collect();
        for k in store.list_eab_keys().await? {
            match k.scm_org_id {
                Some(org) if k.revoked_at.is_none() && !known.contains(&org) => {
                    findings.push(Finding::fail(
                        format!(
                            "EAB key {} (\"{}\") names SCM organization {org}, which does not \
                             exist for this SCM account",
                            k.kid, k.label
                        ),
                        "revoke the key and create one with an id from `acme-sectigo-bridge scm \
                         orgs`",
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(findings)
}
