//! External Account Binding (RFC 8555 §7.3.4): the inner JWS, MAC'd with the operator-issued key,
//! that ties a new ACME account to an organisation's pre-arranged identity and policy.

use super::{JoseError, Jws, PublicJwk, EAB_ALGS};
use serde_json::Value;

/// A parsed EAB inner JWS whose MAC has not been checked yet (the key must be looked up first).
#[derive(Debug)]
pub struct ExternalAccountBinding {
    jws: Jws,
    kid: String,
}

impl ExternalAccountBinding {
    /// Parses `externalAccountBinding` from a newAccount payload and checks its form: a MAC
    /// algorithm, a `kid`, no `nonce`, the outer request's `url`.
    pub fn parse(value: &Value, outer_url: &str) -> Result<Self, JoseError> {
        let jws = Jws::from_value(value).map_err(|e| {
            JoseError::Malformed(format!("externalAccountBinding is not a valid JWS: {e}"))
        })?;
        let h = &jws.header;
        if !EAB_ALGS.contains(&h.alg.as_str()) {
            return Err(JoseError::BadSignatureAlgorithm(format!(
                "externalAccountBinding algorithm \"{}\" is not accepted; use one of {}",
                h.alg,
                EAB_ALGS.join(", ")
            )));
        }
        if h.nonce.is_some() {
            return Err(JoseError::Malformed(
                "externalAccountBinding must not contain a nonce".into(),
            ));
        }
        if h.jwk.is_some() {
            return Err(JoseError::Malformed(
                "externalAccountBinding must not contain a jwk header".into(),
            ));
        }
        let kid = h
            .kid
            .clone()
            .ok_or_else(|| JoseError::Malformed("externalAccountBinding has no kid".into()))?;
        if h.url.as_deref() != Some(outer_url) {
            return Err(JoseError::Unauthorized(
                "externalAccountBinding url must equal the newAccount request url".into(),
            ));
        }
        Ok(Self { jws, kid })
    }

    /// The EAB key id the client claims.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Checks the MAC with the operator's key and that the payload is the account key.
    pub fn verify(&self, hmac_key: &[u8], account_key: &PublicJwk) -> Result<(), JoseError> {
        // The hmac crate rather than josekit: josekit refuses HS384/HS512 with keys shorter than the
        // hash, but operators hand out 256-bit keys and clients pick the algorithm.
        use hmac::Hmac;
        let input = self.jws.signing_input();
        let ok = match self.jws.header.alg.as_str() {
            "HS256" => verify_mac::<Hmac<sha2::Sha256>>(hmac_key, &input, &self.jws.signature),
            "HS384" => verify_mac::<Hmac<sha2::Sha384>>(hmac_key, &input, &self.jws.signature),
            _ => verify_mac::<Hmac<sha2::Sha512>>(hmac_key, &input, &self.jws.signature),
        };
        if !ok {
            return Err(JoseError::Unauthorized(
                "externalAccountBinding MAC does not verify: check the HMAC key given with this kid"
                    .into(),
            ));
        }
        let payload: Value = serde_json::from_slice(&self.jws.payload).map_err(|_| {
            JoseError::Malformed("externalAccountBinding payload is not a JWK".into())
        })?;
        let bound = PublicJwk::from_value(&payload).map_err(|_| {
            JoseError::Malformed("externalAccountBinding payload is not a valid public JWK".into())
        })?;
        if bound.thumbprint() != account_key.thumbprint() {
            return Err(JoseError::Unauthorized(
                "externalAccountBinding payload is not the key of this newAccount request".into(),
            ));
        }
        Ok(())
    }
}

/// Constant-time MAC check.
fn verify_mac<M: hmac::Mac + hmac::digest::KeyInit>(key: &[u8], input: &[u8], tag: &[u8]) -> bool {
    let mut m = <M as hmac::Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(input);
    m.verify_slice(tag).is_ok()
}
