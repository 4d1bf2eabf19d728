//! Orders, authorizations and challenges as stored (RFC 8555 §7.1.3–7.1.5); what clients see of
//! them is rendered by `acme::resources` with the status rules of [`super::status`].

use super::identifier::Identifier;
use super::status::{AuthzStatus, ChallengeStatus, OrderStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// An order (§7.1.3) with the ids of its authorizations in order.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub account_id: String,
    /// As stored; clients see `acme::status::order_status` of it.
    pub status: OrderStatus,
    pub identifiers: Vec<Identifier>,
    pub profile: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// Problem document when the order became invalid.
    pub error: Option<Value>,
    pub certificate_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// RFC 9773 `replaces`: the ARI certID of the certificate this order replaces, as sent.
    pub replaces: Option<String>,
    pub authz_ids: Vec<String>,
    /// Stored status and expiry of each authorization, in the order of `authz_ids`, read with the
    /// order (rendering needs them).
    pub authz_states: Vec<(AuthzStatus, DateTime<Utc>)>,
}

/// An authorization (§7.1.4) with its challenges.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub id: String,
    pub account_id: String,
    /// For a wildcard order entry this is the base name; `wildcard` says so (§7.1.4).
    pub identifier: Identifier,
    pub wildcard: bool,
    pub status: AuthzStatus,
    pub expires_at: DateTime<Utc>,
    pub validated_at: Option<DateTime<Utc>>,
    pub challenges: Vec<Challenge>,
}

/// A challenge (§7.1.5, §8).
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub authz_id: String,
    pub kind: String,
    pub token: String,
    pub status: ChallengeStatus,
    pub validated_at: Option<DateTime<Utc>>,
    pub error: Option<Value>,
    pub validation_record: Option<Value>,
}
