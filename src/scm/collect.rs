//! Collect formats and what comes back. SCM's chain order differs per format and is only inferred
//! from clients, so [`certificates_in`] just extracts DER certificates (from PEM or PKCS#7) and leaves
//! ordering to the caller, which must find the leaf by its public key.

use base64::Engine;

/// `format=` values of `GET /ssl/v1/collect/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectFormat {
    /// PEM chain, root first, leaf last.
    X509,
    /// Same as `x509`.
    Pem,
    /// PEM chain, leaf first.
    X509R,
    /// PEM leaf only.
    X509CO,
    /// Same as `x509CO`.
    PemCO,
    /// PEM root then intermediates.
    X509IO,
    /// PEM intermediates then root.
    X509IOR,
    /// PEM leaf then issuer(s), no root.
    PemIA,
    /// PKCS#7, PEM-armoured (SCM's default).
    Base64,
    /// PKCS#7 DER.
    Bin,
}

impl CollectFormat {
    /// Every format, for tests and the sandbox.
    pub const ALL: [CollectFormat; 10] = [
        CollectFormat::X509,
        CollectFormat::Pem,
        CollectFormat::X509R,
        CollectFormat::X509CO,
        CollectFormat::PemCO,
        CollectFormat::X509IO,
        CollectFormat::X509IOR,
        CollectFormat::PemIA,
        CollectFormat::Base64,
        CollectFormat::Bin,
    ];

    /// SCM's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectFormat::X509 => "x509",
            CollectFormat::Pem => "pem",
            CollectFormat::X509R => "x509R",
            CollectFormat::X509CO => "x509CO",
            CollectFormat::PemCO => "pemco",
            CollectFormat::X509IO => "x509IO",
            CollectFormat::X509IOR => "x509IOR",
            CollectFormat::PemIA => "pemia",
            CollectFormat::Base64 => "base64",
            CollectFormat::Bin => "bin",
        }
    }

    /// Parses SCM's spelling (exact match; SCM is case-sensitive here).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Which of SCM's two collect URL styles to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CollectStyle {
    /// `/collect/{id}?format=F` (current documentation).
    #[default]
    Query,
    /// `/collect/{id}/F` (older, still used by many clients).
    Path,
}

/// A collected certificate file.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// The format asked for.
    pub format: CollectFormat,
    /// The file as SCM sent it.
    pub body: bytes::Bytes,
    /// `Content-Disposition` filename, when given.
    pub filename: Option<String>,
}

impl Collected {
    /// DER certificates in the order the file holds them.
    pub fn certificates(&self) -> Result<Vec<Vec<u8>>, CertificateFileError> {
        certificates_in(&self.body)
    }
}

/// Why a collected file (or a PEM text) yields no certificates: what SCM sent is not the format it
/// was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateFileError {
    #[error("unterminated PEM header")]
    UnterminatedPemHeader,
    #[error("missing PEM end line for {0}")]
    MissingPemEnd(String),
    #[error("bad base64 in PEM: {0}")]
    PemBase64(String),
    #[error("truncated DER")]
    TruncatedDer,
    #[error("unsupported DER length")]
    UnsupportedDerLength,
    #[error("PKCS#7: {0}")]
    Pkcs7(&'static str),
}

/// Extracts DER certificates from PEM (`CERTIFICATE` or `PKCS7` blocks) or DER PKCS#7.
pub fn certificates_in(data: &[u8]) -> Result<Vec<Vec<u8>>, CertificateFileError> {
    let text = std::str::from_utf8(data).ok();
    match text {
        Some(t) if t.contains("-----BEGIN") => {
            let mut out = Vec::new();
            for (label, der) in pem_blocks(t)? {
                match label.as_str() {
                    "CERTIFICATE" => out.push(der),
                    "PKCS7" | "CMS" => out.extend(pkcs7_certificates(&der)?),
                    _ => {}
                }
            }
            Ok(out)
        }
        _ => pkcs7_certificates(data),
    }
}

/// `(label, der)` of every PEM block. Any text is accepted: what is not a well-formed block is an
/// `Err`, never a panic (the text comes from SCM or, in the sandbox, from an enroll request).
pub fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, CertificateFileError> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label_end = after
            .find(DASHES)
            .ok_or(CertificateFileError::UnterminatedPemHeader)?;
        let label = &after[..label_end];
        // The END line is looked for after the BEGIN line only: searched from the label, it could
        // be found inside the BEGIN line's own closing dashes (`-----BEGIN X-----END X-----`).
        let body = &after[label_end + DASHES.len()..];
        let end_marker = format!("-----END {label}-----");
        let end = body
            .find(&end_marker)
            .ok_or_else(|| CertificateFileError::MissingPemEnd(label.to_string()))?;
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| CertificateFileError::PemBase64(e.to_string()))?;
        out.push((label.to_string(), der));
        rest = &body[end + end_marker.len()..];
    }
    Ok(out)
}

/// Reads one DER TLV: `(tag, content, total length)`.
fn tlv(data: &[u8]) -> Result<(u8, &[u8], usize), CertificateFileError> {
    let err = || CertificateFileError::TruncatedDer;
    let tag = *data.first().ok_or_else(err)?;
    let first = *data.get(1).ok_or_else(err)?;
    let (len, hdr) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(CertificateFileError::UnsupportedDerLength);
        }
        let bytes = data.get(2..2 + n).ok_or_else(err)?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize),
            2 + n,
        )
    };
    // Checked: on a 32-bit target a 4-byte length plus the header can overflow.
    let total = hdr.checked_add(len).ok_or_else(err)?;
    let content = data.get(hdr..total).ok_or_else(err)?;
    Ok((tag, content, total))
}

/// Certificates of a PKCS#7 SignedData (`ContentInfo` → `[0]` → `SignedData` → `certificates [0]`).
pub fn pkcs7_certificates(der: &[u8]) -> Result<Vec<Vec<u8>>, CertificateFileError> {
    let (tag, content_info, _) = tlv(der)?;
    if tag != 0x30 {
        return Err(CertificateFileError::Pkcs7("not a SEQUENCE"));
    }
    let (_, _, oid_len) = tlv(content_info)?;
    let (tag, explicit, _) = tlv(&content_info[oid_len..])?;
    if tag != 0xa0 {
        return Err(CertificateFileError::Pkcs7("missing content"));
    }
    let (_, signed_data, _) = tlv(explicit)?;
    let mut pos = 0;
    while pos < signed_data.len() {
        let (tag, content, len) = tlv(&signed_data[pos..])?;
        if tag == 0xa0 {
            let mut certs = Vec::new();
            let mut p = 0;
            while p < content.len() {
                let (_, _, l) = tlv(&content[p..])?;
                certs.push(content[p..p + l].to_vec());
                p += l;
            }
            return Ok(certs);
        }
        pos += len;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_pem_markers_are_an_error_not_a_panic() {
        // The END marker starts inside the BEGIN line's closing dashes: found by search before the
        // body's start, which used to slice out of range.
        assert!(pem_blocks("-----BEGIN X------END X-----").is_err());
        assert!(certificates_in(b"-----BEGIN X------END X-----").is_err());
        // Found by tests/fuzz_parsers: the closing dashes shared by both markers.
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----END CERTIFICATE-----").is_err());
    }

    #[test]
    fn an_empty_block_still_parses() {
        assert_eq!(
            pem_blocks("-----BEGIN X-----\n-----END X-----\n").unwrap(),
            vec![("X".to_string(), Vec::new())]
        );
        assert_eq!(
            pem_blocks("-----BEGIN X----------END X-----").unwrap(),
            vec![("X".to_string(), Vec::new())]
        );
    }
}
