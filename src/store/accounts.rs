//! ACME accounts.

use super::{
    is_unique_violation, CreateAccountOutcome, DbRow, KeyChangeOutcome, NewAccount, Result, Store,
    StoreError,
};
use crate::model::audit::kind;
use crate::model::{Account, AccountStatus, Actor, AuditEvent};
use chrono::{DateTime, Utc};

pub(super) const ACCOUNT_COLUMNS: &str =
    "id, key_thumbprint, jwk, status, contact, tos_agreed, eab_kid, eab_binding, created_at";

pub(super) fn account_from_row(row: &DbRow) -> Result<Account> {
    let status: String = row.get("status")?;
    Ok(Account {
        id: row.get("id")?,
        key_thumbprint: row.get("key_thumbprint")?,
        jwk: row.get("jwk")?,
        status: AccountStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("account status {status:?}")))?,
        contact: super::from_json(row.get("contact")?, "accounts.contact")?,
        tos_agreed: row.get("tos_agreed")?,
        eab_kid: row.get("eab_kid")?,
        eab_binding: row.get("eab_binding")?,
        created_at: row.get("created_at")?,
    })
}

impl Store {
    /// The account with this id.
    pub async fn account(&self, id: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        self.db.find(&sql, id, account_from_row).await
    }

    /// Redeems a nonce (see [`Store::redeem_nonce`]) and reads an account, in one round-trip on
    /// PostgreSQL. Returns whether the nonce was fresh, and the account if it exists.
    pub async fn redeem_nonce_and_read_account(
        &self,
        nonce_hash: &str,
        expires_at: DateTime<Utc>,
        account_id: &str,
    ) -> Result<(bool, Option<Account>)> {
        if !self.one_statement() {
            let fresh = self.redeem_nonce(nonce_hash, expires_at).await?;
            return Ok((fresh, self.account(account_id).await?));
        }
        let sql = format!(
            "WITH n AS (INSERT INTO nonce_redemptions (nonce_hash, expires_at) VALUES ($1, $2) \
                        ON CONFLICT (nonce_hash) DO NOTHING RETURNING 1) \
             SELECT (SELECT count(*) FROM n) AS fresh, {ACCOUNT_COLUMNS} \
             FROM (SELECT 1) AS one LEFT JOIN accounts ON accounts.id = $3"
        );
        let q = self
            .db
            .query(&sql)
            .bind(nonce_hash)
            .bind(expires_at)
            .bind(account_id);
        let row = self.db.fetch_one(q).await?;
        let fresh = row.get::<i64, _>("fresh")? == 1;
        let account = match row.get::<Option<String>, _>("id")? {
            Some(_) => Some(account_from_row(&row)?),
            None => None,
        };
        Ok((fresh, account))
    }

    /// The account whose key has this RFC 7638 thumbprint.
    pub async fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE key_thumbprint = $1");
        self.db.find(&sql, thumbprint, account_from_row).await
    }

    /// Creates an account. With an EAB kid, the key is checked (not revoked; unused if single-use)
    /// and marked used in the same transaction, so a single-use key binds exactly one account even
    /// under concurrent requests. A key registered concurrently yields `KeyExists`.
    pub async fn create_account(
        &self,
        new: &NewAccount,
        now: DateTime<Utc>,
    ) -> Result<CreateAccountOutcome> {
        let mut tx = self.db.begin().await?;
        if let Some(kid) = &new.eab_kid {
            let q = tx
                .query(
                    "UPDATE eab_keys SET used_at = COALESCE(used_at, $2) \
                     WHERE kid = $1 AND revoked_at IS NULL AND (NOT single_use OR used_at IS NULL)",
                )
                .bind(kid)
                .bind(now);
            if tx.execute(q).await? != 1 {
                return Ok(CreateAccountOutcome::EabUnusable);
            }
        }
        let sql = format!(
            "INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, eab_kid, \
             eab_binding, created_at, updated_at) VALUES ($1, $2, $3, 'valid', $4, $5, $6, $8, $7, $7) \
             RETURNING {ACCOUNT_COLUMNS}"
        );
        let q = tx
            .query(&sql)
            .bind(&new.id)
            .bind(&new.key_thumbprint)
            .bind(&new.jwk)
            .bind(serde_json::json!(new.contact))
            .bind(new.tos_agreed)
            .bind(&new.eab_kid)
            .bind(now)
            .bind(&new.eab_binding);
        match tx.fetch_one(q).await {
            Ok(row) => {
                let account = account_from_row(&row)?;
                let ev = AuditEvent::new(kind::ACCOUNT_CREATED, Actor::Account(account.id.clone()))
                    .account(&account.id)
                    .eab(account.eab_kid.as_ref())
                    .details(serde_json::json!({ "contact": new.contact }));
                Self::record_event(&mut tx, &ev, now).await?;
                tx.commit().await?;
                Ok(CreateAccountOutcome::Created(account))
            }
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                tx.rollback().await?;
                match self.account_by_thumbprint(&new.key_thumbprint).await? {
                    Some(a) => Ok(CreateAccountOutcome::KeyExists(a)),
                    None => Err(StoreError::Database(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the contact list of a valid account; `None` if the account is not valid.
    pub async fn update_account_contact(
        &self,
        id: &str,
        contact: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<Account>> {
        let sql = format!(
            "UPDATE accounts SET contact = $2, updated_at = $3 WHERE id = $1 AND status = 'valid' \
             RETURNING {ACCOUNT_COLUMNS}"
        );
        let q = self
            .db
            .query(&sql)
            .bind(id)
            .bind(serde_json::json!(contact))
            .bind(now);
        let row = self.db.fetch_optional(q).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Deactivates an account (RFC 8555 §7.3.6) on its own request. Idempotent; returns the
    /// account as it now is.
    pub async fn deactivate_account(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>> {
        self.deactivate_account_by(id, &Actor::Account(id.to_string()), now)
            .await
    }

    /// Deactivates an account, recording who did it (the account itself or an operator) when
    /// its status changed. Idempotent; returns the account as it now is.
    pub async fn deactivate_account_by(
        &self,
        id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>> {
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "UPDATE accounts SET status = 'deactivated', updated_at = $2 \
             WHERE id = $1 AND status <> 'deactivated' RETURNING {ACCOUNT_COLUMNS}"
        );
        let row = tx.fetch_optional(tx.query(&sql).bind(id).bind(now)).await?;
        let account = match row {
            Some(row) => {
                let ev = AuditEvent::new(kind::ACCOUNT_DEACTIVATED, actor.clone()).account(id);
                Self::record_event(&mut tx, &ev, now).await?;
                Some(account_from_row(&row)?)
            }
            None => {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
                let row = tx.fetch_optional(tx.query(&sql).bind(id)).await?;
                row.as_ref().map(account_from_row).transpose()?
            }
        };
        tx.commit().await?;
        Ok(account)
    }

    /// Rolls the account over to a new key, provided its key is still `old_thumbprint`. The unique
    /// thumbprint makes two accounts racing for the same new key end with one winner.
    pub async fn change_account_key(
        &self,
        id: &str,
        old_thumbprint: &str,
        new_thumbprint: &str,
        new_jwk: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<KeyChangeOutcome> {
        let sql = format!(
            "UPDATE accounts SET key_thumbprint = $3, jwk = $4, updated_at = $5 \
             WHERE id = $1 AND key_thumbprint = $2 AND status = 'valid' RETURNING {ACCOUNT_COLUMNS}"
        );
        let mut tx = self.db.begin().await?;
        let q = tx
            .query(&sql)
            .bind(id)
            .bind(old_thumbprint)
            .bind(new_thumbprint)
            .bind(new_jwk)
            .bind(now);
        match tx.fetch_optional(q).await {
            Ok(Some(row)) => {
                let ev = AuditEvent::new(kind::ACCOUNT_KEY_CHANGED, Actor::Account(id.into()))
                    .account(id)
                    .details(serde_json::json!({
                        "old_thumbprint": old_thumbprint,
                        "new_thumbprint": new_thumbprint,
                    }));
                Self::record_event(&mut tx, &ev, now).await?;
                tx.commit().await?;
                Ok(KeyChangeOutcome::Changed(Box::new(account_from_row(&row)?)))
            }
            Ok(None) => Ok(KeyChangeOutcome::Stale),
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                tx.rollback().await?;
                match self.account_by_thumbprint(new_thumbprint).await? {
                    Some(other) => Ok(KeyChangeOutcome::KeyInUse {
                        account_id: other.id,
                    }),
                    None => Ok(KeyChangeOutcome::Stale),
                }
            }
            Err(e) => Err(e),
        }
    }
}
