//! Proving control of identifiers: http-01, dns-01 (RFC 8555 §8) and tls-alpn-01 (RFC 8737).
//!
//! Placeholder: lands with the orders-and-validation issue.

use serde::Deserialize;

/// `[validation]`: ports, resolvers, timeouts and the address policy of challenge validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {}
