//! Zero-setup mode: with no `[scm]` configured, `serve` runs the SCM sandbox in-process, serves HTTPS
//! with a local CA kept in the data directory, allows validation on loopback, creates a demo EAB key
//! once, and prints what a newcomer needs to point certbot at it. Certificates from the sandbox are
//! test certificates; any real `[scm]` configuration turns all of this off.

mod tls;

pub use tls::{ensure_local_tls, write_private, LocalTls};

use crate::config::Config;
use crate::model::EabKey;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use crate::store::Store;
use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::path::{Path, PathBuf};

/// SCM organization of the sandbox's demo tenant that quickstart enrolls under.
const DEMO_ORG: i64 = 1001;

/// What zero-setup mode started; keep it alive as long as the server runs.
pub struct Quickstart {
    pub sandbox: SandboxHandle,
    /// Present when quickstart generated the TLS material (no `server.tls_cert` configured).
    pub tls: Option<LocalTls>,
    pub data_dir: PathBuf,
}

/// Switches `config` to zero-setup mode when no `[scm]` is configured; otherwise does nothing.
pub fn prepare(config: &mut Config, data_dir: &Path) -> anyhow::Result<Option<Quickstart>> {
    if config.scm.is_some() {
        return Ok(None);
    }
    let sandbox = Sandbox::bind(SandboxConfig::default(), "127.0.0.1:0".parse()?)
        .context("starting the in-process SCM sandbox")?;
    let mut scm = sandbox.scm_config();
    scm.org_id = Some(DEMO_ORG);
    scm.cert_type = Some(502);
    scm.term = Some(90);
    config.scm = Some(scm);
    // The sandbox issues test certificates: CAA (which governs real CAs) and the real DNS it
    // would need on a laptop offline do not apply.
    config.acme.caa_check = false;
    for net in ["127.0.0.0/8", "::1/128"] {
        let net = net.parse()?;
        if !config.validation.allowed_networks.contains(&net) {
            config.validation.allowed_networks.push(net);
        }
    }
    // HTTPS with a local CA unless the operator chose TLS or a plain-http public URL.
    let wants_tls = config.server.tls_cert.is_none()
        && config
            .server
            .external_url
            .as_ref()
            .map_or(true, |u| u.scheme() == "https");
    let tls = if wants_tls {
        let t = ensure_local_tls(data_dir)?;
        config.server.tls_cert = Some(t.cert.clone());
        config.server.tls_key = Some(t.key.clone());
        if config.server.external_url.is_none() && config.server.listen.ip().is_loopback() {
            let url = format!("https://localhost:{}", config.server.listen.port());
            config.server.external_url = Some(url::Url::parse(&url)?);
        }
        Some(t)
    } else {
        None
    };
    Ok(Some(Quickstart {
        sandbox,
        tls,
        data_dir: data_dir.to_path_buf(),
    }))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DemoEab {
    kid: String,
    hmac_key: String,
}

impl Quickstart {
    /// The demo EAB key: the one saved in the data directory if the store still has it, else a new
    /// one (it trusts the sandbox's domain validation, so names under example.com need no challenge).
    pub async fn demo_eab(&self, store: &Store) -> anyhow::Result<(String, String)> {
        let file = self.data_dir.join("demo-eab.json");
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(saved) = serde_json::from_str::<DemoEab>(&text) {
                if let Some(k) = store.eab_key(&saved.kid).await? {
                    if k.revoked_at.is_none() {
                        return Ok((saved.kid, saved.hmac_key));
                    }
                }
            }
        }
        let key = EabKey {
            kid: format!("kid-{}", crate::ids::random_id()),
            hmac_key: crate::ids::random_bytes(32),
            label: "quickstart demo".into(),
            allowed_patterns: vec![
                "example.com".into(),
                "*.example.com".into(),
                "example.org".into(),
                "*.example.org".into(),
                "127.0.0.0/8".into(),
            ],
            scm_org_id: Some(DEMO_ORG),
            profiles: vec![],
            trust_scm_dcv: true,
            single_use: false,
            created_at: chrono::Utc::now(),
            used_at: None,
            revoked_at: None,
            accounts_stopped: false,
        };
        store.create_eab_key(&key).await?;
        let saved = DemoEab {
            kid: key.kid.clone(),
            hmac_key: URL_SAFE_NO_PAD.encode(&key.hmac_key),
        };
        std::fs::create_dir_all(&self.data_dir)?;
        write_private(&file, &serde_json::to_string_pretty(&saved)?)?;
        Ok((saved.kid, saved.hmac_key))
    }

    /// The few lines printed at start.
    pub fn banner(&self, directory: &str, kid: &str, hmac: &str, database: &str) -> String {
        let ca = self
            .tls
            .as_ref()
            .map(|t| absolute(&t.ca_cert))
            .unwrap_or_default();
        let certbot_dir = absolute(&self.data_dir.join("certbot"));
        let ca_env = if ca.is_empty() {
            String::new()
        } else {
            format!("REQUESTS_CA_BUNDLE={ca} ")
        };
        format!(
            "acme-sectigo-bridge quickstart — SCM sandbox in-process: certificates are TEST certificates\n\
             directory:  {directory}\n\
             CA bundle:  {ca}\n\
             EAB kid:    {kid}\n\
             EAB HMAC:   {hmac}\n\
             database:   {database}\n\
             certbot:    {ca_env}certbot certonly --server {directory} --eab-kid {kid} --eab-hmac-key={hmac} \
             --agree-tos -m admin@example.com --non-interactive --standalone -d www.example.com \
             --config-dir {certbot_dir} --work-dir {certbot_dir} --logs-dir {certbot_dir}\n"
        )
    }
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}
