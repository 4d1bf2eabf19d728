//! The audit trail: the insert every recorded change adds to its own transaction, and the
//! searches the admin API, the console and `audit export` run. Rows are never updated or deleted
//! here (the tables' triggers refuse it).

use super::db::Tx;
use super::query::like_escaped;
use super::query::Query;
use super::{DbRow, Result, Store};
use crate::model::{Actor, AuditEvent, AuditQuery, AuditRecord};
use chrono::{DateTime, Utc};

/// The columns an event insert fills, in [`bind_event`]'s order (9 values).
pub(super) const AUDIT_INSERT_COLUMNS: &str =
    "at, kind, actor, account_id, eab_kid, order_id, serial, names, details";

/// How many values [`bind_event`] binds.
pub(super) const AUDIT_INSERT_ARITY: usize = 9;

/// Binds an event's [`AUDIT_INSERT_COLUMNS`]: shared by the transaction inserts and the
/// PostgreSQL one-statement paths.
pub(super) fn bind_event<'q>(q: Query<'q>, ev: &'q AuditEvent, now: DateTime<Utc>) -> Query<'q> {
    q.bind(now)
        .bind(ev.kind)
        .bind((ev.actor != Actor::OrderOwner).then(|| ev.actor.as_text()))
        .bind(&ev.account_id)
        .bind(&ev.eab_kid)
        .bind(&ev.order_id)
        .bind(&ev.serial)
        .bind(&ev.names)
        .bind(&ev.details)
}

fn record_from_row(row: &DbRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get("id")?,
        at: row.get("at")?,
        kind: row.get("kind")?,
        actor: row.get("actor")?,
        account_id: row.get("account_id")?,
        eab_kid: row.get("eab_kid")?,
        order_id: row.get("order_id")?,
        serial: row.get("serial")?,
        names: row.get("names")?,
        details: row.get("details")?,
    })
}

/// The nine values of one event whose parameters start at `$first` (a `VALUES` row or a
/// `SELECT` list): an event that names an order but no account, EAB key or names gets them from
/// the order's and its account's rows, so every event is searchable by all four.
pub(super) fn event_values(first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    let account = format!(
        "COALESCE({}, (SELECT o.account_id FROM orders o WHERE o.id = {}))",
        p(3),
        p(5)
    );
    format!(
        "{at}, {kind}, COALESCE({actor}, 'account:' || {account}), {account}, \
         COALESCE({eab}, (SELECT a.eab_kid FROM accounts a WHERE a.id = {account})), \
         {order}, {serial}, \
         COALESCE({names}, (SELECT o.identifiers_key FROM orders o WHERE o.id = {order})), {details}",
        at = p(0),
        kind = p(1),
        actor = p(2),
        eab = p(4),
        order = p(5),
        serial = p(6),
        names = p(7),
        details = p(8),
    )
}

impl Store {
    /// Adds `ev` to the transaction of the change it records.
    pub(super) async fn record_event(
        tx: &mut Tx,
        ev: &AuditEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) VALUES ({})",
            event_values(1)
        );
        tx.execute(bind_event(tx.query(&sql), ev, now)).await?;
        Ok(())
    }

    /// Records an event that is itself the change (an operator's login, an export): its own
    /// one-row transaction.
    pub async fn record_audit_event(&self, ev: &AuditEvent, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        Self::record_event(&mut tx, ev, now).await?;
        tx.commit().await
    }

    /// Events matching `q`, oldest first, at most `q.limit`, after `q.after_id` (the cursor of
    /// the previous page).
    pub async fn audit_events(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let sql =
            "SELECT id, at, kind, actor, account_id, eab_kid, order_id, serial, names, details \
             FROM audit_events \
             WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR at < $2) \
               AND ($3 IS NULL OR eab_kid IN (SELECT kid FROM eab_keys WHERE label = $3)) \
               AND ($4 IS NULL OR account_id = $4) \
               AND ($5 IS NULL OR names LIKE '%' || $5 || '%' ESCAPE '\\') \
               AND ($6 IS NULL OR serial = $6) \
               AND id > $7 \
             ORDER BY id LIMIT $8";
        let query = self
            .db
            .query(sql)
            .bind(q.since)
            .bind(q.until)
            .bind(&q.eab_label)
            .bind(&q.account_id)
            .bind(q.name.as_deref().map(like_escaped))
            .bind(q.serial.as_deref().map(str::to_ascii_lowercase))
            .bind(q.after_id.unwrap_or(0))
            .bind(q.limit.clamp(1, 10_000));
        let rows = self.db.fetch_all(query).await?;
        rows.iter().map(record_from_row).collect()
    }
}
