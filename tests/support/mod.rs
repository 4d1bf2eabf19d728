//! Shared test support, one tree for every integration test (`mod support;`): a database per test,
//! the real server on a loopback port, an ACME client (`app`, `client`, `flow`, `acme`, `remote`; instant-acme over plain HTTP in `instant_acme`),
//! real processes (`process`, `child`), a throwaway PostgreSQL cluster to restart (`pg_cluster`), the ACME order/challenge environment (`acme_env`), the SCM
//! sandbox and client (`scm`), DNS/HTTP/TLS servers for validation (`validation`) and the
//! end-to-end stack of separate processes for certbot and lego (`e2e`).
#![allow(dead_code)]

pub mod acme;
pub mod acme_env;
pub mod admin;
pub mod app;
pub mod child;
pub mod client;
pub mod db;
pub mod e2e;
pub mod flow;
pub mod instant_acme;
pub mod pg_cluster;
pub mod process;
pub mod remote;
pub mod scm;
pub mod validation;
