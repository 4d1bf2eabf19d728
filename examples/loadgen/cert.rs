//! What each order's certificate must be: a fresh P-256 CSR for the order's names, and a downloaded
//! chain whose leaf carries exactly those names and whose certificates sign each other in order.

use crate::acme::Fail;

/// A CSR for `names` with a fresh P-256 key (CN = the first name).
pub fn csr(names: &[String]) -> Result<Vec<u8>, Fail> {
    let fail = |e: rcgen::Error| Fail::new("csr", e.to_string());
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(fail)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    Ok(params.serialize_request(&key).map_err(fail)?.der().to_vec())
}

/// Checks the downloaded chain: the leaf's DNS SANs are exactly `names`, and each certificate is
/// signed by the next one.
pub fn check_chain(pem: &[u8], names: &[String]) -> Result<(), Fail> {
    use x509_parser::extensions::GeneralName;
    let mut ders = Vec::new();
    for p in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let p = p.map_err(|e| Fail::new("certificate: unparsable", e.to_string()))?;
        if p.label == "CERTIFICATE" {
            ders.push(p.contents);
        }
    }
    let mut certs = Vec::new();
    for der in &ders {
        let (_, c) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Fail::new("certificate: unparsable", e.to_string()))?;
        certs.push(c);
    }
    let leaf = certs
        .first()
        .ok_or_else(|| Fail::new("certificate: empty chain", ""))?;
    let mut sans: Vec<String> = match leaf.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    sans.sort();
    let mut want: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    want.sort();
    if sans != want {
        return Err(Fail::new(
            "certificate: SAN mismatch",
            format!("{sans:?} != {want:?}"),
        ));
    }
    if !leaf.validity().is_valid() {
        return Err(Fail::new("certificate: not valid now", ""));
    }
    for pair in certs.windows(2) {
        pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .map_err(|e| Fail::new("certificate: chain signature", e.to_string()))?;
    }
    Ok(())
}
