//! ACME flows shared by the order and challenge tests: ordering, fetching and polling resources,
//! key authorizations, `Link` headers, and a bridge configured to validate against loopback.

use super::app::TestApp;
use super::client::{Client, Reply};
use acme_sectigo_bridge::config::Config;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a test waits for the worker to finish a validation before failing.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn dns(value: &str) -> Value {
    json!({"type": "dns", "value": value})
}

pub fn ip(value: &str) -> Value {
    json!({"type": "ip", "value": value})
}

/// Where the bridge's validator should look: the test DNS server and challenge ports.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    pub dns: SocketAddr,
    pub http_port: u16,
    pub tls_port: u16,
    /// Whether loopback may be connected to (`allowed_networks = ["127.0.0.0/8"]`).
    pub allow_loopback: bool,
}

impl Targets {
    /// Applies these targets to a configuration: 2 s validation timeout, 50 ms worker polling.
    pub fn apply(&self, c: &mut Config) {
        c.validation.dns_resolvers = vec![self.dns];
        c.validation.http_port = self.http_port;
        c.validation.tls_alpn_port = self.tls_port;
        c.validation.timeout_secs = 2;
        c.validation.allowed_networks = if self.allow_loopback {
            vec!["127.0.0.0/8".parse().unwrap()]
        } else {
            Vec::new()
        };
        c.issuance.poll_interval_ms = 50;
    }
}

/// A bridge whose validator uses `targets`, after `tweak` adjusted anything else.
pub async fn spawn_validating(targets: Targets, tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        targets.apply(c);
        tweak(c);
    })
    .await
}

/// Every value of the `Link` headers of `r` with relation `rel`, without the angle brackets.
pub fn links(r: &Reply, rel: &str) -> Vec<String> {
    let wanted = format!("rel=\"{rel}\"");
    r.headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|l| l.replace(' ', "").contains(&wanted))
        .filter_map(|l| {
            let l = l.trim();
            Some(l[l.find('<')? + 1..l.find('>')?].to_string())
        })
        .collect()
}

/// The challenge of type `kind` in an authorization object.
pub fn challenge<'v>(authz: &'v Value, kind: &str) -> &'v Value {
    authz["challenges"]
        .as_array()
        .expect("challenges")
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} challenge in {authz}"))
}

/// The types of the challenges of an authorization, in order.
pub fn challenge_types(authz: &Value) -> Vec<String> {
    authz["challenges"]
        .as_array()
        .expect("challenges")
        .iter()
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect()
}

impl Client<'_> {
    /// newOrder for `identifiers`, with extra members of the payload merged in.
    pub async fn new_order_with(&self, identifiers: &[Value], extra: Value) -> Reply {
        let mut payload = json!({ "identifiers": identifiers });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                payload[k] = v;
            }
        }
        self.post(&self.app.url("/acme/new-order"), Some(&payload))
            .await
    }

    /// newOrder for `identifiers`; asserts 201 and returns (order URL, order).
    pub async fn order(&self, identifiers: &[Value]) -> (String, Value) {
        let r = self.new_order_with(identifiers, json!({})).await;
        assert_eq!(r.status, 201, "newOrder: {r:?}");
        (r.location().expect("Location").to_string(), r.body)
    }

    /// POST-as-GET; asserts 200 and returns the body.
    pub async fn fetch(&self, url: &str) -> Value {
        let r = self.post(url, None).await;
        assert_eq!(r.status, 200, "POST-as-GET {url}: {r:?}");
        r.body
    }

    /// The first authorization of an order.
    pub async fn first_authz(&self, order: &Value) -> (String, Value) {
        let url = order["authorizations"][0]
            .as_str()
            .expect("authz")
            .to_string();
        let body = self.fetch(&url).await;
        (url, body)
    }

    /// `token.thumbprint` of this client's account key (RFC 8555 §8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.key.thumbprint())
    }

    /// POST-as-GETs `url` until its `status` leaves `pending`/`processing`, or fails after [`WAIT`].
    pub async fn settle(&self, url: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let body = self.fetch(url).await;
            let status = body["status"].as_str().unwrap_or_default();
            if !matches!(status, "pending" | "processing") {
                return body;
            }
            assert!(Instant::now() < deadline, "{url} still {status}: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
