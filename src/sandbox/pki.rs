//! The sandbox's local PKI: root → intermediate → leaf, so that chain-order mistakes in a client show
//! up (with a 2-level PKI "root first" and "leaf first" look too alike). Generated fresh at start-up;
//! tests fetch the root from the handle or `GET /__sandbox/root.pem`.
//!
//! Optionally (`cross_signed_root`) the root is cross-signed, as Sectigo's roots are (e.g. USERTrust
//! by AAA Certificate Services): a second certificate with the root's subject and key, issued by an
//! "old root". The intermediate then chains to either root, and a client offering alternate chains
//! (RFC 8555 §7.4.2) has both paths to offer.

use crate::scm::collect::CollectFormat;
use base64::Engine;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    SubjectPublicKeyInfo,
};
use time::{Duration, OffsetDateTime};

/// Root and intermediate with their keys, and the optional cross-signed path.
pub struct Pki {
    root: Certificate,
    intermediate: Certificate,
    intermediate_key: KeyPair,
    cross: Option<CrossSigned>,
}

/// The alternate path to an older root.
struct CrossSigned {
    /// Subject and key of the root, issued by `old_root`.
    cross_root: Certificate,
    /// Self-signed, its own key.
    old_root: Certificate,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki { .. }")
    }
}

fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "acme-sectigo-bridge sandbox");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(3650);
    p.serial_number = Some(random_serial());
    p.use_authority_key_identifier_extension = true;
    p
}

/// 16 random bytes, positive and without a leading zero byte.
pub fn random_serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] = (b[0] & 0x7f) | 0x10;
    SerialNumber::from_slice(&b)
}

impl Pki {
    /// A fresh root and intermediate (ECDSA P-256); with `cross_signed`, also an old root and a
    /// certificate for the root's subject and key issued by it.
    pub fn generate(cross_signed: bool) -> anyhow::Result<Self> {
        let root_key = KeyPair::generate()?;
        let root = ca_params("Sandbox Root CA", None).self_signed(&root_key)?;
        let intermediate_key = KeyPair::generate()?;
        let intermediate = ca_params("Sandbox Intermediate CA", Some(0)).signed_by(
            &intermediate_key,
            &root,
            &root_key,
        )?;
        let cross = if cross_signed {
            let old_key = KeyPair::generate()?;
            let old_root = ca_params("Sandbox Old Root CA", None).self_signed(&old_key)?;
            // Same subject (same params) and key as the root, so the intermediate's issuer name and
            // authority key id match both; only the issuer and the signature differ.
            let cross_root =
                ca_params("Sandbox Root CA", None).signed_by(&root_key, &old_root, &old_key)?;
            Some(CrossSigned {
                cross_root,
                old_root,
            })
        } else {
            None
        };
        Ok(Self {
            root,
            intermediate,
            intermediate_key,
            cross,
        })
    }

    /// The root's cross-signed certificate (issued by the old root), PEM, when enabled.
    pub fn cross_signed_root_pem(&self) -> Option<String> {
        self.cross.as_ref().map(|c| c.cross_root.pem())
    }

    /// The old root that cross-signed the root, PEM, when enabled.
    pub fn old_root_pem(&self) -> Option<String> {
        self.cross.as_ref().map(|c| c.old_root.pem())
    }

    /// Root certificate, PEM.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// Intermediate certificate, PEM.
    pub fn intermediate_pem(&self) -> String {
        self.intermediate.pem()
    }

    /// Signs a leaf for `spki_der` (the CSR's key) with CN `cn`, exactly `sans`, valid `days` days.
    pub fn issue(
        &self,
        spki_der: &[u8],
        cn: &str,
        sans: &[String],
        days: u32,
        serial: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        let key = SubjectPublicKeyInfo::from_der(spki_der)?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        p.distinguished_name = dn;
        p.subject_alt_names = sans
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        // rcgen's ExplicitNoCa writes the DEFAULT `cA FALSE` into basicConstraints, which DER
        // forbids (strict parsers such as certbot's reject the certificate); write the empty,
        // critical SEQUENCE real CAs issue instead.
        p.is_ca = IsCa::NoCa;
        let mut basic_constraints =
            rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
        basic_constraints.set_criticality(true);
        p.custom_extensions.push(basic_constraints);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = OffsetDateTime::now_utc();
        p.not_before = now - Duration::hours(1);
        p.not_after = now + Duration::days(days as i64);
        p.serial_number = Some(SerialNumber::from_slice(serial));
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &self.intermediate, &self.intermediate_key)?;
        Ok(cert.der().to_vec())
    }

    /// The file collect returns for `format` (see shared/scm-api.md §3 for the orders).
    ///
    /// With a cross-signed root, the formats that carry the root carry the cross-signed root and the
    /// old root too. [guess] Where: after the root, leaf-first — leaf, intermediate, root,
    /// cross-signed root, old root — and exactly reversed in the root-first formats. SCM's real
    /// order is not documented; clients must order by issuer anyway.
    pub fn bundle(&self, leaf_der: &[u8], format: CollectFormat) -> Vec<u8> {
        let leaf = leaf_der.to_vec();
        let inter = self.intermediate.der().to_vec();
        // The root and, with cross-signing, the alternate path after it (leaf-first order).
        let mut roots = vec![self.root.der().to_vec()];
        if let Some(c) = &self.cross {
            roots.push(c.cross_root.der().to_vec());
            roots.push(c.old_root.der().to_vec());
        }
        let roots_rev: Vec<Vec<u8>> = roots.iter().rev().cloned().collect();
        let cat = |parts: &[&[Vec<u8>]]| -> Vec<Vec<u8>> { parts.concat() };
        use CollectFormat::*;
        let pem_chain = |certs: Vec<Vec<u8>>| -> Vec<u8> {
            certs
                .iter()
                .map(|c| pem("CERTIFICATE", c))
                .collect::<String>()
                .into_bytes()
        };
        let (leaf, inter) = (vec![leaf], vec![inter]);
        match format {
            X509 | Pem => pem_chain(cat(&[&roots_rev, &inter, &leaf])),
            X509R => pem_chain(cat(&[&leaf, &inter, &roots])),
            X509CO | PemCO => pem_chain(leaf),
            X509IO => pem_chain(cat(&[&roots_rev, &inter])),
            X509IOR => pem_chain(cat(&[&inter, &roots])),
            PemIA => pem_chain(cat(&[&leaf, &inter])),
            Base64 => pem("PKCS7", &pkcs7(&cat(&[&leaf, &inter, &roots]))).into_bytes(),
            Bin => pkcs7(&cat(&[&leaf, &inter, &roots])),
        }
    }
}

/// PEM armour with 64-character lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A degenerate PKCS#7 SignedData (certificates only, no signers), like SCM's `.p7b`.
pub fn pkcs7(certs: &[Vec<u8>]) -> Vec<u8> {
    const SIGNED_DATA: [u8; 11] = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    const DATA: [u8; 11] = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    let mut sd = Vec::new();
    sd.extend(der(0x02, &[1])); // version
    sd.extend(der(0x31, &[])); // digestAlgorithms
    sd.extend(der(0x30, &DATA)); // encapContentInfo
    sd.extend(der(0xa0, &certs.concat())); // certificates [0] IMPLICIT
    sd.extend(der(0x31, &[])); // signerInfos
    let mut ci = SIGNED_DATA.to_vec();
    ci.extend(der(0xa0, &der(0x30, &sd)));
    der(0x30, &ci)
}
