//! A small RFC 8555 client for the load generator: ES256 accounts with EAB, a shared pool of
//! Replay-Nonces (newNonce only when the pool is empty), badNonce retries, loopback-only URLs.

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::alg::ec::EcCurve;
use josekit::jwk::Jwk;
use josekit::jws::alg::ecdsa::EcdsaJwsSigner;
use josekit::jws::{JwsSigner, ES256};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many times one request is re-sent after a badNonce.
const BAD_NONCE_ATTEMPTS: u32 = 5;

/// Pause before re-sending after a connection error (`--retry-secs`).
const CONNECTION_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Longest `Retry-After` honoured before re-sending after a 503 (`--retry-secs`).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The pause before re-sending after a 503: its `Retry-After` (seconds), at most 5 s.
fn retry_pause(retry_after: Option<u64>) -> Duration {
    retry_after
        .map(Duration::from_secs)
        .unwrap_or(CONNECTION_RETRY_PAUSE)
        .min(MAX_RETRY_AFTER)
}

/// A `Retry-After` in seconds, if the response has one.
fn retry_after_of(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url with or without padding (EAB HMAC keys are printed either way).
pub fn b64_decode(s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim().trim_end_matches('='))
        .context("not base64url")
}

/// Why an order failed: `kind` groups failures in the report, `detail` is one example.
#[derive(Debug)]
pub struct Fail {
    pub kind: String,
    pub detail: String,
}

impl Fail {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }
}

/// Accepts only `https://` URLs whose host is 127.0.0.0/8, ::1 or `localhost`.
pub fn check_loopback(u: &str) -> Result<url::Url> {
    let url = url::Url::parse(u).with_context(|| format!("{u} is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback {
        bail!("{u} is not a loopback URL (only 127.0.0.0/8, ::1 and localhost are allowed)");
    }
    if url.scheme() != "https" {
        bail!("{u} is not HTTPS");
    }
    Ok(url)
}

/// Accepts only socket addresses on 127.0.0.0/8 or ::1 (where `--http01-listen` may bind).
pub fn check_loopback_addr(addr: SocketAddr) -> Result<()> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address (only 127.0.0.0/8 and ::1 are allowed)");
    }
    Ok(())
}

/// A response reduced to what the load generator looks at.
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The ACME problem type without its URN prefix, `-` when the body is no problem document.
    pub fn problem(&self) -> String {
        match self.json()["type"].as_str() {
            Some(t) => t
                .trim_start_matches("urn:ietf:params:acme:error:")
                .to_string(),
            None => "-".to_string(),
        }
    }

    /// A failure of `step` by HTTP status and problem type.
    pub fn fail(&self, step: &str) -> Fail {
        Fail::new(
            format!("{step}: HTTP {} {}", self.status, self.problem()),
            String::from_utf8_lossy(&self.body)
                .chars()
                .take(300)
                .collect::<String>(),
        )
    }
}

/// An ES256 account key, with its URL once registered.
pub struct Account {
    pub kid: Option<String>,
    signer: EcdsaJwsSigner,
    public: Value,
}

impl Account {
    /// RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key, for key authorizations.
    pub fn thumbprint(&self) -> String {
        use sha2::Digest;
        // Members in lexicographic order, no whitespace (RFC 7638 §3).
        let canonical = format!(
            r#"{{"crv":{},"kty":{},"x":{},"y":{}}}"#,
            self.public["crv"], self.public["kty"], self.public["x"], self.public["y"]
        );
        b64(&sha2::Sha256::digest(canonical.as_bytes()))
    }

    pub fn generate() -> Result<Self> {
        let jwk = Jwk::generate_ec_key(EcCurve::P256)?;
        let signer = ES256.signer_from_jwk(&jwk)?;
        let mut public = jwk.to_public_key()?.as_ref().clone();
        public.retain(|k, _| matches!(k.as_str(), "kty" | "crv" | "x" | "y"));
        Ok(Self {
            kid: None,
            signer,
            public: Value::Object(public),
        })
    }
}

/// The EAB inner JWS (HS256 over the account's public JWK, RFC 8555 §7.3.4).
fn eab_jws(kid: &str, hmac_key: &[u8], url: &str, account_jwk: &Value) -> Result<Value> {
    use hmac::{Hmac, Mac};
    let p = b64(json!({"alg": "HS256", "kid": kid, "url": url})
        .to_string()
        .as_bytes());
    let pl = b64(account_jwk.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(hmac_key).map_err(|e| anyhow!("{e}"))?;
    mac.update(format!("{p}.{pl}").as_bytes());
    let sig = mac.finalize().into_bytes();
    Ok(json!({"protected": p, "payload": pl, "signature": b64(&sig)}))
}

/// One directory, shared by all workers.
pub struct Client {
    http: reqwest::Client,
    new_nonce: String,
    new_account: String,
    pub new_order: String,
    nonces: Mutex<Vec<String>>,
    /// `--retry-secs`: how long one request keeps being re-sent after connection errors and
    /// 503 + `Retry-After` (zero: never).
    retry: Duration,
    pub bad_nonce_retries: AtomicU64,
    /// Re-sends after a connection error (refused, reset, cut mid-answer).
    pub connection_retries: AtomicU64,
    /// Re-sends after a 503 with `Retry-After`.
    pub unavailable_retries: AtomicU64,
    /// Answers with a 5xx status other than 503 (a client can only give up on those).
    pub server_errors: AtomicU64,
    pub nonce_fetches: AtomicU64,
    pub requests: AtomicU64,
}

impl Client {
    /// Fetches the directory over HTTPS trusting only the PEM bundle `ca_pem`.
    pub async fn connect(
        directory: &str,
        ca_pem: &[u8],
        pool: usize,
        retry: Duration,
    ) -> Result<Self> {
        let url = check_loopback(directory)?;
        let mut builder = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(pool);
        let roots = reqwest::Certificate::from_pem_bundle(ca_pem).context("reading --ca")?;
        if roots.is_empty() {
            bail!("--ca holds no certificate");
        }
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
        if let Some(url::Host::Domain(_)) = url.host() {
            // `localhost` is pinned to 127.0.0.1 so that no resolver can send us elsewhere.
            let port = url.port_or_known_default().unwrap_or(443);
            builder = builder.resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        }
        let http = builder.build()?;
        let resp = http
            .get(url.as_str())
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            bail!("GET {url}: HTTP {}", resp.status());
        }
        let dir: Value = resp.json().await.context("directory is not JSON")?;
        let link = |k: &str| -> Result<String> {
            let s = dir[k]
                .as_str()
                .with_context(|| format!("directory has no {k}"))?;
            check_loopback(s)?;
            Ok(s.to_string())
        };
        Ok(Self {
            new_nonce: link("newNonce")?,
            new_account: link("newAccount")?,
            new_order: link("newOrder")?,
            http,
            nonces: Mutex::new(Vec::new()),
            retry,
            bad_nonce_retries: AtomicU64::new(0),
            connection_retries: AtomicU64::new(0),
            unavailable_retries: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            nonce_fetches: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    fn keep_nonce(&self, headers: &reqwest::header::HeaderMap) {
        if let Some(n) = headers.get("replay-nonce").and_then(|v| v.to_str().ok()) {
            self.nonces.lock().unwrap().push(n.to_string());
        }
    }

    async fn nonce(&self) -> Result<String, Fail> {
        if let Some(n) = self.nonces.lock().unwrap().pop() {
            return Ok(n);
        }
        let started = Instant::now();
        let r = loop {
            self.nonce_fetches.fetch_add(1, Ordering::Relaxed);
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.http.head(&self.new_nonce).send().await {
                Ok(r) if r.status().as_u16() == 503 && self.may_retry(started) => {
                    self.unavailable_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(retry_pause(retry_after_of(r.headers()))).await;
                }
                Ok(r) => break r,
                Err(_) if self.may_retry(started) => {
                    self.connection_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(CONNECTION_RETRY_PAUSE).await;
                }
                Err(e) => return Err(Fail::new("newNonce: transport", e.to_string())),
            }
        };
        r.headers()
            .get("replay-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                Fail::new(
                    format!(
                        "newNonce: HTTP {} without Replay-Nonce",
                        r.status().as_u16()
                    ),
                    "",
                )
            })
    }

    /// A signed POST (`payload` None = POST-as-GET), re-sent with a fresh nonce on badNonce.
    pub async fn post(
        &self,
        step: &str,
        account: &Account,
        url: &str,
        payload: Option<&Value>,
        accept: Option<&str>,
    ) -> Result<Reply, Fail> {
        check_loopback(url).map_err(|e| Fail::new("non-loopback URL", e.to_string()))?;
        let payload = payload
            .map(|p| b64(p.to_string().as_bytes()))
            .unwrap_or_default();
        let mut attempt = 0;
        let started = Instant::now();
        loop {
            attempt += 1;
            let mut protected = json!({"alg": "ES256", "nonce": self.nonce().await?, "url": url});
            match &account.kid {
                Some(kid) => protected["kid"] = json!(kid),
                None => protected["jwk"] = account.public.clone(),
            }
            let p = b64(protected.to_string().as_bytes());
            let sig = account
                .signer
                .sign(format!("{p}.{payload}").as_bytes())
                .map_err(|e| Fail::new("signing", e.to_string()))?;
            let body = json!({"protected": p, "payload": payload, "signature": b64(&sig)});
            let mut req = self
                .http
                .post(url)
                .header("content-type", "application/jose+json")
                .body(body.to_string());
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let resp = match req.send().await {
                Ok(r) => r,
                Err(_) if self.may_retry(started) => {
                    self.connection_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(CONNECTION_RETRY_PAUSE).await;
                    continue;
                }
                Err(e) => return Err(Fail::new(format!("{step}: transport"), e.to_string())),
            };
            self.keep_nonce(resp.headers());
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let location = header("location");
            let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
            let status = resp.status().as_u16();
            let body = match resp.bytes().await {
                Ok(b) => b.to_vec(),
                Err(_) if self.may_retry(started) => {
                    self.connection_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(CONNECTION_RETRY_PAUSE).await;
                    continue;
                }
                Err(e) => return Err(Fail::new(format!("{step}: transport"), e.to_string())),
            };
            if status >= 500 && status != 503 {
                self.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            let reply = Reply {
                status,
                location,
                retry_after,
                body,
            };
            if status == 503 && reply.retry_after.is_some() && self.may_retry(started) {
                self.unavailable_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(retry_pause(reply.retry_after)).await;
                continue;
            }
            if status == 400 && reply.problem() == "badNonce" && attempt < BAD_NONCE_ATTEMPTS {
                self.bad_nonce_retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return Ok(reply);
        }
    }

    /// Whether a request first sent at `started` may be sent again (`--retry-secs`).
    fn may_retry(&self, started: Instant) -> bool {
        started.elapsed() < self.retry
    }

    /// Registers a new ES256 account, with External Account Binding when `eab` is given.
    pub async fn register(&self, eab: Option<(&str, &[u8])>) -> Result<Account> {
        let mut account = Account::generate()?;
        let mut payload = json!({"termsOfServiceAgreed": true});
        if let Some((kid, hmac_key)) = eab {
            payload["externalAccountBinding"] =
                eab_jws(kid, hmac_key, &self.new_account, &account.public)?;
        }
        let r = self
            .post(
                "newAccount",
                &account,
                &self.new_account,
                Some(&payload),
                None,
            )
            .await
            .map_err(|f| anyhow!("{}: {}", f.kind, f.detail))?;
        if r.status != 201 && r.status != 200 {
            let f = r.fail("newAccount");
            bail!("{}: {}", f.kind, f.detail);
        }
        account.kid = Some(r.location.context("newAccount: no Location")?);
        Ok(account)
    }
}
