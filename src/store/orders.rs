//! Orders and the links to their authorizations.

use super::audit::{bind_event, event_values, AUDIT_INSERT_COLUMNS};
use super::authz_rows::{
    bind_authorizations, bind_challenges, challenge_rows, ChallengeRow, AUTHZ_INSERT_COLUMNS,
    CHALLENGE_INSERT_COLUMNS,
};
use super::query::{placeholders_from, Dialect, Query};
use super::{from_json, parse_status, DbRow, NewOrder, OrderAuthz, Result, Store};
use crate::model::audit::kind;
use crate::model::status::{AuthzStatus, OrderStatus};
use crate::model::{Actor, AuditEvent, Authorization, Order};
use chrono::{DateTime, Utc};

/// The order's columns plus `[id, status, expires]` of each of its authorizations in order, as
/// one JSON array: reading and rendering an order is one round-trip.
fn order_columns(dialect: Dialect) -> &'static str {
    dialect.pick(
        "o.id, o.account_id, o.status, o.identifiers, o.profile, o.expires_at, o.error, \
         o.certificate_id, o.created_at, o.replaces, \
         COALESCE((SELECT json_agg(json_build_array(oa.authz_id, a.status, a.expires_at) \
                                   ORDER BY oa.position) \
                   FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id \
                   WHERE oa.order_id = o.id), '[]'::json) AS authzs",
        "o.id, o.account_id, o.status, o.identifiers, o.profile, o.expires_at, o.error, \
         o.certificate_id, o.created_at, o.replaces, \
         (SELECT json_group_array(json_array(oa.authz_id, a.status, a.expires_at) \
                                  ORDER BY oa.position) \
          FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id \
          WHERE oa.order_id = o.id) AS authzs",
    )
}

/// The authorizations a new order creates (not those it reuses).
fn new_authorizations(new: &NewOrder) -> Vec<&Authorization> {
    new.authzs
        .iter()
        .filter_map(|a| match a {
            OrderAuthz::New(a) => Some(a),
            OrderAuthz::Reuse(_) => None,
        })
        .collect()
}

/// Binds an order's row: $1 id … $7 expiry, $8 creation time, $9 `replaces`.
fn bind_order<'q>(q: Query<'q>, new: &'q NewOrder, now: DateTime<Utc>) -> Query<'q> {
    q.bind(&new.id)
        .bind(&new.account_id)
        .bind(new.status.as_str())
        .bind(serde_json::json!(new.identifiers))
        .bind(&new.identifiers_key)
        .bind(&new.profile)
        .bind(new.expires_at)
        .bind(now)
        .bind(&new.replaces)
}

/// Binds the order's links to its authorizations, in order: (order id, authz id, position).
fn bind_links<'q>(mut q: Query<'q>, new: &'q NewOrder) -> Query<'q> {
    for (position, authz) in new.authzs.iter().enumerate() {
        let authz_id = match authz {
            OrderAuthz::Reuse(id) => id.as_str(),
            OrderAuthz::New(a) => a.id.as_str(),
        };
        q = q.bind(&new.id).bind(authz_id).bind(position as i32);
    }
    q
}

fn order_from_row(row: &DbRow) -> Result<Order> {
    let status: String = row.get("status")?;
    let authzs: Vec<(String, String, DateTime<Utc>)> =
        from_json(row.get("authzs")?, "order authorizations")?;
    let mut authz_ids = Vec::with_capacity(authzs.len());
    let mut authz_states = Vec::with_capacity(authzs.len());
    for (id, status, expires_at) in authzs {
        authz_ids.push(id);
        authz_states.push((
            parse_status(&status, AuthzStatus::parse, "authorization")?,
            expires_at,
        ));
    }
    Ok(Order {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        status: parse_status(&status, OrderStatus::parse, "order")?,
        identifiers: from_json(row.get("identifiers")?, "orders.identifiers")?,
        profile: row.get("profile")?,
        expires_at: row.get("expires_at")?,
        error: row.get("error")?,
        certificate_id: row.get("certificate_id")?,
        created_at: row.get("created_at")?,
        replaces: row.get("replaces")?,
        authz_ids,
        authz_states,
    })
}

/// The order columns an insert fills and their parameters in [`bind_order`]'s order ($8, now, is
/// both the creation and the update time, $9 is `replaces`); shared by both spellings of `create_order`.
const ORDER_INSERT_COLUMNS: &str =
    "id, account_id, status, identifiers, identifiers_key, profile, \
     expires_at, created_at, updated_at, replaces";
const ORDER_INSERT_VALUES: &str = "($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)";

/// The audit event of a new order (names and account given: the order row may not be visible to
/// the event's own statement).
fn order_created(new: &NewOrder) -> AuditEvent {
    AuditEvent::new(kind::ORDER_CREATED, Actor::Account(new.account_id.clone()))
        .account(&new.account_id)
        .order(&new.id)
        .names(&new.identifiers_key)
        .details(serde_json::json!({ "profile": new.profile, "replaces": new.replaces }))
}

impl Store {
    /// Creates an order, its new authorizations and challenges, and links reused ones, atomically.
    pub async fn create_order(&self, new: &NewOrder, now: DateTime<Utc>) -> Result<Order> {
        if self.one_statement() {
            self.insert_order_in_one_statement(new, now).await?;
            return self
                .order(&new.id)
                .await?
                .ok_or_else(|| super::StoreError::Corrupt("order vanished".into()));
        }
        // SQLite: the same inserts and the read of the new order as one script in the
        // transaction, one message to SQLite's thread instead of six (docs/performance.md).
        let mut tx = self.db.begin().await?;
        let (inserts, binds) = order_inserts(new, now);
        let read = format!(
            "SELECT {} FROM orders o WHERE o.id = $1",
            order_columns(tx.dialect())
        );
        let row = match tx.dialect() {
            Dialect::Sqlite => {
                let script = format!("{}; {read}", inserts.join("; "));
                tx.fetch_optional(binds.bind(tx.query(&script))).await?
            }
            // PostgreSQL takes one statement per prepared query (this spelling runs there only
            // under `with_transaction_spelling`, to test it).
            Dialect::Postgres => {
                tx.fetch_one(binds.bind(tx.query(&as_one_statement(&inserts))))
                    .await?;
                tx.fetch_optional(tx.query(&read).bind(&new.id)).await?
            }
        };
        let order = row.as_ref().map(order_from_row).transpose()?;
        tx.commit().await?;
        order.ok_or_else(|| super::StoreError::Corrupt("order vanished".into()))
    }

    /// `create_order`'s inserts on PostgreSQL as one statement (data-modifying CTEs), which commits
    /// atomically by itself: one round-trip instead of six. Foreign keys between the CTEs hold
    /// because PostgreSQL checks them at the end of the statement.
    async fn insert_order_in_one_statement(
        &self,
        new: &NewOrder,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (inserts, binds) = order_inserts(new, now);
        let sql = as_one_statement(&inserts);
        self.db.fetch_one(binds.bind(self.db.query(&sql))).await?;
        Ok(())
    }

    /// The order with this id.
    pub async fn order(&self, id: &str) -> Result<Option<Order>> {
        let sql = format!(
            "SELECT {} FROM orders o WHERE o.id = $1",
            order_columns(self.db.dialect())
        );
        self.db.find(&sql, id, order_from_row).await
    }

    /// A pending or ready, unexpired order of this account for exactly these identifiers and profile,
    /// none of whose authorizations has expired or failed.
    ///
    /// The stored order status is not enough: an authorization's expiry is only applied when read
    /// (`acme::status`), so an order stored as `pending` may already be `invalid` to the client, and
    /// handing it out again would leave the client with an order it can never finish.
    pub async fn find_reusable_order(
        &self,
        account_id: &str,
        identifiers_key: &str,
        profile: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Order>> {
        let sql = format!(
            "SELECT {} FROM orders o WHERE o.account_id = $1 AND o.identifiers_key = $2 \
             AND o.status IN ('pending', 'ready') AND o.expires_at > $3 \
             AND o.profile IS NOT DISTINCT FROM $4 \
             AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
                 JOIN authorizations a ON a.id = oa.authz_id WHERE oa.order_id = o.id \
                 AND (a.status NOT IN ('pending', 'valid') OR a.expires_at <= $3)) \
             ORDER BY o.created_at DESC LIMIT 1",
            order_columns(self.db.dialect())
        );
        let q = self
            .db
            .query(&sql)
            .bind(account_id)
            .bind(identifiers_key)
            .bind(now)
            .bind(profile);
        let row = self.db.fetch_optional(q).await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// One page of an account's order ids, oldest first, after `cursor` (an order id).
    pub async fn account_order_ids(
        &self,
        account_id: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>> {
        let q = self
            .db
            .query(
                "SELECT o.id FROM orders o WHERE o.account_id = $1 AND o.status <> 'invalid' \
                 AND (CAST($2 AS TEXT) IS NULL OR (o.created_at, o.id) > \
                      (SELECT c.created_at, c.id FROM orders c WHERE c.id = $2)) \
                 ORDER BY o.created_at, o.id LIMIT $3",
            )
            .bind(account_id)
            .bind(cursor)
            .bind(limit);
        let rows = self.db.fetch_all(q).await?;
        rows.iter().map(|r| r.get("id")).collect()
    }
}

/// The values of a new order's inserts, bound in the order [`order_inserts`] numbers them.
struct OrderBinds<'a> {
    new: &'a NewOrder,
    fresh: Vec<&'a Authorization>,
    challenges: Vec<ChallengeRow<'a>>,
    event: AuditEvent,
    now: DateTime<Utc>,
}

impl<'a> OrderBinds<'a> {
    fn bind<'q>(&'q self, q: Query<'q>) -> Query<'q> {
        let q = bind_order(q, self.new, self.now);
        let q = bind_challenges(bind_authorizations(q, &self.fresh), &self.challenges);
        bind_event(bind_links(q, self.new), &self.event, self.now)
    }
}

/// The inserts that create an order — the order, its new authorizations and their challenges, the
/// links, the audit event — numbered as one statement list: `$1..$9` the order's, then the rest.
/// PostgreSQL runs them as the CTEs of one statement, SQLite as one script.
fn order_inserts(new: &NewOrder, now: DateTime<Utc>) -> (Vec<String>, OrderBinds<'_>) {
    let fresh = new_authorizations(new);
    let challenges = challenge_rows(&fresh);
    let mut n = 10; // $1..$9 are the order's, $10 the first of the rest
    let mut next = |rows: usize, cols: usize| {
        let p = placeholders_from(n, rows, cols);
        n += rows * cols;
        p
    };
    let mut inserts = vec![format!(
        "INSERT INTO orders ({ORDER_INSERT_COLUMNS}) VALUES {ORDER_INSERT_VALUES}"
    )];
    if !fresh.is_empty() {
        inserts.push(format!(
            "INSERT INTO authorizations ({AUTHZ_INSERT_COLUMNS}) VALUES {}",
            next(fresh.len(), 8)
        ));
    }
    if !challenges.is_empty() {
        inserts.push(format!(
            "INSERT INTO challenges ({CHALLENGE_INSERT_COLUMNS}) VALUES {}",
            next(challenges.len(), 6)
        ));
    }
    inserts.push(format!(
        "INSERT INTO order_authorizations (order_id, authz_id, position) VALUES {}",
        next(new.authzs.len(), 3)
    ));
    inserts.push(format!(
        "INSERT INTO audit_events ({AUDIT_INSERT_COLUMNS}) VALUES ({})",
        event_values(n)
    ));
    let binds = OrderBinds {
        new,
        fresh,
        challenges,
        event: order_created(new),
        now,
    };
    (inserts, binds)
}

/// PostgreSQL: `inserts` as the data-modifying CTEs of one statement.
fn as_one_statement(inserts: &[String]) -> String {
    let ctes: Vec<String> = inserts
        .iter()
        .enumerate()
        .map(|(i, insert)| format!("i{i} AS ({insert})"))
        .collect();
    format!("WITH {} SELECT 1", ctes.join(", "))
}
