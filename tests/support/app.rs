//! The real bridge (router, store, middleware) on a loopback port, for tests over real HTTP.

use super::db::TestDb;
use acme_sectigo_bridge::config::Config;
use acme_sectigo_bridge::model::EabKey;
use acme_sectigo_bridge::secret::Secret;
use acme_sectigo_bridge::store::Store;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A running bridge and its database.
pub struct TestApp {
    pub base: String,
    /// Shared by the replicas started with [`TestApp::replica`]; dropped with the last of them.
    pub db: Arc<TestDb>,
    pub store: Store,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts the bridge with default configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the bridge after `tweak` adjusted the configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(Arc::new(TestDb::create().await), tweak).await
    }

    /// A second replica: another server on this one's database (its own caches, pool and worker),
    /// as a load balancer would put beside it.
    pub async fn replica(&self, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(self.db.clone(), tweak).await
    }

    /// Starts the bridge on an existing test database.
    pub async fn spawn_on(db: Arc<TestDb>, tweak: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let mut config = Config::load_with_env(None, Vec::new()).unwrap();
        config.database.url = Some(Secret::new(db.url.clone()));
        config.database.max_connections = 5;
        config.server.external_url = Some(url::Url::parse(&base).unwrap());
        // No expiry sweep job unless a test asks for one: many tests wait for the jobs table to
        // empty.
        config.issuance.expiry_warning_days = Vec::new();
        tweak(&mut config);
        let state = acme_sectigo_bridge::app::build_state(config).await.unwrap();
        let store = state.ctx.store.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(acme_sectigo_bridge::app::serve_plain(
            state,
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            base,
            db,
            store,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A handle on a bridge running elsewhere (e.g. a child process) at `base` on `db`, so the
    /// same [`Client`](super::client::Client) can talk to it. Stopping it is the caller's business.
    pub async fn attach(base: String, db: TestDb) -> Self {
        let db = Arc::new(db);
        let mut config = Config::load_with_env(None, Vec::new()).unwrap();
        config.database.url = Some(Secret::new(db.url.clone()));
        config.database.max_connections = 2;
        let store = Store::connect(&config.database).await.unwrap();
        Self {
            base,
            db,
            store,
            http: reqwest::Client::new(),
            shutdown: None,
            task: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an EAB key directly in the store; returns (kid, hmac bytes).
    pub async fn eab_key(&self, single_use: bool) -> (String, Vec<u8>) {
        self.eab_key_for(&["*.example.test"], &[], single_use).await
    }

    /// Creates an EAB key allowing `patterns` (names, `*.` wildcards, CIDRs) and `profiles`
    /// (empty = every profile); returns (kid, hmac bytes).
    pub async fn eab_key_for(
        &self,
        patterns: &[&str],
        profiles: &[&str],
        single_use: bool,
    ) -> (String, Vec<u8>) {
        let key = EabKey {
            kid: format!("kid-{}", acme_sectigo_bridge::ids::random_id()),
            hmac_key: acme_sectigo_bridge::ids::random_bytes(32),
            label: "test".into(),
            allowed_patterns: patterns.iter().map(|p| p.to_string()).collect(),
            scm_org_id: None,
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            trust_scm_dcv: false,
            single_use,
            created_at: chrono::Utc::now(),
            used_at: None,
            revoked_at: None,
            accounts_stopped: false,
        };
        self.store.create_eab_key(&key).await.unwrap();
        (key.kid, key.hmac_key)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
