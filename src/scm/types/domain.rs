//! Domains, their delegations and DCV status.

use super::null_default;
use crate::scm::dates;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A domain row from `GET /domain/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// Domain id.
    pub id: i64,
    /// Name (`*.example.com` for wildcard entries).
    pub name: String,
}

/// `GET /domain/v1/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainDetails {
    /// Domain id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// e.g. `ACTIVE`.
    #[serde(default)]
    pub delegation_status: Option<String>,
    /// e.g. `ACTIVE`.
    #[serde(default)]
    pub state: Option<String>,
    /// `VALIDATED`, `NOT_VALIDATED`, `EXPIRED`.
    #[serde(default)]
    pub validation_status: Option<String>,
    /// When DCV runs out.
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub dcv_expiration: Option<NaiveDate>,
    /// Which orgs may request certificates for it.
    #[serde(default, deserialize_with = "null_default")]
    pub delegations: Vec<Delegation>,
}

/// One delegation of a domain to an org or department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delegation {
    /// Org or department id.
    pub org_id: i64,
    /// Certificate families.
    #[serde(default, deserialize_with = "null_default")]
    pub cert_types: Vec<String>,
    /// `DOMAIN`, `SUBDOMAIN`, `WILDCARD_1ST_LEVEL`, …
    #[serde(default, deserialize_with = "null_default")]
    pub domain_certificate_request_privileges: Vec<String>,
}

/// `POST /dcv/v2/validation/status` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DcvStatus {
    /// `VALIDATED`, `NOT_VALIDATED`, `EXPIRED`.
    pub status: String,
    /// When the validation expires.
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub expiration_date: Option<NaiveDate>,
}
