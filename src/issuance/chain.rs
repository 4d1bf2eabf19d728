//! Builds the chain handed to clients from whatever SCM returned (design.md §3.6): the leaf is the
//! certificate whose key matches the CSR, issuers follow by name, the root is left out unless
//! configured. Position in SCM's answer is never trusted.

use super::error::ChainError;
use chrono::{DateTime, TimeZone, Utc};
use x509_parser::prelude::{FromDer, X509Certificate};

/// A chain ready to store.
#[derive(Debug, Clone)]
pub struct BuiltChain {
    /// Leaf first, PEM.
    pub pem: String,
    /// Leaf serial, lower-case hex.
    pub serial: String,
    pub not_after: DateTime<Utc>,
    /// Thumbprint of the leaf's key.
    pub key_thumbprint: String,
}

/// Orders `ders` into leaf → issuers; fails when no certificate carries the CSR's key.
pub fn build_chain(
    ders: &[Vec<u8>],
    csr_key_thumbprint: &str,
    include_root: bool,
) -> Result<BuiltChain, ChainError> {
    let certs: Vec<X509Certificate<'_>> = ders
        .iter()
        .map(|d| {
            X509Certificate::from_der(d)
                .map(|(_, c)| c)
                .map_err(|e| ChainError::Unparsable(format!("a certificate: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let leaf_index = certs
        .iter()
        .position(|c| {
            crate::jose::spki::jwk_from_spki(c.public_key())
                .map(|(k, _)| k.thumbprint() == csr_key_thumbprint)
                .unwrap_or(false)
        })
        .ok_or(ChainError::NoLeaf)?;
    let mut order = vec![leaf_index];
    let mut current = leaf_index;
    while !is_self_issued(&certs[current]) {
        let issuer = certs[current].issuer().as_raw();
        match (0..certs.len())
            .find(|&i| !order.contains(&i) && certs[i].subject().as_raw() == issuer)
        {
            Some(i) => {
                order.push(i);
                current = i;
            }
            None => break,
        }
    }
    let mut pem = String::new();
    for (n, &i) in order.iter().enumerate() {
        if n > 0 && !include_root && is_self_issued(&certs[i]) {
            continue;
        }
        pem.push_str(&crate::encoding::pem("CERTIFICATE", &ders[i]));
    }
    let leaf = &certs[leaf_index];
    let (key, _) = crate::jose::spki::jwk_from_spki(leaf.public_key())
        .map_err(|e| ChainError::LeafKey(e.to_string()))?;
    Ok(BuiltChain {
        pem,
        serial: crate::encoding::serial_hex(leaf.raw_serial()),
        not_after: Utc
            .timestamp_opt(leaf.validity().not_after.timestamp(), 0)
            .single()
            .ok_or(ChainError::NotAfterOutOfRange)?,
        key_thumbprint: key.thumbprint(),
    })
}

fn is_self_issued(c: &X509Certificate<'_>) -> bool {
    c.subject().as_raw() == c.issuer().as_raw()
}
