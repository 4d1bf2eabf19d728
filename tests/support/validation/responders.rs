//! Challenge servers whose content is decided after they start: the bridge's validation ports are
//! fixed when it starts, but tokens (and so key authorizations) only exist once an order does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

/// An http-01 responder on 127.0.0.1: answers `/.well-known/acme-challenge/{token}` with the body
/// set for that token (404 otherwise) and counts the requests it got.
#[derive(Clone)]
pub struct Http01Responder {
    pub addr: SocketAddr,
    bodies: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<AtomicUsize>,
    gate: Arc<RwLock<()>>,
}

type Shared = (
    Arc<Mutex<HashMap<String, String>>>,
    Arc<AtomicUsize>,
    Arc<RwLock<()>>,
);

async fn respond(
    State((bodies, hits, gate)): State<Shared>,
    Path(token): Path<String>,
) -> (StatusCode, String) {
    hits.fetch_add(1, Ordering::SeqCst);
    let _open = gate.read().await;
    match bodies.lock().unwrap().get(&token) {
        Some(b) => (StatusCode::OK, b.clone()),
        None => (StatusCode::NOT_FOUND, "no such token".into()),
    }
}

impl Http01Responder {
    pub async fn start() -> Self {
        let bodies: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(RwLock::new(()));
        let router = Router::new()
            .route(
                "/.well-known/acme-challenge/{token}",
                axum::routing::get(respond),
            )
            .with_state((bodies.clone(), hits.clone(), gate.clone()));
        let addr = super::servers::spawn_http(router).await;
        Self {
            addr,
            bodies,
            hits,
            gate,
        }
    }

    /// Holds every response (requests are still counted) until the guard is dropped.
    pub async fn hold(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    /// Serves `body` for `token` from now on.
    pub fn serve(&self, token: &str, body: &str) {
        self.bodies
            .lock()
            .unwrap()
            .insert(token.to_string(), body.to_string());
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A TCP port on 127.0.0.1 that forwards each connection to a target set later (e.g. a
/// tls-alpn-01 server whose certificate needs the key authorization). Connections arriving before
/// a target is set are closed.
#[derive(Clone)]
pub struct Forwarder {
    pub addr: SocketAddr,
    target: Arc<Mutex<Option<SocketAddr>>>,
}

impl Forwarder {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let t = target.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let to = *t.lock().unwrap();
                tokio::spawn(async move {
                    let Some(to) = to else { return };
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, target }
    }

    /// Forwards new connections to `to`.
    pub fn forward_to(&self, to: SocketAddr) {
        *self.target.lock().unwrap() = Some(to);
    }
}
