//! The admin API: JSON over bearer tokens, lists paginated with `limit`/`offset` (`next_offset`
//! in the answer while more rows may follow; the audit trail pages by `after`, the last event
//! id). Documented in docs/admin-api.md.

use super::auth::ApiOperator;
use super::AdminState;
use crate::admin::{self, views, AdminError, NewEabKey};
use crate::model::AuditQuery;
use crate::store::{CertFilter, OrderFilter, Page};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// A problem document (RFC 7807) for the admin API.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({"type": "about:blank", "status": status.as_u16(), "detail": detail});
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// An admin error as an HTTP answer: the store's causes are logged, not shown.
pub struct ApiError(pub AdminError);

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        Self(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self(AdminError::Store(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            AdminError::NotFound => problem(StatusCode::NOT_FOUND, "not found"),
            AdminError::Invalid(m) => problem(StatusCode::BAD_REQUEST, &m),
            AdminError::Conflict(m) => problem(StatusCode::CONFLICT, &m),
            AdminError::Store(e) => {
                tracing::error!(error = %e, "admin request failed");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)")
            }
        }
    }
}

type ApiResult = Result<Response, ApiError>;

/// `limit`/`offset` of a list request.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl PageQuery {
    fn page(&self) -> Page {
        Page::new(self.limit, self.offset)
    }
}

/// `{"items": […], "next_offset": n|null}`: a full page may have a next one.
fn paged<T: serde::Serialize>(items: Vec<T>, page: Page) -> Response {
    let next = (items.len() as i64 == page.limit).then_some(page.offset + page.limit);
    Json(json!({"items": items, "next_offset": next})).into_response()
}

/// Unknown API paths answer JSON, not the console's HTML.
pub async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "no such admin API endpoint")
}

/// `GET /summary`
pub async fn summary(_op: ApiOperator, State(s): State<AdminState>) -> ApiResult {
    let mut v = serde_json::to_value(s.app.ctx.store.summary(s.app.ctx.now()).await?)
        .unwrap_or(Value::Null);
    v["scm_calls_since_start"] = scm_calls(&s);
    Ok(Json(v).into_response())
}

/// This replica's SCM call counters since it started: `[{operation, outcome, count}]`.
pub fn scm_calls(s: &AdminState) -> Value {
    let counts = s
        .app
        .ctx
        .scm
        .as_ref()
        .map(|c| c.call_counts())
        .unwrap_or_default();
    Value::Array(
        counts
            .into_iter()
            .map(|((op, outcome), n)| json!({"operation": op, "outcome": outcome, "count": n}))
            .collect(),
    )
}

/// `GET /eab-keys`
pub async fn eab_keys(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Query(p): Query<PageQuery>,
) -> ApiResult {
    let page = p.page();
    let keys = s.app.ctx.store.list_eab_keys().await?;
    let items: Vec<Value> = keys
        .iter()
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .map(views::eab_key)
        .collect();
    Ok(paged(items, page))
}

/// What a client needs to register with a new key: ready-to-paste snippets.
pub fn snippets(directory: &str, kid: &str, hmac: &str) -> (String, String) {
    let certbot = format!(
        "certbot certonly --server {directory} --eab-kid {kid} --eab-hmac-key={hmac} \
         --standalone -d www.example.org"
    );
    let cert_manager = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: acme-sectigo-bridge-eab\n  namespace: cert-manager\n\
         stringData:\n  secret: {hmac}\n---\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\n\
         metadata:\n  name: acme-sectigo-bridge\nspec:\n  acme:\n    server: {directory}\n    \
         privateKeySecretRef:\n      name: acme-sectigo-bridge-account\n    externalAccountBinding:\n      \
         keyID: {kid}\n      keySecretRef:\n        name: acme-sectigo-bridge-eab\n        key: secret\n    \
         solvers:\n      - http01:\n          ingress: {{}}\n"
    );
    (certbot, cert_manager)
}

/// The ACME directory URL clients are given.
pub fn directory_url(s: &AdminState) -> String {
    let base = s.app.ctx.config.server.base_url();
    format!("{}/directory", base.as_str().trim_end_matches('/'))
}

/// `POST /eab-keys` `{label, allowed_patterns, scm_org_id, profiles, trust_scm_dcv, single_use}`:
/// 201 with the kid and the HMAC key, shown this once.
pub async fn create_eab_key(
    op: ApiOperator,
    State(s): State<AdminState>,
    Json(new): Json<NewEabKey>,
) -> ApiResult {
    let key = admin::create_eab_key(&s.app.ctx.store, new, &op.actor(), s.app.ctx.now()).await?;
    let hmac = URL_SAFE_NO_PAD.encode(&key.hmac_key);
    let (certbot, cert_manager) = snippets(&directory_url(&s), &key.kid, &hmac);
    let mut v = views::eab_key(&key);
    v["hmac_key"] = json!(hmac);
    v["certbot"] = json!(certbot);
    v["cert_manager"] = json!(cert_manager);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `POST /eab-keys/{kid}/revoke` body `{"keep_accounts": bool}` (optional).
#[derive(Debug, Default, Deserialize)]
pub struct RevokeKey {
    #[serde(default)]
    pub keep_accounts: bool,
}

/// `POST /eab-keys/{kid}/revoke`
pub async fn revoke_eab_key(
    op: ApiOperator,
    State(s): State<AdminState>,
    Path(kid): Path<String>,
    body: Option<Json<RevokeKey>>,
) -> ApiResult {
    let keep = body.map(|b| b.0.keep_accounts).unwrap_or(false);
    admin::revoke_eab_key(&s.app.ctx.store, &kid, keep, &op.actor(), s.app.ctx.now()).await?;
    let key = s
        .app
        .ctx
        .store
        .eab_key(&kid)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(Json(views::eab_key(&key)).into_response())
}

/// `POST /eab-keys/{kid}/rotate`: a new HMAC key, shown this once.
pub async fn rotate_eab_key(
    op: ApiOperator,
    State(s): State<AdminState>,
    Path(kid): Path<String>,
) -> ApiResult {
    let hmac = admin::rotate_eab_hmac(&s.app.ctx.store, &kid, &op.actor(), s.app.ctx.now()).await?;
    Ok(Json(json!({"kid": kid, "hmac_key": URL_SAFE_NO_PAD.encode(hmac)})).into_response())
}

/// `GET /accounts?eab_kid=&limit=&offset=`
#[derive(Debug, Deserialize)]
pub struct AccountsQuery {
    pub eab_kid: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// `GET /accounts`
pub async fn accounts(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Query(q): Query<AccountsQuery>,
) -> ApiResult {
    let page = Page::new(q.limit, q.offset);
    let rows = s
        .app
        .ctx
        .store
        .accounts_page(q.eab_kid.as_deref(), page)
        .await?;
    Ok(paged(rows.iter().map(views::account).collect(), page))
}

/// `POST /accounts/{id}/deactivate`
pub async fn deactivate_account(
    op: ApiOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> ApiResult {
    admin::deactivate_account(&s.app.ctx.store, &id, &op.actor(), s.app.ctx.now()).await?;
    let a = s
        .app
        .ctx
        .store
        .account(&id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(Json(views::account(&a)).into_response())
}

/// `GET /orders?name=&status=&eab_label=&account=&limit=&offset=`
#[derive(Debug, Deserialize)]
pub struct OrdersQuery {
    pub name: Option<String>,
    pub status: Option<String>,
    pub eab_label: Option<String>,
    pub account: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl OrdersQuery {
    /// The store's filter.
    pub fn filter(&self) -> OrderFilter {
        OrderFilter {
            name: self.name.clone().filter(|s| !s.is_empty()),
            status: self.status.clone().filter(|s| !s.is_empty()),
            eab_label: self.eab_label.clone().filter(|s| !s.is_empty()),
            account_id: self.account.clone().filter(|s| !s.is_empty()),
        }
    }
}

/// `GET /orders`
pub async fn orders(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Query(q): Query<OrdersQuery>,
) -> ApiResult {
    let page = Page::new(q.limit, q.offset);
    Ok(paged(
        s.app.ctx.store.orders_page(&q.filter(), page).await?,
        page,
    ))
}

/// `GET /orders/{id}`
pub async fn order(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(views::order_detail(&s.app.ctx.store, &id).await?).into_response())
}

/// `GET /issuances`: waiting on SCM.
pub async fn issuances(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Query(p): Query<PageQuery>,
) -> ApiResult {
    let page = p.page();
    Ok(paged(s.app.ctx.store.pending_issuances(page).await?, page))
}

/// `GET /certificates?name=&serial=&expires_after=&expires_before=&limit=&offset=`
#[derive(Debug, Deserialize)]
pub struct CertsQuery {
    pub name: Option<String>,
    pub serial: Option<String>,
    pub expires_after: Option<DateTime<Utc>>,
    pub expires_before: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl CertsQuery {
    /// The store's filter (serial in the store's spelling).
    pub fn filter(&self) -> CertFilter {
        CertFilter {
            name: self.name.clone().filter(|s| !s.is_empty()),
            serial: self
                .serial
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.replace(':', "").trim().to_ascii_lowercase()),
            expires_after: self.expires_after,
            expires_before: self.expires_before,
        }
    }
}

/// `GET /certificates`
pub async fn certificates(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Query(q): Query<CertsQuery>,
) -> ApiResult {
    let page = Page::new(q.limit, q.offset);
    Ok(paged(
        s.app.ctx.store.certificates_page(&q.filter(), page).await?,
        page,
    ))
}

/// `GET /certificates/{id}`
pub async fn certificate(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(views::certificate_detail(&s.app.ctx.store, &id).await?).into_response())
}

/// `GET /certificates/{id}/pem`: the chain as `application/pem-certificate-chain`.
pub async fn certificate_pem(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> ApiResult {
    let cert = s
        .app
        .ctx
        .store
        .certificate(&id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/pem-certificate-chain".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.pem\"", cert.serial),
            ),
        ],
        cert.chain_pem,
    )
        .into_response())
}

/// `POST /certificates/{id}/revoke` body `{"reason": 0|1|3|4|5}`.
#[derive(Debug, Default, Deserialize)]
pub struct RevokeCert {
    #[serde(default)]
    pub reason: i32,
}

/// `POST /certificates/{id}/revoke`: 202, the worker revokes it through SCM.
pub async fn revoke_certificate(
    op: ApiOperator,
    State(s): State<AdminState>,
    Path(id): Path<String>,
    body: Option<Json<RevokeCert>>,
) -> ApiResult {
    let reason = body.map(|b| b.0.reason).unwrap_or(0);
    admin::revoke_certificate(&s.app.ctx.store, &id, reason, &op.actor(), s.app.ctx.now()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(views::certificate_detail(&s.app.ctx.store, &id).await?),
    )
        .into_response())
}

/// `GET /audit?since=&until=&eab_label=&account=&name=&serial=&after=&limit=`
#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub eab_label: Option<String>,
    pub account: Option<String>,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

impl AuditParams {
    /// The store's query; at most 500 events a page.
    pub fn query(&self) -> AuditQuery {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        AuditQuery {
            since: self.since,
            until: self.until,
            eab_label: some(&self.eab_label),
            account_id: some(&self.account),
            name: some(&self.name),
            serial: some(&self.serial).map(|s| s.replace(':', "").to_ascii_lowercase()),
            after_id: self.after,
            limit: self.limit.unwrap_or(100).clamp(1, 500),
        }
    }
}

/// `GET /audit`: `{"items": […], "next_after": id|null}`.
pub async fn audit(
    _op: ApiOperator,
    State(s): State<AdminState>,
    Query(p): Query<AuditParams>,
) -> ApiResult {
    let q = p.query();
    let items = s.app.ctx.store.audit_events(&q).await?;
    let next = (items.len() as i64 == q.limit).then(|| items.last().map(|e| e.id));
    Ok(Json(json!({"items": items, "next_after": next.flatten()})).into_response())
}
