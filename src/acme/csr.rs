//! The CSR checks of finalize (RFC 8555 §7.4): what the client asks to have certified must be
//! exactly what the order authorized, with an acceptable key that is not an account key.

use crate::acme::{Error, ProblemType, Result};
use crate::model::Identifier;
use std::collections::BTreeSet;
use std::net::IpAddr;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::prelude::{FromDer, X509CertificationRequest};
use x509_parser::x509::X509Name;

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

/// Critical extensions a CSR may carry that do not change what is certified, so the server can
/// leave them to SCM's profile: keyUsage, extendedKeyUsage, subjectKeyIdentifier, basicConstraints
/// (CA:TRUE is refused separately), subjectAltName (checked) and the TLS feature (must-staple).
const IGNORABLE_CRITICAL: &[&str] = &[
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.14",
    "2.5.29.19",
    "2.5.29.17",
    "1.3.6.1.5.5.7.1.24",
];

/// The CSR's requested extensions. More than one extensionRequest attribute, or one extension
/// twice, is refused: which copy SCM would honour is not ours to guess.
fn requested_extensions<'a>(
    csr: &'a X509CertificationRequest<'a>,
) -> Result<Vec<&'a X509Extension<'a>>> {
    let mut out: Vec<&X509Extension> = Vec::new();
    let mut requests = 0;
    for attr in csr.certification_request_info.iter_attributes() {
        if let ParsedCriAttribute::ExtensionRequest(req) = attr.parsed_attribute() {
            requests += 1;
            out.extend(req.extensions.iter());
        }
    }
    if requests > 1 {
        return Err(bad_csr(
            "the CSR has more than one extensionRequest attribute; put every extension in one",
        ));
    }
    let mut seen = BTreeSet::new();
    for ext in &out {
        if !seen.insert(ext.oid.to_id_string()) {
            return Err(bad_csr(format!(
                "the CSR requests the extension {} more than once",
                ext.oid.to_id_string()
            )));
        }
    }
    Ok(out)
}

/// A subjectAltName entry as `(identifier type, value)`; only DNS names and IP addresses.
fn san_name(gn: &GeneralName) -> Result<(String, String)> {
    match gn {
        GeneralName::DNSName(d) => Ok(("dns".into(), d.trim_end_matches('.').to_ascii_lowercase())),
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes")),
                16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("16 bytes")),
                _ => return Err(bad_csr("the CSR has a malformed IP address SAN")),
            };
            Ok(("ip".into(), ip.to_string()))
        }
        other => Err(bad_csr(format!(
            "the CSR has an unsupported subjectAltName {other:?}"
        ))),
    }
}

/// The subject's common name, if any. Two or more are refused: only one can be checked against
/// the order and SCM would pick one itself, so a second could smuggle in a name.
fn single_common_name(subject: &X509Name) -> Result<Option<String>> {
    let mut cns = subject.iter_common_name();
    let first = cns.next();
    if cns.next().is_some() {
        return Err(bad_csr(
            "the CSR's subject has more than one common name; use at most one, naming one of \
             the order's identifiers",
        ));
    }
    first
        .map(|cn| {
            cn.as_str()
                .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
                .map_err(|_| bad_csr("the CSR's common name is not a string"))
        })
        .transpose()
}

/// Parses and checks a CSR against the order's identifiers: valid self-signature, RSA 2048–8192
/// (exponent 65537) or ECDSA P-256/P-384, SAN set equal to the identifiers, at most one CN and
/// that one of them, no CA request and no critical extension we do not understand.
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

    let extensions = requested_extensions(&csr)?;
    let mut names: BTreeSet<(String, String)> = BTreeSet::new();
    for ext in &extensions {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for gn in &san.general_names {
                    names.insert(san_name(gn)?);
                }
            }
            ParsedExtension::BasicConstraints(bc) if bc.ca => {
                return Err(bad_csr(
                    "the CSR asks for a CA certificate (basicConstraints CA:TRUE); ACME issues \
                     end-entity certificates only: remove the extension or set CA:FALSE",
                ))
            }
            _ if ext.critical && !IGNORABLE_CRITICAL.contains(&ext.oid.to_id_string().as_str()) => {
                return Err(bad_csr(format!(
                    "the CSR requests the critical extension {}, which this server does not \
                     understand; remove it or mark it non-critical",
                    ext.oid.to_id_string()
                )))
            }
            _ => {}
        }
    }
    let common_name = single_common_name(&info.subject)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::stack::Stack;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509Extension, X509NameBuilder, X509ReqBuilder};

    fn ec_key() -> PKey<Private> {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap()
    }

    /// A CSR for `names` (SANs) with the common names `cns` and extra extensions.
    fn build(
        key: &PKey<Private>,
        names: &[&str],
        cns: &[&str],
        extra: Vec<X509Extension>,
    ) -> Vec<u8> {
        let mut req = X509ReqBuilder::new().unwrap();
        req.set_pubkey(key).unwrap();
        let mut subject = X509NameBuilder::new().unwrap();
        for cn in cns {
            subject.append_entry_by_text("CN", cn).unwrap();
        }
        req.set_subject_name(&subject.build()).unwrap();
        let mut exts = Stack::new().unwrap();
        if !names.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for n in names {
                san.dns(n);
            }
            exts.push(san.build(&req.x509v3_context(None)).unwrap())
                .unwrap();
        }
        for e in extra {
            exts.push(e).unwrap();
        }
        req.add_extensions(&exts).unwrap();
        req.sign(key, MessageDigest::sha256()).unwrap();
        req.build().to_der().unwrap()
    }

    fn ids(names: &[&str]) -> Vec<Identifier> {
        names.iter().map(|n| Identifier::dns(*n)).collect()
    }

    fn refused(der: &[u8], names: &[&str]) -> String {
        match check_csr(der, &ids(names)) {
            Err(e) => {
                assert_eq!(e.kind, ProblemType::BadCsr, "{e:?}");
                e.detail
            }
            Ok(c) => panic!("accepted: CN {:?}", c.common_name),
        }
    }

    #[test]
    fn a_plain_csr_is_accepted_with_its_cn() {
        let der = build(
            &ec_key(),
            &["a.example", "b.example"],
            &["b.example"],
            vec![],
        );
        let c = check_csr(&der, &ids(&["a.example", "b.example"])).unwrap();
        assert_eq!(c.common_name.as_deref(), Some("b.example"));
    }

    #[test]
    fn a_second_common_name_is_refused() {
        // The first CN is in the order, the second is not: which one SCM certifies would be
        // SCM's choice, so a CSR may carry at most one.
        let der = build(
            &ec_key(),
            &["a.example"],
            &["a.example", "evil.example"],
            vec![],
        );
        let why = refused(&der, &["a.example"]);
        assert!(why.contains("common name"), "{why}");
        // Even two copies of an allowed name.
        let der = build(
            &ec_key(),
            &["a.example"],
            &["a.example", "a.example"],
            vec![],
        );
        refused(&der, &["a.example"]);
    }

    #[test]
    fn a_ca_basic_constraint_is_refused() {
        let key = ec_key();
        let bc = BasicConstraints::new().critical().ca().build().unwrap();
        let der = build(&key, &["a.example"], &[], vec![bc]);
        let why = refused(&der, &["a.example"]);
        assert!(why.contains("CA"), "{why}");
        // basicConstraints CA:FALSE is harmless.
        let bc = BasicConstraints::new().build().unwrap();
        let der = build(&key, &["a.example"], &[], vec![bc]);
        assert!(check_csr(&der, &ids(&["a.example"])).is_ok());
    }

    #[test]
    fn an_unknown_critical_extension_is_refused() {
        let key = ec_key();
        let oid = openssl::asn1::Asn1Object::from_str("1.3.6.1.4.1.99999.1").unwrap();
        let content = openssl::asn1::Asn1OctetString::new_from_bytes(&[0x05, 0x00]).unwrap();
        let critical = X509Extension::new_from_der(&oid, true, &content).unwrap();
        let der = build(&key, &["a.example"], &[], vec![critical]);
        let why = refused(&der, &["a.example"]);
        assert!(why.contains("1.3.6.1.4.1.99999.1"), "{why}");
        // The same extension, not critical, may be ignored.
        let lenient = X509Extension::new_from_der(&oid, false, &content).unwrap();
        let der = build(&key, &["a.example"], &[], vec![lenient]);
        assert!(check_csr(&der, &ids(&["a.example"])).is_ok());
    }

    #[test]
    fn an_rsa_key_with_a_small_exponent_is_refused() {
        let e = openssl::bn::BigNum::from_u32(3).unwrap();
        let rsa = openssl::rsa::Rsa::generate_with_e(2048, &e).unwrap();
        let der = build(&PKey::from_rsa(rsa).unwrap(), &["a.example"], &[], vec![]);
        let why = refused(&der, &["a.example"]);
        assert!(why.contains("65537"), "{why}");
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let der = build(&PKey::from_rsa(rsa).unwrap(), &["a.example"], &[], vec![]);
        assert!(check_csr(&der, &ids(&["a.example"])).is_ok());
    }
}
