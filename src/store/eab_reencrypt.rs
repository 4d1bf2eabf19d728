//! Bringing stored EAB keys under the configured encryption key: plaintext rows (written before a
//! key was configured) are sealed, and with the previous key given, rows sealed under it are
//! sealed again under the new one. Every row is checked before any is written, and all are
//! written in one transaction: a run either converts every row or changes nothing.

use super::eab::StoredEab;
use super::eab_crypto::{EabCipher, KeyFormat};
use super::{Result, Store, StoreError};

/// What [`Store::encrypt_eab_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EabEncryption {
    /// Plaintext rows now sealed.
    pub encrypted: usize,
    /// Rows sealed under the old key, now under the configured one.
    pub reencrypted: usize,
    /// Rows already sealed under the configured key.
    pub unchanged: usize,
}

impl Store {
    /// Seals every plaintext HMAC key with the configured encryption key and, with `old`, moves
    /// rows sealed under `old` to it. Fails without writing anything when no encryption key is
    /// configured or a row opens with neither key.
    pub async fn encrypt_eab_keys(&self, old: Option<&EabCipher>) -> Result<EabEncryption> {
        let cipher = self
            .eab_cipher
            .clone()
            .ok_or(StoreError::EabEncryptionNotConfigured)?;
        let mut done = EabEncryption::default();
        let mut writes = Vec::new();
        for StoredEab { key, format } in self.stored_eab_keys().await? {
            let plain = match format {
                KeyFormat::Plain => {
                    done.encrypted += 1;
                    key.hmac_key.clone()
                }
                KeyFormat::XChaCha20Poly1305 => {
                    if cipher.open(&key.kid, &key.hmac_key).is_some() {
                        done.unchanged += 1;
                        continue;
                    }
                    let opened = old.and_then(|o| o.open(&key.kid, &key.hmac_key));
                    done.reencrypted += 1;
                    opened.ok_or_else(|| StoreError::EabKeyUndecryptable(key.kid.clone()))?
                }
            };
            let sealed = cipher.seal(&key.kid, &plain);
            writes.push((key.kid, key.hmac_key, format, sealed));
        }
        let mut tx = self.db.begin().await?;
        for (kid, before, format, sealed) in writes {
            // Conditional on the row being as read: a concurrent run leaves it to that one.
            let q = tx
                .query(
                    "UPDATE eab_keys SET hmac_key = $2, hmac_key_format = $3 \
                     WHERE kid = $1 AND hmac_key = $4 AND hmac_key_format = $5",
                )
                .bind(kid)
                .bind(sealed)
                .bind(KeyFormat::XChaCha20Poly1305.as_str())
                .bind(before)
                .bind(format.as_str());
            tx.execute(q).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// How many EAB keys are stored in plaintext (a warning at start when a key is configured).
    pub async fn count_plaintext_eab_keys(&self) -> Result<i64> {
        let q = self
            .db
            .query("SELECT count(*) AS n FROM eab_keys WHERE hmac_key_format = $1")
            .bind(KeyFormat::Plain.as_str());
        self.db.fetch_one(q).await?.get("n")
    }
}
