//! The one error type of the ACME layer. Every failure a client can see is an [`Error`] with an RFC 8555
//! §6.7 problem type and a sentence a person can act on; `web::problem` renders it, nothing else does.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// RFC 8555 §6.7 error types (plus `invalidProfile` from draft-ietf-acme-profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemType {
    AccountDoesNotExist,
    /// RFC 9773 §7.4: `replaces` names a certificate another order already replaces.
    AlreadyReplaced,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadPublicKey,
    BadRevocationReason,
    BadSignatureAlgorithm,
    Caa,
    Compound,
    Connection,
    Dns,
    ExternalAccountRequired,
    IncorrectResponse,
    InvalidContact,
    InvalidProfile,
    Malformed,
    OrderNotReady,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Tls,
    Unauthorized,
    UnsupportedContact,
    UnsupportedIdentifier,
    UserActionRequired,
}

impl ProblemType {
    /// The `urn:ietf:params:acme:error:` name.
    pub fn name(self) -> &'static str {
        use ProblemType::*;
        match self {
            AccountDoesNotExist => "accountDoesNotExist",
            AlreadyReplaced => "alreadyReplaced",
            AlreadyRevoked => "alreadyRevoked",
            BadCsr => "badCSR",
            BadNonce => "badNonce",
            BadPublicKey => "badPublicKey",
            BadRevocationReason => "badRevocationReason",
            BadSignatureAlgorithm => "badSignatureAlgorithm",
            Caa => "caa",
            Compound => "compound",
            Connection => "connection",
            Dns => "dns",
            ExternalAccountRequired => "externalAccountRequired",
            IncorrectResponse => "incorrectResponse",
            InvalidContact => "invalidContact",
            InvalidProfile => "invalidProfile",
            Malformed => "malformed",
            OrderNotReady => "orderNotReady",
            RateLimited => "rateLimited",
            RejectedIdentifier => "rejectedIdentifier",
            ServerInternal => "serverInternal",
            Tls => "tls",
            Unauthorized => "unauthorized",
            UnsupportedContact => "unsupportedContact",
            UnsupportedIdentifier => "unsupportedIdentifier",
            UserActionRequired => "userActionRequired",
        }
    }

    /// The full URN used as the problem document's `type`.
    pub fn urn(self) -> String {
        format!("urn:ietf:params:acme:error:{}", self.name())
    }

    /// The HTTP status a problem of this type is answered with unless overridden.
    pub fn default_status(self) -> u16 {
        use ProblemType::*;
        match self {
            Unauthorized | OrderNotReady | UserActionRequired | Caa => 403,
            AlreadyReplaced => 409,
            RateLimited => 429,
            ServerInternal => 500,
            _ => 400,
        }
    }
}

/// A subproblem (RFC 8555 §6.7.1): which identifier a part of a compound failure is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subproblem {
    #[serde(rename = "type")]
    pub kind: ProblemType,
    pub detail: String,
    pub identifier: Option<crate::model::Identifier>,
}

/// A failure of an ACME operation, ready to become a problem document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct Error {
    pub kind: ProblemType,
    pub detail: String,
    /// Overrides the type's default HTTP status (415 for a wrong Content-Type, 409 for a key conflict…).
    pub status: Option<u16>,
    pub subproblems: Vec<Subproblem>,
    /// A URL the response should point at with `Location` (e.g. the existing account on 409).
    pub location: Option<String>,
    /// For our own faults: what went wrong, for the log only (the client sees a generic detail).
    /// Logged once, where the error becomes a response.
    pub cause: Option<String>,
    /// Seconds the client should wait before retrying (`Retry-After`; rate limits, overload).
    pub retry_after: Option<u64>,
}

impl Error {
    /// An error of `kind` with a human-readable `detail`.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            status: None,
            subproblems: Vec::new(),
            location: None,
            cause: None,
            retry_after: None,
        }
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds subproblems.
    pub fn with_subproblems(mut self, subs: Vec<Subproblem>) -> Self {
        self.subproblems = subs;
        self
    }

    /// Adds a `Location` to the response.
    pub fn with_location(mut self, url: impl Into<String>) -> Self {
        self.location = Some(url.into());
        self
    }

    /// Adds `Retry-After: secs` to the response.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// A request refused by a rate limit (RFC 8555 §6.6): `rateLimited`, 429, `Retry-After`.
    /// `detail` says which limit, so a person can tell a loop in their client from a shared NAT.
    pub fn rate_limited(detail: impl Into<String>, hit: crate::limits::Exceeded) -> Self {
        let secs = hit.retry_after_secs();
        Self::new(
            ProblemType::RateLimited,
            format!("{}; retry after {secs} s", detail.into()),
        )
        .with_retry_after(secs)
    }

    /// The server is too busy or took too long for this request: 503 `serverInternal` with
    /// `Retry-After`, so clients back off and retry instead of seeing a dropped connection.
    pub fn unavailable(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(ProblemType::ServerInternal, detail)
            .with_status(503)
            .with_retry_after(retry_after_secs)
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.kind.default_status())
    }

    /// A fault of ours: the client gets a generic sentence, the log gets `cause` (once, when the
    /// error is answered: see `web::problem`).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            ProblemType::ServerInternal,
            "The server hit an internal error; the request can be retried later.",
        );
        e.cause = Some(cause.to_string());
        e
    }

    /// A failure on our side whose detail the client should see (e.g. SCM's reason for a decline).
    pub fn internal_visible(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::ServerInternal, detail)
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Malformed, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Unauthorized, detail)
    }

    /// A request from a deactivated or revoked account: `unauthorized` with 401, as RFC 8555
    /// §7.3.6 requires (403 is for valid accounts asking for something they may not have).
    pub fn account_not_valid(status: crate::model::AccountStatus) -> Self {
        Self::unauthorized(format!(
            "the account is {}; it can no longer be used: register a new account with a new key",
            status.as_str()
        ))
        .with_status(401)
    }

    pub fn bad_nonce(detail: impl Into<String>) -> Self {
        Self::new(
            ProblemType::BadNonce,
            format!("JWS has an invalid anti-replay nonce: {}", detail.into()),
        )
    }

    /// The RFC 7807 problem document (also stored on invalid orders and challenges).
    pub fn problem_document(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": self.kind.urn(),
            "detail": self.detail,
            "status": self.status(),
        });
        if !self.subproblems.is_empty() {
            body["subproblems"] = self
                .subproblems
                .iter()
                .map(|s| {
                    let mut v = serde_json::json!({"type": s.kind.urn(), "detail": s.detail});
                    if let Some(id) = &s.identifier {
                        v["identifier"] = serde_json::json!(id);
                    }
                    v
                })
                .collect();
        }
        if self.kind == ProblemType::BadSignatureAlgorithm {
            // RFC 8555 §6.2: tell the client which algorithms would work.
            body["algorithms"] = serde_json::json!(crate::jose::ACCEPTED_ALGS);
        }
        body
    }

    pub fn not_found(what: &str) -> Self {
        Self::malformed(format!("No such {what}.")).with_status(404)
    }
}

/// `Retry-After` of a request the database's absence failed (`database.unavailable_retry_secs`).
/// Process-wide because every `?` on a store call converts through `From`, where no
/// configuration is at hand; set once at start-up by [`set_unavailable_retry_secs`].
static UNAVAILABLE_RETRY_SECS: AtomicU64 = AtomicU64::new(5);

/// Sets the `Retry-After` of requests failed by the database's absence.
pub fn set_unavailable_retry_secs(secs: u64) {
    UNAVAILABLE_RETRY_SECS.store(secs, Ordering::Relaxed);
}

/// The `Retry-After` of requests failed by the database's absence.
pub fn unavailable_retry_secs() -> u64 {
    UNAVAILABLE_RETRY_SECS.load(Ordering::Relaxed)
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            // The database is away (a restart): the client should come back, not give up.
            let mut err = Error::unavailable(
                "The database is briefly unavailable; retry after the time in Retry-After.",
                unavailable_retry_secs(),
            );
            err.cause = Some(e.to_string());
            return err;
        }
        Error::internal(e)
    }
}

/// Result of an ACME operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::jose::JoseError> for Error {
    fn from(e: crate::jose::JoseError) -> Self {
        use crate::jose::JoseError as J;
        match e {
            J::Malformed(d) | J::BadSignature(d) => Error::malformed(d),
            J::BadSignatureAlgorithm(d) => Error::new(ProblemType::BadSignatureAlgorithm, d),
            J::BadPublicKey(d) => Error::new(ProblemType::BadPublicKey, d),
            J::Unauthorized(d) => Error::unauthorized(d),
        }
    }
}
