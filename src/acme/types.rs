//! RFC 8555 wire types, as clients see them.

use serde::{Deserialize, Serialize};

/// An identifier (RFC 8555 §9.7.7; `ip` from RFC 8738).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}
