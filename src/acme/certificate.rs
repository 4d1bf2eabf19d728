//! Certificate download (§7.4.2).

use crate::acme::{AcmeContext, Error, Result};
use crate::model::{Account, Certificate};

/// A certificate of `account`.
pub async fn certificate_for(
    ctx: &AcmeContext,
    account: &Account,
    id: &str,
) -> Result<Certificate> {
    ctx.store
        .certificate(id)
        .await?
        .filter(|c| c.account_id == account.id)
        .ok_or_else(|| Error::not_found("certificate"))
}
