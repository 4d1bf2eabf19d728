//! The records every layer shares — accounts, EAB keys, orders, authorizations, challenges,
//! identifiers, enrollments, certificates, jobs — and their statuses. `store` persists them,
//! `acme` renders and changes them, `issuance` works on them; none of those owns them, so none has to
//! import another to name them.

pub mod account;
pub mod audit;
pub mod certificate;
pub mod eab_key;
pub mod identifier;
pub mod job;
pub mod order;
pub mod status;

pub use account::Account;
pub use audit::{Actor, AuditEvent, AuditQuery, AuditRecord};
pub use certificate::{Certificate, Enrollment};
pub use eab_key::EabKey;
pub use identifier::Identifier;
pub use job::{Job, JobKind, JobLease};
pub use order::{Authorization, Challenge, Order};
pub use status::{AccountStatus, AuthzStatus, ChallengeStatus, OrderStatus};
