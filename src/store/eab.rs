//! External Account Binding keys. HMAC keys are sealed on the way in and opened on the way out
//! when an encryption key is configured (see `eab_crypto`): callers always see the plain key.

use super::eab_crypto::KeyFormat;
use super::{from_json, DbRow, Result, Store, StoreError};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent, EabKey};
use chrono::{DateTime, Utc};

const EAB_COLUMNS: &str = "kid, hmac_key, hmac_key_format, label, allowed_patterns, scm_org_id, \
                           profiles, trust_scm_dcv, single_use, created_at, used_at, revoked_at, \
                           accounts_stopped";

/// A row as stored: `key.hmac_key` is still in `format`.
pub(super) struct StoredEab {
    /// The row, with `hmac_key` as stored.
    pub key: EabKey,
    /// How `key.hmac_key` holds the HMAC key.
    pub format: KeyFormat,
}

fn eab_from_row(row: &DbRow) -> Result<StoredEab> {
    let format: String = row.get("hmac_key_format")?;
    let format = KeyFormat::parse(&format)
        .ok_or_else(|| StoreError::Corrupt(format!("eab_keys.hmac_key_format {format:?}")))?;
    let key = EabKey {
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
    };
    Ok(StoredEab { key, format })
}

impl Store {
    /// The HMAC key as it is to be stored for `kid`: sealed when an encryption key is configured.
    pub(super) fn seal_hmac(&self, kid: &str, hmac_key: &[u8]) -> (Vec<u8>, KeyFormat) {
        match &self.eab_cipher {
            Some(c) => (c.seal(kid, hmac_key), KeyFormat::XChaCha20Poly1305),
            None => (hmac_key.to_vec(), KeyFormat::Plain),
        }
    }

    /// The key of a stored row with its plain HMAC key; an error naming the setting when the
    /// configured encryption key (or its absence) cannot open it.
    pub(super) fn unseal(&self, stored: StoredEab) -> Result<EabKey> {
        let StoredEab { mut key, format } = stored;
        if format == KeyFormat::XChaCha20Poly1305 {
            let cipher = self
                .eab_cipher
                .as_ref()
                .ok_or_else(|| StoreError::EabKeyLocked(key.kid.clone()))?;
            key.hmac_key = cipher
                .open(&key.kid, &key.hmac_key)
                .ok_or_else(|| StoreError::EabKeyUndecryptable(key.kid.clone()))?;
        }
        Ok(key)
    }

    /// Stores a new EAB key (its HMAC key sealed when an encryption key is configured), made on
    /// the server's command line.
    pub async fn create_eab_key(&self, key: &EabKey) -> Result<()> {
        self.create_eab_key_by(key, &Actor::Cli).await
    }

    /// Stores a new EAB key and records who made it (never the HMAC key), in one transaction.
    pub async fn create_eab_key_by(&self, key: &EabKey, actor: &Actor) -> Result<()> {
        let (hmac_key, format) = self.seal_hmac(&key.kid, &key.hmac_key);
        let mut tx = self.db.begin().await?;
        let q = tx
            .query(
                "INSERT INTO eab_keys (kid, hmac_key, hmac_key_format, label, allowed_patterns, \
                 scm_org_id, profiles, trust_scm_dcv, single_use, created_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            )
            .bind(&key.kid)
            .bind(hmac_key)
            .bind(format.as_str())
            .bind(&key.label)
            .bind(serde_json::json!(key.allowed_patterns))
            .bind(key.scm_org_id)
            .bind(serde_json::json!(key.profiles))
            .bind(key.trust_scm_dcv)
            .bind(key.single_use)
            .bind(key.created_at);
        tx.execute(q).await?;
        let ev = AuditEvent::new(kind::EAB_CREATED, actor.clone())
            .eab(Some(&key.kid))
            .details(serde_json::json!({
                "label": key.label,
                "allowed_patterns": key.allowed_patterns,
                "scm_org_id": key.scm_org_id,
                "profiles": key.profiles,
                "trust_scm_dcv": key.trust_scm_dcv,
                "single_use": key.single_use,
            }));
        Self::record_event(&mut tx, &ev, key.created_at).await?;
        tx.commit().await
    }

    /// Replaces a key's HMAC key (a leaked HMAC, the kid and its accounts kept). `false` when
    /// the key is unknown or revoked.
    pub async fn rotate_eab_hmac(
        &self,
        kid: &str,
        hmac_key: &[u8],
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (sealed, format) = self.seal_hmac(kid, hmac_key);
        let mut tx = self.db.begin().await?;
        let q = tx
            .query(
                "UPDATE eab_keys SET hmac_key = $2, hmac_key_format = $3 \
                 WHERE kid = $1 AND revoked_at IS NULL",
            )
            .bind(kid)
            .bind(sealed)
            .bind(format.as_str());
        if tx.execute(q).await? != 1 {
            return Ok(false);
        }
        let ev = AuditEvent::new(kind::EAB_HMAC_ROTATED, actor.clone()).eab(Some(kid));
        Self::record_event(&mut tx, &ev, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The key with this kid, revoked or not.
    pub async fn eab_key(&self, kid: &str) -> Result<Option<EabKey>> {
        let sql = format!("SELECT {EAB_COLUMNS} FROM eab_keys WHERE kid = $1");
        match self.db.find(&sql, kid, eab_from_row).await? {
            Some(stored) => self.unseal(stored).map(Some),
            None => Ok(None),
        }
    }

    /// Every key, oldest first (stored, not yet opened): for re-encryption.
    pub(super) async fn stored_eab_keys(&self) -> Result<Vec<StoredEab>> {
        let sql = format!("SELECT {EAB_COLUMNS} FROM eab_keys ORDER BY created_at, kid");
        let rows = self.db.fetch_all(self.db.query(&sql)).await?;
        rows.iter().map(eab_from_row).collect()
    }

    /// Every key, oldest first.
    pub async fn list_eab_keys(&self) -> Result<Vec<EabKey>> {
        let sql = format!("SELECT {EAB_COLUMNS} FROM eab_keys ORDER BY created_at, kid");
        let rows = self.db.fetch_all(self.db.query(&sql)).await?;
        rows.iter()
            .map(|r| eab_from_row(r).and_then(|s| self.unseal(s)))
            .collect()
    }

    /// Revokes a key: no new account can bind with it, and with [`EabRevocation::StopAccounts`]
    /// the accounts bound to it may no longer order. Revoking a key revoked with
    /// `KeepAccounts` again with `StopAccounts` stops its accounts (and keeps the first
    /// `revoked_at`). `false` when the key is unknown or nothing changed.
    pub async fn revoke_eab_key(
        &self,
        kid: &str,
        how: EabRevocation,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.revoke_eab_key_by(kid, how, &Actor::Cli, now).await
    }

    /// [`Store::revoke_eab_key`], recording who revoked the key when something changed.
    pub async fn revoke_eab_key_by(
        &self,
        kid: &str,
        how: EabRevocation,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let stop = how == EabRevocation::StopAccounts;
        let mut tx = self.db.begin().await?;
        let q = tx
            .query(
                "UPDATE eab_keys SET revoked_at = COALESCE(revoked_at, $2), \
                 accounts_stopped = (accounts_stopped OR $3) \
                 WHERE kid = $1 AND (revoked_at IS NULL OR ($3 AND NOT accounts_stopped))",
            )
            .bind(kid)
            .bind(now)
            .bind(stop);
        if tx.execute(q).await? != 1 {
            return Ok(false);
        }
        let ev = AuditEvent::new(kind::EAB_REVOKED, actor.clone())
            .eab(Some(kid))
            .details(serde_json::json!({ "accounts_stopped": stop }));
        Self::record_event(&mut tx, &ev, now).await?;
        tx.commit().await?;
        Ok(true)
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
