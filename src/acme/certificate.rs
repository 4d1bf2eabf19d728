//! Certificate download (§7.4.2): the default chain at the certificate URL and each alternate
//! chain at `{certificate URL}/alt/{n}` (n from 1), each naming every other chain as
//! `Link: rel="alternate"` so a client can pick the root it trusts.

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

/// One chain of a certificate as served: its PEM and the URLs of the certificate's other chains.
#[derive(Debug, Clone)]
pub struct ChainDownload {
    /// Leaf first.
    pub pem: String,
    /// Every other chain's URL, for `Link: <url>;rel="alternate"`.
    pub alternates: Vec<String>,
}

/// Chain `n` of certificate `id` of `account`: 0 is the default chain, 1.. the alternates.
pub async fn chain_for(
    ctx: &AcmeContext,
    account: &Account,
    id: &str,
    n: usize,
) -> Result<ChainDownload> {
    let cert = certificate_for(ctx, account, id).await?;
    let pem = match n {
        0 => cert.chain_pem.clone(),
        n => cert
            .alternate_chains
            .get(n - 1)
            .cloned()
            .ok_or_else(|| Error::not_found("alternate chain"))?,
    };
    let alternates = (0..=cert.alternate_chains.len())
        .filter(|&m| m != n)
        .map(|m| chain_url(ctx, id, m))
        .collect();
    Ok(ChainDownload { pem, alternates })
}

/// The URL of chain `n` of certificate `id`.
pub fn chain_url(ctx: &AcmeContext, id: &str, n: usize) -> String {
    match n {
        0 => ctx.urls.certificate(id),
        n => ctx.urls.alternate_chain(id, n),
    }
}
