//! An ACME session against bridges running as child processes, the way real clients talk: every
//! request carries the `Replay-Nonce` of an earlier answer (so behind a load balancer a nonce issued
//! by one replica is redeemed by another), plus the steps of an IP-identifier issuance over http-01.

use super::client::{b64, Client, Reply};
use super::flow::Responder;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An account session that reuses nonces from answers (a pool, so concurrent requests work).
pub struct Session<'a> {
    pub c: Client<'a>,
    nonces: Mutex<Vec<String>>,
}

impl<'a> Session<'a> {
    /// Registers a new account (no EAB) and returns the session.
    pub async fn register(app: &'a super::app::TestApp) -> Session<'a> {
        let mut c = Client::new(app);
        let r = c.register(None).await;
        assert_eq!(r.status, 201, "{r:?}");
        let s = Session {
            c,
            nonces: Mutex::default(),
        };
        s.keep_nonce(&r);
        s
    }

    fn keep_nonce(&self, r: &Reply) {
        if let Some(n) = r.header("replay-nonce") {
            self.nonces.lock().unwrap().push(n.to_string());
        }
    }

    /// POSTs a JWS (`None` = POST-as-GET) with a nonce from an earlier answer when there is one.
    pub async fn post(&self, url: &str, payload: Option<&Value>) -> Reply {
        let saved = self.nonces.lock().unwrap().pop();
        let nonce = match saved {
            Some(n) => n,
            None => self.c.nonce().await,
        };
        let mut h = json!({"alg": self.c.key.alg, "nonce": nonce, "url": url});
        match &self.c.kid {
            Some(kid) => h["kid"] = json!(kid),
            None => h["jwk"] = self.c.key.public(),
        }
        let r = self.c.post_signed(url, &h, payload).await;
        self.keep_nonce(&r);
        assert_ne!(
            r.body["type"], "urn:ietf:params:acme:error:badNonce",
            "a nonce from another replica was refused: {r:?}"
        );
        r
    }

    /// POST-as-GETs `url` until its status is one of `want`; panics on another final state or after
    /// `within`.
    pub async fn wait_status(&self, url: &str, want: &[&str], within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let r = self.post(url, None).await;
            assert_eq!(r.status, 200, "{url}: {r:?}");
            let status = r.body["status"].as_str().unwrap_or("").to_string();
            if want.contains(&status.as_str()) {
                return r.body;
            }
            assert!(
                !matches!(status.as_str(), "invalid" | "valid"),
                "{url} became {status}: {}",
                r.body
            );
            assert!(
                Instant::now() < deadline,
                "{url} still {status} after {within:?}: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates an order for IP identifiers and completes http-01 for each through `responder`;
    /// returns the order URL and body once it is `ready`.
    pub async fn ready_order(&self, responder: &Responder, ips: &[&str]) -> (String, Value) {
        let ids: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"type": "ip", "value": ip}))
            .collect();
        let r = self
            .post(
                &self.c.app.url("/acme/new-order"),
                Some(&json!({ "identifiers": ids })),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let order_url = r.location().unwrap().to_string();
        for authz in r.body["authorizations"].as_array().unwrap() {
            let authz = authz.as_str().unwrap();
            let a = self.post(authz, None).await;
            assert_eq!(a.status, 200, "{a:?}");
            let ch = a.body["challenges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|ch| ch["type"] == "http-01")
                .expect("an http-01 challenge")
                .clone();
            let token = ch["token"].as_str().unwrap().to_string();
            let keyauth = format!("{token}.{}", self.c.key.thumbprint());
            responder.tokens.lock().unwrap().insert(token, keyauth);
            let r = self
                .post(ch["url"].as_str().unwrap(), Some(&json!({})))
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            self.wait_status(authz, &["valid"], Duration::from_secs(20))
                .await;
        }
        let body = self
            .wait_status(&order_url, &["ready"], Duration::from_secs(20))
            .await;
        (order_url, body)
    }

    /// POSTs finalize for `order` with a CSR for `ips` under a fresh key; returns the answer and key.
    pub async fn finalize(&self, order: &Value, ips: &[&str]) -> (Reply, rcgen::KeyPair) {
        let (csr, key) = super::flow::csr(ips, None);
        let r = self
            .post(
                order["finalize"].as_str().unwrap(),
                Some(&json!({ "csr": b64(&csr) })),
            )
            .await;
        (r, key)
    }

    /// Downloads the certificate of a `valid` order and checks its leaf names `ips` and carries
    /// `key`; returns the PEM chain.
    pub async fn download(&self, order: &Value, ips: &[&str], key: &rcgen::KeyPair) -> String {
        let url = order["certificate"]
            .as_str()
            .unwrap_or_else(|| panic!("a valid order has a certificate URL: {order}"));
        let r = self.post(url, None).await;
        assert_eq!(r.status, 200, "{r:?}");
        let pem = r.body.as_str().expect("a PEM chain").to_string();
        check_leaf(&pem, ips, key);
        pem
    }
}

/// The first certificate of `pem` has `key`'s public key and an IP SAN for each of `ips`.
pub fn check_leaf(pem: &str, ips: &[&str], key: &rcgen::KeyPair) {
    use x509_parser::prelude::*;
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    let (_, leaf) = X509Certificate::from_der(&block.contents).expect("a certificate");
    assert_eq!(
        leaf.public_key().raw,
        key.public_key_der().as_slice(),
        "the leaf carries the CSR's key"
    );
    let sans: Vec<String> = leaf
        .subject_alternative_name()
        .unwrap()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::IPAddress(b) if b.len() == 4 => {
                        Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    for ip in ips {
        assert!(sans.iter().any(|s| s == ip), "{ip} not in {sans:?}");
    }
}
