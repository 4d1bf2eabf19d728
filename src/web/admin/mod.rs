//! The admin listener (`server.admin_listen`, formerly `metrics_listen`): `/metrics`, and with
//! `server.admin_tokens_file` the admin API (`/admin/api/…`, bearer tokens, JSON) and the web
//! console (`/admin/…`, server-rendered HTML, session cookie, CSRF tokens). Handlers are thin:
//! queries are the store's, changes `crate::admin`'s, HTML `render`'s.

pub mod api;
pub mod auth;
pub mod console;
pub mod render;
pub mod tokens;

pub use tokens::AdminTokens;

use super::handlers::health;
use super::AppState;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// What the admin handlers reach: the ACME state (store, clock, config) and the tokens.
#[derive(Clone)]
pub struct AdminState {
    pub app: AppState,
    pub tokens: Arc<AdminTokens>,
    /// Console session lifetime.
    pub session_secs: u64,
    /// Mark the session cookie `Secure` (the listener speaks TLS).
    pub secure_cookie: bool,
}

impl axum::extract::FromRef<AdminState> for AppState {
    fn from_ref(s: &AdminState) -> AppState {
        s.app.clone()
    }
}

/// The admin application: `/metrics` always; the API and console when tokens are configured.
pub fn router(app: AppState, tokens: Option<Arc<AdminTokens>>) -> Router {
    let metrics = Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(app.clone());
    let Some(tokens) = tokens else {
        return metrics;
    };
    let config = &app.ctx.config.server;
    let state = AdminState {
        session_secs: config.admin_session_secs,
        secure_cookie: config.admin_tls_cert.is_some(),
        app: app.clone(),
        tokens,
    };
    let api = Router::new()
        .route("/summary", get(api::summary))
        .route("/eab-keys", get(api::eab_keys).post(api::create_eab_key))
        .route("/eab-keys/{kid}/revoke", post(api::revoke_eab_key))
        .route("/eab-keys/{kid}/rotate", post(api::rotate_eab_key))
        .route("/accounts", get(api::accounts))
        .route("/accounts/{id}/deactivate", post(api::deactivate_account))
        .route("/orders", get(api::orders))
        .route("/orders/{id}", get(api::order))
        .route("/issuances", get(api::issuances))
        .route("/certificates", get(api::certificates))
        .route("/certificates/{id}", get(api::certificate))
        .route("/certificates/{id}/pem", get(api::certificate_pem))
        .route("/certificates/{id}/revoke", post(api::revoke_certificate))
        .route("/audit", get(api::audit))
        .fallback(api::not_found);
    let console = Router::new()
        .route("/", get(console::summary))
        .route("/login", get(console::login_form).post(console::login))
        .route("/logout", post(console::logout))
        .route(
            "/eab-keys",
            get(console::eab_keys).post(console::create_eab_key),
        )
        .route("/eab-keys/{kid}/revoke", post(console::revoke_eab_key))
        .route("/orders", get(console::orders))
        .route("/orders/{id}", get(console::order))
        .route("/certificates", get(console::certificates))
        .route(
            "/certificates/{id}/revoke",
            post(console::revoke_certificate),
        )
        .route("/audit", get(console::audit));
    Router::new()
        .route("/admin/", get(console::summary))
        .nest("/admin/api", api)
        .nest("/admin", console)
        .layer(axum::middleware::from_fn(render::security_headers))
        .with_state(state)
        .merge(metrics)
}
