//! JSON Web Signature handling for ACME (RFC 8555 §6.2, RFC 7515/7517/7638): parsing flattened JWS,
//! verifying signatures with josekit, key thumbprints, External Account Binding, and nonces.
//! Knows nothing of HTTP or storage: callers fetch keys and redeem nonces, this module does the
//! cryptography and the format rules.

pub mod eab;
pub mod error;
pub mod jwk;
pub mod jws;
pub mod nonce;
pub mod spent_window;
pub mod spki;

pub use error::JoseError;
pub use jwk::PublicJwk;
pub use jws::{Jws, ProtectedHeader};

/// Signature algorithms accepted on ACME requests (RFC 8555 §6.2: never `none` or MAC-based).
pub const ACCEPTED_ALGS: &[&str] = &["RS256", "ES256", "ES384", "ES512", "EdDSA"];

/// MAC algorithms accepted on the inner JWS of External Account Binding (RFC 8555 §7.3.4).
pub const EAB_ALGS: &[&str] = &["HS256", "HS384", "HS512"];

/// base64url without padding, as JOSE uses it everywhere.
pub fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url without padding; padding or other alphabets are refused, as RFC 7515 requires.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, JoseError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseError::Malformed("a JWS member is not valid unpadded base64url".into()))
}
