//! The bridge with its admin listener (admin API and console) on loopback, beside the SCM sandbox
//! and the http-01 responder of [`Env`]: two operators' tokens in a tokens file.

use super::flow::Env;
use super::process::free_port;
use acme_sectigo_bridge::sandbox::SandboxConfig;
use serde_json::Value;

/// The first operator's token (name `alice`).
pub const ALICE: &str = "alice-token-0123456789abcdef";
/// The second operator's token (name `bob`).
pub const BOB: &str = "bob-token-fedcba9876543210";

/// [`Env`] with the admin listener.
pub struct AdminEnv {
    pub env: Env,
    /// `http://127.0.0.1:PORT`
    pub admin: String,
    pub http: reqwest::Client,
    _dir: std::path::PathBuf,
}

impl AdminEnv {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "bridge-admin-{}",
            acme_sectigo_bridge::ids::random_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let tokens = dir.join("admin-tokens");
        std::fs::write(&tokens, format!("# operators\nalice:{ALICE}\nbob:{BOB}\n")).unwrap();
        let port = free_port();
        let env = Env::start_with(SandboxConfig::default(), |c| {
            c.server.admin_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
            c.server.admin_tokens_file = Some(tokens);
        })
        .await;
        let admin = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // The listener is bound before the server answers; wait until it does.
        for _ in 0..100 {
            if http.get(format!("{admin}/metrics")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self {
            env,
            admin,
            http,
            _dir: dir,
        }
    }

    /// `GET /admin/api{path}` with `token`; (status, JSON body or Null).
    pub async fn get(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let mut r = self.http.get(format!("{}/admin/api{path}", self.admin));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `POST /admin/api{path}` with `token` and a JSON body.
    pub async fn post(
        &self,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut r = self.http.post(format!("{}/admin/api{path}", self.admin));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}
