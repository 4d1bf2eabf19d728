//! Protection at the HTTP edge: the in-flight request limit and the request timeout (both
//! answered with a 503 problem document and `Retry-After`, never a dropped connection), the
//! per-client-address rate limits of newNonce and newAccount, and how the client address is
//! found behind trusted proxies.

use crate::acme::Error;
use crate::web::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// `Retry-After` of a request refused for overload or cut by the timeout: long enough for a
/// burst to drain, short enough that a client retrying once loses little.
pub const OVERLOAD_RETRY_SECS: u64 = 5;

/// The in-flight limit and timeout of one replica (`server.max_concurrent_requests`,
/// `server.request_timeout_secs`).
#[derive(Clone)]
pub struct RequestGuard {
    in_flight: Option<Arc<Semaphore>>,
    max: usize,
    timeout: Option<Duration>,
}

impl RequestGuard {
    /// From the server configuration; 0 turns either part off.
    pub fn new(server: &crate::config::ServerConfig) -> Self {
        let max = server.max_concurrent_requests;
        Self {
            in_flight: (max > 0).then(|| Arc::new(Semaphore::new(max))),
            max,
            timeout: (server.request_timeout_secs > 0)
                .then(|| Duration::from_secs(server.request_timeout_secs)),
        }
    }
}

/// Refuses a request at once when this replica already handles `server.max_concurrent_requests`,
/// and answers 503 when one takes longer than `server.request_timeout_secs` (its handler is
/// dropped: transactions roll back, jobs already recorded carry on).
pub async fn limit_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let guard = &state.guard;
    let _permit = match &guard.in_flight {
        None => None,
        Some(s) => match s.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                return Error::unavailable(
                    format!(
                        "the server is handling its maximum of {} requests at once \
                         (server.max_concurrent_requests); retry in a few seconds",
                        guard.max
                    ),
                    OVERLOAD_RETRY_SECS,
                )
                .into_response()
            }
        },
    };
    match guard.timeout {
        None => next.run(req).await,
        Some(limit) => match tokio::time::timeout(limit, next.run(req)).await {
            Ok(resp) => resp,
            Err(_) => Error::unavailable(
                format!(
                    "the request took longer than this server's limit of {} s \
                     (server.request_timeout_secs) and was abandoned; retry it — anything it \
                     had already recorded (e.g. a finalized order) carries on",
                    limit.as_secs()
                ),
                OVERLOAD_RETRY_SECS,
            )
            .into_response(),
        },
    }
}

/// newNonce: limited per client address (`limits.new_nonce_per_address`).
pub async fn limit_new_nonce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client = client_addr(&state, &req);
    if let Some(ip) = client {
        if let Err(hit) = state.ctx.limits.new_nonce(ip) {
            return Error::rate_limited(
                format!("too many newNonce requests from {ip} (limits.new_nonce_per_address)"),
                hit,
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// newAccount: limited per client address (`limits.new_account_per_address`).
pub async fn limit_new_account(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let client = client_addr(&state, &req);
    if let Some(ip) = client {
        if let Err(hit) = state.ctx.limits.new_account(ip) {
            return Error::rate_limited(
                format!(
                    "too many newAccount requests from {ip} (limits.new_account_per_address); \
                     a client should register once and keep its account key"
                ),
                hit,
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// The client's address: the TCP peer, or behind a trusted proxy what it forwarded (see
/// [`client_ip`]). `None` when the server was not started with connection info.
fn client_addr(state: &AppState, req: &Request) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(client_ip(
        peer,
        req.headers(),
        &state.ctx.config.server.trusted_proxies,
    ))
}

/// The address a request came from. The direct peer, unless it is one of `trusted` proxies: then
/// the right-most `X-Forwarded-For` entry that is not a trusted proxy (entries to its left were
/// written by the client itself and prove nothing). When every entry is trusted, the left-most
/// one; an entry that is not an address ends the walk at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) as IPv4, so one client
/// has one bucket and `trusted_proxies` can name IPv4 networks.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn nets(n: &[&str]) -> Vec<ipnet::IpNet> {
        n.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let ip = client_ip(
            "198.51.100.7".parse().unwrap(),
            &xff(&["203.0.113.9"]),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        // The client forged the first entry; the balancer appended the real peer, then an
        // internal proxy its own.
        let h = xff(&["1.1.1.1, 203.0.113.9", "192.168.1.1"]);
        let ip = client_ip("10.1.2.3".parse().unwrap(), &h, &trusted);
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        // With a port, and IPv6.
        let h = xff(&["[2001:db8::5]:4711"]);
        let ip = client_ip("10.1.2.3".parse().unwrap(), &h, &trusted);
        assert_eq!(ip, "2001:db8::5".parse::<IpAddr>().unwrap());
        // No header: the proxy itself.
        let ip = client_ip("10.1.2.3".parse().unwrap(), &HeaderMap::new(), &trusted);
        assert_eq!(ip, "10.1.2.3".parse::<IpAddr>().unwrap());
        // Garbage stops the walk at the last trusted hop.
        let ip = client_ip("10.1.2.3".parse().unwrap(), &xff(&["junk"]), &trusted);
        assert_eq!(ip, "10.1.2.3".parse::<IpAddr>().unwrap());
        // A mapped IPv4 peer counts as IPv4.
        let ip = client_ip(
            "::ffff:10.1.2.3".parse().unwrap(),
            &xff(&["203.0.113.10"]),
            &trusted,
        );
        assert_eq!(ip, "203.0.113.10".parse::<IpAddr>().unwrap());
    }
}
