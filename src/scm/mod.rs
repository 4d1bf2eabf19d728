//! Typed client for Sectigo Certificate Manager's REST API (see shared/scm-api.md). Knows nothing of
//! ACME: the issuance worker translates between the two.
//!
//! Placeholder: the full client lands with the SCM issue.

pub mod cli;

use serde::Deserialize;

/// `[scm]`: how to reach SCM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScmConfig {
    /// Base URL up to and including `/api`, e.g. `https://cert-manager.com/api`.
    pub base_url: Option<url::Url>,
}
