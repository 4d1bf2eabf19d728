//! The CAA pre-check before enroll (`acme.caa_check`): every DNS name of the order is checked
//! (RFC 8659, `validation::caa`) against `acme.caa_identities` just before SCM is asked, the point
//! closest to SCM's own check that every order passes through — names validated by a challenge,
//! trusted from SCM's domain validation or reused from an earlier authorization alike. A refusal
//! makes the order invalid with a `caa` problem (one subproblem per name) before anything is
//! enrolled.

use super::worker::Worker;
use crate::acme::error::{ProblemType, Subproblem};
use crate::acme::Error;
use crate::model::Enrollment;
use crate::model::Identifier;

/// Lookups that failed (SERVFAIL, timeout) are tried again this many times before the order fails
/// with a `dns` problem (a CA must not issue when it cannot read CAA: RFC 8659 §3).
pub(super) const DNS_ATTEMPTS: i32 = 3;

/// What the pre-check decided.
pub(super) enum Precheck {
    /// Every name may be issued for (or the check is off).
    Passed,
    /// Some name's CAA records forbid the CA, or could not be read `DNS_ATTEMPTS` times.
    Refused(Error),
    /// A lookup failed; try again later.
    Retry(String),
}

/// Checks the enrollment's DNS names (IP addresses have no CAA) concurrently.
pub(super) async fn precheck(w: &Worker, e: &Enrollment, attempt: i32) -> Precheck {
    let acme = &w.ctx.config.acme;
    if !acme.caa_check {
        return Precheck::Passed;
    }
    let names: Vec<&String> = e
        .subj_alt_names
        .iter()
        .filter(|n| n.parse::<std::net::IpAddr>().is_err())
        .collect();
    let checks = names.iter().map(|name| async move {
        (
            *name,
            w.validator.check_caa(name, &acme.caa_identities).await,
        )
    });
    let mut subproblems = Vec::new();
    for (name, outcome) in futures::future::join_all(checks).await {
        match outcome {
            Ok(permit) => {
                tracing::debug!(order = %e.order_id, name = %name, ?permit, "CAA permits issuance")
            }
            Err(err) => subproblems.push(Subproblem {
                kind: err.kind,
                detail: err.detail,
                identifier: Some(Identifier::dns(name.clone())),
            }),
        }
    }
    let refused = subproblems
        .iter()
        .filter(|s| s.kind == ProblemType::Caa)
        .count();
    if refused == 0 && !subproblems.is_empty() && attempt < DNS_ATTEMPTS {
        let details: Vec<&str> = subproblems.iter().map(|s| s.detail.as_str()).collect();
        return Precheck::Retry(format!("CAA lookup failed: {}", details.join("; ")));
    }
    match subproblems.len() {
        0 => Precheck::Passed,
        1 => {
            let s = subproblems.remove(0);
            tracing::info!(order = %e.order_id, problem = s.kind.name(), detail = %s.detail, "CAA pre-check refused the order");
            Precheck::Refused(Error::new(s.kind, s.detail.clone()).with_subproblems(vec![s]))
        }
        n => {
            let kind = if refused > 0 {
                ProblemType::Caa
            } else {
                ProblemType::Dns
            };
            let detail = format!(
                "{n} names fail the CAA check: {}",
                subproblems
                    .iter()
                    .map(|s| s.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            tracing::info!(order = %e.order_id, names = n, %detail, "CAA pre-check refused the order");
            Precheck::Refused(Error::new(kind, detail).with_subproblems(subproblems))
        }
    }
}
