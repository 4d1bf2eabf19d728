//! A deliberately small, hand-rolled ACME client for tests: it can produce the malformed and
//! malicious requests (wrong alg, replayed nonce, forged signature…) a real client never would.

use super::app::TestApp;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use serde_json::{json, Value};

pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// An account key pair.
#[derive(Clone)]
pub struct TestKey {
    pub alg: &'static str,
    pub private: Jwk,
    /// A weak RSA key that josekit refuses to handle, signed with OpenSSL directly.
    weak_rsa: Option<openssl::pkey::PKey<openssl::pkey::Private>>,
}

impl TestKey {
    pub fn es256() -> Self {
        Self {
            alg: "ES256",
            private: Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap(),
            weak_rsa: None,
        }
    }

    pub fn rsa(bits: u32) -> Self {
        Self {
            alg: "RS256",
            private: Jwk::generate_rsa_key(bits).unwrap(),
            weak_rsa: None,
        }
    }

    pub fn ed25519() -> Self {
        Self {
            alg: "EdDSA",
            private: Jwk::generate_ed_key(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap(),
            weak_rsa: None,
        }
    }

    /// The key of a certificate (PKCS#8 P-256), e.g. to revoke with the certificate's own key.
    pub fn from_p256_pkcs8(der: &[u8]) -> Self {
        let pair = josekit::jwk::alg::ec::EcKeyPair::from_der(
            der,
            Some(josekit::jwk::alg::ec::EcCurve::P256),
        )
        .unwrap();
        Self {
            alg: "ES256",
            private: pair.to_jwk_key_pair(),
            weak_rsa: None,
        }
    }

    /// A 1024-bit RSA key (too weak for the server; for negative tests).
    pub fn rsa_1024() -> Self {
        Self::from_openssl_rsa(openssl::rsa::Rsa::generate(1024).unwrap())
    }

    /// An RSA key with public exponent `e` (e.g. 3, which the server must refuse), signed with
    /// OpenSSL directly.
    pub fn rsa_with_exponent(bits: u32, e: u32) -> Self {
        let e = openssl::bn::BigNum::from_u32(e).unwrap();
        Self::from_openssl_rsa(openssl::rsa::Rsa::generate_with_e(bits, &e).unwrap())
    }

    fn from_openssl_rsa(rsa: openssl::rsa::Rsa<openssl::pkey::Private>) -> Self {
        let mut jwk = Jwk::new("RSA");
        jwk.set_parameter("n", Some(json!(b64(&rsa.n().to_vec()))))
            .unwrap();
        jwk.set_parameter("e", Some(json!(b64(&rsa.e().to_vec()))))
            .unwrap();
        Self {
            alg: "RS256",
            private: jwk,
            weak_rsa: Some(openssl::pkey::PKey::from_rsa(rsa).unwrap()),
        }
    }

    /// The public JWK as JSON, without the optional members josekit adds.
    pub fn public(&self) -> Value {
        if self.weak_rsa.is_some() {
            return Value::Object(self.private.as_ref().clone());
        }
        let p = self.private.to_public_key().unwrap();
        let mut v: serde_json::Map<String, Value> = p.as_ref().clone();
        v.retain(|k, _| matches!(k.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e"));
        Value::Object(v)
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        if let Some(k) = &self.weak_rsa {
            let mut s =
                openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), k).unwrap();
            s.update(message).unwrap();
            return s.sign_to_vec().unwrap();
        }
        use josekit::jws::{EdDSA, JwsSigner, ES256, RS256};
        match self.alg {
            "ES256" => ES256.signer_from_jwk(&self.private).unwrap().sign(message),
            "RS256" => RS256.signer_from_jwk(&self.private).unwrap().sign(message),
            _ => EdDSA.signer_from_jwk(&self.private).unwrap().sign(message),
        }
        .unwrap()
    }

    /// RFC 7638 thumbprint, computed independently of the server's code.
    pub fn thumbprint(&self) -> String {
        let p = self.public();
        let canonical = match p["kty"].as_str().unwrap() {
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                p["e"].as_str().unwrap(),
                p["n"].as_str().unwrap()
            ),
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                p["crv"].as_str().unwrap(),
                p["x"].as_str().unwrap(),
                p["y"].as_str().unwrap()
            ),
            _ => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                p["crv"].as_str().unwrap(),
                p["x"].as_str().unwrap()
            ),
        };
        use sha2::Digest;
        b64(&sha2::Sha256::digest(canonical.as_bytes()))
    }
}

/// Builds a flattened JWS from a protected header and payload bytes, signed with `key`.
pub fn jws(key: &TestKey, protected: &Value, payload: &[u8]) -> Value {
    let p = b64(protected.to_string().as_bytes());
    let pl = b64(payload);
    let sig = key.sign(format!("{p}.{pl}").as_bytes());
    json!({"protected": p, "payload": pl, "signature": b64(&sig)})
}

/// An EAB inner JWS binding `account_key` with the operator's `hmac`.
pub fn eab(kid: &str, hmac: &[u8], url: &str, account_key: &Value, alg: &str) -> Value {
    use hmac::{Hmac, Mac};
    let protected = json!({"alg": alg, "kid": kid, "url": url});
    let p = b64(protected.to_string().as_bytes());
    let pl = b64(account_key.to_string().as_bytes());
    let msg = format!("{p}.{pl}");
    let sig = match alg {
        "HS384" => {
            let mut m = Hmac::<sha2::Sha384>::new_from_slice(hmac).unwrap();
            m.update(msg.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "HS512" => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(hmac).unwrap();
            m.update(msg.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(hmac).unwrap();
            m.update(msg.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
    };
    json!({"protected": p, "payload": pl, "signature": b64(&sig)})
}

/// An ACME client session against a [`TestApp`].
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub key: TestKey,
    /// Account URL once registered; requests then use `kid`.
    pub kid: Option<String>,
}

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn problem_type(&self) -> &str {
        self.body["type"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("urn:ietf:params:acme:error:")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

pub async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

impl<'a> Client<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self::with_key(app, TestKey::es256())
    }

    pub fn with_key(app: &'a TestApp, key: TestKey) -> Self {
        Self {
            app,
            key,
            kid: None,
        }
    }

    pub async fn nonce(&self) -> String {
        let r = self
            .app
            .http
            .head(self.app.url("/acme/new-nonce"))
            .send()
            .await
            .unwrap();
        r.headers()["replay-nonce"].to_str().unwrap().to_string()
    }

    /// The protected header this client would send.
    pub async fn protected(&self, url: &str) -> Value {
        let mut h = json!({"alg": self.key.alg, "nonce": self.nonce().await, "url": url});
        match &self.kid {
            Some(kid) => h["kid"] = json!(kid),
            None => h["jwk"] = self.key.public(),
        }
        h
    }

    /// POSTs an arbitrary body as application/jose+json.
    pub async fn post_body(&self, url: &str, body: String) -> Reply {
        reply(
            self.app
                .http
                .post(url)
                .header("content-type", "application/jose+json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POSTs a JWS with this client's key; `None` payload = POST-as-GET.
    pub async fn post(&self, url: &str, payload: Option<&Value>) -> Reply {
        let protected = self.protected(url).await;
        self.post_signed(url, &protected, payload).await
    }

    /// POSTs with a caller-made protected header.
    pub async fn post_signed(
        &self,
        url: &str,
        protected: &Value,
        payload: Option<&Value>,
    ) -> Reply {
        let bytes = payload
            .map(|p| p.to_string().into_bytes())
            .unwrap_or_default();
        let body = jws(&self.key, protected, &bytes);
        self.post_body(url, body.to_string()).await
    }

    /// newAccount, with an EAB when given; remembers the account URL on success.
    pub async fn register(&mut self, eab_key: Option<(&str, &[u8])>) -> Reply {
        let url = self.app.url("/acme/new-account");
        let mut payload =
            json!({"termsOfServiceAgreed": true, "contact": ["mailto:ops@example.test"]});
        if let Some((kid, hmac)) = eab_key {
            payload["externalAccountBinding"] = eab(kid, hmac, &url, &self.key.public(), "HS256");
        }
        let r = self.post(&url, Some(&payload)).await;
        if r.status == 201 || r.status == 200 {
            self.kid = r.location().map(str::to_string);
        }
        r
    }
}
