//! External Account Binding keys.

use super::{EabKey, Result, Store, StoreError};
use sqlx::postgres::PgRow;
use sqlx::Row;

const EAB_COLUMNS: &str = "kid, hmac_key, label, allowed_patterns, scm_org_id, profiles, \
                           trust_scm_dcv, single_use, created_at, used_at, revoked_at";

fn eab_from_row(row: &PgRow) -> Result<EabKey> {
    let patterns: serde_json::Value = row.try_get("allowed_patterns")?;
    let profiles: serde_json::Value = row.try_get("profiles")?;
    Ok(EabKey {
        kid: row.try_get("kid")?,
        hmac_key: row.try_get("hmac_key")?,
        label: row.try_get("label")?,
        allowed_patterns: serde_json::from_value(patterns)
            .map_err(|e| StoreError::Corrupt(format!("eab_keys.allowed_patterns: {e}")))?,
        scm_org_id: row.try_get("scm_org_id")?,
        profiles: serde_json::from_value(profiles)
            .map_err(|e| StoreError::Corrupt(format!("eab_keys.profiles: {e}")))?,
        trust_scm_dcv: row.try_get("trust_scm_dcv")?,
        single_use: row.try_get("single_use")?,
        created_at: row.try_get("created_at")?,
        used_at: row.try_get("used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Stores a new EAB key.
    pub async fn create_eab_key(&self, key: &EabKey) -> Result<()> {
        sqlx::query(
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
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The key with this kid, revoked or not.
    pub async fn eab_key(&self, kid: &str) -> Result<Option<EabKey>> {
        let row = sqlx::query(&format!(
            "SELECT {EAB_COLUMNS} FROM eab_keys WHERE kid = $1"
        ))
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(eab_from_row).transpose()
    }

    /// Every key, oldest first.
    pub async fn list_eab_keys(&self) -> Result<Vec<EabKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {EAB_COLUMNS} FROM eab_keys ORDER BY created_at, kid"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(eab_from_row).collect()
    }

    /// Revokes a key so no new account can bind with it; `false` if unknown or already revoked.
    pub async fn revoke_eab_key(&self, kid: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE eab_keys SET revoked_at = now() WHERE kid = $1 AND revoked_at IS NULL",
        )
        .bind(kid)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
