//! `scm.ca_file` from the configuration reaches the SCM client: set in the TOML file or as
//! `BRIDGE_SCM__CA_FILE`, it makes the client trust an HTTPS sandbox whose certificate no system
//! root vouches for (the way an operator points the bridge at a sandbox or a TLS-inspecting proxy).

mod support;

use acme_sectigo_bridge::config::Config;
use acme_sectigo_bridge::sandbox::{SandboxConfig, SandboxHandle};
use acme_sectigo_bridge::scm::ScmClient;
use std::path::PathBuf;
use support::scm::sandbox;

/// An HTTPS sandbox with a fresh self-signed certificate; returns it and the certificate's path.
fn https_sandbox(name: &str) -> (SandboxHandle, PathBuf) {
    let dir = std::env::temp_dir().join(format!("scm-ca-file-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let sb = sandbox(SandboxConfig {
        tls_cert: Some(cert_path.clone()),
        tls_key: Some(key_path),
        ..Default::default()
    });
    assert_eq!(sb.base_url().scheme(), "https");
    (sb, cert_path)
}

/// Lists the sandbox's organizations with a client built from `config`'s `[scm]`.
async fn organizations(config: &Config) -> usize {
    let scm = config.scm.as_ref().expect("[scm] is configured");
    ScmClient::new(scm)
        .unwrap()
        .organizations()
        .await
        .expect("the client trusts the sandbox through scm.ca_file")
        .len()
}

#[tokio::test]
async fn ca_file_in_the_configuration_file_is_trusted() {
    let (sb, ca) = https_sandbox("toml");
    let file = ca.with_file_name("bridge.toml");
    std::fs::write(
        &file,
        format!(
            "[scm]\nbase_url = \"{}\"\ncustomer_uri = \"{}\"\nlogin = \"{}\"\npassword = \"{}\"\n\
             ca_file = {:?}\n",
            sb.base_url(),
            sb.customer_uri(),
            sb.login(),
            sb.password(),
            ca.to_str().unwrap()
        ),
    )
    .unwrap();
    let config = Config::load_with_env(Some(&file), Vec::new()).unwrap();
    assert_eq!(organizations(&config).await, 2);
}

#[tokio::test]
async fn ca_file_from_the_environment_is_trusted() {
    let (sb, ca) = https_sandbox("env");
    let env = [
        ("BRIDGE_SCM__BASE_URL", sb.base_url().to_string()),
        ("BRIDGE_SCM__CUSTOMER_URI", sb.customer_uri().to_string()),
        ("BRIDGE_SCM__LOGIN", sb.login().to_string()),
        ("BRIDGE_SCM__PASSWORD", sb.password().to_string()),
        ("BRIDGE_SCM__CA_FILE", ca.to_str().unwrap().to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let config = Config::load_with_env(None, env).unwrap();
    assert_eq!(organizations(&config).await, 2);

    // Without the CA the same configuration cannot talk to the sandbox: the CA is what is trusted.
    let mut without = config.scm.clone().unwrap();
    without.ca_file = None;
    assert!(ScmClient::new(&without)
        .unwrap()
        .organizations()
        .await
        .is_err());
}
