//! Authorizations and challenges, and the transactions that start and finish validations.

use super::db::Tx;
use super::query::{placeholders, Dialect, Query};
use super::DbRow;
use super::{parse_status, Result, StartChallenge, Store, ValidationOutcome};
use crate::model::{Authorization, AuthzStatus, Challenge, ChallengeStatus, Identifier, JobKind};
use chrono::{DateTime, Utc};

/// The authorization's columns (as `authz_from_row` reads them) and its challenges' under `c_` names.
const AUTHZ_JOINED_COLUMNS: &str = "a.id, a.account_id, a.identifier_type, a.identifier_value, \
     a.wildcard, a.status, a.expires_at, a.validated_at, c.id AS c_id, c.type AS c_type, \
     c.token AS c_token, c.status AS c_status, c.validated_at AS c_validated_at, \
     c.error AS c_error, c.validation_record AS c_validation_record";
const CHALLENGE_COLUMNS: &str =
    "id, authz_id, type, token, status, validated_at, error, validation_record";

fn authz_from_row(row: &DbRow) -> Result<Authorization> {
    let status: String = row.get("status")?;
    Ok(Authorization {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        identifier: Identifier {
            kind: row.get("identifier_type")?,
            value: row.get("identifier_value")?,
        },
        wildcard: row.get("wildcard")?,
        status: parse_status(&status, AuthzStatus::parse, "authorization")?,
        expires_at: row.get("expires_at")?,
        validated_at: row.get("validated_at")?,
        challenges: Vec::new(),
    })
}

fn challenge_from_row(row: &DbRow) -> Result<Challenge> {
    let status: String = row.get("status")?;
    Ok(Challenge {
        id: row.get("id")?,
        authz_id: row.get("authz_id")?,
        kind: row.get("type")?,
        token: row.get("token")?,
        status: parse_status(&status, ChallengeStatus::parse, "challenge")?,
        validated_at: row.get("validated_at")?,
        error: row.get("error")?,
        validation_record: row.get("validation_record")?,
    })
}

/// The challenge in a row of the joined authorization query; `None` for an authorization without
/// challenges.
fn joined_challenge(row: &DbRow) -> Result<Option<Challenge>> {
    let Some(id) = row.get::<Option<String>, _>("c_id")? else {
        return Ok(None);
    };
    let status: String = row.get("c_status")?;
    Ok(Some(Challenge {
        id,
        authz_id: row.get("id")?,
        kind: row.get("c_type")?,
        token: row.get("c_token")?,
        status: parse_status(&status, ChallengeStatus::parse, "challenge")?,
        validated_at: row.get("c_validated_at")?,
        error: row.get("c_error")?,
        validation_record: row.get("c_validation_record")?,
    }))
}

/// Columns of a new authorization, in the order [`bind_authorizations`] binds them (8).
pub(super) const AUTHZ_INSERT_COLUMNS: &str = "id, account_id, identifier_type, identifier_value, \
     wildcard, status, expires_at, validated_at";
/// Columns of a new challenge, in the order [`bind_challenges`] binds them (6).
pub(super) const CHALLENGE_INSERT_COLUMNS: &str = "id, authz_id, type, token, status, position";

/// A challenge to insert: its position in its authorization, itself, its authorization's id.
pub(super) type ChallengeRow<'a> = (usize, &'a Challenge, &'a str);

/// Binds the rows of new authorizations (see [`AUTHZ_INSERT_COLUMNS`]).
pub(super) fn bind_authorizations<'q>(mut q: Query<'q>, authzs: &[&'q Authorization]) -> Query<'q> {
    for a in authzs {
        q = q
            .bind(&a.id)
            .bind(&a.account_id)
            .bind(&a.identifier.kind)
            .bind(&a.identifier.value)
            .bind(a.wildcard)
            .bind(a.status.as_str())
            .bind(a.expires_at)
            .bind(a.validated_at);
    }
    q
}

/// Every challenge of these authorizations, in insert order.
pub(super) fn challenge_rows<'a>(authzs: &[&'a Authorization]) -> Vec<ChallengeRow<'a>> {
    authzs
        .iter()
        .flat_map(|a| {
            a.challenges
                .iter()
                .enumerate()
                .map(|(position, c)| (position, c, a.id.as_str()))
        })
        .collect()
}

/// Binds the rows of new challenges (see [`CHALLENGE_INSERT_COLUMNS`]).
pub(super) fn bind_challenges<'q>(mut q: Query<'q>, rows: &[ChallengeRow<'q>]) -> Query<'q> {
    for (position, c, authz_id) in rows {
        q = q
            .bind(&c.id)
            .bind(*authz_id)
            .bind(&c.kind)
            .bind(&c.token)
            .bind(c.status.as_str())
            .bind(*position as i32);
    }
    q
}

impl Store {
    /// Inserts new authorizations and all their challenges: two statements however many.
    pub(super) async fn insert_authorizations(
        tx: &mut Tx,
        authzs: &[&Authorization],
    ) -> Result<()> {
        if authzs.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO authorizations ({AUTHZ_INSERT_COLUMNS}) VALUES {}",
            placeholders(authzs.len(), 8)
        );
        tx.execute(bind_authorizations(tx.query(&sql), authzs))
            .await?;
        let challenges = challenge_rows(authzs);
        if challenges.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO challenges ({CHALLENGE_INSERT_COLUMNS}) VALUES {}",
            placeholders(challenges.len(), 6)
        );
        tx.execute(bind_challenges(tx.query(&sql), &challenges))
            .await?;
        Ok(())
    }

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

    /// Moves a pending challenge of a pending, unexpired authorization to `processing` and records
    /// its validation job, in one transaction (the job cannot be lost, nor run twice).
    ///
    /// The authorization row is locked first: without it, concurrent responses to different
    /// challenges of one authorization each saw no sibling `processing` (their updates were not yet
    /// committed) and all started, so one authorization got several validations whose outcomes
    /// could contradict each other.
    pub async fn start_challenge(
        &self,
        challenge_id: &str,
        now: DateTime<Utc>,
    ) -> Result<StartChallenge> {
        let mut tx = self.db.begin().await?;
        if tx.dialect() == Dialect::Postgres {
            let q = tx
                .query(
                    "SELECT a.id FROM authorizations a JOIN challenges c ON c.authz_id = a.id \
                     WHERE c.id = $1 FOR UPDATE OF a",
                )
                .bind(challenge_id);
            tx.fetch_optional(q).await?;
        }
        let q = tx
            .query(
                "UPDATE challenges SET status = 'processing' \
                 WHERE id = $1 AND status = 'pending' \
                 AND EXISTS (SELECT 1 FROM authorizations a WHERE a.id = challenges.authz_id \
                             AND a.status = 'pending' AND a.expires_at > $2) \
                 AND NOT EXISTS (SELECT 1 FROM challenges o WHERE o.authz_id = challenges.authz_id \
                                 AND o.status = 'processing')",
            )
            .bind(challenge_id)
            .bind(now);
        if tx.execute(q).await? == 0 {
            return Ok(StartChallenge::Unchanged);
        }
        Self::enqueue_job(&mut tx, JobKind::Validate, challenge_id, now).await?;
        tx.commit().await?;
        Ok(StartChallenge::Started)
    }

    /// Records a validation's outcome on the challenge, its authorization and every order waiting on
    /// it, and deletes the job — one transaction, so a crash leaves either nothing or everything.
    ///
    /// Only a pending authorization that has not expired by `now` takes the outcome: `expired` is
    /// final (RFC 8555 §7.1.6), and a late success must not revive it with a fresh expiry (it would
    /// then be reused by new orders) nor a late failure overwrite it.
    pub async fn finish_validation(
        &self,
        job_id: i64,
        challenge_id: &str,
        outcome: &ValidationOutcome,
        valid_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT authz_id FROM challenges WHERE id = $1 AND status = 'processing' {}",
            tx.dialect().for_update()
        );
        let row = tx.fetch_optional(tx.query(&sql).bind(challenge_id)).await?;
        let authz_id: Option<String> = row.map(|r| r.get("authz_id")).transpose()?;
        if let Some(authz_id) = authz_id {
            Self::lock_orders_of(&mut tx, &authz_id).await?;
            match outcome {
                ValidationOutcome::Valid { record } => {
                    tx.execute(
                        tx.query(
                            "UPDATE challenges SET status = 'valid', validated_at = $2, \
                         validation_record = $3 WHERE id = $1",
                        )
                        .bind(challenge_id)
                        .bind(now)
                        .bind(record),
                    )
                    .await?;
                    let authz = tx.execute(tx.query(
                        "UPDATE authorizations SET status = 'valid', validated_at = $2, expires_at = $3 \
                         WHERE id = $1 AND status = 'pending' AND expires_at > $2",
                    )
                    .bind(&authz_id)
                    .bind(now)
                    .bind(valid_until)
                    )
                    .await?;
                    // Orders whose authorizations are now all valid become ready.
                    if authz > 0 {
                        tx.execute(
                            tx.query(
                                "UPDATE orders SET status = 'ready', updated_at = $2 \
                         WHERE status = 'pending' AND id IN \
                           (SELECT order_id FROM order_authorizations WHERE authz_id = $1) \
                         AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
                             JOIN authorizations a ON a.id = oa.authz_id \
                             WHERE oa.order_id = orders.id AND a.status <> 'valid')",
                            )
                            .bind(&authz_id)
                            .bind(now),
                        )
                        .await?;
                    }
                }
                ValidationOutcome::Invalid { error, record } => {
                    tx.execute(tx.query(
                        "UPDATE challenges SET status = 'invalid', error = $2, validation_record = $3, \
                         validated_at = $4 WHERE id = $1",
                    )
                    .bind(challenge_id)
                    .bind(error)
                    .bind(record)
                    .bind(now)
                    )
                    .await?;
                    let authz = tx
                        .execute(
                            tx.query(
                                "UPDATE authorizations SET status = 'invalid' WHERE id = $1 \
                         AND status = 'pending' AND expires_at > $2",
                            )
                            .bind(&authz_id)
                            .bind(now),
                        )
                        .await?;
                    // Only an authorization that was still pending fails its orders: one already
                    // valid or deactivated keeps its own outcome.
                    if authz > 0 {
                        Self::invalidate_orders_of(&mut tx, &authz_id, error, now).await?;
                    }
                }
            }
        }
        Self::finish_job(&mut tx, job_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deactivates a pending or valid authorization of this account (§7.5.2); orders waiting on it
    /// become invalid with `problem`. Returns false if it was not in a state that can be
    /// deactivated.
    pub async fn deactivate_authz(
        &self,
        id: &str,
        problem: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        Self::lock_orders_of(&mut tx, id).await?;
        let r = tx
            .execute(
                tx.query(
                    "UPDATE authorizations SET status = 'deactivated' WHERE id = $1 \
             AND status IN ('pending', 'valid')",
                )
                .bind(id),
            )
            .await?;
        if r == 0 {
            return Ok(false);
        }
        Self::invalidate_orders_of(&mut tx, id, problem, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Locks the orders that use an authorization, in id order, before the authorization changes.
    ///
    /// Without it, two validations finishing at once for different authorizations of one order
    /// each checked "are all this order's authorizations valid?" while the other's change was not
    /// yet committed; both saw a pending sibling and the order stayed `pending` forever. Taking
    /// the order rows first makes the second transaction wait and then see the first's outcome.
    /// (SQLite needs nothing: its `BEGIN IMMEDIATE` transactions already run one at a time.)
    async fn lock_orders_of(tx: &mut Tx, authz_id: &str) -> Result<()> {
        if tx.dialect() == Dialect::Postgres {
            let q = tx
                .query(
                    "SELECT id FROM orders WHERE id IN \
                       (SELECT order_id FROM order_authorizations WHERE authz_id = $1) \
                     ORDER BY id FOR UPDATE",
                )
                .bind(authz_id);
            tx.fetch_all(q).await?;
        }
        Ok(())
    }

    /// Orders still waiting on an authorization that failed or was deactivated become invalid with
    /// its problem.
    async fn invalidate_orders_of(
        tx: &mut Tx,
        authz_id: &str,
        error: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        tx.execute(
            tx.query(
                "UPDATE orders SET status = 'invalid', error = $2, updated_at = $3 \
             WHERE status IN ('pending', 'ready') AND id IN \
               (SELECT order_id FROM order_authorizations WHERE authz_id = $1)",
            )
            .bind(authz_id)
            .bind(error)
            .bind(now),
        )
        .await?;
        Ok(())
    }
}
