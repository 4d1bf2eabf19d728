//! Organizations, departments, SSL types (profiles) and custom fields.

use super::null_default;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One organization from `GET /organization/v1`; its departments are used exactly like orgs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// The `orgId` to enroll under.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Certificate families the org may issue (`SSL`, `SMIME`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub cert_types: Vec<String>,
    /// Departments; each has its own id usable as `orgId`.
    #[serde(default, deserialize_with = "null_default")]
    pub departments: Vec<Department>,
}

/// A department inside an [`Organization`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Department {
    /// The `orgId` to enroll under.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Name of the organization it belongs to.
    #[serde(default)]
    pub parent_name: Option<String>,
    /// Certificate families it may issue.
    #[serde(default, deserialize_with = "null_default")]
    pub cert_types: Vec<String>,
}

/// `GET /organization/v1/{id}`: the list entry plus settings such as the SSL Web API flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationDetails {
    /// Org or department id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Certificate families.
    #[serde(default, deserialize_with = "null_default")]
    pub cert_types: Vec<String>,
    /// Departments (empty for a department).
    #[serde(default, deserialize_with = "null_default")]
    pub departments: Vec<Department>,
    /// Whether the SSL tab's "Web API" is enabled; without it enroll fails with -1021.
    #[serde(default)]
    pub ssl_certs_api_enabled: Option<bool>,
    /// Parent organization's name, for a department.
    #[serde(default)]
    pub parent_name: Option<String>,
}

/// An SSL certificate type ("profile") from `GET /ssl/v1/types`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SslType {
    /// The `certType` to enroll with.
    pub id: i64,
    /// Display name, e.g. "GÉANT OV SSL".
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Allowed terms in days; never hard-code them (they shrink over the years).
    #[serde(default, deserialize_with = "null_default")]
    pub terms: Vec<u32>,
    /// Allowed key types and sizes/curves, e.g. `{"RSA": ["2048"], "EC": ["P-256"]}`.
    #[serde(default, deserialize_with = "null_default")]
    pub key_types: BTreeMap<String, Vec<String>>,
    /// Whether the profile uses the org's secondary name.
    #[serde(default)]
    pub use_secondary_org_name: bool,
}

/// A custom field definition from `GET /ssl/v1/customFields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    /// Field id.
    pub id: i64,
    /// Name to use in enroll's `customFields`.
    pub name: String,
    /// Enroll fails with -62 unless every mandatory field is sent.
    #[serde(default)]
    pub mandatory: bool,
}

/// A custom field value sent with enroll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldValue {
    /// Field name.
    pub name: String,
    /// Value.
    pub value: String,
}
