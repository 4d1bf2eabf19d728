//! The outcome types of one validation: what was checked, or why it failed.

use crate::acme::error::{Error, ProblemType};
use serde::Serialize;
use std::net::IpAddr;

/// Why a challenge failed, as an ACME problem (RFC 8555 §6.7): `connection`, `dns`,
/// `incorrectResponse`, `tls`, `unauthorized` (or `malformed` when the challenge type cannot apply to
/// the identifier). `detail` is a sentence the applicant can act on: it names the URL, host, port or
/// record that was checked and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct ValidationError {
    pub kind: ProblemType,
    pub detail: String,
}

impl ValidationError {
    /// An error of `kind` with `detail`.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    pub(crate) fn connection(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Connection, detail)
    }

    pub(crate) fn dns(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Dns, detail)
    }

    pub(crate) fn incorrect(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::IncorrectResponse, detail)
    }

    pub(crate) fn tls(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Tls, detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Unauthorized, detail)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::new(e.kind, e.detail)
    }
}

/// What a successful (or attempted) validation looked at, stored with the challenge as its
/// `validationRecord` so operators and applicants can see which address answered.
///
/// Field names follow the `validationRecord` objects of Boulder/Pebble; absent fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRecord {
    /// The name (or IP address text) that was validated or connected to.
    pub hostname: String,
    /// TCP port connected to (http-01, tls-alpn-01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// URL requested (http-01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// DNS name queried for TXT records (dns-01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_name: Option<String>,
    /// Every address the name resolved to (before the address policy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_resolved: Vec<IpAddr>,
    /// The address that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_used: Option<IpAddr>,
    /// Server Name Indication sent (tls-alpn-01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// http-01: the requests that followed redirects, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<ValidationRecord>,
}

impl ValidationRecord {
    /// This record and its redirects as one flat list, the shape of RFC 8555's `validationRecord`
    /// array in Boulder.
    pub fn flatten(&self) -> Vec<ValidationRecord> {
        let mut first = self.clone();
        let rest = std::mem::take(&mut first.redirects);
        std::iter::once(first).chain(rest).collect()
    }
}

/// Why a [`crate::validation::Validator`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read the system resolver configuration (set validation.dns_resolvers): {0}")]
    SystemResolver(String),
    #[error("cannot build the TLS client for validation: {0}")]
    Tls(String),
}
