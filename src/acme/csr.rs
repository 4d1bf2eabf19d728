//! The CSR checks of finalize (RFC 8555 §7.4): what the client asks to have certified must be
//! exactly what the order authorized, with an acceptable key that is not an account key.

use crate::acme::types::Identifier;
use crate::acme::{Error, ProblemType, Result};
use std::collections::BTreeSet;
use std::net::IpAddr;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509CertificationRequest};

/// A CSR that passed the checks that need no database.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    pub der: Vec<u8>,
    pub common_name: Option<String>,
    /// RFC 7638 thumbprint of the CSR's public key.
    pub key_thumbprint: String,
}

fn bad_csr(detail: impl Into<String>) -> Error {
    Error::new(ProblemType::BadCsr, detail)
}

/// Parses and checks a CSR against the order's identifiers: valid self-signature, RSA 2048–8192 or
/// ECDSA P-256/P-384, SAN set equal to the identifiers, CN (if any) one of them.
pub fn check_csr(der: &[u8], identifiers: &[Identifier]) -> Result<CheckedCsr> {
    let (rest, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| bad_csr(format!("the CSR is not valid DER PKCS#10: {e}")))?;
    if !rest.is_empty() {
        return Err(bad_csr("the CSR has trailing data"));
    }
    csr.verify_signature()
        .map_err(|_| bad_csr("the CSR's self-signature does not verify"))?;
    let info = &csr.certification_request_info;
    let (jwk, bits) = crate::jose::spki::jwk_from_spki(&info.subject_pki)
        .map_err(|e| bad_csr(format!("the CSR's key is not acceptable: {e}")))?;
    match jwk.to_value()["kty"].as_str() {
        Some("RSA") if !(2048..=8192).contains(&bits) => {
            return Err(bad_csr(format!(
                "the CSR's RSA key has {bits} bits; use 2048 to 8192"
            )))
        }
        Some("EC") if bits == 521 => {
            return Err(bad_csr("the CSR's EC key is P-521; use P-256 or P-384"))
        }
        _ => {}
    }

    let mut names: BTreeSet<(String, String)> = BTreeSet::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for gn in &san.general_names {
                match gn {
                    GeneralName::DNSName(d) => {
                        names.insert(("dns".into(), d.trim_end_matches('.').to_ascii_lowercase()));
                    }
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes")),
                            16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("16 bytes")),
                            _ => return Err(bad_csr("the CSR has a malformed IP address SAN")),
                        };
                        names.insert(("ip".into(), ip.to_string()));
                    }
                    other => {
                        return Err(bad_csr(format!(
                            "the CSR has an unsupported subjectAltName {other:?}"
                        )))
                    }
                }
            }
        }
    }
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .map(|cn| {
            cn.as_str()
                .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
                .map_err(|_| bad_csr("the CSR's common name is not a string"))
        })
        .transpose()?;
    let wanted: BTreeSet<(String, String)> = identifiers
        .iter()
        .map(|i| (i.kind.clone(), i.value.clone()))
        .collect();
    if names != wanted {
        let missing: Vec<_> = wanted.difference(&names).map(|(_, v)| v.as_str()).collect();
        let extra: Vec<_> = names.difference(&wanted).map(|(_, v)| v.as_str()).collect();
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!("missing {}", missing.join(", ")));
        }
        if !extra.is_empty() {
            why.push(format!("not in the order: {}", extra.join(", ")));
        }
        return Err(bad_csr(format!(
            "the CSR's subjectAltNames must equal the order's identifiers ({})",
            why.join("; ")
        )));
    }
    if let Some(cn) = &common_name {
        if !wanted.iter().any(|(_, v)| v == cn) {
            return Err(bad_csr(format!(
                "the CSR's common name {cn} is not one of the order's identifiers"
            )));
        }
    }
    Ok(CheckedCsr {
        der: der.to_vec(),
        common_name,
        key_thumbprint: jwk.thumbprint(),
    })
}
