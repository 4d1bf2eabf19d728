//! `GET /directory` (§7.1.1).

use crate::web::state::AppState;
use axum::extract::State;
use axum::Json;

/// The directory: where every other resource is.
pub async fn directory(State(state): State<AppState>) -> Json<crate::acme::types::Directory> {
    Json(crate::acme::account::directory(&state.ctx))
}
