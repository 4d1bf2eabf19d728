//! `POST /acme/cert/{id}` (POST-as-GET): the chain, leaf first (§7.4.2).

use crate::acme::{certificate, Result};
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Media type of certificate chains (RFC 8555 §9.1).
pub const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// Downloads a certificate chain.
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let account = req.post_as_get(&state).await?;
    let cert = certificate::certificate_for(&state.ctx, &account, &id).await?;
    let mut resp = cert.chain_pem.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PEM_CHAIN));
    Ok(resp)
}
