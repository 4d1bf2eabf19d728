//! Real encodings, made once per run, that the structured strategies start from and mutate: a
//! sandbox PKI (root, intermediate, leaf), every collect body SCM formats, CSRs with P-256 and
//! RSA keys, and the P-256 key as a public JWK.

use crate::strategies::b64url;
use acme_sectigo_bridge::sandbox::pki::Pki;
use acme_sectigo_bridge::scm::CollectFormat;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use serde_json::json;
use std::sync::OnceLock;

/// What the properties start from.
pub struct Fixtures {
    /// P-256 key of the CSRs and the leaf.
    pub key: KeyPair,
    /// A CSR for `fuzz.example.com` with `key`.
    pub csr: Vec<u8>,
    /// The same name with a 2048-bit RSA key.
    pub rsa_csr: Vec<u8>,
    /// Leaf, intermediate, root (DER).
    pub chain: Vec<Vec<u8>>,
    /// RFC 7638 thumbprint of `key`.
    pub thumbprint: String,
    /// The collect body of every format for the leaf.
    pub bodies: Vec<Vec<u8>>,
    /// `key` as a public JWK.
    pub jwk: serde_json::Value,
    /// Valid public JWKs of every accepted kind: P-256, P-384, RSA-2048, Ed25519.
    pub jwks: Vec<serde_json::Value>,
}

/// The fixtures, built on first use.
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build)
}

/// A CSR signed by `key` with subject CN `cn` (when given) and exactly `sans`.
pub fn csr_with(key: &KeyPair, cn: Option<&str>, sans: Vec<SanType>) -> Option<Vec<u8>> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    p.distinguished_name = dn;
    p.subject_alt_names = sans;
    Some(p.serialize_request(key).ok()?.der().to_vec())
}

fn build() -> Fixtures {
    let key = KeyPair::generate().unwrap();
    let name = || vec![SanType::DnsName("fuzz.example.com".try_into().unwrap())];
    let csr = csr_with(&key, Some("fuzz.example.com"), name()).unwrap();
    let rsa_pem = openssl::rsa::Rsa::generate(2048)
        .and_then(openssl::pkey::PKey::from_rsa)
        .and_then(|k| k.private_key_to_pem_pkcs8())
        .unwrap();
    let rsa_key = KeyPair::from_pem_and_sign_algo(
        std::str::from_utf8(&rsa_pem).unwrap(),
        &rcgen::PKCS_RSA_SHA256,
    )
    .unwrap();
    let rsa_csr = csr_with(&rsa_key, None, name()).unwrap();
    let rsa = openssl::rsa::Rsa::private_key_from_pem(&rsa_pem).unwrap();
    let rsa_jwk =
        json!({"kty": "RSA", "n": b64url(&rsa.n().to_vec()), "e": b64url(&rsa.e().to_vec())});
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let point = p384.public_key_raw();
    let p384_jwk =
        json!({"kty": "EC", "crv": "P-384", "x": b64url(&point[1..49]), "y": b64url(&point[49..])});
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(ed.public_key_raw())});

    let pki = Pki::generate(false).unwrap();
    let leaf = pki
        .issue(
            &key.public_key_der(),
            "fuzz.example.com",
            &["fuzz.example.com".to_string()],
            90,
            &[0x01, 0x02],
        )
        .unwrap();
    let pem_der = |pem: String| acme_sectigo_bridge::scm::certificates_in(pem.as_bytes()).unwrap();
    let chain = vec![
        leaf.clone(),
        pem_der(pki.intermediate_pem()).remove(0),
        pem_der(pki.root_pem()).remove(0),
    ];
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    let (jwk, _) = acme_sectigo_bridge::jose::spki::jwk_from_spki(cert.public_key()).unwrap();
    let bodies = CollectFormat::ALL
        .iter()
        .map(|f| pki.bundle(&leaf, *f))
        .collect();
    Fixtures {
        key,
        csr,
        rsa_csr,
        chain,
        thumbprint: jwk.thumbprint(),
        bodies,
        jwk: jwk.to_value().clone(),
        jwks: vec![jwk.to_value().clone(), p384_jwk, rsa_jwk, ed_jwk],
    }
}
