//! Account endpoints: newAccount (§7.3), the account URL (§7.3.2, §7.3.6), keyChange (§7.3.5).

use crate::acme::account::{self, NewAccountOutcome};
use crate::acme::{Error, Result};
use crate::web::handlers::json_at;
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// `POST /acme/new-account`.
pub async fn new_account(State(state): State<AppState>, req: SignedRequest) -> Result<Response> {
    let r = req.self_authenticated(&state).await?;
    let ctx = &state.ctx;
    let (status, acct) = match account::new_account(ctx, &r.key, &r.url, &r.payload).await? {
        NewAccountOutcome::Created(a) => (StatusCode::CREATED, a),
        NewAccountOutcome::Existing(a) => (StatusCode::OK, a),
    };
    Ok(json_at(
        status,
        &ctx.urls.account(&acct.id),
        &account::account_resource(ctx, &acct),
    ))
}

/// `POST /acme/acct/{id}`: fetch, update or deactivate one's own account.
pub async fn account(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let r = req.for_account(&state).await?;
    if r.account.id != id {
        return Err(Error::unauthorized(
            "the request is signed by a different account than the URL names",
        ));
    }
    let ctx = &state.ctx;
    let acct = account::update_account(ctx, &r.account, &r.payload).await?;
    Ok(json_at(
        StatusCode::OK,
        &ctx.urls.account(&acct.id),
        &account::account_resource(ctx, &acct),
    ))
}

/// `POST /acme/key-change`.
pub async fn key_change(State(state): State<AppState>, req: SignedRequest) -> Result<Response> {
    let r = req.for_account(&state).await?;
    let ctx = &state.ctx;
    let acct = account::key_change(ctx, &r.account, &r.url, &r.payload).await?;
    // This replica's next request with the new key then needs no extra read; other replicas
    // find their cached key stale and read the account (see `web::jws`).
    state.account_keys.put(&acct.id, &acct.jwk);
    Ok(json_at(
        StatusCode::OK,
        &ctx.urls.account(&acct.id),
        &account::account_resource(ctx, &acct),
    ))
}
