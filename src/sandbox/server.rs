//! The HTTP side of the sandbox: SCM's routes under `/api` (mirrored for `/ssl/v2`), header
//! authentication, fault injection, the control API under `/__sandbox`, and an accept loop that can
//! cut a single connection (needed to emulate resets and dropped responses), over HTTP or HTTPS.

use crate::sandbox::faults::{self, ConnKill};
use crate::sandbox::handlers::{certs, control, discovery, enroll, replace};
use crate::sandbox::reply::scm_error;
use crate::sandbox::state::SandboxState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use tokio::sync::watch;
use tower::ServiceExt;

/// SCM's header authentication: 401 `-16` for an unknown tenant or login, `-970` for a wrong password.
async fn auth(State(s): State<Arc<SandboxState>>, req: Request, next: Next) -> Response {
    if let Some(refusal) = check_credentials(&s, req.headers()) {
        return refusal;
    }
    next.run(req).await
}

fn check_credentials(s: &SandboxState, headers: &http::HeaderMap) -> Option<Response> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if h("customerUri") != s.cfg.customer_uri || h("login") != s.cfg.login {
        return Some(scm_error(StatusCode::UNAUTHORIZED, -16, "Unknown user"));
    }
    if h("password") != s.cfg.password.expose() {
        return Some(scm_error(
            StatusCode::UNAUTHORIZED,
            -970,
            "Incorrect login credentials.",
        ));
    }
    None
}

/// SCM's REST surface (relative to `/api`).
fn scm_routes(state: &Arc<SandboxState>) -> Router<Arc<SandboxState>> {
    let mut r = Router::new()
        .route("/organization/v1", get(discovery::organizations))
        .route("/organization/v1/{id}", get(discovery::organization))
        .route("/domain/v1", get(discovery::domains))
        .route("/domain/v1/{id}", get(discovery::domain))
        .route("/dcv/v2/validation/status", post(discovery::dcv_status));
    for v in ["v1", "v2"] {
        let p = |s: &str| format!("/ssl/{v}{s}");
        r = r
            .route(&p(""), get(certs::list))
            .route(&p("/types"), get(discovery::ssl_types))
            .route(&p("/customFields"), get(discovery::custom_fields))
            .route(&p("/enroll"), post(enroll::enroll))
            .route(&p("/collect/{id}"), get(certs::collect_query))
            .route(&p("/collect/{id}/{format}"), get(certs::collect_path))
            .route(&p("/revoke/{id}"), post(certs::revoke))
            .route(&p("/revoke/serial/{serial}"), post(certs::revoke_serial))
            .route(&p("/renewById/{id}"), post(certs::renew_by_id))
            .route(&p("/renew/{renew_id}"), post(certs::renew))
            .route(&p("/replace/{id}"), post(replace::replace))
            .route(&p("/approve/{id}"), post(certs::approve))
            .route(&p("/decline/{id}"), post(certs::decline))
            .route(&p("/{id}"), get(certs::details));
    }
    r.fallback(|| async { scm_error(StatusCode::NOT_FOUND, -1, "Resource not found") })
        .layer(from_fn_with_state(state.clone(), auth))
        .layer(from_fn_with_state(state.clone(), faults::inject))
        .layer(from_fn_with_state(
            state.clone(),
            crate::sandbox::calls::count,
        ))
}

/// The whole application: `/api/…` and `/__sandbox/…`.
pub fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .nest("/api", scm_routes(&state))
        .nest("/__sandbox", control::routes())
        .fallback(|| async { scm_error(StatusCode::NOT_FOUND, -1, "Resource not found") })
        .with_state(state)
}

/// Accepts connections until `shutdown` fires (or its sender is dropped).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let app = app.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_conn(stream, app, shutdown).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => serve_conn(s, app, shutdown).await,
                    Err(e) => tracing::debug!(error = %e, "sandbox TLS handshake failed"),
                },
            }
        });
    }
}

/// Serves one connection; dropping the connection future closes the socket, which is how
/// [`ConnKill`] cuts it without an answer.
async fn serve_conn<I>(io: I, app: Router, mut shutdown: watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let kill = ConnKill::default();
    let k = kill.clone();
    let svc = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(k.clone());
        app.clone().oneshot(req.map(Body::new))
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        r = conn => if let Err(e) = r { tracing::debug!(error = %e, "sandbox connection ended") },
        _ = kill.0.notified() => tracing::debug!("sandbox cut a connection (fault injection)"),
        _ = shutdown.changed() => {}
    }
}

/// A TLS acceptor from PEM files (rustls with the ring provider; HTTP/2 and HTTP/1.1).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context;
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).with_context(|| format!("{}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("{}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("{}", key.display()))?,
    ))?
    .with_context(|| format!("no private key in {}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
