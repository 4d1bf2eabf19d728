//! Endpoints the directory lists whose behaviour lands in later work (orders, revocation).

use crate::acme::{Error, Result};
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::State;

/// Verifies the request like any other, then says the feature is not available yet.
pub async fn not_yet(State(state): State<AppState>, req: SignedRequest) -> Result<()> {
    req.for_account(&state).await?;
    Err(Error::malformed("this endpoint is not available on this server yet").with_status(501))
}
