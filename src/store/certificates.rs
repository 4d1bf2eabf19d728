//! Certificate rows: how they are read and written. The look-ups serve revocation, ARI and
//! downloads; the insert columns are shared by both spellings of `complete_issuance`.

use super::query::{DbRow, Query};
use super::{Result, Store};
use crate::model::Certificate;

const CERT_COLUMNS: &str = "id, order_id, account_id, chain_pem, serial, key_thumbprint, ssl_id, \
     not_after, revoked_at, revocation_reason, alternate_chains";

fn cert_from_row(row: &DbRow) -> Result<Certificate> {
    Ok(Certificate {
        id: row.get("id")?,
        order_id: row.get("order_id")?,
        account_id: row.get("account_id")?,
        chain_pem: row.get("chain_pem")?,
        serial: row.get("serial")?,
        key_thumbprint: row.get("key_thumbprint")?,
        ssl_id: row.get("ssl_id")?,
        not_after: row.get("not_after")?,
        revoked_at: row.get("revoked_at")?,
        revocation_reason: row.get("revocation_reason")?,
        alternate_chains: super::from_json(row.get("alternate_chains")?, "alternate_chains")?,
    })
}

/// The certificate columns an insert fills, in [`bind_certificate`]'s order (revocation columns
/// start empty).
pub(super) const CERT_INSERT_COLUMNS: &str =
    "id, order_id, account_id, chain_pem, serial, key_thumbprint, \
     ssl_id, not_after, alternate_chains";
pub(super) const CERT_INSERT_ARITY: usize = 9;

/// Binds a new certificate's [`CERT_INSERT_COLUMNS`], shared by both spellings of
/// `complete_issuance`.
pub(super) fn bind_certificate<'q>(q: Query<'q>, cert: &'q Certificate) -> Query<'q> {
    q.bind(&cert.id)
        .bind(&cert.order_id)
        .bind(&cert.account_id)
        .bind(&cert.chain_pem)
        .bind(&cert.serial)
        .bind(&cert.key_thumbprint)
        .bind(cert.ssl_id)
        .bind(cert.not_after)
        .bind(serde_json::json!(cert.alternate_chains))
}

impl Store {
    /// The certificate with this id.
    pub async fn certificate(&self, id: &str) -> Result<Option<Certificate>> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1");
        self.db.find(&sql, id, cert_from_row).await
    }

    /// The certificate with this serial (lower-case hex).
    pub async fn certificate_by_serial(&self, serial: &str) -> Result<Option<Certificate>> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE serial = $1");
        self.db.find(&sql, serial, cert_from_row).await
    }
}
