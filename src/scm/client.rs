//! [`ScmClient`]: authentication headers, timeouts, the concurrency bound and the mapping of every
//! response to `Result<_, ScmError>`. The individual calls live in `ssl.rs` and `discovery.rs`.

use crate::scm::config::ScmConfig;
use crate::scm::error::{ErrorBody, ScmError};
use crate::secret::Secret;
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A typed SCM REST client. Cheap to clone (one `Arc`); every clone shares the connection pool and the
/// bound on concurrent calls.
#[derive(Clone)]
pub struct ScmClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    login: String,
    customer_uri: String,
    /// `None` with client-certificate authentication.
    password: Option<Secret>,
    limit: Semaphore,
    stats: super::stats::CallStats,
}

impl fmt::Debug for ScmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScmClient")
            .field("base", &self.inner.base)
            .field("login", &self.inner.login)
            .field("customer_uri", &self.inner.customer_uri)
            .field("password", &self.inner.password)
            .finish()
    }
}

/// A fully read HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// What a request sends as its body.
pub(crate) enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
}

impl ScmClient {
    /// Builds a client from `[scm]` (reads `client_cert`/`client_key`/`ca_file` from disk).
    pub fn new(cfg: &ScmConfig) -> Result<Self, ScmError> {
        cfg.validate()
            .map_err(|e| ScmError::Config(e.to_string()))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs.max(1)))
            .user_agent(concat!("acme-sectigo-bridge/", env!("CARGO_PKG_VERSION")));
        if let (Some(cert), Some(key)) = (&cfg.client_cert, &cfg.client_key) {
            let mut pem = read(cert)?;
            pem.push(b'\n');
            pem.extend(read(key)?);
            let id = reqwest::Identity::from_pem(&pem)
                .map_err(|e| ScmError::Config(format!("client certificate/key: {e}")))?;
            builder = builder.identity(id);
        }
        if let Some(ca) = &cfg.ca_file {
            let certs = reqwest::Certificate::from_pem_bundle(&read(ca)?)
                .map_err(|e| ScmError::Config(format!("{}: {e}", ca.display())))?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ScmError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: cfg.effective_base(),
                login: cfg.login.clone(),
                customer_uri: cfg.customer_uri.clone(),
                password: if cfg.uses_client_cert() {
                    None
                } else {
                    cfg.password.clone()
                },
                limit: Semaphore::new(cfg.max_concurrent_requests.max(1)),
                stats: Default::default(),
            }),
        })
    }

    /// The base URL paths are appended to (ends in `/api` or `/private/api`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Calls made so far by operation and outcome.
    pub fn call_counts(&self) -> Vec<((String, &'static str), u64)> {
        self.inner.stats.snapshot()
    }

    /// How long SCM took to answer, by operation (for `/metrics`).
    pub fn call_durations(&self) -> Vec<(String, crate::metrics::Histogram)> {
        self.inner.stats.durations()
    }

    /// Sends one request and reads the whole response; non-2xx becomes [`ScmError::Api`]. Every
    /// call is counted by operation and outcome, and timed.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
        mutating: bool,
    ) -> Result<Reply, ScmError> {
        let _permit = self.permit().await?;
        self.send_holding(method, path, query, body, mutating).await
    }

    /// A slot of the bound on concurrent calls (`scm.max_concurrent_requests`); a request is
    /// really sent only once it holds one.
    pub(crate) async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ScmError> {
        self.inner
            .limit
            .acquire()
            .await
            .map_err(|_| ScmError::Config("client closed".into()))
    }

    /// [`ScmClient::send`] for a caller that already holds a [`ScmClient::permit`].
    pub(crate) async fn send_holding(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
        mutating: bool,
    ) -> Result<Reply, ScmError> {
        let counted_method = method.clone();
        let called = Instant::now();
        let result = async move {
            let url = format!("{}{}", self.inner.base, path);
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .header("login", &self.inner.login)
                .header("customerUri", &self.inner.customer_uri)
                .header(http::header::ACCEPT, "application/json");
            if let Some(p) = &self.inner.password {
                let mut v = HeaderValue::from_str(p.expose())
                    .map_err(|_| ScmError::Config("password is not a valid header value".into()))?;
                v.set_sensitive(true);
                req = req.header("password", v);
            }
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Body::Json(v) = body {
                req = req
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(v).expect("JSON value serialises"));
            }
            let result = async {
                let resp = req.send().await?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>(Reply {
                    status,
                    headers,
                    body,
                })
            }
            .await;
            let elapsed_ms = called.elapsed().as_millis() as u64;
            let reply = match result {
                Ok(r) => r,
                Err(e) => {
                    let err = ScmError::from_reqwest(&e, mutating);
                    tracing::warn!(%method, path, elapsed_ms, error = %err, "SCM call failed");
                    return Err(err);
                }
            };
            if (200..300).contains(&reply.status) {
                // Some SCM endpoints answer 200 with an error object; treat it like the error it is.
                if let Some(e) = error_body(&reply.body) {
                    if e.code < 0 {
                        return Err(self.api_error(&method, path, reply.status, e, mutating));
                    }
                }
                tracing::debug!(%method, path, status = reply.status, elapsed_ms, "SCM call");
                return Ok(reply);
            }
            let err = match error_body(&reply.body) {
                Some(e) => self.api_error(&method, path, reply.status, e, mutating),
                None => ScmError::Api {
                    status: reply.status,
                    code: None,
                    description: String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)])
                        .trim()
                        .to_string(),
                    mutating,
                },
            };
            if err.code().is_none() {
                tracing::warn!(%method, path, status = reply.status, elapsed_ms, "SCM call failed");
            }
            Err(err)
        }
        .await;
        self.inner
            .stats
            .record(&counted_method, path, &result, called.elapsed());
        result
    }

    fn api_error(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        e: ErrorBody,
        mutating: bool,
    ) -> ScmError {
        tracing::debug!(%method, path, status, code = e.code, description = %e.description, "SCM refused");
        ScmError::Api {
            status,
            code: Some(e.code),
            description: e.description,
            mutating,
        }
    }

    /// Escape hatch: POSTs an arbitrary JSON body to `path` (relative to the base URL) with the usual
    /// authentication and error mapping. For calls not wrapped yet and for tests of SCM's refusals.
    pub async fn post_raw(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<bytes::Bytes, ScmError> {
        Ok(self
            .send(Method::POST, path, &[], Body::Json(body), true)
            .await?
            .body)
    }

    /// GET/HEAD/POST expecting a JSON body of type `T`.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
        mutating: bool,
    ) -> Result<(T, HeaderMap), ScmError> {
        let reply = self.send(method, path, query, body, mutating).await?;
        decode(path, reply, mutating)
    }
}

/// A reply's JSON body as `T` (with its headers).
pub(crate) fn decode<T: DeserializeOwned>(
    path: &str,
    reply: Reply,
    mutating: bool,
) -> Result<(T, HeaderMap), ScmError> {
    let value = serde_json::from_slice(&reply.body).map_err(|e| ScmError::Decode {
        message: format!("{path}: {e}"),
        mutating,
    })?;
    Ok((value, reply.headers))
}

/// Parses `{"code": …, "description": …}` if that is what the body is.
fn error_body(body: &[u8]) -> Option<ErrorBody> {
    let trimmed = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[trimmed] != b'{' {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("code")?.as_i64()?;
    serde_json::from_value(v).ok()
}

/// `X-Total-Count` as a number.
pub(crate) fn total_count(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, ScmError> {
    std::fs::read(path).map_err(|e| ScmError::Config(format!("{}: {e}", path.display())))
}
