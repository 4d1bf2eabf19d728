//! acme-sectigo-bridge: an ACME (RFC 8555) server whose certificates come from Sectigo Certificate
//! Manager. See docs/ARCHITECTURE.md for how the modules fit together.

pub mod acme;
pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod encoding;
pub mod ids;
pub mod issuance;
pub mod jose;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod preflight;
pub mod quickstart;
pub mod sandbox;
pub mod scm;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod validation;
pub mod web;
