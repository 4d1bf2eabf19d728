//! The negative JWS battery (RFC 8555 §6.2–6.5): every malformed or malicious request gets its
//! problem type and stores nothing. EAB is off here so that a request slipping through the pipeline
//! *would* create an account, which makes "nothing stored" a real assertion.

mod support;

use serde_json::{json, Value};
use support::app::TestApp;
use support::client::{b64, jws, Client, Reply, TestKey};

async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.acme.eab_required = false).await
}

fn payload() -> Value {
    json!({"termsOfServiceAgreed": true})
}

async fn assert_refused(app: &TestApp, r: &Reply, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.problem_type(), kind, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(
        r.header("replay-nonce").is_some(),
        "errors carry a fresh nonce"
    );
    assert_eq!(app.db.count("accounts").await, 0, "nothing may be stored");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let mut h = c.protected(&url).await;
    h["alg"] = json!("none");
    let body = json!({
        "protected": b64(h.to_string().as_bytes()),
        "payload": b64(payload().to_string().as_bytes()),
        "signature": b64(b"x"),
    });
    let r = c.post_body(&url, body.to_string()).await;
    assert_refused(&app, &r, 400, "badSignatureAlgorithm").await;
    assert!(r.body["algorithms"]
        .as_array()
        .unwrap()
        .contains(&json!("ES256")));
}

#[tokio::test]
async fn unsigned_jws_is_bad_signature_algorithm() {
    // `alg: none` with the empty signature RFC 7515 prescribes for it, and an empty signature
    // under an accepted algorithm: both are unsigned requests (RFC 8555 §6.2).
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    for alg in ["none", "ES256"] {
        let mut h = c.protected(&url).await;
        h["alg"] = json!(alg);
        let body = json!({
            "protected": b64(h.to_string().as_bytes()),
            "payload": b64(payload().to_string().as_bytes()),
            "signature": "",
        });
        let r = c.post_body(&url, body.to_string()).await;
        assert_refused(&app, &r, 400, "badSignatureAlgorithm").await;
        assert!(r.body["algorithms"].is_array(), "{r:?}");
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    // RFC 7515 §4.1.11: a `crit` naming an extension the server does not understand must make it
    // refuse the JWS; the server understands none.
    let app = app().await;
    let mut c = Client::new(&app);
    let url = app.url("/acme/new-account");
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("exp")] {
        let mut h = c.protected(&url).await;
        h["crit"] = crit.clone();
        h["exp"] = json!(1);
        let r = c.post_signed(&url, &h, Some(&payload())).await;
        assert_refused(&app, &r, 400, "malformed").await;
        assert!(
            r.body["detail"].as_str().unwrap().contains("crit"),
            "{crit}: {r:?}"
        );
    }
    // The same for a kid-signed request of an existing account.
    assert_eq!(c.register(None).await.status, 201);
    let acct = c.kid.clone().unwrap();
    let mut h = c.protected(&acct).await;
    h["crit"] = json!(["exp"]);
    let r = c.post_signed(&acct, &h, None).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.problem_type(), "malformed");
}

#[tokio::test]
async fn hs256_outer_signature_is_refused() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let mut h = c.protected(&url).await;
    h["alg"] = json!("HS256");
    let r = c.post_signed(&url, &h, Some(&payload())).await;
    assert_refused(&app, &r, 400, "badSignatureAlgorithm").await;
}

#[tokio::test]
async fn jwk_and_kid_together_are_refused() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let mut h = c.protected(&url).await;
    h["kid"] = json!(app.url("/acme/acct/AAAAAAAAAAAAAAAAAAAAAA"));
    let r = c.post_signed(&url, &h, Some(&payload())).await;
    assert_refused(&app, &r, 400, "malformed").await;
}

#[tokio::test]
async fn wrong_url_is_unauthorized() {
    let app = app().await;
    let c = Client::new(&app);
    let mut h = c.protected(&app.url("/acme/new-order")).await;
    let r = c
        .post_signed(&app.url("/acme/new-account"), &h, Some(&payload()))
        .await;
    assert_refused(&app, &r, 403, "unauthorized").await;
    h["url"] = json!("https://elsewhere.example/acme/new-account");
    let r = c
        .post_signed(&app.url("/acme/new-account"), &h, Some(&payload()))
        .await;
    assert_refused(&app, &r, 403, "unauthorized").await;
}

#[tokio::test]
async fn replayed_nonce_is_bad_nonce() {
    let app = TestApp::spawn().await; // EAB required: the first request fails *after* redeeming.
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let h = c.protected(&url).await;
    let first = c.post_signed(&url, &h, Some(&payload())).await;
    assert_eq!(first.problem_type(), "externalAccountRequired");
    let replay = c.post_signed(&url, &h, Some(&payload())).await;
    assert_refused(&app, &replay, 400, "badNonce").await;
    assert!(replay.body["detail"]
        .as_str()
        .unwrap()
        .contains("JWS has an invalid anti-replay nonce"));
    let fresh = replay.header("replay-nonce").unwrap();
    assert_ne!(fresh, h["nonce"].as_str().unwrap());
}

#[tokio::test]
async fn replayed_nonce_across_replicas_is_bad_nonce() {
    // Two servers on one database: a nonce minted by one and used on it cannot be reused on the other.
    let app = app().await;
    let db_url = app.db.url.clone();
    let second = TestApp::spawn_with(move |c| {
        c.acme.eab_required = false;
        c.database.url = Some(acme_sectigo_bridge::secret::Secret::new(db_url));
    })
    .await;
    let c = Client::new(&app);
    let h = c.protected(&app.url("/acme/new-account")).await;
    let r = c
        .post_signed(&app.url("/acme/new-account"), &h, Some(&payload()))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // Same JWS (nonce included) replayed to the second replica, with its own URL.
    let other = Client::with_key(&second, c.key.clone());
    let mut h2 = h.clone();
    h2["url"] = json!(second.url("/acme/new-account"));
    let r = other
        .post_signed(&second.url("/acme/new-account"), &h2, Some(&payload()))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_type(), "badNonce");
    // And a nonce minted by the second replica is accepted by the first.
    let n = other.nonce().await;
    let mut h3 = c.protected(&app.url("/acme/new-account")).await;
    h3["nonce"] = json!(n);
    let r = c
        .post_signed(
            &app.url("/acme/new-account"),
            &h3,
            Some(&json!({"onlyReturnExisting": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn unknown_nonce_is_bad_nonce() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let mut h = c.protected(&url).await;
    h["nonce"] = json!(b64(&[1u8; 40]));
    let r = c.post_signed(&url, &h, Some(&payload())).await;
    assert_refused(&app, &r, 400, "badNonce").await;
    h.as_object_mut().unwrap().remove("nonce");
    let r = c.post_signed(&url, &h, Some(&payload())).await;
    assert_refused(&app, &r, 400, "badNonce").await;
}

#[tokio::test]
async fn kid_of_unknown_account() {
    let app = app().await;
    let mut c = Client::new(&app);
    c.kid = Some(app.url("/acme/acct/AAAAAAAAAAAAAAAAAAAAAA"));
    let r = c.post(&app.url("/acme/key-change"), Some(&json!({}))).await;
    assert_refused(&app, &r, 400, "accountDoesNotExist").await;
    c.kid = Some("https://elsewhere.example/acct/1".into());
    let r = c.post(&app.url("/acme/key-change"), Some(&json!({}))).await;
    assert_refused(&app, &r, 400, "accountDoesNotExist").await;
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let h = c.protected(&url).await;
    let mut body = jws(&c.key, &h, payload().to_string().as_bytes());
    let other = jws(&TestKey::es256(), &h, payload().to_string().as_bytes());
    body["signature"] = other["signature"].clone();
    let r = c.post_body(&url, body.to_string()).await;
    assert_refused(&app, &r, 400, "malformed").await;
    // The nonce was not burned by the forged request.
    let r = c.post_signed(&url, &h, Some(&payload())).await;
    assert_eq!(r.status, 201, "{r:?}");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let h = c.protected(&url).await;
    let body = jws(&c.key, &h, payload().to_string().as_bytes());
    let r = support::client::reply(
        app.http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&app, &r, 415, "malformed").await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let h = c.protected(&url).await;
    let big = json!({"termsOfServiceAgreed": true, "pad": "x".repeat(100 * 1024)});
    let r = c.post_signed(&url, &h, Some(&big)).await;
    assert_refused(&app, &r, 413, "malformed").await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("65536"),
        "{r:?}"
    );
}

#[tokio::test]
async fn much_larger_body_still_gets_a_413_problem_not_a_reset() {
    // A client that sends its whole request before reading (as curl and most HTTP/1.1 clients
    // do) must read a problem document, not a connection reset mid-upload (seen with a 1 MiB
    // newAccount). A fresh connection for each size.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = app().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    for size in [1usize << 20, 4 << 20] {
        let body = "x".repeat(size);
        let head = format!(
            "POST /acme/new-account HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/jose+json\r\nContent-Length: {size}\r\n\
             Connection: close\r\n\r\n"
        );
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(body.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{size} bytes: the upload was cut off: {e}"));
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            conn.read_to_end(&mut answer),
        )
        .await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{size} bytes: {answer:?}"
        );
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(
            answer.contains("urn:ietf:params:acme:error:malformed"),
            "{answer}"
        );
    }
    assert_eq!(app.db.count("accounts").await, 0);
}

#[tokio::test]
async fn rsa_1024_is_bad_public_key() {
    let app = app().await;
    let c = Client::with_key(&app, TestKey::rsa_1024());
    let r = c
        .post(&app.url("/acme/new-account"), Some(&payload()))
        .await;
    assert_refused(&app, &r, 400, "badPublicKey").await;
}

#[tokio::test]
async fn not_json_and_general_serialization_are_malformed() {
    let app = app().await;
    let c = Client::new(&app);
    let url = app.url("/acme/new-account");
    let r = c.post_body(&url, "not json".into()).await;
    assert_refused(&app, &r, 400, "malformed").await;
    let h = c.protected(&url).await;
    let flat = jws(&c.key, &h, payload().to_string().as_bytes());
    let general = json!({"payload": flat["payload"], "signatures": [{"protected": flat["protected"], "signature": flat["signature"]}]});
    let r = c.post_body(&url, general.to_string()).await;
    assert_refused(&app, &r, 400, "malformed").await;
    let mut unprotected = flat.clone();
    unprotected["header"] = json!({"kid": "x"});
    let r = c.post_body(&url, unprotected.to_string()).await;
    assert_refused(&app, &r, 400, "malformed").await;
}

#[tokio::test]
async fn post_as_get_must_have_empty_payload_and_all_key_types_work() {
    let app = app().await;
    for key in [TestKey::es256(), TestKey::rsa(2048), TestKey::ed25519()] {
        let mut c = Client::with_key(&app, key);
        assert_eq!(c.register(None).await.status, 201);
        let acct = c.kid.clone().unwrap();
        assert_eq!(c.post(&acct, None).await.status, 200);
    }
}

/// A client that opens a connection and trickles its headers (or sends none) is cut off after
/// `server.header_read_timeout_secs`, so a few hundred such connections cannot hold the replica's
/// sockets and memory for ever (slowloris). Before the bound, the connection stayed open.
#[tokio::test]
async fn a_client_too_slow_with_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| {
        c.acme.eab_required = false;
        c.server.header_read_timeout_secs = 2;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(format!("GET /directory HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    // The headers never end. Well past the bound (and far short of anything else that would close
    // the connection), the server must have hung up.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        conn.read_to_end(&mut buf),
    )
    .await;
    assert!(
        read.is_ok(),
        "the connection was still open 20 s after the client stopped sending its headers"
    );
    // A client that sends its request in time is served as before.
    let r = reqwest::get(app.url("/directory")).await.unwrap();
    assert_eq!(r.status(), 200);
}
