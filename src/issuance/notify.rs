//! Who SCM notifies: the account's first contact goes to enroll as `externalRequester`
//! (`issuance.external_requester_from_contact`), so SCM's mails about the certificate (issued,
//! expiring, revoked) reach the team behind the ACME account.

use super::worker::Worker;

/// The address for enroll's `externalRequester`: the account's first `mailto:` contact without
/// the scheme; `None` when the setting is off or the account lists no contact.
pub(super) fn external_requester(w: &Worker, contact: &[String]) -> Option<String> {
    if !w.ctx.config.issuance.external_requester_from_contact {
        return None;
    }
    contact
        .first()
        .and_then(|c| c.strip_prefix("mailto:"))
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}
