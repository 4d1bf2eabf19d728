//! Order endpoints: newOrder (§7.4), the order URL, the account's orders list (§7.1.2.1).

use crate::acme::finalize as finalize_rules;
use crate::acme::{order, Error, Result};
use crate::model::OrderStatus;
use crate::web::handlers::json_at;
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// `POST /acme/new-order`.
pub async fn new_order(State(state): State<AppState>, req: SignedRequest) -> Result<Response> {
    let r = req.for_account(&state).await?;
    let ctx = &state.ctx;
    let created = order::new_order(ctx, &r.account, &r.payload).await?;
    let resource = order::render(ctx, &created).await?;
    Ok(json_at(
        StatusCode::CREATED,
        &ctx.urls.order(&created.id),
        &resource,
    ))
}

/// `POST /acme/order/{id}` (POST-as-GET).
pub async fn get_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let account = req.post_as_get(&state).await?;
    let (o, _) = order::order_for(&state.ctx, &account, &id).await?;
    order_response(&state, &o).await
}

/// `POST /acme/order/{id}/finalize`.
pub async fn finalize(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let r = req.for_account(&state).await?;
    let o = finalize_rules::finalize(&state.ctx, &r.account, &id, &r.payload).await?;
    order_response(&state, &o).await
}

/// An order with `Location`, and `Retry-After` while it is processing (§7.4).
async fn order_response(state: &AppState, o: &crate::model::Order) -> Result<Response> {
    let ctx = &state.ctx;
    let resource = order::render(ctx, o).await?;
    let mut resp = json_at(StatusCode::OK, &ctx.urls.order(&o.id), &resource);
    if resource.status == OrderStatus::Processing {
        // The hint must not turn a known order into an error (finalize has committed by now).
        let secs = finalize_rules::retry_after(ctx, o)
            .await
            .unwrap_or_else(|_| crate::acme::error::unavailable_retry_secs());
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(resp)
}

/// Query of the orders list.
#[derive(Debug, Deserialize)]
pub struct Cursor {
    cursor: Option<String>,
}

/// `POST /acme/acct/{id}/orders` (POST-as-GET), paginated with `Link: rel="next"`.
/// The `next` URL carries the cursor in its query; clients sign it as given (RFC 8555 §6.4), and
/// the extractor compares the JWS `url` with path and query.
pub async fn list_orders(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Cursor>,
    req: SignedRequest,
) -> Result<Response> {
    let account = req.post_as_get(&state).await?;
    if account.id != id {
        return Err(Error::unauthorized(
            "the orders list belongs to a different account than the signer",
        ));
    }
    let ctx = &state.ctx;
    let cursor = q.cursor.filter(|c| crate::ids::is_plausible_id(c));
    let (orders, next) = order::orders_page(ctx, &account, cursor.as_deref()).await?;
    let mut resp = axum::Json(serde_json::json!({ "orders": orders })).into_response();
    if let Some(next) = next {
        let link = format!(
            "<{}?cursor={next}>;rel=\"next\"",
            ctx.urls.account_orders(&account.id)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().append(header::LINK, v);
        }
    }
    Ok(resp)
}
