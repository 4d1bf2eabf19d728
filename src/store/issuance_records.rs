//! What the store's issuance methods take and answer (enrollments and certificates themselves are
//! in `crate::model`).

use crate::model::{Enrollment, OrderStatus};

/// What the issue job works on: the enrollment with the state of its order, read together.
#[derive(Debug, Clone)]
pub struct IssueSubject {
    pub enrollment: Enrollment,
    pub order_status: OrderStatus,
    pub account_id: String,
    /// The account's contact URLs (for SCM's external requester).
    pub account_contact: Vec<String>,
    /// The sslId of the certificate this order replaces (ARI `replaces`), named in SCM's comments.
    pub replaced_ssl_id: Option<i64>,
}

/// Outcome of claiming an order for issuance.
#[derive(Debug)]
pub enum FinalizeOutcome {
    /// The order moved `ready → processing`; enrollment and job recorded.
    Started,
    /// Another finalize got there first (or the order is no longer ready).
    NotReady,
    /// The CSR's key is an ACME account's key; nothing changed.
    CsrKeyIsAccountKey,
}
