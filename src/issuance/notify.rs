//! Who SCM notifies: the account's first contact goes to enroll as `externalRequester`
//! (`issuance.external_requester_from_contact`), so SCM's mails about the certificate (issued,
//! expiring, revoked) reach the team behind the ACME account.

use super::error::JobError;
use super::worker::Worker;

/// The address for enroll's `externalRequester`: the account's first `mailto:` contact without
/// the scheme; `None` when the setting is off or the account lists no contact.
pub(super) async fn external_requester(
    w: &Worker,
    account_id: &str,
) -> Result<Option<String>, JobError> {
    if !w.ctx.config.issuance.external_requester_from_contact {
        return Ok(None);
    }
    let account = w.ctx.store.account(account_id).await?;
    Ok(account
        .and_then(|a| a.contact.into_iter().next())
        .and_then(|c| c.strip_prefix("mailto:").map(str::to_string))
        .filter(|a| !a.is_empty()))
}
