//! Audit events: what changed, who did it, and the keys an operator searches by. The store writes
//! one in the transaction of the change it records, so the trail never claims a change that did
//! not happen nor misses one that did.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Who made a change: recorded as text (`account:ID`, `certificate-key`, `operator:NAME`, `cli`,
/// `system`) so the trail stays readable without joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An ACME account acting on its own resources.
    Account(String),
    /// A revokeCert signed with the certificate's own key.
    CertificateKey,
    /// An admin API or console user, by the name of their token.
    Operator(String),
    /// The command line on the server (no token: whoever can run it holds the database).
    Cli,
    /// The bridge itself (issuance worker, SCM answers).
    System,
    /// The account owning the event's order, filled in by the store from the order's row (for
    /// changes whose caller holds the order, not the account: finalize).
    OrderOwner,
}

impl Actor {
    /// The stored spelling.
    pub fn as_text(&self) -> String {
        match self {
            Self::OrderOwner => "account".into(),
            Self::Account(id) => format!("account:{id}"),
            Self::CertificateKey => "certificate-key".into(),
            Self::Operator(name) => format!("operator:{name}"),
            Self::Cli => "cli".into(),
            Self::System => "system".into(),
        }
    }
}

/// A change to record. `names` is the order's `type:value` list (comma-separated) where one applies.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub kind: &'static str,
    pub actor: Actor,
    pub account_id: Option<String>,
    pub eab_kid: Option<String>,
    pub order_id: Option<String>,
    pub serial: Option<String>,
    pub names: Option<String>,
    pub details: Value,
}

impl AuditEvent {
    /// An event with no subject keys yet; the builder methods add them.
    pub fn new(kind: &'static str, actor: Actor) -> Self {
        Self {
            kind,
            actor,
            account_id: None,
            eab_kid: None,
            order_id: None,
            serial: None,
            names: None,
            details: Value::Object(Default::default()),
        }
    }
    /// Sets the account the change concerns.
    pub fn account(mut self, id: impl Into<String>) -> Self {
        self.account_id = Some(id.into());
        self
    }
    /// Sets the EAB key the change concerns.
    pub fn eab(mut self, kid: Option<impl Into<String>>) -> Self {
        self.eab_kid = kid.map(Into::into);
        self
    }
    /// Sets the order the change concerns.
    pub fn order(mut self, id: impl Into<String>) -> Self {
        self.order_id = Some(id.into());
        self
    }
    /// Sets the certificate serial the change concerns.
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }
    /// Sets the names (`type:value,…`).
    pub fn names(mut self, names: impl Into<String>) -> Self {
        self.names = Some(names.into());
        self
    }
    /// Sets free-form details (reason codes, problem documents, sslId).
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The event kinds, in one place so queries and documentation agree.
pub mod kind {
    pub const ACCOUNT_CREATED: &str = "account.created";
    pub const ACCOUNT_DEACTIVATED: &str = "account.deactivated";
    pub const ACCOUNT_KEY_CHANGED: &str = "account.key_changed";
    pub const EAB_CREATED: &str = "eab.created";
    pub const EAB_REVOKED: &str = "eab.revoked";
    pub const EAB_HMAC_ROTATED: &str = "eab.hmac_rotated";
    pub const OPERATOR_LOGIN: &str = "operator.login";
    pub const ORDER_CREATED: &str = "order.created";
    pub const ORDER_FINALIZED: &str = "order.finalized";
    pub const SCM_ENROLLED: &str = "scm.enrolled";
    pub const SCM_ISSUED: &str = "scm.issued";
    pub const SCM_FAILED: &str = "scm.failed";
    pub const REVOCATION_REQUESTED: &str = "certificate.revocation_requested";
    pub const CERT_REVOKED: &str = "certificate.revoked";
    pub const REVOCATION_FAILED: &str = "certificate.revocation_failed";
}

/// A stored event, as the API, the console and `audit export` show it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub account_id: Option<String>,
    pub eab_kid: Option<String>,
    pub order_id: Option<String>,
    pub serial: Option<String>,
    pub names: Option<String>,
    pub details: Value,
}

/// What to look for in the trail; every field narrows the search. Pages go by id (`after`).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub eab_label: Option<String>,
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub after_id: Option<i64>,
    pub limit: i64,
}
