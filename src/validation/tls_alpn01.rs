//! tls-alpn-01 (RFC 8737): a TLS handshake with ALPN `acme-tls/1` to port 443 of the name, whose
//! certificate carries exactly the validated name and the critical `acmeIdentifier` extension with
//! SHA-256 of the key authorization.

use super::address_policy::AddressPolicy;
use super::error::{ValidationError, ValidationRecord};
use super::resolver::DnsSession;
use super::target::{resolve_checked, Host};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::Oid;

/// The ALPN protocol of tls-alpn-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// `id-pe-acmeIdentifier` (RFC 8737 §6.1).
const ACME_IDENTIFIER_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 31];

/// The rustls client configuration of tls-alpn-01: ALPN `acme-tls/1` only, any certificate accepted
/// (the challenge certificate is self-signed by design), handshake signatures still verified.
pub(crate) fn client_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Accepts any certificate chain (RFC 8737 challenge certificates are self-signed and carry an
/// unknown critical extension) but verifies the handshake signature, so the server must hold the
/// certificate's private key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let spki = spki_of(cert)?;
        let key = webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let algs = &self.0.signature_verification_algorithms;
        let candidates = algs
            .mapping
            .iter()
            .filter(|(scheme, _)| *scheme == dss.scheme)
            .flat_map(|(_, algs)| algs.iter());
        for alg in candidates {
            if key.verify_signature(*alg, message, dss.signature()).is_ok() {
                return Ok(HandshakeSignatureValid::assertion());
            }
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::BadSignature,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &spki_of(cert)?,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The public key of `cert`. Signatures are checked against the bare key because webpki's
/// certificate parser refuses the challenge certificate's critical acmeIdentifier extension.
fn spki_of(cert: &CertificateDer<'_>) -> Result<SubjectPublicKeyInfoDer<'static>, rustls::Error> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    Ok(SubjectPublicKeyInfoDer::from(
        parsed.tbs_certificate.subject_pki.raw.to_vec(),
    ))
}

/// The SNI of an IP identifier (RFC 8738 §6): its reverse-DNS name.
pub fn reverse_dns_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// Inputs of one tls-alpn-01 validation.
pub(crate) struct TlsAlpn<'a> {
    pub dns: &'a DnsSession,
    pub policy: &'a AddressPolicy,
    pub tls: Arc<rustls::ClientConfig>,
    pub port: u16,
    pub deadline: Instant,
}

impl TlsAlpn<'_> {
    pub(crate) async fn validate(
        &self,
        host: &Host,
        key_authorization: &str,
    ) -> Result<ValidationRecord, ValidationError> {
        let checked = resolve_checked(self.dns, self.policy, host).await?;
        let sni = match host {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => reverse_dns_name(*ip),
        };
        let mut record = ValidationRecord {
            hostname: host.to_string(),
            port: Some(self.port),
            addresses_resolved: checked.resolved.clone(),
            sni: Some(sni.clone()),
            ..Default::default()
        };
        let (tcp, addr) = self.connect(host, &checked.usable).await?;
        record.address_used = Some(addr.ip());
        let at = format!("{host} at {addr}");
        let server_name = ServerName::try_from(sni.clone()).map_err(|e| {
            ValidationError::tls(format!(
                "Cannot use \"{sni}\" as TLS server name for {at}: {e}."
            ))
        })?;
        let tls = timeout_at(
            self.deadline,
            TlsConnector::from(self.tls.clone()).connect(server_name, tcp),
        )
        .await
        .map_err(|_| {
            ValidationError::connection(format!(
                "Timed out during the TLS handshake with {at} (tls-alpn-01)."
            ))
        })?
        .map_err(|e| {
            let text = e.to_string();
            let hint = if text.contains("NoApplicationProtocol") {
                " The server does not offer ALPN protocol acme-tls/1."
            } else if text.contains("BadSignature") {
                " The handshake was not signed with the key of the certificate presented."
            } else if text.contains("corrupt message") {
                " The service on that port does not seem to speak TLS."
            } else {
                ""
            };
            ValidationError::tls(format!(
                "TLS handshake with {at} for tls-alpn-01 failed: {e}.{hint}"
            ))
        })?;
        let (_, conn) = tls.get_ref();
        if conn.alpn_protocol() != Some(ACME_TLS_ALPN) {
            let got = conn
                .alpn_protocol()
                .map(|p| format!("\"{}\"", String::from_utf8_lossy(p)))
                .unwrap_or_else(|| "none".into());
            return Err(ValidationError::tls(format!(
                "{at} did not negotiate ALPN protocol \"acme-tls/1\" (negotiated: {got}); serve the \
                 tls-alpn-01 challenge certificate for that protocol."
            )));
        }
        let cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| ValidationError::tls(format!("{at} presented no certificate.")))?;
        check_certificate(cert.as_ref(), host, &at, key_authorization)?;
        Ok(record)
    }

    /// Connects to the first usable address that accepts, in preference order.
    async fn connect(
        &self,
        host: &Host,
        addrs: &[IpAddr],
    ) -> Result<(TcpStream, SocketAddr), ValidationError> {
        let mut failures = Vec::new();
        for ip in addrs {
            let addr = SocketAddr::new(*ip, self.port);
            match timeout_at(self.deadline, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => return Ok((s, addr)),
                Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
                Err(_) => {
                    failures.push(format!("{addr}: timed out"));
                    break;
                }
            }
        }
        Err(ValidationError::connection(format!(
            "Could not connect to {host} on port {} for tls-alpn-01 ({}); check that a TLS server \
             is listening there and reachable from the Internet.",
            self.port,
            failures.join("; ")
        )))
    }
}

/// RFC 8737 §3: exactly one SAN, equal to the identifier, and a critical acmeIdentifier extension
/// holding SHA-256 of the key authorization.
fn check_certificate(
    der: &[u8],
    host: &Host,
    at: &str,
    key_authorization: &str,
) -> Result<(), ValidationError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        ValidationError::tls(format!(
            "{at} presented a certificate that cannot be parsed: {e}."
        ))
    })?;
    let sans: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext.value.general_names.iter().map(describe_name).collect(),
        Ok(None) => Vec::new(),
        Err(e) => {
            return Err(ValidationError::unauthorized(format!(
                "The tls-alpn-01 certificate from {at} has an invalid subjectAltName: {e}."
            )))
        }
    };
    let wanted = match host {
        Host::Name(n) => format!("DNS:{n}"),
        Host::Ip(ip) => format!("IP:{ip}"),
    };
    if sans.len() != 1 || !sans[0].eq_ignore_ascii_case(&wanted) {
        return Err(ValidationError::unauthorized(format!(
            "The tls-alpn-01 certificate from {at} must have exactly one subjectAltName, {wanted}, \
             but has [{}].",
            sans.join(", ")
        )));
    }
    let oid = Oid::from(ACME_IDENTIFIER_OID).expect("static OID");
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid == oid)
        .ok_or_else(|| {
            ValidationError::unauthorized(format!(
                "The tls-alpn-01 certificate from {at} has no acmeIdentifier extension \
                 (1.3.6.1.5.5.7.1.31)."
            ))
        })?;
    if !ext.critical {
        return Err(ValidationError::unauthorized(format!(
            "The acmeIdentifier extension of the tls-alpn-01 certificate from {at} must be critical."
        )));
    }
    let expected = Sha256::digest(key_authorization.as_bytes());
    let got = match ext.value {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        _ => {
            return Err(ValidationError::unauthorized(format!(
                "The acmeIdentifier extension of the tls-alpn-01 certificate from {at} is not an \
                 OCTET STRING of 32 bytes."
            )))
        }
    };
    if got != expected.as_slice() {
        return Err(ValidationError::unauthorized(format!(
            "The acmeIdentifier of the tls-alpn-01 certificate from {at} is {} but the SHA-256 \
             digest of the key authorization is {}; the certificate was made for another key \
             authorization.",
            crate::encoding::hex(got),
            crate::encoding::hex(&expected)
        )));
    }
    Ok(())
}

fn describe_name(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!(
                "IP:{}",
                IpAddr::from(<[u8; 4]>::try_from(*b).expect("4 bytes"))
            ),
            16 => format!(
                "IP:{}",
                IpAddr::from(<[u8; 16]>::try_from(*b).expect("16 bytes"))
            ),
            _ => "IP:(invalid)".into(),
        },
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A tls-alpn-01 certificate for `example.com` and the key authorization `ka` (DER).
    fn challenge_cert(ka: &str) -> Vec<u8> {
        let mut p = rcgen::CertificateParams::new(vec!["example.com".to_string()]).unwrap();
        let digest = Sha256::digest(ka.as_bytes());
        p.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(&digest)];
        let key = rcgen::KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn a_good_challenge_certificate_passes() {
        let host = Host::Name("example.com".into());
        assert!(check_certificate(&challenge_cert("ka"), &host, "x", "ka").is_ok());
        assert!(check_certificate(&challenge_cert("ka"), &host, "x", "other").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// The validated server chooses the certificate: any bytes, and any edit of a real
        /// challenge certificate, are refused or accepted but never panic.
        #[test]
        fn any_presented_certificate_is_judged_without_panic(
            junk in proptest::collection::vec(any::<u8>(), 0..400),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 0..4),
            ip in any::<IpAddr>(),
        ) {
            static CERT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let mut der = CERT.get_or_init(|| challenge_cert("ka")).clone();
            for (pos, byte, op) in edits {
                let at = pos % der.len().max(1);
                match op {
                    0 if !der.is_empty() => der[at] ^= byte | 1,
                    1 => der.truncate(at),
                    _ => der.insert(at.min(der.len()), byte),
                }
            }
            for host in [Host::Name("example.com".into()), Host::Ip(ip)] {
                let _ = check_certificate(&junk, &host, "x", "ka");
                let _ = check_certificate(&der, &host, "x", "ka");
            }
        }
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_dns_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_dns_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
