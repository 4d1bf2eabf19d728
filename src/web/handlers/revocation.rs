//! `POST /acme/revoke-cert` (§7.6).

use crate::acme::{revocation, Result};
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::State;

/// Revokes a certificate, signed by its account or by its own key; 200 once SCM confirmed.
pub async fn revoke_cert(State(state): State<AppState>, req: SignedRequest) -> Result<()> {
    let (who, payload) = req.kid_or_jwk(&state).await?;
    revocation::revoke(&state.ctx, &who, &payload).await
}
