//! `POST /acme/cert/{id}` and `POST /acme/cert/{id}/alt/{n}` (POST-as-GET): a chain, leaf first,
//! with `Link: rel="alternate"` for each other chain (§7.4.2).

use crate::acme::certificate::{self, ChainDownload};
use crate::acme::{Error, Result};
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Media type of certificate chains (RFC 8555 §9.1).
pub const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// Downloads a certificate's default chain.
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let account = req.post_as_get(&state).await?;
    let chain = certificate::chain_for(&state.ctx, &account, &id, 0).await?;
    Ok(chain_response(chain))
}

/// Downloads alternate chain `n` (from 1) of a certificate.
pub async fn download_alternate(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    req: SignedRequest,
) -> Result<Response> {
    let account = req.post_as_get(&state).await?;
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| Error::not_found("alternate chain"))?;
    let chain = certificate::chain_for(&state.ctx, &account, &id, n).await?;
    Ok(chain_response(chain))
}

fn chain_response(chain: ChainDownload) -> Response {
    let mut resp = chain.pem.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PEM_CHAIN));
    for url in chain.alternates {
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>;rel=\"alternate\"")) {
            headers.append(header::LINK, v);
        }
    }
    resp
}
