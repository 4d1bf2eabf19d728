//! A local CA and a `localhost` server certificate, generated once and kept in the data directory,
//! so the zero-setup server speaks HTTPS (ACME clients insist on it) and clients trust it by
//! pointing at one CA file that survives restarts.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// Where the TLS material lives.
#[derive(Debug, Clone)]
pub struct LocalTls {
    /// The CA certificate clients must trust.
    pub ca_cert: PathBuf,
    /// The server certificate chain (leaf, then CA).
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// Loads the TLS material from `dir`, generating it the first time.
pub fn ensure_local_tls(dir: &Path) -> anyhow::Result<LocalTls> {
    let tls = LocalTls {
        ca_cert: dir.join("ca.pem"),
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    if tls.ca_cert.exists() && tls.cert.exists() && tls.key.exists() {
        return Ok(tls);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "acme-sectigo-bridge local CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let ca_cert = ca.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = dn;
    leaf.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;

    write_private(&tls.key, &key.serialize_pem())?;
    std::fs::write(&tls.cert, format!("{}{}", leaf_cert.pem(), ca_cert.pem()))?;
    std::fs::write(&tls.ca_cert, ca_cert.pem())?;
    Ok(tls)
}

/// Writes a file only its owner can read (private keys, the demo EAB key).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}
