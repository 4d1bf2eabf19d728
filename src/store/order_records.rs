//! Stored orders, authorizations, challenges and jobs.

use crate::acme::status::{AuthzStatus, ChallengeStatus, OrderStatus};
use crate::acme::types::Identifier;
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

/// What creating an order needs: the order, authorizations to create, and existing ones to reuse.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: String,
    pub account_id: String,
    pub status: OrderStatus,
    pub identifiers: Vec<Identifier>,
    pub identifiers_key: String,
    pub profile: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// RFC 9773 `replaces` (checked by `acme::ari` before the order is created).
    pub replaces: Option<String>,
    /// One entry per identifier, in order: an existing authorization id, or a new one to insert.
    pub authzs: Vec<OrderAuthz>,
}

/// One authorization of a new order.
#[derive(Debug, Clone)]
pub enum OrderAuthz {
    Reuse(String),
    New(Authorization),
}

/// How a validation ended, for `finish_validation`.
#[derive(Debug, Clone)]
pub enum ValidationOutcome {
    Valid { record: Value },
    Invalid { error: Value, record: Option<Value> },
}

/// Outcome of asking to start a challenge.
#[derive(Debug)]
pub enum StartChallenge {
    /// Now processing; a validation job was recorded.
    Started,
    /// Nothing to do: already processing or finished, or the authorization is no longer pending.
    Unchanged,
}

/// A claimed unit of work.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub subject_id: String,
    /// How many times it has been claimed, this claim included.
    pub attempts: i32,
}
