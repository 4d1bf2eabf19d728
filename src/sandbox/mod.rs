//! The SCM emulator: a separate HTTP server with SCM's REST surface (shared/scm-api.md §6), used by
//! tests, demos and the zero-setup default. It shares only wire types (`scm::types`) with the bridge,
//! never its internals, so it can run in-process ([`Sandbox::start`]) or as its own process
//! (`acme-sectigo-bridge sandbox`), driven then through the control API under `/__sandbox`.

// Handlers refuse requests with ready-made SCM error responses (`Result<_, Response>`); one per
// request, so the size of the error variant does not matter here.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod calls;
pub mod chaos;
pub mod cli;
pub mod config;
pub mod faults;
pub mod handlers;
pub mod pki;
pub mod reply;
pub mod server;
pub mod state;

pub use admin::{Mark, Refusal};
pub use chaos::{ChaosStats, FaultKind};
pub use config::{Issuance, SandboxConfig};
pub use faults::Faults;
pub use state::Behavior;

use state::SandboxState;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Entry point for starting emulators.
pub struct Sandbox;

impl Sandbox {
    /// Starts serving on an already bound listener (bind port 0 in tests). Must be called inside a
    /// Tokio runtime. The server stops when the handle is dropped or [`SandboxHandle::shutdown`].
    pub fn start(
        cfg: SandboxConfig,
        listener: std::net::TcpListener,
    ) -> anyhow::Result<SandboxHandle> {
        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(c), Some(k)) => Some(server::tls_acceptor(c, k)?),
            _ => None,
        };
        let state = Arc::new(SandboxState::new(cfg)?);
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (tx, rx) = watch::channel(false);
        let https = tls.is_some();
        let task = tokio::spawn(server::serve(
            listener,
            server::router(state.clone()),
            tls,
            rx,
        ));
        Ok(SandboxHandle {
            state,
            addr,
            https,
            shutdown: tx,
            task,
        })
    }

    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub fn bind(cfg: SandboxConfig, addr: SocketAddr) -> anyhow::Result<SandboxHandle> {
        let listener = std::net::TcpListener::bind(addr)?;
        Self::start(cfg, listener)
    }
}

/// An administrator's approve or decline refused: the certificate is unknown or not waiting for a
/// decision (SCM answers -124 or -1112).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("certificate {0} is unknown or not Requested")]
pub struct NotRequested(pub i64);

/// A running sandbox: its address, PKI, counters and knobs. Dropping it stops the server.
pub struct SandboxHandle {
    state: Arc<SandboxState>,
    addr: SocketAddr,
    https: bool,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SandboxHandle {
    /// The socket address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn origin(&self) -> String {
        let host = if self.https {
            "localhost".to_string()
        } else if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            match self.addr.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            }
        };
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    /// SCM base URL, ending in `/api` (what `[scm] base_url` should be).
    pub fn base_url(&self) -> url::Url {
        url::Url::parse(&format!("{}/api", self.origin())).expect("valid URL")
    }

    /// Base URL of the control API (`…/__sandbox`).
    pub fn control_url(&self) -> url::Url {
        url::Url::parse(&format!("{}/__sandbox", self.origin())).expect("valid URL")
    }

    /// The tenant's `customerUri`.
    pub fn customer_uri(&self) -> &str {
        &self.state.cfg.customer_uri
    }

    /// The tenant's login.
    pub fn login(&self) -> &str {
        &self.state.cfg.login
    }

    /// The tenant's password (a sandbox secret, printed at start anyway).
    pub fn password(&self) -> &str {
        self.state.cfg.password.expose()
    }

    /// A client configuration pointing at this sandbox with its credentials.
    pub fn scm_config(&self) -> crate::scm::ScmConfig {
        crate::scm::ScmConfig::new(
            self.base_url(),
            self.customer_uri(),
            self.login(),
            self.password(),
        )
    }

    /// Root CA certificate (PEM) every issued certificate chains to.
    pub fn root_pem(&self) -> String {
        self.state.pki.root_pem()
    }

    /// Intermediate CA certificate (PEM) that signs leaves.
    pub fn intermediate_pem(&self) -> String {
        self.state.pki.intermediate_pem()
    }

    /// The root's cross-signed certificate (issued by the old root), PEM; `None` unless
    /// `cross_signed_root` is on.
    pub fn cross_signed_root_pem(&self) -> Option<String> {
        self.state.pki.cross_signed_root_pem()
    }

    /// The old root that cross-signed the root, PEM; `None` unless `cross_signed_root` is on.
    pub fn old_root_pem(&self) -> Option<String> {
        self.state.pki.old_root_pem()
    }

    /// Certificates created so far (enroll and renew, including dropped-response enrolls).
    pub fn enrollment_count(&self) -> u64 {
        self.state.enrollment_count()
    }

    /// Approves a `Requested` certificate (as an SCM admin would).
    pub fn approve(&self, ssl_id: i64) -> Result<(), NotRequested> {
        handlers::certs::decide(&self.state, ssl_id, true).map_err(|_| NotRequested(ssl_id))
    }

    /// Declines a `Requested` certificate.
    pub fn decline(&self, ssl_id: i64) -> Result<(), NotRequested> {
        handlers::certs::decide(&self.state, ssl_id, false).map_err(|_| NotRequested(ssl_id))
    }

    /// Makes a pending certificate collectable now; returns its status, `None` if unknown.
    pub fn issue_now(&self, ssl_id: i64) -> Option<String> {
        self.state
            .with_cert(ssl_id, false, |r| r.issuance = Issuance::Immediate)?;
        self.state
            .with_cert(ssl_id, false, |r| r.status.as_str().to_string())
    }

    /// Revokes an issued certificate as an SCM administrator would (status `Revoked`, `revoked`
    /// date and `reasonCode` set, exactly as after an API revoke): what the bridge sees when someone
    /// revokes behind its back. `reason_code` is any RFC 5280 code.
    pub fn revoke_as_admin(
        &self,
        ssl_id: i64,
        reason_code: i64,
        reason: &str,
    ) -> Result<(), Refusal> {
        admin::revoke(&self.state, ssl_id, reason_code, reason)
    }

    /// A mass revocation: revokes every issued certificate (of `org_id`, when given) and returns
    /// their sslIds.
    pub fn revoke_all(&self, org_id: Option<i64>, reason_code: i64) -> Result<Vec<i64>, Refusal> {
        admin::revoke_all(&self.state, org_id, None, reason_code, "mass revocation")
    }

    /// Gives an issued certificate the status `Expired` or `Replaced` (for tests of a sweep).
    pub fn mark(&self, ssl_id: i64, mark: Mark) -> Result<(), Refusal> {
        admin::mark(&self.state, ssl_id, mark)
    }

    /// Replaces the active faults and restarts the chaos run from their seed.
    ///
    /// # Panics
    /// On an invalid `fault_rate` (a test's mistake, not a run-time condition).
    pub fn set_faults(&self, faults: Faults) {
        if let Err(e) = self.state.set_faults(faults) {
            panic!("invalid sandbox faults: {e}");
        }
    }

    /// What the chaos run (`fault_rate`) did since the faults were last set.
    pub fn chaos_stats(&self) -> ChaosStats {
        self.state.chaos_stats()
    }

    /// The active faults (counters show what is left).
    pub fn faults(&self) -> Faults {
        self.state.with_faults(|f| f.clone())
    }

    /// Changes behaviour for new enrollments (timing, pending code, approval, Web API).
    pub fn set_behavior(&self, b: Behavior) {
        self.state.set_behavior(b);
    }

    /// Clears behaviour overrides and faults.
    pub fn reset(&self) {
        self.state.reset_behavior();
    }

    /// SCM calls received so far by operation (`GET /ssl/v1/{id}` …), whatever their outcome.
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.state.calls.snapshot()
    }

    /// Starts counting SCM calls from zero.
    pub fn reset_calls(&self) {
        self.state.calls.reset();
    }

    /// Status of a certificate as SCM would report it (`None` if unknown).
    pub fn status(&self, ssl_id: i64) -> Option<String> {
        self.state
            .with_cert(ssl_id, false, |r| r.status.as_str().to_string())
    }

    /// Stops accepting, closes connections and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
