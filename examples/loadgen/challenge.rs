//! Answering challenges (`--answer-challenges`): for a pending authorization, POST `{}` to its
//! http-01 challenge and poll the authorization until it is valid. With `--http01-listen` the load
//! generator also serves the key authorizations itself, for servers that really validate.

use crate::acme::{check_loopback_addr, Account, Client, Fail};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Token → key authorization, served at `/.well-known/acme-challenge/<token>`.
#[derive(Clone, Default)]
pub struct Http01 {
    tokens: Arc<Mutex<HashMap<String, String>>>,
}

impl Http01 {
    /// Serves the key authorizations over plain HTTP on `addr` (loopback only) until the process
    /// ends.
    pub async fn serve(addr: SocketAddr) -> Result<Self> {
        check_loopback_addr(addr)?;
        let me = Self::default();
        let tokens = me.tokens.clone();
        let app = axum::Router::new().route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(
                move |axum::extract::Path(token): axum::extract::Path<String>| {
                    let found = tokens.lock().unwrap().get(&token).cloned();
                    async move {
                        match found {
                            Some(k) => (axum::http::StatusCode::OK, k),
                            None => (axum::http::StatusCode::NOT_FOUND, String::new()),
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding --http01-listen {addr}"))?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(me)
    }

    fn put(&self, token: &str, key_authorization: String) {
        self.tokens
            .lock()
            .unwrap()
            .insert(token.to_string(), key_authorization);
    }

    fn remove(&self, token: &str) {
        self.tokens.lock().unwrap().remove(token);
    }
}

/// How often an order or authorization is polled while the server works on it: the same rule for
/// every server, one a real client may follow. The n-th poll (from 0) waits `floor · 2ⁿ`, at most
/// `cap`; a server's `Retry-After` asking for longer is honoured, also at most `cap`. With
/// `floor = cap` it is a fixed interval.
#[derive(Clone, Copy)]
pub struct PollPace {
    /// Wait before the first poll.
    pub floor: Duration,
    /// Longest wait between polls, whatever the server's Retry-After says.
    pub cap: Duration,
    /// Most polls before giving up (the deadline bounds them too).
    pub max_polls: u32,
}

impl PollPace {
    /// The wait before poll number `poll` (0 = the first), given the server's last Retry-After.
    pub fn wait(&self, retry_after: Option<u64>, poll: u32) -> Duration {
        let cap = self.cap.max(self.floor);
        let backoff = self.floor.saturating_mul(1u32 << poll.min(16)).min(cap);
        retry_after
            .map(Duration::from_secs)
            .map_or(backoff, |r| r.max(backoff))
            .min(cap)
    }
}

/// What answering one authorization cost.
pub struct Answered {
    pub polls: u64,
}

fn problem_of(v: &Value) -> String {
    v["type"]
        .as_str()
        .unwrap_or("-")
        .trim_start_matches("urn:ietf:params:acme:error:")
        .to_string()
}

/// Answers the http-01 challenge of the pending authorization `authz` (its JSON in `body`) and
/// polls until it is valid.
pub async fn answer(
    c: &Client,
    acct: &Account,
    authz_url: &str,
    body: &Value,
    http01: Option<&Http01>,
    pace: PollPace,
) -> Result<Answered, Fail> {
    let chall = body["challenges"]
        .as_array()
        .and_then(|cs| cs.iter().find(|ch| ch["type"] == "http-01"))
        .ok_or_else(|| Fail::new("challenge: no http-01 offered", authz_url.to_string()))?;
    let url = chall["url"]
        .as_str()
        .ok_or_else(|| Fail::new("challenge: no url", chall.to_string()))?;
    let token = chall["token"]
        .as_str()
        .ok_or_else(|| Fail::new("challenge: no token", chall.to_string()))?;
    if let Some(h) = http01 {
        h.put(token, format!("{token}.{}", acct.thumbprint()));
    }
    let result = respond_and_poll(c, acct, authz_url, url, pace).await;
    if let Some(h) = http01 {
        h.remove(token);
    }
    result
}

async fn respond_and_poll(
    c: &Client,
    acct: &Account,
    authz_url: &str,
    chall_url: &str,
    pace: PollPace,
) -> Result<Answered, Fail> {
    let r = c
        .post("challenge", acct, chall_url, Some(&json!({})), None)
        .await?;
    if r.status != 200 {
        return Err(r.fail("challenge"));
    }
    let mut retry_after = r.retry_after;
    let mut polls = 0;
    loop {
        if polls >= pace.max_polls {
            return Err(Fail::new("authz: still pending", authz_url.to_string()));
        }
        tokio::time::sleep(pace.wait(retry_after, polls)).await;
        let r = c.post("authz-poll", acct, authz_url, None, None).await?;
        if r.status != 200 {
            return Err(r.fail("authz-poll"));
        }
        polls += 1;
        retry_after = r.retry_after;
        let v = r.json();
        match v["status"].as_str().unwrap_or("?") {
            "valid" => {
                return Ok(Answered {
                    polls: polls.into(),
                })
            }
            "pending" => {}
            other => {
                // The failed challenge carries the problem (RFC 8555 §7.1.6).
                let err = v["challenges"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|ch| ch["error"].is_object()))
                    .map(|ch| ch["error"].clone())
                    .unwrap_or(Value::Null);
                return Err(Fail::new(
                    format!("authz: status {other} {}", problem_of(&err)),
                    err.to_string(),
                ));
            }
        }
    }
}
