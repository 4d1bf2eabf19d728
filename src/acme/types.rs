//! RFC 8555 wire types, as clients see them (§7.1).

use crate::model::{AccountStatus, Identifier};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The directory object (§7.1.1).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    pub revoke_cert: String,
    pub key_change: String,
    /// RFC 9773 §3: where clients GET a certificate's suggested renewal window.
    pub renewal_info: String,
    pub meta: DirectoryMeta,
}

/// `meta` of the directory.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    pub caa_identities: Vec<String>,
    pub external_account_required: bool,
    /// draft-ietf-acme-profiles: profile name → description.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub profiles: std::collections::BTreeMap<String, String>,
}

/// The account object (§7.1.2).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountResource {
    pub status: AccountStatus,
    pub contact: Vec<String>,
    pub terms_of_service_agreed: bool,
    pub orders: String,
    pub created_at: String,
    /// The binding the account was created with, as sent (§7.1.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<Value>,
}

/// newAccount payload (§7.3). Unknown members are ignored, as the RFC asks.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccountRequest {
    pub contact: Option<Vec<String>>,
    pub terms_of_service_agreed: Option<bool>,
    #[serde(default)]
    pub only_return_existing: bool,
    pub external_account_binding: Option<Value>,
}

/// Account update payload (§7.3.2, §7.3.6).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdateRequest {
    pub contact: Option<Vec<String>>,
    pub status: Option<String>,
}

/// keyChange inner payload (§7.3.5).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChangePayload {
    pub account: String,
    pub old_key: Value,
}

/// newOrder payload (§7.4; `profile` from draft-ietf-acme-profiles).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrderRequest {
    pub identifiers: Vec<Identifier>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub profile: Option<String>,
    /// RFC 9773 §5: the ARI certID of the certificate this order replaces.
    pub replaces: Option<String>,
}

/// Authorization update payload (§7.5.2).
#[derive(Debug, Default, Deserialize)]
pub struct AuthzUpdateRequest {
    pub status: Option<String>,
}
