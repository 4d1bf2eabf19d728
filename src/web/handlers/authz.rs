//! Authorization and challenge endpoints (§7.5).

use crate::acme::{authz, Result};
use crate::model::{AuthzStatus, ChallengeStatus};
use crate::web::handlers::json_at;
use crate::web::jws::SignedRequest;
use crate::web::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `POST /acme/authz/{id}`: fetch or deactivate.
pub async fn authorization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let r = req.for_account(&state).await?;
    let resource = authz::update_authz(&state.ctx, &r.account, &id, &r.payload).await?;
    let validating = resource.status == AuthzStatus::Pending
        && resource
            .challenges
            .iter()
            .any(|c| c.status == ChallengeStatus::Processing);
    let mut resp = json_at(StatusCode::OK, &state.ctx.urls.authz(&id), &resource);
    if validating {
        retry_soon(&mut resp);
    }
    Ok(resp)
}

/// Validation usually takes milliseconds: tell clients to look again in a second rather than
/// their default (lego waits 5 s).
fn retry_soon(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
}

/// `POST /acme/chall/{id}`: fetch, or `{}` to request validation. Carries `Link: <authz>;rel="up"`.
pub async fn challenge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<Response> {
    let r = req.for_account(&state).await?;
    let (resource, up) =
        authz::respond_to_challenge(&state.ctx, &r.account, &id, &r.payload).await?;
    let processing = resource.status == ChallengeStatus::Processing;
    let mut resp = axum::Json(resource).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("<{up}>;rel=\"up\"")) {
        resp.headers_mut().append(header::LINK, v);
    }
    if processing {
        retry_soon(&mut resp);
    }
    Ok(resp)
}
