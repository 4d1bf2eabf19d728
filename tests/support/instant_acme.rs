//! instant-acme over plain HTTP on loopback: its own client speaks only HTTPS, and the test server
//! listens on plain HTTP. Shared by every test that drives the server with instant-acme.

use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use std::future::Future;
use std::pin::Pin;

/// Carries instant-acme's requests with reqwest, headers and bodies untouched.
pub struct PlainHttp(pub reqwest::Client);

impl PlainHttp {
    /// A client for `Account::builder_with_http`.
    pub fn boxed() -> Box<Self> {
        Box::new(Self(reqwest::Client::new()))
    }
}

impl HttpClient for PlainHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
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
                .map_err(|e| Error::Other(Box::new(e)))?;
            let mut builder = http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                builder = builder.header(k, v);
            }
            let bytes = resp.bytes().await.map_err(|e| Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(
                builder
                    .body(http_body_util::Full::new(bytes))
                    .expect("a valid response"),
            ))
        })
    }
}
