//! External Account Binding keys.

use super::{from_json, DbRow, EabKey, Result, Store};
use chrono::Utc;

const EAB_COLUMNS: &str = "kid, hmac_key, label, allowed_patterns, scm_org_id, profiles, \
                           trust_scm_dcv, single_use, created_at, used_at, revoked_at, \
                           accounts_stopped";

fn eab_from_row(row: &DbRow) -> Result<EabKey> {
    Ok(EabKey {
        kid: row.get("kid")?,
        hmac_key: row.get("hmac_key")?,
        label: row.get("label")?,
        allowed_patterns: from_json(row.get("allowed_patterns")?, "eab_keys.allowed_patterns")?,
        scm_org_id: row.get("scm_org_id")?,
        profiles: from_json(row.get("profiles")?, "eab_keys.profiles")?,
        trust_scm_dcv: row.get("trust_scm_dcv")?,
        single_use: row.get("single_use")?,
        created_at: row.get("created_at")?,
        used_at: row.get("used_at")?,
        revoked_at: row.get("revoked_at")?,
        accounts_stopped: row.get("accounts_stopped")?,
    })
}

impl Store {
    /// Stores a new EAB key.
    pub async fn create_eab_key(&self, key: &EabKey) -> Result<()> {
        let q = self
            .db
            .query(
                "INSERT INTO eab_keys (kid, hmac_key, label, allowed_patterns, scm_org_id, profiles, \
                 trust_scm_dcv, single_use, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            )
            .bind(&key.kid)
            .bind(&key.hmac_key)
            .bind(&key.label)
            .bind(serde_json::json!(key.allowed_patterns))
            .bind(key.scm_org_id)
            .bind(serde_json::json!(key.profiles))
            .bind(key.trust_scm_dcv)
            .bind(key.single_use)
            .bind(key.created_at);
        self.db.execute(q).await?;
        Ok(())
    }

    /// The key with this kid, revoked or not.
    pub async fn eab_key(&self, kid: &str) -> Result<Option<EabKey>> {
        let sql = format!("SELECT {EAB_COLUMNS} FROM eab_keys WHERE kid = $1");
        self.db.find(&sql, kid, eab_from_row).await
    }

    /// Every key, oldest first.
    pub async fn list_eab_keys(&self) -> Result<Vec<EabKey>> {
        let sql = format!("SELECT {EAB_COLUMNS} FROM eab_keys ORDER BY created_at, kid");
        let rows = self.db.fetch_all(self.db.query(&sql)).await?;
        rows.iter().map(eab_from_row).collect()
    }

    /// Revokes a key: no new account can bind with it, and with [`EabRevocation::StopAccounts`]
    /// the accounts bound to it may no longer order. Revoking a key revoked with
    /// `KeepAccounts` again with `StopAccounts` stops its accounts (and keeps the first
    /// `revoked_at`). `false` when the key is unknown or nothing changed.
    pub async fn revoke_eab_key(&self, kid: &str, how: EabRevocation) -> Result<bool> {
        let stop = how == EabRevocation::StopAccounts;
        let q = self
            .db
            .query(
                "UPDATE eab_keys SET revoked_at = COALESCE(revoked_at, $2), \
                 accounts_stopped = (accounts_stopped OR $3) \
                 WHERE kid = $1 AND (revoked_at IS NULL OR ($3 AND NOT accounts_stopped))",
            )
            .bind(kid)
            .bind(Utc::now())
            .bind(stop);
        Ok(self.db.execute(q).await? == 1)
    }
}

/// What revoking an EAB key does to the accounts already bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EabRevocation {
    /// The default: a leaked or retired key must not keep issuing through its accounts.
    StopAccounts,
    /// `eab revoke --keep-accounts`: only new bindings stop (a key rotated, its teams unchanged).
    KeepAccounts,
}
