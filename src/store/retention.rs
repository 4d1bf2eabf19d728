//! Retention of finished orders (`[retention]`): orders that finished (valid, invalid) or expired
//! (pending, ready) before a cut-off lose their authorizations and challenges, in small batches of
//! one short transaction each. The order row itself goes too, unless an enrollment or a
//! certificate references it: those are kept for good, and so is the order they belong to (its
//! `authorizations` list is then empty and `purged_at` is set). An authorization another, newer
//! order still links to (authorization reuse) stays with that order.

use super::db::Tx;
use super::query::Dialect;
use super::{Result, Store};
use chrono::{DateTime, Utc};

/// Rows one purge batch removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Orders looked at in this batch (deleted, or kept without authorizations).
    pub orders_examined: u64,
    /// Order rows deleted.
    pub orders: u64,
    /// Authorization rows deleted.
    pub authorizations: u64,
    /// Challenge rows deleted.
    pub challenges: u64,
}

impl Purged {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Purged) {
        self.orders_examined += other.orders_examined;
        self.orders += other.orders;
        self.authorizations += other.authorizations;
        self.challenges += other.challenges;
    }
}

/// `IN (…)` over a JSON array of ids bound as one argument, spelled for each backend.
fn in_json(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("(SELECT jsonb_array_elements_text(${n}))"),
        Dialect::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
    }
}

impl Store {
    /// Purges one batch of at most `batch` orders that finished or expired before `cutoff`;
    /// `now` stamps the orders kept. Returns what went; fewer than `batch` orders examined means
    /// nothing is left to do.
    pub async fn purge_finished_orders(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
        now: DateTime<Utc>,
    ) -> Result<Purged> {
        // Candidates are read outside the transaction (a plain indexed read); the transaction
        // re-checks nothing it does not need to: every statement below is safe on rows another
        // replica already purged.
        let mut ids = self.retention_candidates(cutoff, batch).await?;
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Purged::default());
        }
        let ids_json = serde_json::json!(ids);
        let mut tx = self.db.begin().await?;
        let purged = Self::purge_batch(&mut tx, &ids_json, ids.len() as u64, now).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Orders finished before `cutoff` (by `updated_at`), then expired before it, not yet purged.
    async fn retention_candidates(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for sql in [
            "SELECT id FROM orders WHERE purged_at IS NULL AND status IN ('valid', 'invalid') \
             AND updated_at < $1 ORDER BY updated_at LIMIT $2",
            "SELECT id FROM orders WHERE purged_at IS NULL AND status IN ('pending', 'ready') \
             AND expires_at < $1 ORDER BY expires_at LIMIT $2",
        ] {
            let left = batch - ids.len() as i64;
            if left <= 0 {
                break;
            }
            let rows = self
                .db
                .fetch_all(self.db.query(sql).bind(cutoff).bind(left))
                .await?;
            for r in &rows {
                ids.push(r.get::<String, _>("id")?);
            }
        }
        Ok(ids)
    }

    async fn purge_batch(
        tx: &mut Tx,
        ids: &serde_json::Value,
        examined: u64,
        now: DateTime<Utc>,
    ) -> Result<Purged> {
        let d = tx.dialect();
        let orders_in = in_json(d, 1);
        // The authorizations these orders link to, before the links go.
        let sql = format!(
            "SELECT DISTINCT authz_id FROM order_authorizations WHERE order_id IN {orders_in}"
        );
        let rows = tx.fetch_all(tx.query(&sql).bind(ids)).await?;
        let authz: Vec<String> = rows
            .iter()
            .map(|r| r.get("authz_id"))
            .collect::<Result<_>>()?;
        let sql = format!("DELETE FROM order_authorizations WHERE order_id IN {orders_in}");
        tx.execute(tx.query(&sql).bind(ids)).await?;

        // Those no other order links to any more go, with their challenges and any leftover
        // validation job.
        let authz_in = in_json(d, 1);
        let sql = format!(
            "SELECT id FROM authorizations WHERE id IN {authz_in} AND NOT EXISTS \
             (SELECT 1 FROM order_authorizations oa WHERE oa.authz_id = authorizations.id)"
        );
        let rows = tx
            .fetch_all(tx.query(&sql).bind(serde_json::json!(authz)))
            .await?;
        let gone: Vec<String> = rows.iter().map(|r| r.get("id")).collect::<Result<_>>()?;
        let gone = serde_json::json!(gone);
        let sql = format!(
            "DELETE FROM jobs WHERE kind = 'validate' AND subject_id IN \
             (SELECT id FROM challenges WHERE authz_id IN {authz_in})"
        );
        tx.execute(tx.query(&sql).bind(&gone)).await?;
        let sql = format!("DELETE FROM challenges WHERE authz_id IN {authz_in}");
        let challenges = tx.execute(tx.query(&sql).bind(&gone)).await?;
        let sql = format!("DELETE FROM authorizations WHERE id IN {authz_in}");
        let authorizations = tx.execute(tx.query(&sql).bind(&gone)).await?;

        // Orders nothing kept refers to go; the others stay, marked.
        let sql = format!(
            "DELETE FROM orders WHERE id IN {orders_in} \
             AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.order_id = orders.id) \
             AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.order_id = orders.id)"
        );
        let orders = tx.execute(tx.query(&sql).bind(ids)).await?;
        let sql = format!("UPDATE orders SET purged_at = $2 WHERE id IN {orders_in}");
        tx.execute(tx.query(&sql).bind(ids).bind(now)).await?;
        Ok(Purged {
            orders_examined: examined,
            orders,
            authorizations,
            challenges,
        })
    }
}
