//! Reads of authorizations and challenges.

use super::authz_rows::*;
use super::{parse_status, Result, Store};
use crate::model::{Authorization, AuthzStatus, Challenge, Identifier};
use chrono::{DateTime, Utc};

impl Store {
    /// The authorization with its challenges (one statement: a row per challenge).
    pub async fn authorization(&self, id: &str) -> Result<Option<Authorization>> {
        let sql = format!(
            "SELECT {AUTHZ_JOINED_COLUMNS} FROM authorizations a \
             LEFT JOIN challenges c ON c.authz_id = a.id WHERE a.id = $1 ORDER BY c.position"
        );
        let rows = self.db.fetch_all(self.db.query(&sql).bind(id)).await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut authz = authz_from_row(first)?;
        for row in &rows {
            if let Some(c) = joined_challenge(row)? {
                authz.challenges.push(c);
            }
        }
        Ok(Some(authz))
    }

    /// When this account's most recent validations failed, newest first: at most `limit` of
    /// those that failed at or after `since` (the failed-validation limit needs no more).
    pub async fn failed_validations(
        &self,
        account_id: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DateTime<Utc>>> {
        let q = self
            .db
            .query(
                "SELECT c.validated_at FROM challenges c JOIN authorizations a ON a.id = c.authz_id \
                 WHERE c.status = 'invalid' AND c.validated_at >= $2 AND a.account_id = $1 \
                 ORDER BY c.validated_at DESC LIMIT $3",
            )
            .bind(account_id)
            .bind(since)
            .bind(limit);
        let rows = self.db.fetch_all(q).await?;
        rows.iter().map(|r| r.get("validated_at")).collect()
    }

    /// The statuses and expiries of several authorizations (for order status).
    pub async fn authz_states(&self, ids: &[String]) -> Result<Vec<(AuthzStatus, DateTime<Utc>)>> {
        // The ids travel as one JSON array, a form both backends can unpack in order.
        let sql = self.db.dialect().pick(
            "SELECT a.status, a.expires_at FROM jsonb_array_elements_text($1) \
             WITH ORDINALITY AS i(id, n) JOIN authorizations a ON a.id = i.id ORDER BY i.n",
            "SELECT a.status, a.expires_at FROM json_each($1) AS i \
             JOIN authorizations a ON a.id = i.value ORDER BY i.key",
        );
        let q = self.db.query(sql).bind(serde_json::json!(ids));
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                let s: String = r.get("status")?;
                Ok((
                    parse_status(&s, AuthzStatus::parse, "authorization")?,
                    r.get("expires_at")?,
                ))
            })
            .collect()
    }

    /// A valid authorization of this account for this identifier, validated after `since` and still
    /// valid at `until` (the new order's expiry).
    pub async fn find_reusable_authz(
        &self,
        account_id: &str,
        identifier: &Identifier,
        wildcard: bool,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let q = self
            .db
            .query(
                "SELECT id FROM authorizations WHERE account_id = $1 AND identifier_type = $2 \
                 AND identifier_value = $3 AND wildcard = $4 AND status = 'valid' \
                 AND validated_at > $5 AND expires_at > $6 ORDER BY validated_at DESC LIMIT 1",
            )
            .bind(account_id)
            .bind(&identifier.kind)
            .bind(&identifier.value)
            .bind(wildcard)
            .bind(since)
            .bind(until);
        let row = self.db.fetch_optional(q).await?;
        row.map(|r| r.get("id")).transpose()
    }

    /// The challenge with this id.
    pub async fn challenge(&self, id: &str) -> Result<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = $1");
        self.db.find(&sql, id, challenge_from_row).await
    }
}
