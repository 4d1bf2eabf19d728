//! Proving control of identifiers: http-01, dns-01 (RFC 8555 §8) and tls-alpn-01 (RFC 8737).
//!
//! Placeholder: lands with the orders-and-validation issue.
