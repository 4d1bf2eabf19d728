//! What an account may request: name patterns and SCM bindings from its EAB key, global limits,
//! profiles.
//!
//! Placeholder: lands with the orders-and-validation issue.

use serde::Deserialize;

/// `[policy]`: limits that apply to every account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {}

/// `[profiles.NAME]`: one certificate profile offered to clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Shown to clients in the directory's `meta.profiles`.
    pub description: String,
}
