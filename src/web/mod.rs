//! The HTTP front end: routes, JWS extraction, ACME headers, problem documents. Handlers stay thin;
//! rules live in `acme`.

pub mod account_keys;
pub mod admin;
pub mod body;
pub mod guard;
pub mod handlers;
pub mod headers;
pub mod jws;
pub mod problem;
pub mod readiness;
pub mod state;

pub use state::AppState;

use crate::acme::urls::paths;
use axum::routing::{get, post};
use axum::Router;
use handlers::{
    account, authz, certificate, directory, health, nonce, order, renewal_info, revocation,
};

/// The admin application (`server.admin_listen`): Prometheus metrics, and with tokens the admin
/// API and web console (see `admin`).
pub fn admin_router(state: AppState, tokens: Option<std::sync::Arc<admin::AdminTokens>>) -> Router {
    admin::router(state, tokens)
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let acme =
        Router::new()
            .route(paths::DIRECTORY, get(directory::directory))
            .route(
                paths::NEW_NONCE,
                get(nonce::get).head(nonce::head).route_layer(
                    axum::middleware::from_fn_with_state(state.clone(), guard::limit_new_nonce),
                ),
            )
            .route(
                paths::NEW_ACCOUNT,
                post(account::new_account).route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    guard::limit_new_account,
                )),
            )
            .route(
                &format!("{}/{{id}}", paths::ACCOUNT),
                post(account::account),
            )
            .route(paths::KEY_CHANGE, post(account::key_change))
            .route(
                &format!("{}/{{id}}/orders", paths::ACCOUNT),
                post(order::list_orders),
            )
            .route(paths::NEW_ORDER, post(order::new_order))
            .route(&format!("{}/{{id}}", paths::ORDER), post(order::get_order))
            .route(
                &format!("{}/{{id}}/finalize", paths::ORDER),
                post(order::finalize),
            )
            .route(
                &format!("{}/{{id}}", paths::CERTIFICATE),
                post(certificate::download),
            )
            .route(
                &format!("{}/{{id}}/alt/{{n}}", paths::CERTIFICATE),
                post(certificate::download_alternate),
            )
            .route(
                &format!("{}/{{id}}", paths::AUTHZ),
                post(authz::authorization),
            )
            .route(
                &format!("{}/{{id}}", paths::CHALLENGE),
                post(authz::challenge),
            )
            .route(paths::REVOKE_CERT, post(revocation::revoke_cert))
            .route(
                &format!("{}/{{cert_id}}", paths::RENEWAL_INFO),
                get(renewal_info::renewal_info),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                headers::record_metrics,
            ))
            .fallback(handlers::not_found)
            .method_not_allowed_fallback(handlers::method_not_allowed)
            // Inside the header middleware, so a 503 for overload or timeout still carries a
            // Replay-Nonce; outside the metrics, which then see only requests that ran.
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                guard::limit_requests,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                headers::acme_headers,
            ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(acme)
        .layer(axum::middleware::from_fn(headers::request_span))
        .with_state(state)
}
