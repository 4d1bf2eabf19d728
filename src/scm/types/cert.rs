//! Enroll, status, details, list and revoke types of the SSL certificate lifecycle.

use super::{empty_none, names, CustomFieldValue, SslType};
use crate::scm::dates;
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

/// What to enroll; the client turns it into SCM's body (`subjAltNames` joined with `,`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnrollRequest {
    /// Organization or department id.
    pub org_id: i64,
    /// PEM CSR (armour optional). Its SANs are ignored by SCM.
    pub csr: String,
    /// Profile id from `/ssl/v1/types`.
    pub cert_type: i64,
    /// Days; one of the profile's terms.
    pub term: u32,
    /// Every name the certificate must carry (SCM does not copy them from the CSR).
    pub subj_alt_names: Vec<String>,
    /// The certificate's CN. Sent explicitly so that which name SCM puts in the subject is never
    /// left to how it reads the CSR's subject.
    pub common_name: Option<String>,
    /// Free text ≤ 1024 chars; the bridge puts its order marker here for reconciliation.
    pub comments: Option<String>,
    /// Email address(es) notified by SCM.
    pub external_requester: Option<String>,
    /// Custom field values.
    pub custom_fields: Vec<CustomFieldValue>,
}

/// `POST /ssl/v1/enroll` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollResponse {
    /// Id for collect, details, revoke.
    pub ssl_id: i64,
    /// Token for `POST /ssl/v1/renew/{renewId}`.
    #[serde(default)]
    pub renew_id: Option<String>,
}

/// `POST /ssl/v1/renewById/{id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewResponse {
    /// The new certificate's id.
    pub ssl_id: i64,
}

/// A certificate's state in SCM; unknown values are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    /// Awaiting an administrator's approval.
    Requested,
    /// Approved, not yet sent to the CA.
    Approved,
    /// Approved by a super-admin.
    SaApproved,
    /// Sent to the CA.
    Applied,
    /// Issued: collectable.
    Issued,
    /// Declined by an administrator (terminal).
    Declined,
    /// Rejected by the CA (terminal).
    Rejected,
    /// Invalid (terminal).
    Invalid,
    /// Revoked.
    Revoked,
    /// Expired.
    Expired,
    /// Replaced by a newer certificate.
    Replaced,
    /// Created, not yet submitted.
    Init,
    /// A status this client does not know.
    Other(String),
}

impl CertStatus {
    /// SCM's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            CertStatus::Requested => "Requested",
            CertStatus::Approved => "Approved",
            CertStatus::SaApproved => "SAApproved",
            CertStatus::Applied => "Applied",
            CertStatus::Issued => "Issued",
            CertStatus::Declined => "Declined",
            CertStatus::Rejected => "Rejected",
            CertStatus::Invalid => "Invalid",
            CertStatus::Revoked => "Revoked",
            CertStatus::Expired => "Expired",
            CertStatus::Replaced => "Replaced",
            CertStatus::Init => "Init",
            CertStatus::Other(s) => s,
        }
    }

    /// Parses SCM's spelling, case-insensitively.
    pub fn parse(s: &str) -> Self {
        let all = [
            CertStatus::Requested,
            CertStatus::Approved,
            CertStatus::SaApproved,
            CertStatus::Applied,
            CertStatus::Issued,
            CertStatus::Declined,
            CertStatus::Rejected,
            CertStatus::Invalid,
            CertStatus::Revoked,
            CertStatus::Expired,
            CertStatus::Replaced,
            CertStatus::Init,
        ];
        all.into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .unwrap_or_else(|| CertStatus::Other(s.to_string()))
    }

    /// Not issued yet, still moving (Requested, Approved, SAApproved, Applied, Init).
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            CertStatus::Requested
                | CertStatus::Approved
                | CertStatus::SaApproved
                | CertStatus::Applied
                | CertStatus::Init
        )
    }

    /// Will never be issued (Declined, Rejected, Invalid).
    pub fn is_failed(&self) -> bool {
        matches!(
            self,
            CertStatus::Declined | CertStatus::Rejected | CertStatus::Invalid
        )
    }
}

impl Serialize for CertStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CertStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CertStatus::parse(&String::deserialize(d)?))
    }
}

/// `GET /ssl/v1/{sslId}`: a certificate's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDetails {
    /// The sslId (the client fills it in when SCM leaves `id` out).
    #[serde(default)]
    pub id: i64,
    /// CN (from the CSR).
    #[serde(default)]
    pub common_name: Option<String>,
    /// Org or department id.
    #[serde(default)]
    pub org_id: Option<i64>,
    /// State.
    pub status: CertStatus,
    /// The profile.
    #[serde(default)]
    pub cert_type: Option<SslType>,
    /// Days.
    #[serde(default)]
    pub term: Option<u32>,
    /// Dates (any SCM form; empty → `None`).
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub requested: Option<NaiveDate>,
    /// Approval date.
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub approved: Option<NaiveDate>,
    /// Issue date.
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub issued: Option<NaiveDate>,
    /// Expiry date.
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub expires: Option<NaiveDate>,
    /// Revocation date.
    #[serde(default, deserialize_with = "dates::deserialize_opt")]
    pub revoked: Option<NaiveDate>,
    /// Revocation reason code.
    #[serde(default)]
    pub reason_code: Option<i64>,
    /// Uppercase hex with colons, once issued (`None` when empty).
    #[serde(default, deserialize_with = "empty_none")]
    pub serial_number: Option<String>,
    /// Names on the certificate.
    #[serde(default, deserialize_with = "names")]
    pub subject_alternative_names: Vec<String>,
    /// Enroll's `comments` (where the bridge's order marker lives).
    #[serde(default)]
    pub comments: Option<String>,
    /// Enroll's `externalRequester` (`None` when SCM sends `""`, as it does for "not given").
    #[serde(default, deserialize_with = "empty_none")]
    pub external_requester: Option<String>,
    /// How it was requested (e.g. "REST API").
    #[serde(default)]
    pub requested_via: Option<String>,
}

/// One row of `GET /ssl/v1` (list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    /// The sslId.
    pub ssl_id: i64,
    /// CN.
    #[serde(default)]
    pub common_name: Option<String>,
    /// Names.
    #[serde(default, deserialize_with = "names")]
    pub subject_alternative_names: Vec<String>,
    /// Serial, once issued.
    #[serde(default, deserialize_with = "empty_none")]
    pub serial_number: Option<String>,
}

/// Filters and paging for `GET|HEAD /ssl/v1`; `None` fields are not sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// First row (0-based).
    pub position: Option<u64>,
    /// Rows per page (SCM allows up to 200).
    pub size: Option<u64>,
    /// Exact CN.
    pub common_name: Option<String>,
    /// A name on the certificate.
    pub subject_alternative_name: Option<String>,
    /// Serial number.
    pub serial_number: Option<String>,
    /// Status (SCM spelling).
    pub status: Option<String>,
    /// Org or department.
    pub org_id: Option<i64>,
    /// Profile.
    pub ssl_type_id: Option<i64>,
    /// `externalRequester`.
    pub external_requester: Option<String>,
    /// `requestedVia`.
    pub requested_via: Option<String>,
}

impl ListFilter {
    /// Query pairs in SCM's names.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let mut add = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                q.push((k, v));
            }
        };
        add("position", self.position.map(|v| v.to_string()));
        add("size", self.size.map(|v| v.to_string()));
        add("commonName", self.common_name.clone());
        add(
            "subjectAlternativeName",
            self.subject_alternative_name.clone(),
        );
        add("serialNumber", self.serial_number.clone());
        add("status", self.status.clone());
        add("orgId", self.org_id.map(|v| v.to_string()));
        add("sslTypeId", self.ssl_type_id.map(|v| v.to_string()));
        add("externalRequester", self.external_requester.clone());
        add("requestedVia", self.requested_via.clone());
        q
    }
}

/// A page of a list call plus SCM's `X-Total-Count`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Rows of this page.
    pub items: Vec<T>,
    /// Total rows matching the filter, when SCM sent the header.
    pub total: Option<u64>,
}

/// Revocation reasons SCM accepts since mid-2025 (RFC 5280 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    /// 0.
    Unspecified = 0,
    /// 1.
    KeyCompromise = 1,
    /// 3.
    AffiliationChanged = 3,
    /// 4.
    Superseded = 4,
    /// 5.
    CessationOfOperation = 5,
}

impl RevocationReason {
    /// Maps an RFC 5280 code (e.g. from ACME revokeCert); `None` for codes SCM refuses.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_tolerate_scm_quirks() {
        let d: CertificateDetails = serde_json::from_str(
            r#"{"id": 5000000000, "sslId": 5000000000, "status": "Applied", "requested": "01/31/2025",
                "approved": "", "expires": "2026-01-31", "serialNumber": "",
                "subjectAlternativeNames": "a.example, b.example", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(d.id, 5_000_000_000);
        assert_eq!(d.status, CertStatus::Applied);
        assert!(d.status.is_pending());
        assert_eq!(d.approved, None);
        assert_eq!(d.serial_number, None);
        assert_eq!(d.subject_alternative_names, ["a.example", "b.example"]);
        assert_eq!(d.expires, NaiveDate::from_ymd_opt(2026, 1, 31));
    }

    #[test]
    fn unknown_status_is_kept() {
        assert_eq!(
            CertStatus::parse("Weird"),
            CertStatus::Other("Weird".into())
        );
        assert_eq!(CertStatus::parse("saapproved"), CertStatus::SaApproved);
    }
}
