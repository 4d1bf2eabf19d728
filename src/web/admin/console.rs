//! The web console's handlers: read the session (`ConsoleOperator`), check the form's CSRF token,
//! call the store or `crate::admin`, render with `render`.

use super::api::{self, ApiError, AuditParams, CertsQuery, OrdersQuery};
use super::auth::{cookie, ConsoleOperator, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::render::{self, CreatedKey};
use super::AdminState;
use crate::admin::{self, views, NewEabKey};
use crate::model::audit::kind;
use crate::model::{Actor, AuditEvent};
use crate::store::Page;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

type PageResult = Result<Response, ApiError>;

/// A form refused for its CSRF token.
fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<!DOCTYPE html><title>Refused</title><p>The form's CSRF token is missing or wrong: reload the page and try again.</p>"),
    )
        .into_response()
}

fn cookie_header(s: &AdminState, name: &str, value: &str, max_age: u64) -> String {
    let secure = if s.secure_cookie { "; Secure" } else { "" };
    format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// `GET /admin/login`: the form, with a fresh double-submit CSRF cookie.
pub async fn login_form(State(s): State<AdminState>) -> Response {
    let csrf = URL_SAFE_NO_PAD.encode(crate::ids::random_bytes(18));
    (
        [(
            header::SET_COOKIE,
            cookie_header(&s, LOGIN_CSRF_COOKIE, &csrf, 600),
        )],
        render::login(&csrf, None),
    )
        .into_response()
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

/// `POST /admin/login`: a valid token opens a session (recorded in the audit trail).
pub async fn login(
    State(s): State<AdminState>,
    headers: axum::http::HeaderMap,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty()
        || !super::tokens::constant_time_eq(expected.as_bytes(), f.csrf.as_bytes())
    {
        return Ok(csrf_refused());
    }
    let Some(name) = s.tokens.name_of(f.token.trim()).map(str::to_string) else {
        tracing::warn!("console login with an unknown token");
        return Ok((
            StatusCode::UNAUTHORIZED,
            render::login(&f.csrf, Some("Unknown token.")),
        )
            .into_response());
    };
    let now = s.app.ctx.now();
    let expires = now.timestamp() + s.session_secs as i64;
    let session = s.tokens.session(&name, expires).unwrap_or_default();
    let ev = AuditEvent::new(kind::OPERATOR_LOGIN, Actor::Operator(name.clone()));
    s.app.ctx.store.record_audit_event(&ev, now).await?;
    Ok((
        [(
            header::SET_COOKIE,
            cookie_header(&s, SESSION_COOKIE, &session, s.session_secs),
        )],
        Redirect::to("/admin/"),
    )
        .into_response())
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/logout`
pub async fn logout(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !op.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    (
        [(header::SET_COOKIE, cookie_header(&s, SESSION_COOKIE, "", 0))],
        Redirect::to("/admin/login"),
    )
        .into_response()
}

/// `GET /admin/`: counts and charts.
pub async fn summary(op: ConsoleOperator, State(s): State<AdminState>) -> PageResult {
    let now = s.app.ctx.now();
    let sum = s.app.ctx.store.summary(now).await?;
    let body = render::summary(&sum, &api::scm_calls(&s), now.date_naive());
    Ok(render::page("Summary", Some((&op.name, &op.csrf)), body).into_response())
}

async fn eab_page(
    s: &AdminState,
    op: &ConsoleOperator,
    created: Option<&CreatedKey>,
) -> PageResult {
    let keys = s.app.ctx.store.list_eab_keys().await?;
    let body = render::eab_keys(&keys, &op.csrf, created);
    Ok(render::page("EAB keys", Some((&op.name, &op.csrf)), body).into_response())
}

/// `GET /admin/eab-keys`
pub async fn eab_keys(op: ConsoleOperator, State(s): State<AdminState>) -> PageResult {
    eab_page(&s, &op, None).await
}

/// The create-key form's fields (text as typed).
#[derive(Deserialize)]
pub struct EabForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    allowed_patterns: String,
    #[serde(default)]
    scm_org_id: String,
    #[serde(default)]
    profiles: String,
    trust_scm_dcv: Option<String>,
    single_use: Option<String>,
}

/// `POST /admin/eab-keys`: creates the key and shows its HMAC key once, with snippets.
pub async fn create_eab_key(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Form(f): Form<EabForm>,
) -> PageResult {
    if !op.csrf_ok(&f.csrf) {
        return Ok(csrf_refused());
    }
    let scm_org_id = match f.scm_org_id.trim() {
        "" => None,
        t => Some(t.parse().map_err(|_| {
            crate::admin::AdminError::Invalid("SCM organization id must be a number".into())
        })?),
    };
    let new = NewEabKey {
        label: f.label,
        allowed_patterns: f
            .allowed_patterns
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        scm_org_id,
        profiles: f
            .profiles
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect(),
        trust_scm_dcv: f.trust_scm_dcv.is_some(),
        single_use: f.single_use.is_some(),
    };
    let key = admin::create_eab_key(&s.app.ctx.store, new, &op.actor(), s.app.ctx.now()).await?;
    let hmac = URL_SAFE_NO_PAD.encode(&key.hmac_key);
    let (certbot, cert_manager) = api::snippets(&api::directory_url(&s), &key.kid, &hmac);
    let created = CreatedKey {
        kid: key.kid,
        hmac,
        certbot,
        cert_manager,
    };
    eab_page(&s, &op, Some(&created)).await
}

/// `POST /admin/eab-keys/{kid}/revoke`
pub async fn revoke_eab_key(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Path(kid): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if !op.csrf_ok(&f.csrf) {
        return Ok(csrf_refused());
    }
    admin::revoke_eab_key(&s.app.ctx.store, &kid, false, &op.actor(), s.app.ctx.now()).await?;
    Ok(Redirect::to("/admin/eab-keys").into_response())
}

/// `GET /admin/orders`: issuances waiting on SCM and the order search.
pub async fn orders(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Query(q): Query<OrdersQuery>,
) -> PageResult {
    let page = Page::new(q.limit, q.offset);
    let found = s.app.ctx.store.orders_page(&q.filter(), page).await?;
    let pending = s
        .app
        .ctx
        .store
        .pending_issuances(Page::new(Some(100), None))
        .await?;
    let body = render::orders(&found, &pending, &q);
    Ok(render::page("Orders", Some((&op.name, &op.csrf)), body).into_response())
}

/// `GET /admin/orders/{id}`
pub async fn order(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> PageResult {
    let detail = views::order_detail(&s.app.ctx.store, &id).await?;
    let title = format!("Order {id}");
    Ok(render::page(&title, Some((&op.name, &op.csrf)), render::order(&detail)).into_response())
}

/// `GET /admin/certificates`
pub async fn certificates(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Query(q): Query<CertsQuery>,
) -> PageResult {
    let page = Page::new(q.limit, q.offset);
    let certs = s.app.ctx.store.certificates_page(&q.filter(), page).await?;
    let body = render::certificates(&certs, &q, &op.csrf);
    Ok(render::page("Certificates", Some((&op.name, &op.csrf)), body).into_response())
}

/// The revoke form's fields.
#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: i32,
}

/// `POST /admin/certificates/{id}/revoke`: asks for revocation through SCM (the worker calls it).
pub async fn revoke_certificate(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> PageResult {
    if !op.csrf_ok(&f.csrf) {
        return Ok(csrf_refused());
    }
    admin::revoke_certificate(
        &s.app.ctx.store,
        &id,
        f.reason,
        &op.actor(),
        s.app.ctx.now(),
    )
    .await?;
    Ok(Redirect::to("/admin/certificates").into_response())
}

/// `GET /admin/audit`
pub async fn audit(
    op: ConsoleOperator,
    State(s): State<AdminState>,
    Query(p): Query<AuditParams>,
) -> PageResult {
    let q = p.query();
    let events = s.app.ctx.store.audit_events(&q).await?;
    let next = (events.len() as i64 == q.limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    let body = render::audit(&events, &p, next);
    Ok(render::page("Audit trail", Some((&op.name, &op.csrf)), body).into_response())
}
