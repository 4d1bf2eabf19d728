//! The ARI certificate identifier (RFC 9773 §4.1): `base64url(AKI keyIdentifier) "." base64url(serial
//! DER bytes)`, unpadded. Clients send it in the renewalInfo URL and in newOrder's `replaces`.

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A parsed certID: the issuer's key identifier and the certificate's serial number bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    /// `keyIdentifier` of the certificate's Authority Key Identifier extension.
    pub key_id: Vec<u8>,
    /// Content octets of the serial number's DER INTEGER (a leading zero byte included).
    pub serial: Vec<u8>,
}

impl CertId {
    /// Parses the text form; `None` when it is not two non-empty unpadded base64url parts joined by
    /// one `.` (the caller answers `malformed`).
    pub fn parse(text: &str) -> Option<Self> {
        let (aki, serial) = text.split_once('.')?;
        if aki.is_empty() || serial.is_empty() || serial.contains('.') {
            return None;
        }
        let key_id = crate::jose::b64_decode(aki).ok()?;
        let serial = crate::jose::b64_decode(serial).ok()?;
        (!key_id.is_empty() && !serial.is_empty()).then_some(Self { key_id, serial })
    }

    /// The certID of a DER certificate; `None` without an AKI key identifier (then ARI cannot
    /// name it, and the bridge never issues such a certificate from a real CA).
    pub fn of_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        Some(Self {
            key_id: authority_key_id(&cert)?,
            serial: cert.raw_serial().to_vec(),
        })
    }

    /// The serial as the store keeps it (`encoding::serial_hex`): what the lookup uses.
    pub fn serial_hex(&self) -> String {
        crate::encoding::serial_hex(&self.serial)
    }

    /// The text form (`aki.serial`).
    pub fn encode(&self) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&self.key_id),
            URL_SAFE_NO_PAD.encode(&self.serial)
        )
    }
}

/// The `keyIdentifier` of a certificate's Authority Key Identifier extension.
pub fn authority_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9773 Appendix A's certificate and the identifier §4.1 derives from it.
    const EXAMPLE: &str = "MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt\
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS\
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu\
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf\
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B\
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb\
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK";

    #[test]
    fn the_rfc_example_certificate_has_the_rfc_certid() {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(EXAMPLE)
            .unwrap();
        let id = CertId::of_der(&der).unwrap();
        assert_eq!(id.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert_eq!(id.serial_hex(), "87654321");
        assert_eq!(
            CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),
            Some(id)
        );
    }

    #[test]
    fn malformed_identifiers_are_refused() {
        for bad in [
            "",
            ".",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",
            ".AIdlQyE",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE=",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdl.QyE",
            "a+b/.AIdlQyE",
            "not base64!.AIdlQyE",
        ] {
            assert_eq!(CertId::parse(bad), None, "{bad:?}");
        }
    }
}
