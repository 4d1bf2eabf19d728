//! Challenge servers on 127.0.0.1, random ports.

use axum::Router;
use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Serves `router` on 127.0.0.1 at a random port.
pub async fn spawn_http(router: Router) -> SocketAddr {
    spawn_http_with(|_| router).await
}

/// Serves the router `make` builds for the port it will listen on (for absolute redirects).
pub async fn spawn_http_with(make: impl FnOnce(u16) -> Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = make(addr.port());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// An http-01 responder: `/.well-known/acme-challenge/{token}` answers `body`.
pub fn challenge_router(token: &str, body: &str) -> Router {
    let body = body.to_string();
    Router::new().route(
        &format!("/.well-known/acme-challenge/{token}"),
        axum::routing::get(move || async move { body }),
    )
}

/// What a tls-alpn-01 test server presents.
pub struct TlsChallenge {
    /// Subject alternative names (`127.0.0.1` becomes an iPAddress SAN).
    pub sans: Vec<String>,
    /// acmeIdentifier value is SHA-256 of this; none = no extension.
    pub key_authorization: Option<String>,
    /// ALPN protocols the server accepts (empty = it ignores ALPN).
    pub alpn: Vec<Vec<u8>>,
    /// Speak only TLS 1.2 (exercises the TLS 1.2 signature check).
    pub tls12_only: bool,
    /// Sign the handshake with a key other than the certificate's (an impostor).
    pub wrong_signing_key: bool,
}

impl TlsChallenge {
    pub fn new(san: &str, key_authorization: &str) -> Self {
        Self {
            sans: vec![san.to_string()],
            key_authorization: Some(key_authorization.to_string()),
            alpn: vec![b"acme-tls/1".to_vec()],
            tls12_only: false,
            wrong_signing_key: false,
        }
    }
}

/// Handle of a tls-alpn-01 server: its address and the SNI names it has seen.
pub struct TlsServer {
    pub addr: SocketAddr,
    pub sni_seen: Arc<Mutex<Vec<Option<String>>>>,
}

/// Serves a self-signed challenge certificate per `c` with tokio-rustls.
pub async fn spawn_tls_alpn(c: TlsChallenge) -> TlsServer {
    let mut params = CertificateParams::new(c.sans.clone()).unwrap();
    if let Some(ka) = &c.key_authorization {
        let digest = Sha256::digest(ka.as_bytes());
        params.custom_extensions = vec![CustomExtension::new_acme_identifier(&digest)];
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // rustls' own certificate loading refuses the unknown critical acmeIdentifier extension, so
    // the certificate is served through a resolver that does not parse it.
    let sni_seen = Arc::new(Mutex::new(Vec::new()));
    let signer = if c.wrong_signing_key {
        KeyPair::generate().unwrap()
    } else {
        key
    };
    let signing_key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            signer.serialize_der(),
        )))
        .unwrap();
    let certified = CertifiedKey::new(vec![CertificateDer::from(cert.der().to_vec())], signing_key);
    let versions: &[&rustls::SupportedProtocolVersion] = if c.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(RecordingResolver {
            key: Arc::new(certified),
            sni_seen: sni_seen.clone(),
        }));
    config.alpn_protocols = c.alpn;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(_tls) = acceptor.accept(tcp).await {
                    // Keep the connection open briefly; the validator only needs the handshake.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            });
        }
    });
    TlsServer { addr, sni_seen }
}

/// Serves one certificate and records the SNI of every ClientHello (before the handshake ends, so
/// tests can assert on it as soon as validation returns).
#[derive(Debug)]
struct RecordingResolver {
    key: Arc<CertifiedKey>,
    sni_seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl ResolvesServerCert for RecordingResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_string);
        self.sni_seen.lock().unwrap().push(sni);
        Some(self.key.clone())
    }
}

/// Serves `router` over HTTPS on 127.0.0.1 at a random port, with a self-signed certificate for
/// `name` (validation must not care that it is untrusted).
pub async fn spawn_https(router: Router, name: &str) -> SocketAddr {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    tokio::spawn(async move {
        let _ = axum_server::from_tcp_rustls(listener, tls)
            .serve(router.into_make_service())
            .await;
    });
    addr
}
