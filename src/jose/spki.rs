//! Public keys found in CSRs and certificates, as JWKs: one identity (the RFC 7638 thumbprint) for
//! "is this an account key?", "which certificate matches this CSR?" and "is this JWS signed by the
//! certificate's key?".

use super::{b64, JoseError, PublicJwk};
use serde_json::json;
use x509_parser::oid_registry::{OID_EC_P256, OID_NIST_EC_P384, OID_NIST_EC_P521};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The key of a CSR or certificate as a public JWK (form and strength checked; its material is
/// exercised by the signature checks that use it), with its size in bits.
pub fn jwk_from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<(PublicJwk, usize), JoseError> {
    let parsed = spki
        .parsed()
        .map_err(|e| JoseError::BadPublicKey(format!("cannot parse the public key: {e}")))?;
    match parsed {
        PublicKey::RSA(rsa) => {
            let n = strip_zeros(rsa.modulus);
            let e = strip_zeros(rsa.exponent);
            let bits = rsa.key_size();
            let jwk = PublicJwk::from_checked_elsewhere(
                &json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
            )?;
            Ok((jwk, bits))
        }
        PublicKey::EC(point) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .ok_or_else(|| JoseError::BadPublicKey("EC key without a named curve".into()))?;
            let (crv, len, bits) = if curve == OID_EC_P256 {
                ("P-256", 32, 256)
            } else if curve == OID_NIST_EC_P384 {
                ("P-384", 48, 384)
            } else if curve == OID_NIST_EC_P521 {
                ("P-521", 66, 521)
            } else {
                return Err(JoseError::BadPublicKey(format!(
                    "EC curve {curve} is not supported"
                )));
            };
            let data = point.data();
            if data.len() != 1 + 2 * len || data[0] != 4 {
                return Err(JoseError::BadPublicKey(
                    "EC public key must be an uncompressed point".into(),
                ));
            }
            let jwk = PublicJwk::from_checked_elsewhere(&json!({
                "kty": "EC", "crv": crv,
                "x": b64(&data[1..1 + len]), "y": b64(&data[1 + len..]),
            }))?;
            Ok((jwk, bits))
        }
        _ => Err(JoseError::BadPublicKey(
            "only RSA and ECDSA keys are supported".into(),
        )),
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&x| x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    &b[start..]
}
