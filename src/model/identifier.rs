//! The names an order is for (RFC 8555 §9.7.7, RFC 8738): shared by the wire format, policy,
//! validation and storage, so it is defined once here.

use serde::{Deserialize, Serialize};

/// An identifier (RFC 8555 §9.7.7; `ip` from RFC 8738).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Identifier {
    /// A `dns` identifier.
    pub fn dns(value: impl Into<String>) -> Self {
        Self {
            kind: "dns".into(),
            value: value.into(),
        }
    }

    /// An `ip` identifier (RFC 8738).
    pub fn ip(value: impl Into<String>) -> Self {
        Self {
            kind: "ip".into(),
            value: value.into(),
        }
    }
}
