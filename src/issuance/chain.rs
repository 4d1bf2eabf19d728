//! Builds the chains handed to clients from whatever SCM returned (design.md §3.6): the leaf is the
//! certificate whose key matches the CSR, issuers follow by name (and key id, when both carry one),
//! the root is left out unless configured. Position in SCM's answer is never trusted.
//!
//! SCM may return more than one path above the leaf: with a cross-signed root (Sectigo's USERTrust
//! roots are also cross-signed by AAA Certificate Services) the intermediate's issuer name matches
//! both the self-signed root and the cross-signed copy of it. Every path is built; the default
//! chain is the shortest complete one (it ends at the root that issued the intermediate itself,
//! not at an older root through a cross-signature), the others are RFC 8555 §7.4.2 alternates.

use super::error::ChainError;
use chrono::{DateTime, TimeZone, Utc};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Most chains built from one collect answer; more paths than this means a malformed bundle.
const MAX_PATHS: usize = 8;
/// Longest path from the leaf up (a guard against name loops in a hostile bundle).
const MAX_DEPTH: usize = 10;

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

/// The default chain and the other chains SCM's answer allows, so clients can pick another root
/// (RFC 8555 §7.4.2 `Link: rel="alternate"`).
#[derive(Debug, Clone)]
pub struct BuiltChains {
    /// What the certificate URL serves.
    pub default: BuiltChain,
    /// Every other distinct chain (leaf first, PEM), most preferred first.
    pub alternates: Vec<String>,
}

/// Orders `ders` into leaf → issuers (the default chain only); fails when no certificate carries
/// the CSR's key.
pub fn build_chain(
    ders: &[Vec<u8>],
    csr_key_thumbprint: &str,
    include_root: bool,
) -> Result<BuiltChain, ChainError> {
    build_chains(ders, csr_key_thumbprint, include_root).map(|c| c.default)
}

/// Every chain from the leaf (the certificate with the CSR's key) up through `ders`: the default
/// is the shortest path that ends at a self-signed root, then longer complete paths, then paths that
/// end without a root (SCM's answer lacked it); ties keep SCM's order.
pub fn build_chains(
    ders: &[Vec<u8>],
    csr_key_thumbprint: &str,
    include_root: bool,
) -> Result<BuiltChains, ChainError> {
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
    let mut paths = Vec::new();
    extend_paths(&certs, vec![leaf_index], &mut paths);
    // Complete paths (ending at a self-signed root) first, shorter before longer; stable, so ties
    // keep SCM's order.
    paths.sort_by_key(|p| {
        let complete = is_self_issued(&certs[*p.last().expect("a path has the leaf")]);
        (!complete, p.len())
    });
    let mut pems: Vec<String> = Vec::new();
    for path in &paths {
        let mut pem = String::new();
        for (n, &i) in path.iter().enumerate() {
            if n > 0 && !include_root && is_self_issued(&certs[i]) {
                continue;
            }
            pem.push_str(&crate::encoding::pem("CERTIFICATE", &ders[i]));
        }
        if !pems.contains(&pem) {
            pems.push(pem);
        }
    }
    let mut pems = pems.into_iter();
    let pem = pems.next().expect("the leaf alone is a path");
    let leaf = &certs[leaf_index];
    let (key, _) = crate::jose::spki::jwk_from_spki(leaf.public_key())
        .map_err(|e| ChainError::LeafKey(e.to_string()))?;
    Ok(BuiltChains {
        default: BuiltChain {
            pem,
            serial: crate::encoding::serial_hex(leaf.raw_serial()),
            not_after: Utc
                .timestamp_opt(leaf.validity().not_after.timestamp(), 0)
                .single()
                .ok_or(ChainError::NotAfterOutOfRange)?,
            key_thumbprint: key.thumbprint(),
        },
        alternates: pems.collect(),
    })
}

/// Depth-first: every way to continue `path` (indexes into `certs`, leaf first) to a root or to a
/// certificate whose issuer is not in the bundle, appended to `out` (at most [`MAX_PATHS`]).
fn extend_paths(certs: &[X509Certificate<'_>], path: Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if out.len() >= MAX_PATHS {
        return;
    }
    let current = &certs[*path.last().expect("a path has the leaf")];
    let issuers: Vec<usize> = if is_self_issued(current) || path.len() >= MAX_DEPTH {
        Vec::new()
    } else {
        (0..certs.len())
            .filter(|i| !path.contains(i) && issued(current, &certs[*i]))
            .collect()
    };
    if issuers.is_empty() {
        out.push(path);
        return;
    }
    for i in issuers {
        let mut longer = path.clone();
        longer.push(i);
        extend_paths(certs, longer, out);
    }
}

/// Whether `issuer` may have issued `cert`: its subject is `cert`'s issuer name and, when `cert`
/// names its authority key id and `issuer` its subject key id, they agree (a CA re-keyed under the
/// same name is not mistaken for the other key).
fn issued(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    if issuer.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    match (authority_key_id(cert), subject_key_id(issuer)) {
        (Some(a), Some(s)) => a == s,
        _ => true,
    }
}

fn authority_key_id<'a>(c: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0),
            _ => None,
        })
}

fn subject_key_id<'a>(c: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
}

fn is_self_issued(c: &X509Certificate<'_>) -> bool {
    c.subject().as_raw() == c.issuer().as_raw()
}
