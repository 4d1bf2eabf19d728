//! What happens to certificates on SCM's side without the API client asking: an administrator
//! revokes one (or a whole batch, as in a CA's mass revocation), a certificate expires, or it is
//! replaced through the web UI. The bridge only ever sees the result through details, list and
//! collect, so these change the record exactly as the API calls that cause the same state do.
//! Used by the control API (`/__sandbox/revoke…`, `/__sandbox/mark/…`) and [`super::SandboxHandle`].

use crate::sandbox::state::{CertRecord, SandboxState};
use crate::scm::types::CertStatus;
use chrono::Utc;

/// Why an administrative change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No certificate with that sslId.
    Unknown(i64),
    /// The change needs an `Issued` certificate; it is in this status.
    NotIssued(i64, String),
    /// Not a revocation reason code.
    BadReason(i64),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unknown(id) => write!(f, "certificate {id} is unknown"),
            Refusal::NotIssued(id, s) => write!(f, "certificate {id} is {s}, not Issued"),
            Refusal::BadReason(c) => write!(f, "{c} is not an RFC 5280 revocation reason code"),
        }
    }
}

/// A status an administrator (or time) gives an issued certificate besides `Revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mark {
    /// Past its end of validity.
    Expired,
    /// Superseded by a replacement made outside the API.
    Replaced,
}

/// RFC 5280 CRLReason codes (7 is unused). [guess] An administrator, unlike the API (0, 1, 3, 4, 5
/// only), may also give the CA-side reasons such as 9 privilegeWithdrawn, as the Baseline
/// Requirements allow a CA to.
fn known_reason(code: i64) -> bool {
    matches!(code, 0..=6 | 8..=10)
}

/// Revokes an issued certificate as the API's revoke does: status `Revoked`, the `revoked` date and
/// `reasonCode` set (so details, list by status and collect's -110 all show it).
pub fn revoke(s: &SandboxState, id: i64, reason_code: i64, reason: &str) -> Result<(), Refusal> {
    if !known_reason(reason_code) {
        return Err(Refusal::BadReason(reason_code));
    }
    s.with_cert(id, false, |r| {
        require_issued(r)?;
        r.status = CertStatus::Revoked;
        r.revoked = Some(Utc::now());
        r.reason_code = Some(reason_code);
        tracing::info!(
            ssl_id = id,
            reason_code,
            reason,
            "sandbox admin revoked a certificate"
        );
        Ok(())
    })
    .unwrap_or(Err(Refusal::Unknown(id)))
}

/// Revokes every issued certificate of `org_id` (all orgs when `None`) whose CN is `common_name`
/// (any when `None`): a mass revocation. Returns the sslIds revoked, in id order.
pub fn revoke_all(
    s: &SandboxState,
    org_id: Option<i64>,
    common_name: Option<&str>,
    reason_code: i64,
    reason: &str,
) -> Result<Vec<i64>, Refusal> {
    if !known_reason(reason_code) {
        return Err(Refusal::BadReason(reason_code));
    }
    let ids: Vec<i64> = s
        .all_certs()
        .into_iter()
        .filter(|r| r.status == CertStatus::Issued)
        .filter(|r| org_id.map_or(true, |o| r.org_id == o))
        .filter(|r| common_name.map_or(true, |cn| r.common_name.eq_ignore_ascii_case(cn)))
        .map(|r| r.id)
        .collect();
    // A certificate may have changed since the snapshot; only the ones revoked now are reported.
    Ok(ids
        .into_iter()
        .filter(|&id| revoke(s, id, reason_code, reason).is_ok())
        .collect())
}

/// Gives an issued certificate the status `Expired` or `Replaced`, for tests of a sweep over
/// certificates SCM no longer serves as valid. [guess] `Expired` also sets the `expires` date to
/// now (the leaf itself is not re-signed); `Replaced` changes only the status. Collect still
/// returns an expired certificate and answers -183 for a replaced one, as for any other
/// non-collectable status.
pub fn mark(s: &SandboxState, id: i64, mark: Mark) -> Result<(), Refusal> {
    s.with_cert(id, false, |r| {
        require_issued(r)?;
        match mark {
            Mark::Expired => {
                r.status = CertStatus::Expired;
                r.expires = Some(Utc::now());
            }
            Mark::Replaced => r.status = CertStatus::Replaced,
        }
        Ok(())
    })
    .unwrap_or(Err(Refusal::Unknown(id)))
}

fn require_issued(r: &CertRecord) -> Result<(), Refusal> {
    if r.status == CertStatus::Issued {
        Ok(())
    } else {
        Err(Refusal::NotIssued(r.id, r.status.as_str().to_string()))
    }
}
