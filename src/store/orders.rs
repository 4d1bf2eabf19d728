//! Orders and the links to their authorizations.

use super::{from_json, parse_status, NewOrder, Order, OrderAuthz, Result, Store};
use crate::acme::status::OrderStatus;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

const ORDER_COLUMNS: &str =
    "o.id, o.account_id, o.status, o.identifiers, o.profile, o.expires_at, \
     o.error, o.certificate_id, o.created_at, \
     ARRAY(SELECT oa.authz_id FROM order_authorizations oa WHERE oa.order_id = o.id \
           ORDER BY oa.position) AS authz_ids";

fn order_from_row(row: &PgRow) -> Result<Order> {
    let status: String = row.try_get("status")?;
    Ok(Order {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        status: parse_status(&status, OrderStatus::parse, "order")?,
        identifiers: from_json(row.try_get("identifiers")?, "orders.identifiers")?,
        profile: row.try_get("profile")?,
        expires_at: row.try_get("expires_at")?,
        error: row.try_get("error")?,
        certificate_id: row.try_get("certificate_id")?,
        created_at: row.try_get("created_at")?,
        authz_ids: row.try_get("authz_ids")?,
    })
}

impl Store {
    /// Creates an order, its new authorizations and challenges, and links reused ones, atomically.
    pub async fn create_order(&self, new: &NewOrder) -> Result<Order> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO orders (id, account_id, status, identifiers, identifiers_key, profile, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.id)
        .bind(&new.account_id)
        .bind(new.status.as_str())
        .bind(serde_json::json!(new.identifiers))
        .bind(&new.identifiers_key)
        .bind(&new.profile)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        for (position, authz) in new.authzs.iter().enumerate() {
            let authz_id = match authz {
                OrderAuthz::Reuse(id) => id.clone(),
                OrderAuthz::New(a) => {
                    Self::insert_authorization(&mut tx, a).await?;
                    a.id.clone()
                }
            };
            sqlx::query(
                "INSERT INTO order_authorizations (order_id, authz_id, position) VALUES ($1, $2, $3)",
            )
            .bind(&new.id)
            .bind(&authz_id)
            .bind(position as i32)
            .execute(&mut *tx)
            .await?;
        }
        let order = Self::order_in(&mut tx, &new.id).await?;
        tx.commit().await?;
        order.ok_or_else(|| super::StoreError::Corrupt("order vanished".into()))
    }

    async fn order_in(tx: &mut Transaction<'_, Postgres>, id: &str) -> Result<Option<Order>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// The order with this id.
    pub async fn order(&self, id: &str) -> Result<Option<Order>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(order_from_row).transpose()
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
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.account_id = $1 AND o.identifiers_key = $2 \
             AND o.status IN ('pending', 'ready') AND o.expires_at > $3 \
             AND o.profile IS NOT DISTINCT FROM $4 \
             AND NOT EXISTS (SELECT 1 FROM order_authorizations oa \
                 JOIN authorizations a ON a.id = oa.authz_id WHERE oa.order_id = o.id \
                 AND (a.status NOT IN ('pending', 'valid') OR a.expires_at <= $3)) \
             ORDER BY o.created_at DESC LIMIT 1"
        ))
        .bind(account_id)
        .bind(identifiers_key)
        .bind(now)
        .bind(profile)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// One page of an account's order ids, oldest first, after `cursor` (an order id).
    pub async fn account_order_ids(
        &self,
        account_id: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>> {
        let ids = sqlx::query_scalar(
            "SELECT o.id FROM orders o WHERE o.account_id = $1 AND o.status <> 'invalid' \
             AND ($2::TEXT IS NULL OR (o.created_at, o.id) > \
                  (SELECT c.created_at, c.id FROM orders c WHERE c.id = $2)) \
             ORDER BY o.created_at, o.id LIMIT $3",
        )
        .bind(account_id)
        .bind(cursor)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }
}
