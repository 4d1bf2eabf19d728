//! `GET /acme/renewal-info/{certID}` (RFC 9773 §4.1): an unauthenticated GET, so caches and
//! monitoring can read it too; the window itself comes from `acme::ari`.

use crate::acme::{ari, Result};
use crate::web::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The suggested renewal window with `Retry-After` (`acme.ari_retry_after_secs`), which tells
/// clients when to ask again.
pub async fn renewal_info(
    State(state): State<AppState>,
    Path(cert_id): Path<String>,
) -> Result<Response> {
    let info = ari::renewal_info(&state.ctx, &cert_id).await?;
    let mut resp = axum::Json(info).into_response();
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(state.ctx.config.acme.ari_retry_after_secs),
    );
    Ok(resp)
}
