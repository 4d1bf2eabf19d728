//! Public keys as JWK (RFC 7517): validation, strength rules, RFC 7638 thumbprints, verification.

use super::{b64, b64_decode, JoseError};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// Verifiers already built, by algorithm and key thumbprint. Building one makes OpenSSL 3 decode the
/// key through its provider machinery (lookups under locks), which cost more than the signature
/// check itself; an account's key signs every request it makes, so each is built once per process.
/// Bounded: emptied when full.
static VERIFIERS: LazyLock<Mutex<HashMap<(String, String), SharedVerifier>>> =
    LazyLock::new(Mutex::default);
const MAX_CACHED_VERIFIERS: usize = 10_000;
type SharedVerifier = Arc<dyn josekit::jws::JwsVerifier>;

/// Smallest RSA modulus accepted for account keys.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (bounds verification cost).
pub const MAX_RSA_BITS: usize = 8192;
/// The only RSA public exponent accepted, 65537, big-endian without leading zeros (JWK `AQAB`).
const RSA_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// A validated public key: only public members, a supported type and strength.
#[derive(Debug, Clone)]
pub struct PublicJwk {
    /// The key reduced to its public members (what we store and echo).
    value: Value,
    jwk: josekit::jwk::Jwk,
    kind: KeyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    Ec(&'static str),
    Okp(&'static str),
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, JoseError> {
    obj.get(name).and_then(Value::as_str).ok_or_else(|| {
        JoseError::BadPublicKey(format!("JWK member \"{name}\" is missing or not a string"))
    })
}

impl PublicJwk {
    /// Validates a JWK from a JWS header or payload, down to its key material.
    pub fn from_value(value: &Value) -> Result<Self, JoseError> {
        let key = Self::from_checked_elsewhere(value)?;
        // Building a verifier parses the key material: catches points off the curve and the like.
        // Cached, so an account's key is parsed once, not on each of its requests.
        key.cached_verifier(key.natural_alg())?;
        Ok(key)
    }

    /// Checks a JWK's form and strength but not its key material: for keys taken from a CSR or
    /// certificate, whose parsed signature check already exercised the key, or which are only
    /// compared by thumbprint. Skips building an OpenSSL key for every new CSR and chain member.
    pub(crate) fn from_checked_elsewhere(value: &Value) -> Result<Self, JoseError> {
        let obj = value
            .as_object()
            .ok_or_else(|| JoseError::Malformed("\"jwk\" must be a JSON object".into()))?;
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if obj.contains_key(private) {
                return Err(JoseError::BadPublicKey(format!(
                    "JWK contains private key material (\"{private}\"); send only the public key"
                )));
            }
        }
        let kty = str_member(obj, "kty")?;
        let (kind, public) = match kty {
            "RSA" => {
                let n = str_member(obj, "n")?;
                let e = str_member(obj, "e")?;
                let bits = rsa_bits(&b64_decode(n)?);
                if bits < MIN_RSA_BITS {
                    return Err(JoseError::BadPublicKey(format!(
                        "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
                    )));
                }
                if bits > MAX_RSA_BITS {
                    return Err(JoseError::BadPublicKey(format!(
                        "RSA key is {bits} bits; at most {MAX_RSA_BITS} are accepted"
                    )));
                }
                // Only F4: small exponents (3) invite the padding attacks Bleichenbacher
                // described, other values are unusual enough to mean a broken generator. The
                // CA/Browser Forum and Let's Encrypt accept 65537 alone, and so do we.
                if b64_decode(e)? != RSA_EXPONENT {
                    return Err(JoseError::BadPublicKey(
                        "RSA public exponent must be 65537 (AQAB); generate the key with the \
                         standard exponent"
                            .into(),
                    ));
                }
                (KeyKind::Rsa, json!({"kty": "RSA", "n": n, "e": e}))
            }
            "EC" => {
                let crv = match str_member(obj, "crv")? {
                    "P-256" => "P-256",
                    "P-384" => "P-384",
                    "P-521" => "P-521",
                    other => {
                        return Err(JoseError::BadPublicKey(format!(
                            "EC curve \"{other}\" is not supported; use P-256, P-384 or P-521"
                        )))
                    }
                };
                let x = str_member(obj, "x")?;
                let y = str_member(obj, "y")?;
                (
                    KeyKind::Ec(crv),
                    json!({"kty": "EC", "crv": crv, "x": x, "y": y}),
                )
            }
            "OKP" => {
                let crv = match str_member(obj, "crv")? {
                    "Ed25519" => "Ed25519",
                    other => {
                        return Err(JoseError::BadPublicKey(format!(
                            "OKP curve \"{other}\" is not supported; use Ed25519"
                        )))
                    }
                };
                let x = str_member(obj, "x")?;
                (KeyKind::Okp(crv), json!({"kty": "OKP", "crv": crv, "x": x}))
            }
            other => {
                return Err(JoseError::BadPublicKey(format!(
                    "key type \"{other}\" is not supported; use RSA, EC or OKP (Ed25519)"
                )))
            }
        };
        let map = public.as_object().cloned().expect("object literal");
        let jwk = josekit::jwk::Jwk::from_map(map)
            .map_err(|e| JoseError::BadPublicKey(format!("JWK is not a valid key: {e}")))?;
        Ok(Self {
            value: public,
            jwk,
            kind,
        })
    }

    /// The key's public members as JSON.
    pub fn to_value(&self) -> &Value {
        &self.value
    }

    /// RFC 7638 thumbprint (SHA-256, base64url): the key's identity in the store and in key
    /// authorizations.
    pub fn thumbprint(&self) -> String {
        // The required members in lexicographic order (RFC 7638 §3.2), written out explicitly:
        // serde_json's map order depends on crate features we do not control.
        let m = |k: &str| self.value[k].as_str().unwrap_or_default();
        let q = |s: &str| serde_json::to_string(s).expect("string");
        let canonical = match self.kind {
            KeyKind::Rsa => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(m("e")), q(m("n"))),
            KeyKind::Ec(_) => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                q(m("crv")),
                q(m("x")),
                q(m("y"))
            ),
            KeyKind::Okp(_) => {
                format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, q(m("crv")), q(m("x")))
            }
        };
        b64(&Sha256::digest(canonical.as_bytes()))
    }

    fn natural_alg(&self) -> &'static str {
        match self.kind {
            KeyKind::Rsa => "RS256",
            KeyKind::Ec("P-256") => "ES256",
            KeyKind::Ec("P-384") => "ES384",
            KeyKind::Ec(_) => "ES512",
            KeyKind::Okp(_) => "EdDSA",
        }
    }

    fn verifier(&self, alg: &str) -> Result<Box<dyn josekit::jws::JwsVerifier>, JoseError> {
        use josekit::jws::{EdDSA, ES256, ES384, ES512, RS256};
        let mismatch = || {
            JoseError::BadSignatureAlgorithm(format!(
                "JWS algorithm \"{alg}\" does not fit the key; this key signs with {}",
                self.natural_alg()
            ))
        };
        let bad_key = |e: josekit::JoseError| JoseError::BadPublicKey(format!("invalid key: {e}"));
        Ok(match (alg, self.kind) {
            ("RS256", KeyKind::Rsa) => {
                Box::new(RS256.verifier_from_jwk(&self.jwk).map_err(bad_key)?)
            }
            ("ES256", KeyKind::Ec("P-256")) => {
                Box::new(ES256.verifier_from_jwk(&self.jwk).map_err(bad_key)?)
            }
            ("ES384", KeyKind::Ec("P-384")) => {
                Box::new(ES384.verifier_from_jwk(&self.jwk).map_err(bad_key)?)
            }
            ("ES512", KeyKind::Ec("P-521")) => {
                Box::new(ES512.verifier_from_jwk(&self.jwk).map_err(bad_key)?)
            }
            ("EdDSA", KeyKind::Okp(_)) => {
                Box::new(EdDSA.verifier_from_jwk(&self.jwk).map_err(bad_key)?)
            }
            _ => return Err(mismatch()),
        })
    }

    /// The verifier for `alg` with this key, built once (see [`VERIFIERS`]).
    fn cached_verifier(&self, alg: &str) -> Result<SharedVerifier, JoseError> {
        let key = (alg.to_string(), self.thumbprint());
        let cache = || VERIFIERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache().get(&key) {
            return Ok(v.clone());
        }
        let built: SharedVerifier = Arc::from(self.verifier(alg)?);
        let mut map = cache();
        if map.len() >= MAX_CACHED_VERIFIERS {
            map.clear();
        }
        map.insert(key, built.clone());
        Ok(built)
    }

    /// Verifies `signature` over `message` with `alg`, which must suit the key.
    pub fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        self.cached_verifier(alg)?
            .verify(message, signature)
            .map_err(|_| {
                JoseError::BadSignature("JWS signature does not verify with the key".into())
            })
    }
}

/// Bit length of a big-endian unsigned integer.
fn rsa_bits(n: &[u8]) -> usize {
    let n: &[u8] = {
        let start = n.iter().position(|&b| b != 0).unwrap_or(n.len());
        &n[start..]
    };
    match n.first() {
        None => 0,
        Some(&first) => n.len() * 8 - first.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let key = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let k = PublicJwk::from_value(&key).unwrap();
        assert_eq!(
            k.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_members_are_refused() {
        let key = json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"});
        assert!(matches!(
            PublicJwk::from_value(&key),
            Err(JoseError::BadPublicKey(_))
        ));
    }

    #[test]
    fn rsa_bit_length() {
        assert_eq!(rsa_bits(&[0, 0x80, 0]), 16);
        assert_eq!(rsa_bits(&[0x01]), 1);
        assert_eq!(rsa_bits(&[]), 0);
    }
}
