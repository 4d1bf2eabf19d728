//! What the store's order and validation methods take and answer (the records themselves are in
//! `crate::model`).

use crate::model::{Authorization, Identifier, OrderStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;

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
