//! Why a job step stopped before it finished. Every variant means "try again later": the worker
//! reschedules the job with backoff and the order or certificate keeps its state. Definite
//! outcomes — SCM refused, declined, revoked — are not errors: the handlers record them on the
//! order (as problem documents) and finish the job.

use crate::scm::ScmError;
use crate::store::StoreError;

/// A job step that must be retried.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed (a lost connection, a restart).
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// SCM failed transiently, or its answer's outcome is unknown.
    #[error("{0}")]
    Scm(#[from] ScmError),
    /// Issue and revoke jobs wait until `[scm]` (or the sandbox) is configured.
    #[error("no SCM is configured: [scm] or the sandbox")]
    NoScm,
    /// What SCM returned for a certificate could not be used (see [`ChainError`]).
    #[error("the certificate SCM returned is unusable: {0}")]
    Chain(#[from] ChainError),
    /// Recording "enroll sent" took this many milliseconds, more than `issuance.enroll_settle_secs`
    /// (a stalling database): the enroll was not sent, since the recorded time would be too early
    /// to start its settle window from.
    #[error("recording the enroll's start took {0} ms; the enroll was not sent")]
    SlowSendMark(i64),
    /// The CSR stored at finalize no longer parses (it did then: corruption).
    #[error("the stored CSR of order {order} cannot be read: {why}")]
    StoredCsr { order: String, why: String },
}

/// Why SCM's collected file gave no chain to hand to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// Not PEM/PKCS#7 as documented, or a certificate in it does not parse.
    #[error("unparsable: {0}")]
    Unparsable(String),
    /// No certificate carries the CSR's key (design.md §3.6: the leaf is found by its key).
    #[error("no certificate from SCM carries the CSR's public key")]
    NoLeaf,
    /// The leaf's notAfter cannot be represented.
    #[error("the leaf's notAfter is out of range")]
    NotAfterOutOfRange,
    /// The leaf's key is not one we can describe (an unsupported algorithm).
    #[error("the leaf's key: {0}")]
    LeafKey(String),
}
