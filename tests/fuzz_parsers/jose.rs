//! ACME's JOSE parsing: flattened JWS, public JWKs, External Account Binding, and nonces.

use crate::fixtures::fixtures;
use crate::strategies::{b64url, b64url_or_junk, json, object_with};
use acme_sectigo_bridge::jose::eab::ExternalAccountBinding;
use acme_sectigo_bridge::jose::nonce::NonceKey;
use acme_sectigo_bridge::jose::{Jws, PublicJwk};
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::{json, Value};
use sha2::Sha256;

/// Member names and values JWS, JWK and EAB parsing look for.
const WORDS: &[&str] = &[
    "protected",
    "payload",
    "signature",
    "header",
    "signatures",
    "alg",
    "jwk",
    "kid",
    "nonce",
    "url",
    "kty",
    "crv",
    "n",
    "e",
    "x",
    "y",
    "d",
    "k",
    "RS256",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "HS256",
    "HS384",
    "HS512",
    "none",
    "RSA",
    "EC",
    "OKP",
    "oct",
    "P-256",
    "P-384",
    "P-521",
    "Ed25519",
    "X25519",
    "AQAB",
    "AAEAAQ",
    "",
    "https://acme.test/new-account",
];

const JWK_KEYS: &[&str] = &["kty", "crv", "n", "e", "x", "y", "d", "alg", "use"];
const HEADER_KEYS: &[&str] = &["alg", "jwk", "kid", "nonce", "url", "b64", "crit"];
const OUTER_URL: &str = "https://acme.test/new-account";
const EAB_KEY: &[u8] = &[7; 32];

/// A JWK: a real one (maybe with one member replaced, removed or added), or a JWK-shaped object
/// with a `kty`, maybe a `crv`, key members of plausible lengths or junk.
fn jwk() -> impl Strategy<Value = Value> {
    prop_oneof![1 => real_jwk(), 2 => made_up_jwk()]
}

/// A real public key, sometimes with one member replaced, removed or added.
fn real_jwk() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(fixtures().jwks.clone()),
        prop::sample::select(vec!["kty", "crv", "n", "e", "x", "y", "d", "k", "alg"]),
        proptest::option::of(proptest::option::of(json(WORDS))),
    )
        .prop_map(|(mut key, member, change)| {
            let o = key.as_object_mut().unwrap();
            match change {
                None => {}
                Some(None) => {
                    o.remove(member);
                }
                Some(Some(v)) => {
                    o.insert(member.to_string(), v);
                }
            }
            key
        })
}

/// A JWK-shaped object built from scratch.
fn made_up_jwk() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["RSA", "EC", "OKP", "oct", "", "rsa"]),
        prop::sample::select(vec![
            "P-256",
            "P-384",
            "P-521",
            "Ed25519",
            "X25519",
            "secp256k1",
        ]),
        proptest::collection::vec(proptest::option::of(b64url_or_junk()), 5),
        object_with(JWK_KEYS, WORDS),
        any::<bool>(),
    )
        .prop_map(|(kty, crv, members, extra, structured)| {
            if !structured {
                return extra;
            }
            let mut o = serde_json::Map::new();
            o.insert("kty".into(), kty.into());
            o.insert("crv".into(), crv.into());
            for (name, v) in ["n", "e", "x", "y", "d"].iter().zip(members) {
                if let Some(v) = v {
                    o.insert(name.to_string(), v.into());
                }
            }
            Value::Object(o)
        })
}

/// A protected header: the members ACME reads, with values of any type or plausible ones.
fn header() -> impl Strategy<Value = Value> {
    prop_oneof![
        object_with(HEADER_KEYS, WORDS),
        (
            prop::sample::select(vec!["ES256", "RS256", "HS256", "HS512", "none", "EdDSA"]),
            proptest::option::of(jwk()),
            proptest::option::of(".{0,8}"),
            proptest::option::of(prop_oneof![Just(OUTER_URL.to_string()), ".{0,8}"]),
        )
            .prop_map(|(alg, jwk, kid, url)| {
                let mut h = json!({"alg": alg});
                if let Some(j) = jwk {
                    h["jwk"] = j;
                }
                if let Some(k) = kid {
                    h["kid"] = k.into();
                }
                if let Some(u) = url {
                    h["url"] = u.into();
                }
                h
            }),
        json(WORDS),
    ]
}

/// A flattened JWS whose members are base64url of the given header and payload JSON (or junk),
/// with a random signature; sometimes extra or missing members.
fn jws() -> impl Strategy<Value = Value> {
    (
        header(),
        json(WORDS),
        b64url_or_junk(),
        object_with(&["header", "signatures", "extra"], WORDS),
        any::<bool>(),
    )
        .prop_map(|(h, payload, sig, extra, add_extra)| {
            let mut o = json!({
                "protected": b64url(&serde_json::to_vec(&h).unwrap()),
                "payload": b64url(&serde_json::to_vec(&payload).unwrap()),
                "signature": sig,
            });
            if add_extra {
                for (k, v) in extra.as_object().unwrap() {
                    o[k] = v.clone();
                }
            }
            o
        })
}

proptest! {
    #![proptest_config(crate::config(256))]

    #[test]
    fn jws_parse_of_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Jws::parse(&body);
    }

    #[test]
    fn jws_of_any_json(v in json(WORDS)) {
        let _ = Jws::parse(&serde_json::to_vec(&v).unwrap());
        let _ = Jws::from_value(&v);
    }

    #[test]
    fn jws_structured_then_checked_and_verified(v in jws()) {
        if let Ok(j) = Jws::from_value(&v) {
            let _ = j.check_alg();
            let _ = j.signing_input();
            let key = PublicJwk::from_value(&fixtures().jwk).unwrap();
            prop_assert!(j.verify(&key).is_err(), "a random signature verified");
            if let Some(k) = &j.header.jwk {
                let _ = PublicJwk::from_value(k);
            }
        }
    }

    #[test]
    fn public_jwk_of_any_json(v in json(WORDS)) {
        let _ = PublicJwk::from_value(&v);
    }

    #[test]
    fn public_jwk_structured_then_used(v in jwk(), alg in prop::sample::select(WORDS), msg in proptest::collection::vec(any::<u8>(), 0..40), sig in proptest::collection::vec(any::<u8>(), 0..140)) {
        if let Ok(k) = PublicJwk::from_value(&v) {
            let _ = k.thumbprint();
            let _ = k.to_value();
            let _ = k.verify(alg, &msg, &sig);
        }
    }

    #[test]
    fn eab_of_any_json_and_url(v in json(WORDS), url in prop_oneof![Just(OUTER_URL.to_string()), ".{0,10}"]) {
        if let Ok(eab) = ExternalAccountBinding::parse(&v, &url) {
            let key = PublicJwk::from_value(&fixtures().jwk).unwrap();
            let _ = eab.verify(EAB_KEY, &key);
        }
    }

    #[test]
    fn eab_with_a_valid_mac_and_any_payload(
        alg in prop::sample::select(vec!["HS256", "HS384", "HS512"]),
        kid in proptest::option::of(".{0,10}"),
        payload in prop_oneof![jwk(), json(WORDS), Just(fixtures().jwk.clone())],
        hmac_key in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut h = json!({"alg": alg, "url": OUTER_URL});
        if let Some(k) = kid { h["kid"] = k.into(); }
        let protected = b64url(&serde_json::to_vec(&h).unwrap());
        let payload_b64 = b64url(&serde_json::to_vec(&payload).unwrap());
        // HS256 over the signing input, so MAC checks pass for HS256 and the payload is read.
        let mut m = Hmac::<Sha256>::new_from_slice(EAB_KEY).unwrap();
        m.update(format!("{protected}.{payload_b64}").as_bytes());
        let sig = b64url(&m.finalize().into_bytes());
        let v = json!({"protected": protected, "payload": payload_b64, "signature": sig});
        if let Ok(eab) = ExternalAccountBinding::parse(&v, OUTER_URL) {
            let key = PublicJwk::from_value(&fixtures().jwk).unwrap();
            let verified = eab.verify(EAB_KEY, &key);
            if alg == "HS256" && payload == fixtures().jwk {
                prop_assert!(verified.is_ok(), "{:?}", verified);
            }
            let _ = eab.verify(&hmac_key, &key);
        }
    }

    #[test]
    fn nonce_check_of_any_text(n in prop_oneof![".{0,60}", b64url_or_junk()], secs in any::<i32>()) {
        let key = NonceKey::new(vec![9; 32], std::time::Duration::from_secs(60));
        let _ = key.check(&n, Utc.timestamp_opt(i64::from(secs), 0).unwrap());
    }

    #[test]
    fn nonce_with_a_valid_mac_and_any_expiry(expires in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)], secs in any::<i32>()) {
        let mut data = expires.to_be_bytes().to_vec();
        data.extend([5u8; 16]);
        let mut m = Hmac::<Sha256>::new_from_slice(&[9; 32]).unwrap();
        m.update(&data);
        data.extend_from_slice(&m.finalize().into_bytes()[..16]);
        let key = NonceKey::new(vec![9; 32], std::time::Duration::from_secs(60));
        let now = Utc.timestamp_opt(i64::from(secs), 0).unwrap();
        let checked = key.check(&b64url(&data), now);
        if expires > i64::from(secs) && expires < 8_000_000_000_000 {
            prop_assert_eq!(checked.map(|t| t.timestamp()), Ok(expires));
        }
    }
}
