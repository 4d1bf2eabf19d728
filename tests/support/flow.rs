//! A whole ACME flow for issuance tests: the bridge with an in-process SCM sandbox, an http-01
//! responder on loopback, and helpers that drive an order to `ready` and finalize it.

use super::app::TestApp;
use super::client::{b64, Client, Reply};
use super::db::TestDb;
use super::validation::dns::DnsServer;
use acme_sectigo_bridge::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serves `/.well-known/acme-challenge/{token}` from a map the test fills.
#[derive(Clone, Default)]
pub struct Responder {
    pub tokens: Arc<Mutex<HashMap<String, String>>>,
    pub port: u16,
}

impl Responder {
    pub async fn start() -> Self {
        let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let app = axum::Router::new()
            .route(
                "/.well-known/acme-challenge/{token}",
                get(
                    |State(t): State<Arc<Mutex<HashMap<String, String>>>>,
                     Path(token): Path<String>| async move {
                        t.lock().unwrap().get(&token).cloned().unwrap_or_default()
                    },
                ),
            )
            .with_state(tokens.clone());
        // Two loopback addresses on one port, so orders can name two hosts.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let second = tokio::net::TcpListener::bind(("127.0.0.2", port))
            .await
            .unwrap();
        let app2 = app.clone();
        tokio::spawn(async move { axum::serve(listener, app).await });
        tokio::spawn(async move { axum::serve(second, app2).await });
        Self { tokens, port }
    }
}

/// The bridge wired to a sandbox, validating http-01 against [`Responder`] on 127.0.0.1.
pub struct Env {
    pub app: TestApp,
    pub sandbox: SandboxHandle,
    pub responder: Responder,
    /// The bridge's only resolver (CAA pre-check, validation): empty unless a test adds records.
    pub dns: DnsServer,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default(), |_| {}).await
    }

    pub async fn start_with(
        sandbox_cfg: SandboxConfig,
        tweak: impl FnOnce(&mut acme_sectigo_bridge::config::Config),
    ) -> Self {
        Self::start_on(Arc::new(TestDb::create().await), sandbox_cfg, tweak).await
    }

    /// As [`Env::start_with`] on a database of the caller's (e.g. on a throwaway cluster).
    pub async fn start_on(
        db: Arc<TestDb>,
        sandbox_cfg: SandboxConfig,
        tweak: impl FnOnce(&mut acme_sectigo_bridge::config::Config),
    ) -> Self {
        let sandbox = Sandbox::bind(sandbox_cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
        let responder = Responder::start().await;
        let dns = DnsServer::start().await;
        let resolver = dns.addr;
        let mut scm = sandbox.scm_config();
        scm.org_id = Some(1001);
        scm.cert_type = Some(501);
        scm.term = Some(90);
        let port = responder.port;
        let app = TestApp::spawn_on(db, move |c| {
            c.scm = Some(scm);
            c.validation.http_port = port;
            c.validation.dns_resolvers = vec![resolver];
            c.validation.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
            c.validation.timeout_secs = 3;
            c.issuance.poll_interval_ms = 50;
            c.issuance.collect_initial_secs = 1;
            c.issuance.collect_max_secs = 1;
            tweak(c);
        })
        .await;
        Self {
            app,
            sandbox,
            responder,
            dns,
        }
    }

    /// A registered client whose EAB key allows loopback addresses.
    pub async fn client(&self) -> Client<'_> {
        let (kid, hmac) = self
            .app
            .eab_key_for(&["127.0.0.0/8", "*.example.test"], &[], false)
            .await;
        let mut c = Client::new(&self.app);
        assert_eq!(c.register(Some((&kid, &hmac))).await.status, 201);
        c
    }

    /// Creates an order for IP identifiers and completes http-01 for each; returns the order URL
    /// and body once it is `ready`.
    pub async fn ready_order(&self, c: &Client<'_>, ips: &[&str]) -> (String, Value) {
        let ids: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"type": "ip", "value": ip}))
            .collect();
        self.ready_order_with(c, &json!({ "identifiers": ids }))
            .await
    }

    /// As [`Env::ready_order`] with a newOrder payload of the caller's (e.g. with `replaces`).
    pub async fn ready_order_with(&self, c: &Client<'_>, payload: &Value) -> (String, Value) {
        let r = c
            .post(&self.app.url("/acme/new-order"), Some(payload))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let order_url = r.location().unwrap().to_string();
        for authz in r.body["authorizations"].as_array().unwrap() {
            let a = c.post(authz.as_str().unwrap(), None).await;
            let ch = a.body["challenges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|ch| ch["type"] == "http-01")
                .unwrap()
                .clone();
            let token = ch["token"].as_str().unwrap().to_string();
            let keyauth = format!("{token}.{}", c.key.thumbprint());
            self.responder.tokens.lock().unwrap().insert(token, keyauth);
            let r = c.post(ch["url"].as_str().unwrap(), Some(&json!({}))).await;
            assert_eq!(r.status, 200, "{r:?}");
            wait_status(c, authz.as_str().unwrap(), &["valid"]).await;
        }
        let body = wait_status(c, &order_url, &["ready"]).await;
        (order_url, body)
    }
}

/// POST-as-GETs `url` until its status is one of `want` (panics on another final state or after
/// 20 s).
pub async fn wait_status(c: &Client<'_>, url: &str, want: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = c.post(url, None).await;
        let status = r.body["status"].as_str().unwrap_or("").to_string();
        if want.contains(&status.as_str()) {
            return r.body;
        }
        assert!(
            !matches!(status.as_str(), "invalid" | "valid") || want.contains(&status.as_str()),
            "{url} became {status}: {}",
            r.body
        );
        assert!(
            Instant::now() < deadline,
            "{url} stuck at {status}: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A CSR for `names` with a fresh P-256 key (CN = first name unless `cn` overrides).
pub fn csr(names: &[&str], cn: Option<&str>) -> (Vec<u8>, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    (csr_with_key(names, cn, &key), key)
}

/// A CSR for `names` signed with `key`.
pub fn csr_with_key(names: &[&str], cn: Option<&str>, key: &rcgen::KeyPair) -> Vec<u8> {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(cn) = cn.or(names.first().copied()) {
        dn.push(rcgen::DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.serialize_request(key).unwrap().der().to_vec()
}

/// A CSR for `names` with a fresh P-256 key and an empty subject (no CN at all).
pub fn csr_without_cn(names: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// POSTs finalize with `csr_der`.
pub async fn finalize(c: &Client<'_>, order: &Value, csr_der: &[u8]) -> Reply {
    c.post(
        order["finalize"].as_str().unwrap(),
        Some(&json!({ "csr": b64(csr_der) })),
    )
    .await
}
