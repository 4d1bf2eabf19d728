//! Shared test support: a database per test, the real server on a loopback port, an ACME client.
#![allow(dead_code)]

pub mod acme;
pub mod app;
pub mod child;
pub mod client;
pub mod db;
/// The in-process DNS server of the validation tests, so flow tests never ask the system resolver.
// Tests that also load `common_validation` get a second copy of the module; harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../common_validation/dns.rs"]
pub mod dns;
pub mod flow;
pub mod process;
pub mod remote;
