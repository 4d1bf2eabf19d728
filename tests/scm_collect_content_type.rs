//! Collect's `Content-Type` (shared/scm-api.md §3 Collect): the sandbox answers
//! `application/octet-stream;charset=UTF-8` as SCM does (clients such as comodo-rest-api decode the
//! file with that charset), and our client takes the file with or without the charset, since a
//! proxy or another SCM instance may drop it.

mod support;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::{CollectFormat, ScmClient};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use support::scm::{client, csr, request, sandbox};

const SCM_COLLECT_TYPE: &str = "application/octet-stream;charset=UTF-8";

/// Forwards a request to `upstream` (the sandbox's origin) and returns its answer with the
/// `Content-Type` parameters removed (`application/octet-stream;charset=UTF-8` →
/// `application/octet-stream`), as a proxy rewriting headers would.
async fn strip_charset(State(upstream): State<String>, req: Request) -> Response {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut forward =
        reqwest::Client::new().request(req.method().clone(), format!("{upstream}{path}"));
    for (name, value) in req.headers() {
        if name != HOST {
            forward = forward.header(name, value);
        }
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let answer = forward.body(body).send().await.unwrap();
    let status = answer.status();
    let mut headers = answer.headers().clone();
    headers.remove(CONTENT_LENGTH);
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let bare = ct
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_string();
        headers.insert(CONTENT_TYPE, bare.parse().unwrap());
    }
    (status, headers, answer.bytes().await.unwrap()).into_response()
}

/// Starts [`strip_charset`] in front of `upstream`; returns its origin.
async fn charset_stripping_proxy(upstream: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(strip_charset)
        .with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// `GET {base}/ssl/v1/collect/{path}` with the demo tenant's headers: (status, Content-Type).
async fn raw_collect(base: &str, path: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{base}/ssl/v1/collect/{path}"))
        .header("login", "demo")
        .header("password", "demo")
        .header("customerUri", "demo")
        .send()
        .await
        .unwrap();
    let ct = r.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
    (r.status().as_u16(), ct)
}

#[tokio::test]
async fn sandbox_collect_answers_with_scms_content_type_in_both_url_styles() {
    let sb = sandbox(SandboxConfig::default());
    let (pem, _) = csr("ct.example.com");
    let id = client(&sb)
        .enroll(&request(&pem, &["ct.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let base = sb.base_url().to_string();
    for format in CollectFormat::ALL {
        let f = format.as_str();
        for path in [format!("{id}?format={f}"), format!("{id}/{f}")] {
            assert_eq!(
                raw_collect(&base, &path).await,
                (200, SCM_COLLECT_TYPE.to_string()),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn client_collects_with_and_without_the_charset() {
    let sb = sandbox(SandboxConfig::default());
    let (pem, spki) = csr("ct2.example.com");
    let direct = client(&sb);
    let id = direct
        .enroll(&request(&pem, &["ct2.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let origin = sb.base_url().origin().ascii_serialization();
    let proxy = charset_stripping_proxy(origin).await;
    let mut cfg = sb.scm_config();
    cfg.base_url = format!("{proxy}/api").parse().unwrap();
    let proxied = ScmClient::new(&cfg).unwrap();
    // The proxy really drops the charset, so the second client sees the bare type.
    assert_eq!(
        raw_collect(&format!("{proxy}/api"), &format!("{id}?format=x509CO")).await,
        (200, "application/octet-stream".to_string())
    );
    for c in [&direct, &proxied] {
        for format in [
            CollectFormat::X509CO,
            CollectFormat::Base64,
            CollectFormat::Bin,
        ] {
            let certs = c.collect(id, format).await.unwrap().certificates().unwrap();
            let leaf = certs
                .iter()
                .filter_map(|d| x509_parser::parse_x509_certificate(d).ok())
                .find(|(_, cert)| cert.public_key().raw == spki.as_slice());
            assert!(
                leaf.is_some(),
                "{format:?}: no certificate carries the CSR's key"
            );
        }
    }
}
