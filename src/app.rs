//! Wiring: builds the state from the configuration, serves HTTP(S), runs housekeeping, shuts down
//! gracefully on SIGTERM/Ctrl-C.

use crate::acme::AcmeContext;
use crate::config::Config;
use crate::jose::nonce::NonceKey;
use crate::store::{Backend, Store};
use crate::web::AppState;
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Name of the shared nonce key in the settings table.
const NONCE_KEY_SETTING: &str = "nonce_key";

/// Connects to the store, migrates it, and assembles the state every handler shares.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    crate::acme::error::set_unavailable_retry_secs(config.database.unavailable_retry_secs);
    let store = connect_and_migrate(&config.database)
        .await?
        .with_eab_cipher(config.acme.eab_cipher()?);
    warn_about_eab_keys_at_rest(&store).await;
    let lifetime = Duration::from_secs(config.acme.nonce_lifetime_secs);
    let nonces = match (&config.acme.nonce_key, store.backend()) {
        (Some(k), _) if k.expose().len() < 32 => {
            anyhow::bail!("acme.nonce_key must be at least 32 characters")
        }
        // SQLite is one process: its nonces are spent in memory under a key of this process
        // (see `jose::spent_window`), not with a database row per request.
        (_, Backend::Sqlite) => NonceKey::process_local(lifetime),
        (Some(k), _) => NonceKey::new(k.expose().as_bytes().to_vec(), lifetime),
        (None, _) => NonceKey::new(
            store
                .setting_or_init(NONCE_KEY_SETTING, &crate::ids::random_bytes(32))
                .await
                .context("loading the nonce key")?,
            lifetime,
        ),
    };
    let scm = match &config.scm {
        Some(cfg) => Some(crate::scm::ScmClient::new(cfg).context("setting up the SCM client")?),
        None => None,
    };
    let guard = crate::web::guard::RequestGuard::new(&config.server);
    let readiness = crate::web::readiness::Readiness::new(Duration::from_secs(
        config.server.readiness_grace_secs,
    ));
    let ctx = AcmeContext::new(store, Arc::new(config), scm);
    Ok(AppState {
        ctx,
        nonces,
        account_keys: Default::default(),
        guard,
        readiness,
    })
}

/// Connects to the database and migrates it, waiting up to `database.startup_wait_secs` while it
/// is unreachable or starting up: a replica (or a `migrate` run) started during a database restart
/// goes on once the database is back instead of exiting.
pub(crate) async fn connect_and_migrate(
    cfg: &crate::config::DatabaseConfig,
) -> anyhow::Result<Store> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(cfg.startup_wait_secs);
    let mut pause = Duration::from_millis(200);
    loop {
        let attempt = async {
            let store = Store::connect(cfg).await?;
            store.migrate().await?;
            Ok::<_, crate::store::StoreError>(store)
        };
        match attempt.await {
            Ok(store) => return Ok(store),
            Err(e) if e.is_unavailable() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(
                    error = %e,
                    retry_in_ms = pause.as_millis() as u64,
                    "the database is not reachable yet; waiting (database.startup_wait_secs)"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(anyhow::Error::new(e).context("connecting to the database")),
        }
    }
}

/// Says loudly when EAB HMAC keys lie in the database in plaintext: a database backup is then
/// enough to register accounts (and, with a `--trust-scm-dcv` key, to get certificates without a
/// challenge).
async fn warn_about_eab_keys_at_rest(store: &Store) {
    if !store.encrypts_eab_keys() {
        tracing::warn!(
            "EAB HMAC keys are stored in the database in PLAINTEXT: anyone with a copy of the \
             database can register accounts with them. Set acme.eab_encryption_key_file (or \
             BRIDGE_ACME__EAB_ENCRYPTION_KEY) to 32 random bytes (`openssl rand -base64 32`) on \
             every replica, then run `acme-sectigo-bridge migrate` to encrypt the existing keys"
        );
        return;
    }
    match store.count_plaintext_eab_keys().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            plaintext_keys = n,
            "some EAB HMAC keys are still stored in plaintext: run `acme-sectigo-bridge migrate` \
             to encrypt them with acme.eab_encryption_key"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot count plaintext EAB keys"),
    }
}

/// Starts this replica's background worker: validations, enrollments, collects, revocations.
pub fn start_worker(state: &AppState) -> anyhow::Result<crate::issuance::WorkerHandle> {
    let validator = crate::validation::Validator::new(&state.ctx.config.validation)
        .context("setting up challenge validation")?;
    let worker = crate::issuance::Worker {
        ctx: state.ctx.clone(),
        validator,
        scm: state.ctx.scm.clone(),
        id: format!("{}-{}", hostname(), crate::ids::random_b64(6)),
    };
    Ok(worker.spawn())
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "bridge".into())
}

/// Runs the server until SIGTERM/Ctrl-C; in zero-setup mode (no `[scm]`) with the sandbox
/// in-process and its files in `data_dir`.
pub async fn serve(mut config: Config, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let quickstart = crate::quickstart::prepare(&mut config, data_dir)?;
    let listen = config.server.listen;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        _ => None,
    };
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let database = config
        .database
        .url
        .as_ref()
        .map(|u| crate::store::describe_url(u.expose()))
        .unwrap_or_default();
    let state = build_state(config).await?;
    if let Some(scm) = &state.ctx.scm {
        crate::preflight::check(&state.ctx.config, &state.ctx.store, scm).await?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(
        listen = %listen,
        directory = %state.ctx.urls.directory(),
        tls = tls.is_some(),
        database = %database,
        "acme-sectigo-bridge is serving"
    );
    if state.ctx.store.backend() == crate::store::Backend::Sqlite {
        tracing::warn!(
            "the SQLite store is for a single instance: workers are woken within this process \
             only; set database.url to a PostgreSQL URL to run several replicas"
        );
    }
    if let Some(q) = &quickstart {
        let (kid, hmac) = q.demo_eab(&state.ctx.store).await?;
        println!(
            "{}",
            q.banner(&state.ctx.urls.directory(), &kid, &hmac, &database)
        );
    }
    let result = match tls {
        None => serve_plain(state, listener, shutdown_signal()).await,
        Some((cert, key)) => serve_tls(state, listener, &cert, &key, grace).await,
    };
    drop(quickstart); // the in-process sandbox lives exactly as long as the server
    result
}

/// Serves plain HTTP on `listener` until `shutdown` completes (tests pass their own future).
pub async fn serve_plain(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let background = Background::start(&state).await?;
    let server = state.ctx.config.server.clone();
    let app = crate::web::router(state);
    let grace = Duration::from_secs(server.shutdown_grace_secs);
    let handle = shutdown_handle(shutdown, grace);
    let mut http = axum_server::from_tcp(listener.into_std()?);
    bound_connections(http.http_builder(), &server);
    // Connection info gives the per-address rate limits the peer address.
    let result = http
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await;
    background.stop().await;
    result.context("HTTP server")
}

/// A server handle that starts a graceful shutdown once `shutdown` completes: no new connections,
/// and in-flight requests get `grace` to finish.
fn shutdown_handle(
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> axum_server::Handle {
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(grace));
    });
    handle
}

/// What every listener of the bridge bounds per connection before a request exists: the time a
/// client may take to send its headers (`server.header_read_timeout_secs`). Without a timer hyper
/// applies none, and a client trickling headers (slowloris) holds its socket for ever; the request
/// timeout and the in-flight limit only count requests whose headers arrived.
fn bound_connections(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    server: &crate::config::ServerConfig,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(server.header_read_timeout_secs));
}

async fn serve_tls(
    state: AppState,
    listener: tokio::net::TcpListener,
    cert: &std::path::Path,
    key: &std::path::Path,
    grace: Duration,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })?;
    let background = Background::start(&state).await?;
    let state_server = state.ctx.config.server.clone();
    let app = crate::web::router(state);
    let handle = shutdown_handle(shutdown_signal(), grace);
    let std_listener = listener.into_std()?;
    let mut https = axum_server::from_tcp_rustls(std_listener, tls);
    bound_connections(https.http_builder(), &state_server);
    let result = https
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await;
    background.stop().await;
    result.context("HTTPS server")
}

/// Everything a replica runs beside its HTTP listener, started and stopped together.
struct Background {
    housekeeping: tokio::task::JoinHandle<()>,
    admin: Vec<tokio::task::JoinHandle<()>>,
    worker: crate::issuance::WorkerHandle,
    store: Store,
}

impl Background {
    async fn start(state: &AppState) -> anyhow::Result<Self> {
        if let Err(e) = crate::issuance::status_sweep::schedule(&state.ctx).await {
            tracing::warn!(error = %e, "cannot schedule the SCM status sweep");
        }
        if let Err(e) = crate::issuance::reconcile::schedule(&state.ctx).await {
            tracing::warn!(error = %e, "cannot schedule the orphan reconciliation");
        }
        Ok(Self {
            housekeeping: tokio::spawn(housekeeping(state.clone())),
            admin: start_admin(state).await?,
            worker: start_worker(state)?,
            store: state.ctx.store.clone(),
        })
    }

    /// After the HTTP server stopped: stop the worker (releasing its leases), then the pool.
    async fn stop(self) {
        self.housekeeping.abort();
        for a in self.admin {
            a.abort();
        }
        self.worker.shutdown().await;
        self.store.close().await;
    }
}

/// Serves the admin listener (`server.admin_listen`, or its former name `metrics_listen`) when
/// configured: `/metrics`, and with `server.admin_tokens_file` the admin API and console, over TLS
/// when `server.admin_tls_cert` is set.
async fn start_admin(state: &AppState) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let server = &state.ctx.config.server;
    let Some(addr) = server.admin_addr() else {
        return Ok(Vec::new());
    };
    let mut tasks = Vec::new();
    let tokens = match &server.admin_tokens_file {
        Some(path) => Some(std::sync::Arc::new(crate::web::admin::AdminTokens::load(
            path,
        )?)),
        None => None,
    };
    if let Some(metrics) = server.separate_metrics_addr() {
        let listener = tokio::net::TcpListener::bind(metrics)
            .await
            .with_context(|| format!("binding the metrics listener {metrics}"))?;
        let app = crate::web::admin_router(state.clone(), None);
        tracing::info!(listen = %metrics, "metrics at /metrics");
        let mut http = axum_server::from_tcp(listener.into_std()?);
        bound_connections(http.http_builder(), server);
        tasks.push(tokio::spawn(async move {
            let _ = http.serve(app.into_make_service()).await;
        }));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the admin listener {addr}"))?;
    let with_api = tokens.is_some();
    let app = crate::web::admin_router(state.clone(), tokens);
    tracing::info!(listen = %addr, admin_api = with_api, "admin listener: /metrics, /admin");
    if let (Some(cert), Some(key)) = (&server.admin_tls_cert, &server.admin_tls_key) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .with_context(|| format!("loading server.admin_tls_cert {}", cert.display()))?;
        let mut https = axum_server::from_tcp_rustls(listener.into_std()?, tls);
        bound_connections(https.http_builder(), server);
        tasks.push(tokio::spawn(async move {
            let _ = https.serve(app.into_make_service()).await;
        }));
        return Ok(tasks);
    }
    let mut http = axum_server::from_tcp(listener.into_std()?);
    bound_connections(http.http_builder(), server);
    tasks.push(tokio::spawn(async move {
        let _ = http.serve(app.into_make_service()).await;
    }));
    Ok(tasks)
}

/// Periodic clean-up any replica may do: forget redemptions of nonces that expired anyway.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        match state.ctx.store.purge_expired_nonces(state.ctx.now()).await {
            Ok(n) if n > 0 => tracing::debug!(purged = n, "expired nonce redemptions purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging nonce redemptions failed"),
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
