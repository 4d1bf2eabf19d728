//! Shared test support: a database per test, the real server on a loopback port, an ACME client.
#![allow(dead_code)]

pub mod acme;
pub mod app;
pub mod child;
pub mod client;
pub mod db;
pub mod flow;
pub mod process;
pub mod remote;
