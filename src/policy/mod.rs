//! What an account may request: identifier syntax, the name patterns of its EAB key, global limits and
//! certificate profiles. Pure functions without I/O, so every rule is unit-tested and the ACME layer
//! only wires them in.

mod config;
mod identifier;
mod order;
mod pattern;
mod profile;

pub use config::{PolicyConfig, ProfileConfig};
pub use identifier::{challenge_types_for, is_wildcard, normalize_identifier, IdentifierError};
pub use order::check_new_order;
pub use pattern::{allowed, NamePattern, PatternError};
pub use profile::{resolve_profile, validate_profiles};
