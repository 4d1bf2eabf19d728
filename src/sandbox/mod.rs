//! The SCM emulator: a separate HTTP server with SCM's REST surface, used by tests and the zero-setup
//! default. It shares only wire types with the bridge, never its internals.
//!
//! Placeholder: the emulator lands with the SCM issue.

pub mod cli;

use serde::Deserialize;

/// `[sandbox]`: tenant, organizations, profiles and faults of the emulator.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {}
