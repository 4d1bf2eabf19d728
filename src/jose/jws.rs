//! Flattened JWS JSON serialization (RFC 7515 §7.2.2), the only form ACME allows (RFC 8555 §6.2).

use super::{b64_decode, JoseError};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A parsed but not yet verified JWS.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The base64url protected header exactly as sent (it is what the signature covers).
    pub protected_b64: String,
    /// The base64url payload exactly as sent.
    pub payload_b64: String,
    pub signature: Vec<u8>,
    pub header: ProtectedHeader,
    /// The decoded payload; empty for POST-as-GET.
    pub payload: Vec<u8>,
}

/// The members of the protected header ACME cares about.
#[derive(Debug, Clone, Deserialize)]
pub struct ProtectedHeader {
    pub alg: String,
    pub jwk: Option<Value>,
    pub kid: Option<String>,
    pub nonce: Option<String>,
    pub url: Option<String>,
    /// RFC 7515 §4.1.11 critical extensions; we understand none, so any is refused at parse time.
    pub crit: Option<Value>,
}

/// Why a `crit` header is refused: RFC 7515 §4.1.11 says a recipient that does not understand a
/// listed extension must reject the JWS, and this server implements none (nor does RFC 8555 use
/// any); an empty or non-array `crit` is malformed in itself.
fn refuse_crit(crit: &Value) -> String {
    match crit.as_array() {
        Some(names) if !names.is_empty() => format!(
            "the JWS protected header marks {} as critical (crit); this server understands no \
             JWS extensions: remove crit and the extension",
            names
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "the JWS protected header has a crit that is not a non-empty array of names; \
              remove it"
            .into(),
    }
}

impl Jws {
    /// Parses a flattened JWS from request bytes. Refuses the general serialization, unprotected
    /// headers, and anything that is not exactly `protected`, `payload`, `signature`.
    pub fn parse(body: &[u8]) -> Result<Self, JoseError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| JoseError::Malformed(format!("request body is not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// As [`Jws::parse`], for a JWS nested in another (keyChange, EAB).
    pub fn from_value(value: &Value) -> Result<Self, JoseError> {
        let obj = value.as_object().ok_or_else(|| {
            JoseError::Malformed("JWS must be a JSON object (flattened serialization)".into())
        })?;
        if obj.contains_key("signatures") {
            return Err(JoseError::Malformed(
                "JWS general serialization (\"signatures\") is not allowed; use the flattened form"
                    .into(),
            ));
        }
        if obj.contains_key("header") {
            return Err(JoseError::Malformed(
                "JWS unprotected header is not allowed; put every parameter in \"protected\""
                    .into(),
            ));
        }
        if let Some(extra) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "protected" | "payload" | "signature"))
        {
            return Err(JoseError::Malformed(format!(
                "unexpected JWS member \"{extra}\""
            )));
        }
        let member = |name: &str| -> Result<String, JoseError> {
            obj.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| JoseError::Malformed(format!("JWS member \"{name}\" is missing")))
        };
        let protected_b64 = member("protected")?;
        let payload_b64 = member("payload")?;
        let signature = b64_decode(&member("signature")?)?;
        let header_bytes = b64_decode(&protected_b64)?;
        let header_map: Map<String, Value> =
            serde_json::from_slice(&header_bytes).map_err(|_| {
                JoseError::Malformed("JWS protected header is not a JSON object".into())
            })?;
        let header: ProtectedHeader = serde_json::from_value(Value::Object(header_map))
            .map_err(|e| JoseError::Malformed(format!("JWS protected header: {e}")))?;
        if signature.is_empty() {
            // An unsigned JWS is what `alg: none` produces (RFC 7515 §A.5): an algorithm
            // problem (RFC 8555 §6.2), whatever `alg` claims.
            return Err(JoseError::BadSignatureAlgorithm(format!(
                "the JWS is unsigned (empty signature, alg {:?}); sign it with one of {}",
                header.alg,
                super::ACCEPTED_ALGS.join(", ")
            )));
        }
        if let Some(crit) = &header.crit {
            return Err(JoseError::Malformed(refuse_crit(crit)));
        }
        let payload = b64_decode(&payload_b64)?;
        Ok(Self {
            protected_b64,
            payload_b64,
            signature,
            header,
            payload,
        })
    }

    /// The bytes the signature covers: `protected || '.' || payload` (RFC 7515 §5.2).
    pub fn signing_input(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.protected_b64.len() + self.payload_b64.len() + 1);
        v.extend_from_slice(self.protected_b64.as_bytes());
        v.push(b'.');
        v.extend_from_slice(self.payload_b64.as_bytes());
        v
    }

    /// Checks `alg` is an accepted signature algorithm.
    pub fn check_alg(&self) -> Result<(), JoseError> {
        if super::ACCEPTED_ALGS.contains(&self.header.alg.as_str()) {
            Ok(())
        } else {
            Err(JoseError::BadSignatureAlgorithm(format!(
                "JWS algorithm \"{}\" is not accepted; use one of {}",
                self.header.alg,
                super::ACCEPTED_ALGS.join(", ")
            )))
        }
    }

    /// Verifies the signature with `key`.
    pub fn verify(&self, key: &super::PublicJwk) -> Result<(), JoseError> {
        key.verify(&self.header.alg, &self.signing_input(), &self.signature)
    }
}
