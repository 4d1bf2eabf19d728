//! The validation state machine: the transactions that start a challenge, record a validation's
//! outcome on the challenge, its authorization and the orders waiting on it, and deactivate an
//! authorization.

use super::db::Tx;
use super::query::Dialect;
use super::{Result, StartChallenge, Store, ValidationOutcome};
use crate::model::{JobKind, JobLease};
use chrono::{DateTime, Utc};

impl Store {
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
        lease: &JobLease,
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
        Self::finish_job(&mut tx, lease).await?;
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
