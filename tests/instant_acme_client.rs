//! An independently written ACME client (the instant-acme crate) registers an account with External
//! Account Binding against the running server: the wire format is checked by someone else's code.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{Account, BytesResponse, ExternalAccountKey, HttpClient, NewAccount};
use std::future::Future;
use std::pin::Pin;
use support::app::TestApp;

/// instant-acme's own client only speaks HTTPS; this one carries its requests over plain HTTP on
/// loopback without touching them.
struct PlainHttp(reqwest::Client);

impl HttpClient for PlainHttp {
    fn request(
        &self,
        req: http::Request<Full<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.expect("infallible").to_bytes();
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut builder = http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                builder = builder.header(k, v);
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(builder.body(Full::new(bytes)).unwrap()))
        })
    }
}

#[tokio::test]
async fn instant_acme_registers_with_eab() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let directory = app.url("/directory");
    let new = NewAccount {
        contact: &["mailto:ops@example.test"],
        terms_of_service_agreed: true,
        only_return_existing: false,
    };

    // Without EAB the server refuses.
    let err = Account::create_with_http(
        &new,
        &directory,
        None,
        Box::new(PlainHttp(reqwest::Client::new())),
    )
    .await
    .err()
    .expect("EAB is required");
    assert!(
        format!("{err:?}").contains("externalAccountRequired"),
        "{err:?}"
    );
    assert_eq!(app.db.count("accounts").await, 0);

    let eab = ExternalAccountKey::new(kid.clone(), &hmac);
    let (account, _credentials) = Account::create_with_http(
        &new,
        &directory,
        Some(&eab),
        Box::new(PlainHttp(reqwest::Client::new())),
    )
    .await
    .expect("instant-acme creates an account");
    assert!(account.id().starts_with(&app.url("/acme/acct/")));
    let id = account.id().rsplit('/').next().unwrap();
    let stored = app.store.account(id).await.unwrap().expect("stored");
    assert_eq!(stored.eab_kid.as_deref(), Some(kid.as_str()));
    assert_eq!(stored.contact, vec!["mailto:ops@example.test".to_string()]);
}
