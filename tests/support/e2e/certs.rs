//! Checks on what a client stored: the chain verifies against the sandbox root, the leaf carries
//! exactly the requested names.

use std::collections::BTreeSet;
use std::path::Path;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The DER certificates of a PEM file, in order.
pub fn pem_file_certs(path: &Path) -> Vec<Vec<u8>> {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let certs = acme_sectigo_bridge::scm::certificates_in(&pem).unwrap();
    assert!(!certs.is_empty(), "no certificate in {}", path.display());
    certs
}

/// The leaf (first certificate) of a PEM file.
pub fn leaf(path: &Path) -> Vec<u8> {
    pem_file_certs(path).swap_remove(0)
}

/// DNS names of the certificate's subjectAltName.
pub fn dns_names(der: &[u8]) -> BTreeSet<String> {
    let (_, cert) = X509Certificate::from_der(der).expect("parse certificate");
    let san = cert
        .subject_alternative_name()
        .expect("valid extensions")
        .expect("subjectAltName present");
    san.value
        .general_names
        .iter()
        .map(|g| match g {
            GeneralName::DNSName(n) => n.to_string(),
            other => panic!("unexpected subjectAltName entry {other:?}"),
        })
        .collect()
}

/// Serial number as uppercase hex without separators (what SCM's `serialNumber` filter takes).
pub fn serial_hex(der: &[u8]) -> String {
    let (_, cert) = X509Certificate::from_der(der).expect("parse certificate");
    cert.raw_serial()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Asserts the leaf has exactly `names` (order does not matter).
pub fn assert_names(der: &[u8], names: &[&str]) {
    let want: BTreeSet<String> = names.iter().map(|s| s.to_string()).collect();
    assert_eq!(dns_names(der), want, "subjectAltName of the issued leaf");
}

/// `openssl verify -purpose sslserver -CAfile root -untrusted chain cert` must say OK.
pub fn assert_verifies(root: &Path, chain: &Path, cert: &Path) {
    let out = super::tools::openssl()
        .arg("verify")
        .args(["-purpose", "sslserver", "-CAfile"])
        .arg(root)
        .arg("-untrusted")
        .arg(chain)
        .arg(cert)
        .output()
        .expect("run openssl verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(": OK"),
        "openssl verify of {} with chain {}: {}\n{}",
        cert.display(),
        chain.display(),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a full chain file is leaf then intermediate (root omitted), each issued by the next.
pub fn assert_leaf_then_intermediate(fullchain: &Path) {
    let certs = pem_file_certs(fullchain);
    assert_eq!(
        certs.len(),
        2,
        "{}: leaf and intermediate, no root",
        fullchain.display()
    );
    let (_, leaf) = X509Certificate::from_der(&certs[0]).unwrap();
    let (_, inter) = X509Certificate::from_der(&certs[1]).unwrap();
    assert_eq!(
        leaf.issuer(),
        inter.subject(),
        "leaf first, its issuer next"
    );
    assert!(inter.is_ca(), "second certificate is a CA");
}
