//! What an operator looks at (admin API, console, CLI): pages of accounts, orders, certificates
//! and issuances waiting on SCM, and the counts of the summary. Read-only; the changes an
//! operator makes go through the ordinary write methods with an operator [`Actor`].
//!
//! [`Actor`]: crate::model::Actor

use super::accounts::{account_from_row, ACCOUNT_COLUMNS};
use super::query::like_escaped;
use super::{DbRow, Result, Store};
use crate::model::Account;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// One page: `limit` rows from `offset` (pages of a listing that grows at its end stay stable,
/// since every listing is ordered oldest first).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// A page, its size bounded to 1..=500 so one request cannot read the whole table.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Self {
        Self {
            limit: limit.unwrap_or(50).clamp(1, 500),
            offset: offset.unwrap_or(0).max(0),
        }
    }
}

/// Filters of the order search; every one given must match.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// A substring of the order's `type:value` identifiers.
    pub name: Option<String>,
    pub status: Option<String>,
    pub eab_label: Option<String>,
    pub account_id: Option<String>,
}

/// An order as the operator's lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderSummary {
    pub id: String,
    pub account_id: String,
    pub status: String,
    pub names: String,
    pub profile: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub certificate_id: Option<String>,
    pub eab_kid: Option<String>,
    pub ssl_id: Option<i64>,
}

/// Filters of the certificate search.
#[derive(Debug, Clone, Default)]
pub struct CertFilter {
    /// A substring of the order's identifiers.
    pub name: Option<String>,
    /// Lower-case hex, as stored.
    pub serial: Option<String>,
    pub expires_after: Option<DateTime<Utc>>,
    pub expires_before: Option<DateTime<Utc>>,
}

/// A certificate as the operator's lists show it (no PEM: download it by id).
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    pub id: String,
    pub serial: String,
    pub order_id: String,
    pub account_id: String,
    pub names: String,
    pub ssl_id: i64,
    pub not_after: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<i32>,
    pub revocation_requested_at: Option<DateTime<Utc>>,
    pub revocation_error: Option<serde_json::Value>,
    pub scm_status: Option<String>,
}

/// An issuance waiting on SCM: enrolled or about to be, collect pending or awaiting approval.
#[derive(Debug, Clone, Serialize)]
pub struct PendingIssuance {
    pub order_id: String,
    pub names: String,
    pub finalized_at: DateTime<Utc>,
    pub enroll_attempts: i32,
    pub ssl_id: Option<i64>,
    pub collect_attempts: i32,
    pub next_poll_at: Option<DateTime<Utc>>,
    /// SCM's last answer as the worker recorded it (e.g. "awaiting approval").
    pub last_answer: Option<String>,
}

/// The summary page's counts; `issued_per_day` covers the last 14 days (oldest first),
/// `expiring_per_week` the next 8 weeks.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub accounts: Vec<(String, i64)>,
    pub orders: Vec<(String, i64)>,
    pub certificates_valid: i64,
    pub certificates_revoked: i64,
    pub eab_keys_active: i64,
    pub issuances_waiting: i64,
    /// SCM outcomes recorded in the trail in the last hour: (event kind, count).
    pub scm_last_hour: Vec<(String, i64)>,
    pub issued_per_day: Vec<i64>,
    pub expiring_per_week: Vec<i64>,
}

const CERT_SUMMARY_SQL: &str = "SELECT c.id, c.serial, c.order_id, c.account_id, \
     o.identifiers_key AS names, c.ssl_id, c.not_after, c.revoked_at, c.revocation_reason, \
     c.revocation_requested_at, c.revocation_error, c.scm_status \
     FROM certificates c JOIN orders o ON o.id = c.order_id";

fn cert_summary(row: &DbRow) -> Result<CertSummary> {
    Ok(CertSummary {
        id: row.get("id")?,
        serial: row.get("serial")?,
        order_id: row.get("order_id")?,
        account_id: row.get("account_id")?,
        names: row.get("names")?,
        ssl_id: row.get("ssl_id")?,
        not_after: row.get("not_after")?,
        revoked_at: row.get("revoked_at")?,
        revocation_reason: row.get("revocation_reason")?,
        revocation_requested_at: row.get("revocation_requested_at")?,
        revocation_error: row.get("revocation_error")?,
        scm_status: row.get("scm_status")?,
    })
}

fn order_summary(row: &DbRow) -> Result<OrderSummary> {
    Ok(OrderSummary {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        status: row.get("status")?,
        names: row.get("identifiers_key")?,
        profile: row.get("profile")?,
        created_at: row.get("created_at")?,
        expires_at: row.get("expires_at")?,
        certificate_id: row.get("certificate_id")?,
        eab_kid: row.get("eab_kid")?,
        ssl_id: row.get("ssl_id")?,
    })
}

impl Store {
    /// Accounts, oldest first, optionally only those bound to `eab_kid`.
    pub async fn accounts_page(&self, eab_kid: Option<&str>, page: Page) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE ($1 IS NULL OR eab_kid = $1) \
             ORDER BY created_at, id LIMIT $2 OFFSET $3"
        );
        let q = self
            .db
            .query(&sql)
            .bind(eab_kid)
            .bind(page.limit)
            .bind(page.offset);
        let rows = self.db.fetch_all(q).await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Orders matching `f`, oldest first, with their account's EAB key and SCM's sslId.
    pub async fn orders_page(&self, f: &OrderFilter, page: Page) -> Result<Vec<OrderSummary>> {
        let sql = "SELECT o.id, o.account_id, o.status, o.identifiers_key, o.profile, \
             o.created_at, o.expires_at, o.certificate_id, a.eab_kid, e.ssl_id \
             FROM orders o JOIN accounts a ON a.id = o.account_id \
             LEFT JOIN enrollments e ON e.order_id = o.id \
             WHERE ($1 IS NULL OR o.identifiers_key LIKE '%' || $1 || '%' ESCAPE '\\') \
               AND ($2 IS NULL OR o.status = $2) \
               AND ($3 IS NULL OR a.eab_kid IN (SELECT kid FROM eab_keys WHERE label = $3)) \
               AND ($4 IS NULL OR o.account_id = $4) \
             ORDER BY o.created_at, o.id LIMIT $5 OFFSET $6";
        let q = self
            .db
            .query(sql)
            .bind(f.name.as_deref().map(like_escaped))
            .bind(&f.status)
            .bind(&f.eab_label)
            .bind(&f.account_id)
            .bind(page.limit)
            .bind(page.offset);
        let rows = self.db.fetch_all(q).await?;
        rows.iter().map(order_summary).collect()
    }

    /// Certificates matching `f`, oldest first.
    pub async fn certificates_page(&self, f: &CertFilter, page: Page) -> Result<Vec<CertSummary>> {
        let sql = format!(
            "{CERT_SUMMARY_SQL} \
             WHERE ($1 IS NULL OR o.identifiers_key LIKE '%' || $1 || '%' ESCAPE '\\') \
               AND ($2 IS NULL OR c.serial = $2) \
               AND ($3 IS NULL OR c.not_after >= $3) AND ($4 IS NULL OR c.not_after < $4) \
             ORDER BY c.created_at, c.id LIMIT $5 OFFSET $6"
        );
        let q = self
            .db
            .query(&sql)
            .bind(f.name.as_deref().map(like_escaped))
            .bind(f.serial.as_deref().map(str::to_ascii_lowercase))
            .bind(f.expires_after)
            .bind(f.expires_before)
            .bind(page.limit)
            .bind(page.offset);
        let rows = self.db.fetch_all(q).await?;
        rows.iter().map(cert_summary).collect()
    }

    /// One certificate as the lists show it.
    pub async fn certificate_summary(&self, id: &str) -> Result<Option<CertSummary>> {
        let sql = format!("{CERT_SUMMARY_SQL} WHERE c.id = $1");
        self.db.find(&sql, id, cert_summary).await
    }

    /// Issuances waiting on SCM (orders `processing`), oldest first.
    pub async fn pending_issuances(&self, page: Page) -> Result<Vec<PendingIssuance>> {
        let sql = "SELECT e.order_id, o.identifiers_key, e.finalized_at, e.enroll_attempts, \
             e.ssl_id, e.collect_attempts, e.next_poll_at, j.last_error \
             FROM enrollments e JOIN orders o ON o.id = e.order_id \
             LEFT JOIN jobs j ON j.kind = 'issue' AND j.subject_id = e.order_id \
             WHERE o.status = 'processing' ORDER BY e.finalized_at, e.order_id LIMIT $1 OFFSET $2";
        let q = self.db.query(sql).bind(page.limit).bind(page.offset);
        let rows = self.db.fetch_all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(PendingIssuance {
                    order_id: r.get("order_id")?,
                    names: r.get("identifiers_key")?,
                    finalized_at: r.get("finalized_at")?,
                    enroll_attempts: r.get("enroll_attempts")?,
                    ssl_id: r.get("ssl_id")?,
                    collect_attempts: r.get("collect_attempts")?,
                    next_poll_at: r.get("next_poll_at")?,
                    last_answer: r.get("last_error")?,
                })
            })
            .collect()
    }

    /// The summary's counts at `now`.
    pub async fn summary(&self, now: DateTime<Utc>) -> Result<Summary> {
        let pairs = |sql: &'static str| async move {
            let rows = self.db.fetch_all(self.db.query(sql)).await?;
            rows.iter()
                .map(|r| Ok((r.get::<String, _>(0)?, r.get::<i64, _>(1)?)))
                .collect::<Result<Vec<_>>>()
        };
        let accounts =
            pairs("SELECT status, count(*) FROM accounts GROUP BY status ORDER BY status").await?;
        let orders =
            pairs("SELECT status, count(*) FROM orders GROUP BY status ORDER BY status").await?;
        let count = |sql: &'static str| async move {
            let row = self.db.fetch_one(self.db.query(sql)).await?;
            row.get::<i64, _>(0)
        };
        let q = self
            .db
            .query("SELECT count(*) FROM certificates WHERE revoked_at IS NULL AND not_after > $1")
            .bind(now);
        let certificates_valid: i64 = self.db.fetch_one(q).await?.get(0)?;
        let certificates_revoked =
            count("SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL").await?;
        let eab_keys_active =
            count("SELECT count(*) FROM eab_keys WHERE revoked_at IS NULL").await?;
        let issuances_waiting =
            count("SELECT count(*) FROM orders WHERE status = 'processing'").await?;
        let q = self
            .db
            .query(
                "SELECT kind, count(*) FROM audit_events WHERE at >= $1 AND kind LIKE 'scm.%' \
                 GROUP BY kind ORDER BY kind",
            )
            .bind(now - Duration::hours(1));
        let scm_last_hour = self
            .db
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| Ok((r.get::<String, _>(0)?, r.get::<i64, _>(1)?)))
            .collect::<Result<Vec<_>>>()?;

        let day0 = now - Duration::days(14);
        let q = self
            .db
            .query("SELECT at FROM audit_events WHERE kind = 'scm.issued' AND at >= $1")
            .bind(day0);
        let mut issued_per_day = vec![0; 14];
        for r in self.db.fetch_all(q).await? {
            let at: DateTime<Utc> = r.get(0)?;
            let i = (at - day0).num_days().clamp(0, 13) as usize;
            issued_per_day[i] += 1;
        }
        let q = self
            .db
            .query(
                "SELECT not_after FROM certificates WHERE revoked_at IS NULL \
                 AND not_after >= $1 AND not_after < $2",
            )
            .bind(now)
            .bind(now + Duration::weeks(8));
        let mut expiring_per_week = vec![0; 8];
        for r in self.db.fetch_all(q).await? {
            let at: DateTime<Utc> = r.get(0)?;
            let i = (at - now).num_weeks().clamp(0, 7) as usize;
            expiring_per_week[i] += 1;
        }
        Ok(Summary {
            accounts,
            orders,
            certificates_valid,
            certificates_revoked,
            eab_keys_active,
            issuances_waiting,
            scm_last_hour,
            issued_per_day,
            expiring_per_week,
        })
    }
}
