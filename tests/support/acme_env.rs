//! The environment of the ACME order and challenge tests: a bridge whose validator points at a
//! test DNS server, an http-01 responder and a tls-alpn-01 port on loopback, registered clients,
//! and the assertions about how a validation ended. Part of `support`.
#![allow(dead_code)]

use crate::support::acme::{challenge, links, spawn_validating, Targets};
use crate::support::app::TestApp;
use crate::support::client::{Client, Reply};
use crate::support::validation::dns::DnsServer;
use crate::support::validation::responders::{Forwarder, Http01Responder};
use acme_sectigo_bridge::config::Config;
use serde_json::{json, Value};

pub const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A bridge plus the DNS, http-01 and tls-alpn-01 servers its validator is pointed at.
pub struct Env {
    pub app: TestApp,
    pub dns: DnsServer,
    pub http: Http01Responder,
    pub tls: Forwarder,
}

/// `allow_loopback: false` leaves `allowed_networks` empty; `http_port` overrides the responder's;
/// `tweak` adjusts the rest of the configuration.
pub async fn env_with(
    allow_loopback: bool,
    http_port: Option<u16>,
    tweak: impl FnOnce(&mut Config),
) -> Env {
    let dns = DnsServer::start().await;
    let http = Http01Responder::start().await;
    let tls = Forwarder::start().await;
    let targets = Targets {
        dns: dns.addr,
        http_port: http_port.unwrap_or(http.addr.port()),
        tls_port: tls.addr.port(),
        allow_loopback,
    };
    let app = spawn_validating(targets, tweak).await;
    Env {
        app,
        dns,
        http,
        tls,
    }
}

/// [`env_with`] without configuration changes.
pub async fn env(allow_loopback: bool, http_port: Option<u16>) -> Env {
    env_with(allow_loopback, http_port, |_| {}).await
}

/// A registered client whose EAB key allows `*.example.test` and `127.0.0.0/8`.
pub async fn client(app: &TestApp) -> Client<'_> {
    client_for(app, &["*.example.test", "127.0.0.0/8"]).await
}

/// A registered client whose EAB key allows `patterns`.
pub async fn client_for<'a>(app: &'a TestApp, patterns: &[&str]) -> Client<'a> {
    let (kid, hmac) = app.eab_key_for(patterns, &[], false).await;
    let mut c = Client::new(app);
    let r = c.register(Some((&kid, &hmac))).await;
    assert_eq!(r.status, 201, "{r:?}");
    c
}

/// POSTs `{}` to a challenge: 200, `Link: <authz>;rel="up"`, and validation under way or done.
pub async fn respond(c: &Client<'_>, chall: &Value, authz_url: &str) -> Reply {
    let url = chall["url"].as_str().unwrap();
    let r = c.post(url, Some(&json!({}))).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(links(&r, "up"), [authz_url], "{r:?}");
    assert_eq!(r.body["url"], url);
    assert_eq!(r.body["type"], chall["type"]);
    assert_eq!(r.body["token"], chall["token"]);
    let status = r.body["status"].as_str().unwrap();
    assert!(matches!(status, "processing" | "valid"), "{r:?}");
    r
}

/// The URL and object of the `index`th authorization of an order.
pub async fn authz(c: &Client<'_>, order: &Value, index: usize) -> (String, Value) {
    let url = order["authorizations"][index].as_str().unwrap().to_string();
    let body = c.fetch(&url).await;
    (url, body)
}

pub fn token(chall: &Value) -> &str {
    chall["token"].as_str().unwrap()
}

/// Asserts a settled authorization is valid with only `kind` listed, validated, with a record.
pub fn assert_valid(authz: &Value, kind: &str) -> Value {
    assert_eq!(authz["status"], "valid", "{authz}");
    let challenges = authz["challenges"].as_array().unwrap();
    assert_eq!(
        challenges.len(),
        1,
        "only the valid challenge is listed: {authz}"
    );
    let ch = &challenges[0];
    assert_eq!(ch["type"], kind);
    assert_eq!(ch["status"], "valid");
    assert!(ch["validated"].is_string(), "{ch}");
    assert!(ch.get("error").is_none(), "{ch}");
    ch["validationRecord"][0].clone()
}

/// Asserts challenge, authorization and order all ended invalid with a `want` problem.
pub async fn assert_invalid(
    c: &Client<'_>,
    order_url: &str,
    authz_url: &str,
    kind: &str,
    want: &str,
) {
    let authz = c.settle(authz_url).await;
    assert_eq!(authz["status"], "invalid", "{authz}");
    let ch = challenge(&authz, kind);
    assert_eq!(ch["status"], "invalid", "{authz}");
    let urn = format!("urn:ietf:params:acme:error:{want}");
    assert_eq!(ch["error"]["type"], urn, "{ch}");
    assert!(!ch["error"]["detail"].as_str().unwrap().is_empty());
    let order = c.settle(order_url).await;
    assert_eq!(order["status"], "invalid", "{order}");
    assert_eq!(order["error"]["type"], urn, "{order}");
}

/// Rows in (orders, authorizations, challenges): what a refused newOrder must not have stored.
pub async fn stored_rows(app: &TestApp) -> (i64, i64, i64) {
    (
        app.db.count("orders").await,
        app.db.count("authorizations").await,
        app.db.count("challenges").await,
    )
}

impl Client<'_> {
    /// newOrder with a `profile`; asserts success (201, or 200 for a returned order).
    pub async fn order_with_profile(&self, ids: &[Value], profile: &str) -> (String, Value) {
        let r = self
            .new_order_with(ids, json!({ "profile": profile }))
            .await;
        assert!(matches!(r.status, 200 | 201), "{r:?}");
        (r.location().unwrap().to_string(), r.body)
    }
}

/// A bridge with the validator pointed at a (silent) test DNS server: for tests that never validate.
pub async fn app_with(tweak: impl FnOnce(&mut acme_sectigo_bridge::config::Config)) -> TestApp {
    env_with(true, Some(crate::support::validation::closed_port()), tweak)
        .await
        .app
}
