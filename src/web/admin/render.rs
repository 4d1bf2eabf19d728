//! The console's HTML (maud: templates checked at compile time, escaped by default). No
//! JavaScript, nothing fetched from elsewhere: the style sheet is inline, charts are inline SVG.

use crate::model::{AuditRecord, EabKey};
use crate::store::{CertSummary, OrderSummary, PendingIssuance, Summary};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{Html, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}\
nav{background:#1d3557;padding:.5em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}\
nav form{display:inline;float:right}main{padding:1em;max-width:1200px}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em;text-align:left;\
vertical-align:top}th{background:#f1f3f5}code,pre{font-size:12px;background:#f6f8fa}pre{padding:.5em;\
overflow:auto;white-space:pre-wrap}.secret{border:2px solid #e63946;padding:.5em}\
form.inline{display:inline}input,select,button{font:inherit}.err{color:#b00}.cards{display:flex;\
gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;padding:.5em 1em;min-width:10em}";

/// Adds the console's security headers to every admin answer: no framing, no sniffing, and a
/// content policy that allows no script and nothing from elsewhere.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A page of the console; `session` = (operator, CSRF token) when logged in.
pub fn page(title: &str, session: Option<(&str, &str)>, body: Markup) -> Html<String> {
    let m = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · acme-sectigo-bridge" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                @if let Some((name, csrf)) = session {
                    nav {
                        a href="/admin/" { "Summary" }
                        a href="/admin/eab-keys" { "EAB keys" }
                        a href="/admin/orders" { "Orders" }
                        a href="/admin/certificates" { "Certificates" }
                        a href="/admin/audit" { "Audit trail" }
                        form method="post" action="/admin/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            span style="color:#fff" { (name) " " }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    Html(m.into_string())
}

/// The hidden CSRF field every form of a session carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The login form (its CSRF token is the double-submit cookie's value).
pub fn login(csrf: &str, error: Option<&str>) -> Html<String> {
    page(
        "Log in",
        None,
        html! {
            @if let Some(e) = error { p.err { (e) } }
            form method="post" action="/admin/login" {
                (csrf_field(csrf))
                label { "Admin token " input type="password" name="token" autocomplete="off" autofocus; }
                " " button type="submit" { "Log in" }
            }
        },
    )
}

/// A bar chart as inline SVG: one bar per value, labelled below.
fn bars(values: &[i64], labels: &[String], title: &str) -> Markup {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (w, h, bw) = (40 * values.len().max(1), 120.0, 30);
    html! {
        figure {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" width=(w) height="150" role="img" aria-label=(title) {
                @for (i, v) in values.iter().enumerate() {
                    @let bh = (*v as f64 / max) * (h - 15.0);
                    rect x=(i * 40 + 5) y=(h - bh) width=(bw) height=(bh) fill="#457b9d" {}
                    text x=(i * 40 + 20) y=(h - bh - 2.0) font-size="10" text-anchor="middle" { (v) }
                    text x=(i * 40 + 20) y="140" font-size="9" text-anchor="middle" {
                        (labels.get(i).map(String::as_str).unwrap_or(""))
                    }
                }
            }
        }
    }
}

/// The summary page.
pub fn summary(s: &Summary, scm_calls: &Value, today: chrono::NaiveDate) -> Markup {
    let day_labels: Vec<String> = (0..s.issued_per_day.len())
        .map(|i| {
            (today - chrono::Duration::days((s.issued_per_day.len() - 1 - i) as i64))
                .format("%d.%m")
                .to_string()
        })
        .collect();
    let week_labels: Vec<String> = (0..s.expiring_per_week.len())
        .map(|i| format!("+{}w", i + 1))
        .collect();
    html! {
        div.cards {
            div.card { "Certificates valid" h2 { (s.certificates_valid) } }
            div.card { "Certificates revoked" h2 { (s.certificates_revoked) } }
            div.card { "Waiting on SCM" h2 { (s.issuances_waiting) } }
            div.card { "Active EAB keys" h2 { (s.eab_keys_active) } }
        }
        div.cards {
            (bars(&s.issued_per_day, &day_labels, "Certificates issued per day (14 days)"))
            (bars(&s.expiring_per_week, &week_labels, "Certificates expiring per week"))
        }
        h2 { "Orders by status" }
        table { @for (k, v) in &s.orders { tr { th { (k) } td { (v) } } } }
        h2 { "Accounts by status" }
        table { @for (k, v) in &s.accounts { tr { th { (k) } td { (v) } } } }
        h2 { "SCM in the last hour (audit trail)" }
        table { @for (k, v) in &s.scm_last_hour { tr { th { (k) } td { (v) } } } }
        h2 { "SCM calls by this replica since it started" }
        table {
            tr { th { "operation" } th { "outcome" } th { "count" } }
            @for c in scm_calls.as_array().into_iter().flatten() {
                tr { td { (c["operation"].as_str().unwrap_or("")) } td { (c["outcome"].as_str().unwrap_or("")) } td { (c["count"]) } }
            }
        }
    }
}

/// A freshly created key, shown once, with snippets.
pub struct CreatedKey {
    pub kid: String,
    pub hmac: String,
    pub certbot: String,
    pub cert_manager: String,
}

/// The EAB keys page: the create form, the new key (once), the list with revoke buttons.
pub fn eab_keys(keys: &[EabKey], csrf: &str, created: Option<&CreatedKey>) -> Markup {
    html! {
        @if let Some(c) = created {
            div.secret id="created-key" {
                p { strong { "New key — the HMAC key is shown only now." } }
                p { "kid: " code id="new-kid" { (c.kid) } }
                p { "HMAC key: " code id="new-hmac" { (c.hmac) } }
                h3 { "certbot" } pre { (c.certbot) }
                h3 { "cert-manager" } pre { (c.cert_manager) }
            }
        }
        h2 { "Create a key" }
        form method="post" action="/admin/eab-keys" id="create-key" {
            (csrf_field(csrf))
            p { label { "Label " input name="label" required; } }
            p { label { "Allowed name patterns (one per line: *.example.edu, 10.0.0.0/8) " br; textarea name="allowed_patterns" rows="3" cols="40" {} } }
            p { label { "SCM organization id " input name="scm_org_id" type="number"; } }
            p { label { "Profiles (comma-separated, empty = all) " input name="profiles"; } }
            p { label { input type="checkbox" name="trust_scm_dcv" value="on"; " Trust SCM's domain validation" } }
            p { label { input type="checkbox" name="single_use" value="on"; " Single use" } }
            button type="submit" { "Create" }
        }
        h2 { "Keys" }
        table {
            tr { th { "kid" } th { "label" } th { "patterns" } th { "org" } th { "created" } th { "state" } th {} }
            @for k in keys {
                tr {
                    td { code { (k.kid) } } td { (k.label) } td { (k.allowed_patterns.join(", ")) }
                    td { (k.scm_org_id.map(|o| o.to_string()).unwrap_or_default()) }
                    td { (k.created_at.format("%Y-%m-%d %H:%M")) }
                    td { @if k.revoked_at.is_some() { "revoked" } @else { "active" } }
                    td {
                        @if k.revoked_at.is_none() {
                            form.inline method="post" action={ "/admin/eab-keys/" (k.kid) "/revoke" } {
                                (csrf_field(csrf)) button type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Orders (search) and issuances waiting on SCM.
pub fn orders(
    orders: &[OrderSummary],
    pending: &[PendingIssuance],
    q: &super::api::OrdersQuery,
) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        h2 { "Waiting on SCM" }
        table {
            tr { th { "order" } th { "names" } th { "sslId" } th { "collect attempts" } th { "next poll" } th { "last SCM answer" } }
            @for p in pending {
                tr {
                    td { a href={ "/admin/orders/" (p.order_id) } { (p.order_id) } } td { (p.names) }
                    td { (p.ssl_id.map(|i| i.to_string()).unwrap_or_default()) } td { (p.collect_attempts) }
                    td { (p.next_poll_at.map(|t| t.to_rfc3339()).unwrap_or_default()) }
                    td { (p.last_answer.clone().unwrap_or_default()) }
                }
            }
        }
        h2 { "Orders" }
        form method="get" action="/admin/orders" {
            input name="name" placeholder="name" value=(v(&q.name));
            input name="status" placeholder="status" value=(v(&q.status));
            input name="eab_label" placeholder="EAB label" value=(v(&q.eab_label));
            button type="submit" { "Search" }
        }
        table {
            tr { th { "order" } th { "status" } th { "names" } th { "created" } th { "sslId" } th { "EAB kid" } }
            @for o in orders {
                tr {
                    td { a href={ "/admin/orders/" (o.id) } { (o.id) } } td { (o.status) } td { (o.names) }
                    td { (o.created_at.format("%Y-%m-%d %H:%M:%S")) }
                    td { (o.ssl_id.map(|i| i.to_string()).unwrap_or_default()) }
                    td { (o.eab_kid.clone().unwrap_or_default()) }
                }
            }
        }
    }
}

/// One order, as the API shows it.
pub fn order(detail: &Value) -> Markup {
    html! {
        p { "Status: " strong { (detail["status"].as_str().unwrap_or("")) } }
        @if let Some(c) = detail["certificate_id"].as_str() {
            p { "Certificate: " a href={ "/admin/certificates?id=" (c) } { (c) } }
        }
        h2 { "SCM" } pre { (serde_json::to_string_pretty(&detail["scm"]).unwrap_or_default()) }
        h2 { "Authorizations" } pre { (serde_json::to_string_pretty(&detail["authorizations"]).unwrap_or_default()) }
        @if !detail["error"].is_null() {
            h2 { "Error" } pre { (serde_json::to_string_pretty(&detail["error"]).unwrap_or_default()) }
        }
    }
}

/// Certificates (search) with revoke forms.
pub fn certificates(certs: &[CertSummary], q: &super::api::CertsQuery, csrf: &str) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        form method="get" action="/admin/certificates" {
            input name="name" placeholder="name" value=(v(&q.name));
            input name="serial" placeholder="serial (hex)" value=(v(&q.serial));
            button type="submit" { "Search" }
        }
        table id="certificates" {
            tr { th { "serial" } th { "names" } th { "not after" } th { "sslId" } th { "state" } th {} }
            @for c in certs {
                tr data-serial=(c.serial) {
                    td { code { (c.serial) } } td { (c.names) } td { (c.not_after.format("%Y-%m-%d")) }
                    td { (c.ssl_id) }
                    td.state {
                        @if c.revoked_at.is_some() { "revoked" }
                        @else if c.revocation_requested_at.is_some() { "revocation requested" }
                        @else { "valid" }
                    }
                    td {
                        @if c.revoked_at.is_none() && c.revocation_requested_at.is_none() {
                            form.inline method="post" action={ "/admin/certificates/" (c.id) "/revoke" } {
                                (csrf_field(csrf))
                                select name="reason" {
                                    option value="0" { "unspecified" } option value="1" { "keyCompromise" }
                                    option value="3" { "affiliationChanged" } option value="4" { "superseded" }
                                    option value="5" { "cessationOfOperation" }
                                }
                                " " button type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The audit trail with its filters.
pub fn audit(events: &[AuditRecord], q: &super::api::AuditParams, next: Option<i64>) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    html! {
        form method="get" action="/admin/audit" {
            input name="name" placeholder="name" value=(v(&q.name));
            input name="serial" placeholder="serial" value=(v(&q.serial));
            input name="eab_label" placeholder="EAB label" value=(v(&q.eab_label));
            input name="account" placeholder="account id" value=(v(&q.account));
            button type="submit" { "Filter" }
        }
        table id="audit" {
            tr { th { "at" } th { "event" } th { "actor" } th { "names" } th { "serial" } th { "details" } }
            @for e in events {
                tr {
                    td { (e.at.format("%Y-%m-%d %H:%M:%S")) } td.kind { (e.kind) } td.actor { (e.actor) }
                    td { (e.names.clone().unwrap_or_default()) } td { (e.serial.clone().unwrap_or_default()) }
                    td { code { (e.details.to_string()) } }
                }
            }
        }
        @if let Some(after) = next {
            p { a href={ "/admin/audit?after=" (after) } { "Next page" } }
        }
    }
}
