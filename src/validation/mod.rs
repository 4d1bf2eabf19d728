//! Proving control of identifiers: http-01, dns-01 (RFC 8555 §8) and tls-alpn-01 (RFC 8737).

mod challenge;
mod config;

pub use challenge::{ChallengeType, UnknownChallengeType};
pub use config::ValidationConfig;
