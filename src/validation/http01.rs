//! http-01 (RFC 8555 §8.3): `GET http://NAME/.well-known/acme-challenge/TOKEN` must answer 200 with
//! the key authorization.
//!
//! Redirects are followed by hand (at most `max_redirects`) so that every hop is checked: only
//! `http` to `http_port` and `https` to `tls_alpn_port` (the HTTPS port), each new host resolved once
//! and filtered by the address policy, and the connection pinned to those addresses. Certificates of
//! HTTPS redirect targets are not verified: what proves control is the key authorization, and the
//! applicant may not have a valid certificate yet (the same choice as Let's Encrypt).

use super::address_policy::AddressPolicy;
use super::dns01::truncate;
use super::error::{ValidationError, ValidationRecord};
use super::resolver::DnsSession;
use super::target::{resolve_checked, Host};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::time::{timeout_at, Instant};
use url::Url;

/// Inputs of one http-01 validation.
pub(crate) struct Http01<'a> {
    pub dns: &'a DnsSession,
    pub policy: &'a AddressPolicy,
    pub http_port: u16,
    pub https_port: u16,
    pub max_redirects: usize,
    pub body_limit: usize,
    pub deadline: Instant,
}

/// The only resolver the HTTP client has: it hands out addresses resolved and checked beforehand,
/// and refuses any name it was not given, so the client can never connect anywhere unchecked.
#[derive(Clone, Default)]
struct Pinned(Arc<Mutex<HashMap<String, Vec<SocketAddr>>>>);

impl Resolve for Pinned {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self
            .0
            .lock()
            .expect("pinned map")
            .get(&name.as_str().to_ascii_lowercase())
            .cloned();
        let name = name.as_str().to_string();
        Box::pin(async move {
            match found {
                Some(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                None => Err(format!("{name} was not resolved by the validator").into()),
            }
        })
    }
}

impl Http01<'_> {
    pub(crate) async fn validate(
        &self,
        host: &Host,
        token: &str,
        key_authorization: &str,
    ) -> Result<ValidationRecord, ValidationError> {
        let pinned = Pinned::default();
        let client = self.client(pinned.clone())?;
        let first = format!(
            "http://{}{}/.well-known/acme-challenge/{token}",
            host.url_host(),
            port_suffix("http", self.http_port)
        );
        let mut url = Url::parse(&first).map_err(|e| {
            ValidationError::new(
                crate::acme::error::ProblemType::Malformed,
                format!("Cannot build the http-01 URL {first}: {e}."),
            )
        })?;
        let mut hops: Vec<ValidationRecord> = Vec::new();
        loop {
            let (record, response) = self.fetch(&client, &pinned, &url).await?;
            let at = describe_at(&url, &record);
            hops.push(record);
            let status = response.status();
            if status.is_redirection() {
                if hops.len() > self.max_redirects {
                    return Err(ValidationError::connection(format!(
                        "Too many redirects: {first} redirected more than {} times (last: {url}).",
                        self.max_redirects
                    )));
                }
                url = self.redirect_target(&url, &response, &at)?;
                continue;
            }
            if status != StatusCode::OK {
                return Err(ValidationError::incorrect(format!(
                    "{at} answered with HTTP {status}; it must answer 200 with the key \
                     authorization as the body."
                )));
            }
            let body = self.read_body(response, &at).await?;
            let got = body.trim_end();
            if got != key_authorization {
                return Err(ValidationError::incorrect(format!(
                    "The key authorization from {at} is \"{}\" but should be \"{}\".",
                    truncate(got, 120),
                    key_authorization
                )));
            }
            let mut first_hop = hops.remove(0);
            first_hop.redirects = hops;
            return Ok(first_hop);
        }
    }

    fn client(&self, pinned: Pinned) -> Result<reqwest::Client, ValidationError> {
        reqwest::Client::builder()
            .use_rustls_tls()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(pinned))
            .pool_max_idle_per_host(0)
            .user_agent(concat!(
                "acme-sectigo-bridge/",
                env!("CARGO_PKG_VERSION"),
                " (http-01 validation)"
            ))
            .build()
            .map_err(|e| {
                ValidationError::new(
                    crate::acme::error::ProblemType::ServerInternal,
                    format!("The validator could not build its HTTP client: {e}."),
                )
            })
    }

    /// Checks, resolves and requests one URL.
    async fn fetch(
        &self,
        client: &reqwest::Client,
        pinned: &Pinned,
        url: &Url,
    ) -> Result<(ValidationRecord, reqwest::Response), ValidationError> {
        let host = match url.host() {
            Some(url::Host::Domain(d)) => Host::Name(d.to_ascii_lowercase()),
            Some(url::Host::Ipv4(ip)) => Host::Ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => Host::Ip(ip.into()),
            None => {
                return Err(ValidationError::connection(format!(
                    "The http-01 URL {url} has no host."
                )))
            }
        };
        let port = url.port_or_known_default().unwrap_or(self.http_port);
        let checked = timeout_at(self.deadline, resolve_checked(self.dns, self.policy, &host))
            .await
            .map_err(|_| {
                ValidationError::dns(format!("DNS problem: timed out looking up {host}."))
            })??;
        if let Host::Name(n) = &host {
            let addrs = checked.usable.iter().map(|ip| SocketAddr::new(*ip, port));
            pinned
                .0
                .lock()
                .expect("pinned map")
                .insert(n.clone(), addrs.collect());
        }
        let mut record = ValidationRecord {
            hostname: host.to_string(),
            port: Some(port),
            url: Some(url.to_string()),
            addresses_resolved: checked.resolved.clone(),
            ..Default::default()
        };
        let request = client
            .get(url.clone())
            .header(http::header::HOST, host.url_host())
            .send();
        let usable: Vec<String> = checked.usable.iter().map(|a| a.to_string()).collect();
        let response = match timeout_at(self.deadline, request).await {
            Err(_) => {
                return Err(ValidationError::connection(format!(
                    "Timed out fetching {url} from {host} ({}); check that the web server answers \
                     on port {port}.",
                    usable.join(", ")
                )))
            }
            Ok(Err(e)) => return Err(request_error(&e, url, &host, &usable, port)),
            Ok(Ok(r)) => r,
        };
        record.address_used = response.remote_addr().map(|a| a.ip());
        Ok((record, response))
    }

    /// The next URL of a redirect, if it is one validation may follow.
    fn redirect_target(
        &self,
        from: &Url,
        response: &reqwest::Response,
        at: &str,
    ) -> Result<Url, ValidationError> {
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ValidationError::connection(format!(
                    "{at} answered with a redirect ({}) without a usable Location header.",
                    response.status()
                ))
            })?;
        let next = from.join(location).map_err(|e| {
            ValidationError::connection(format!(
                "{at} redirected to \"{location}\", which is not a valid URL: {e}."
            ))
        })?;
        let allowed_port = match next.scheme() {
            "http" => self.http_port,
            "https" => self.https_port,
            other => {
                return Err(ValidationError::connection(format!(
                    "{at} redirected to {next}: the scheme \"{other}\" is not allowed; only http \
                     and https redirects are followed."
                )))
            }
        };
        if next.port_or_known_default() != Some(allowed_port) {
            return Err(ValidationError::connection(format!(
                "{at} redirected to {next}: only port {} (http) and port {} (https) may be \
                 redirected to.",
                self.http_port, self.https_port
            )));
        }
        Ok(next)
    }

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        at: &str,
    ) -> Result<String, ValidationError> {
        let mut body: Vec<u8> = Vec::new();
        loop {
            let chunk = timeout_at(self.deadline, response.chunk())
                .await
                .map_err(|_| {
                    ValidationError::connection(format!("Timed out reading the body from {at}."))
                })?
                .map_err(|e| {
                    ValidationError::connection(format!(
                        "The connection broke while reading the body from {at}: {}.",
                        chain(&e)
                    ))
                })?;
            let Some(chunk) = chunk else { break };
            body.extend_from_slice(&chunk);
            if body.len() > self.body_limit {
                return Err(ValidationError::incorrect(format!(
                    "The body from {at} is longer than {} bytes; it must be just the key \
                     authorization.",
                    self.body_limit
                )));
            }
        }
        String::from_utf8(body).map_err(|_| {
            ValidationError::incorrect(format!(
                "The body from {at} is not UTF-8 text; it must be just the key authorization."
            ))
        })
    }
}

/// `:port` unless it is the scheme's default.
fn port_suffix(scheme: &str, port: u16) -> String {
    match (scheme, port) {
        ("http", 80) | ("https", 443) => String::new(),
        _ => format!(":{port}"),
    }
}

/// "URL (address)" for details.
fn describe_at(url: &Url, record: &ValidationRecord) -> String {
    match record.address_used {
        Some(a) => format!("{url} (address {a})"),
        None => url.to_string(),
    }
}

fn request_error(
    e: &reqwest::Error,
    url: &Url,
    host: &Host,
    usable: &[String],
    port: u16,
) -> ValidationError {
    let text = chain(e);
    let lower = text.to_ascii_lowercase();
    // The root cause ("Connection refused (os error 111)") says it all for connect failures.
    let cause = root_cause(e);
    if url.scheme() == "https" && (lower.contains("tls") || lower.contains("certificate")) {
        return ValidationError::tls(format!(
            "TLS error fetching {url} from {host} ({}): {text}.",
            usable.join(", ")
        ));
    }
    if e.is_timeout() {
        return ValidationError::connection(format!(
            "Timed out fetching {url} from {host} ({}).",
            usable.join(", ")
        ));
    }
    let what = if e.is_connect() {
        format!(
            "Could not connect to {host} ({}) on port {port} to fetch {url}: {cause}",
            usable.join(", ")
        )
    } else {
        format!(
            "Fetching {url} from {host} ({}) failed: {text}",
            usable.join(", ")
        )
    };
    ValidationError::connection(format!(
        "{what}. Check that a web server answers there and is reachable from the Internet."
    ))
}

/// The innermost source of an error.
fn root_cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// An error and its sources on one line (reqwest's own message hides the cause).
fn chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}
