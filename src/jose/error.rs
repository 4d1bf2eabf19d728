//! Errors of the JOSE layer; `acme::Error` maps each to its RFC 8555 problem type.

/// Why a JWS, JWK or EAB was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// Not a well-formed flattened JWS, header or key (`malformed`).
    #[error("{0}")]
    Malformed(String),
    /// `alg` is not one we accept (`badSignatureAlgorithm`).
    #[error("{0}")]
    BadSignatureAlgorithm(String),
    /// The key is of an unsupported type, too weak, or contains private parts (`badPublicKey`).
    #[error("{0}")]
    BadPublicKey(String),
    /// The signature does not verify with the key (`malformed`, as Boulder and Pebble answer).
    #[error("{0}")]
    BadSignature(String),
    /// EAB MAC wrong, or EAB bound to something else (`unauthorized`).
    #[error("{0}")]
    Unauthorized(String),
}
