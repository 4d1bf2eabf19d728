//! Where in SCM an order's certificate is requested: the organization (from the account's EAB
//! key, else `[scm] org_id`), the certificate type and term (from the order's profile, else
//! `[scm] cert_type`/`term`). Decided at newOrder, so an order that could never be issued is
//! refused at once with a sentence saying what the operator must set — not at finalize, after the
//! client validated every name, as a `500` that clients retry for minutes.

use crate::acme::{Error, ProblemType, Result};
use crate::config::Config;
use crate::model::EabKey;

/// SCM's coordinates for one certificate request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScmTarget {
    pub org_id: i64,
    pub cert_type: i64,
    pub term: i64,
}

/// The target of an order of an account bound to `eab` (none: no EAB) under `profile`.
pub fn scm_target(
    config: &Config,
    eab: Option<&EabKey>,
    profile: Option<&str>,
) -> Result<ScmTarget> {
    let scm = config.scm.as_ref().ok_or_else(|| {
        Error::internal("issuance needs [scm] (or the sandbox) configured; none is")
    })?;
    let org_id = eab
        .and_then(|k| k.scm_org_id)
        .or(scm.org_id)
        .ok_or_else(|| no_org(eab))?;
    let (cert_type, term) = match profile {
        Some(name) => {
            let p = config.profiles.get(name).ok_or_else(|| {
                Error::new(
                    ProblemType::InvalidProfile,
                    format!("Profile \"{name}\" is no longer offered by this server."),
                )
            })?;
            (p.scm_cert_type, p.term_days)
        }
        None => match (scm.cert_type, scm.term) {
            (Some(t), Some(term)) => (t, i64::from(term)),
            _ => {
                return Err(Error::new(
                    ProblemType::InvalidProfile,
                    "This server has no certificate type for orders without a profile; the \
                     operator must set [scm] cert_type and term, or offer profiles.",
                ))
            }
        },
    };
    Ok(ScmTarget {
        org_id,
        cert_type,
        term,
    })
}

/// No organization for this account's certificates: a fault of the server's set-up, which the
/// client can only report; `unauthorized` (403) because no request of this account can succeed
/// until the operator acts, and clients stop retrying on it.
fn no_org(eab: Option<&EabKey>) -> Error {
    let whose = match eab {
        Some(k) => format!(
            "this account's External Account Binding key {} (\"{}\") names no SCM organization",
            k.kid, k.label
        ),
        None => "this account has no External Account Binding key to name an SCM organization"
            .to_string(),
    };
    Error::unauthorized(format!(
        "No certificate can be issued to this account: {whose} and the server has no default \
         ([scm] org_id). Ask the operator to set one."
    ))
}
