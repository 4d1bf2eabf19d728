//! Test helpers for the validation tests: an in-process DNS server, HTTP and tls-alpn-01 servers on
//! loopback, and validator configurations pointing at them.
#![allow(dead_code)]

pub mod dns;
pub mod responders;
pub mod servers;

use acme_sectigo_bridge::model::Identifier;
use acme_sectigo_bridge::validation::{ValidationConfig, Validator};
use std::net::SocketAddr;

/// A validator that asks `dns` and may connect to loopback (unless `allow_loopback` is false).
pub fn validator(
    dns: SocketAddr,
    http_port: u16,
    tls_port: u16,
    allow_loopback: bool,
) -> Validator {
    Validator::new(&config(dns, http_port, tls_port, allow_loopback)).expect("validator")
}

/// The configuration of [`validator`]: 2 s timeout so failing tests stay fast.
pub fn config(
    dns: SocketAddr,
    http_port: u16,
    tls_port: u16,
    allow_loopback: bool,
) -> ValidationConfig {
    ValidationConfig {
        http_port,
        tls_alpn_port: tls_port,
        dns_resolvers: vec![dns],
        timeout_secs: 2,
        allowed_networks: if allow_loopback {
            vec!["127.0.0.0/8".parse().unwrap()]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

pub fn dns_id(name: &str) -> Identifier {
    Identifier {
        kind: "dns".into(),
        value: name.into(),
    }
}

pub fn ip_id(ip: &str) -> Identifier {
    Identifier {
        kind: "ip".into(),
        value: ip.into(),
    }
}

/// A port on loopback where nothing listens: bound, then released.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
pub const KEY_AUTHZ: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
pub const OTHER_KEY_AUTHZ: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.AAAAzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
