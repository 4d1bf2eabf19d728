//! Organizations, SSL types, custom fields, domains and DCV status.

use crate::sandbox::reply::{bad, json_body, scm_error, str_field};
use crate::sandbox::state::{SandboxState, Unit};
use crate::scm::types::{
    CustomField, Delegation, Department, Domain, DomainDetails, Organization, OrganizationDetails,
    SslType,
};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use chrono::Utc;
use http::StatusCode;
use std::collections::HashMap;
use std::sync::Arc;

type St = State<Arc<SandboxState>>;

fn ssl() -> Vec<String> {
    vec!["SSL".into(), "SMIME".into()]
}

/// `GET /organization/v1`.
pub async fn organizations(State(s): St) -> Response {
    let orgs: Vec<Organization> = s
        .cfg
        .organizations
        .iter()
        .map(|o| Organization {
            id: o.id,
            name: o.name.clone(),
            cert_types: ssl(),
            departments: o
                .departments
                .iter()
                .map(|d| Department {
                    id: d.id,
                    name: d.name.clone(),
                    parent_name: Some(o.name.clone()),
                    cert_types: ssl(),
                })
                .collect(),
        })
        .collect();
    Json(orgs).into_response()
}

/// `GET /organization/v1/{id}` (orgs and departments).
pub async fn organization(State(s): St, Path(id): Path<String>) -> Response {
    let Some(unit) = id.parse().ok().and_then(|id| s.unit(id)) else {
        return scm_error(
            StatusCode::NOT_FOUND,
            -1023,
            format!("Organization with id '{id}' does not exist"),
        );
    };
    let departments = unit
        .org
        .departments
        .iter()
        .map(|d| Department {
            id: d.id,
            name: d.name.clone(),
            parent_name: Some(unit.org.name.clone()),
            cert_types: ssl(),
        })
        .collect();
    Json(OrganizationDetails {
        id: unit.org.id,
        name: unit.org.name.clone(),
        cert_types: ssl(),
        departments,
        ssl_certs_api_enabled: Some(s.web_api(unit)),
        parent_name: unit.parent.map(|p| p.name.clone()),
    })
    .into_response()
}

/// `GET /ssl/v1/types[?organizationId=N]`.
pub async fn ssl_types(State(s): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let unit: Option<Unit<'_>> = match q.get("organizationId") {
        None => None,
        Some(raw) => match raw.parse().ok().and_then(|id| s.unit(id)) {
            Some(u) => Some(u),
            None => {
                return bad(
                    -1023,
                    format!("Organization with id '{raw}' does not exist"),
                )
            }
        },
    };
    let types: Vec<SslType> = s
        .cfg
        .profiles
        .iter()
        .filter(|p| unit.is_none_or_allowed(&s, p.id))
        .map(|p| SslType {
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            terms: p.terms.clone(),
            key_types: p.key_types.clone(),
            use_secondary_org_name: false,
        })
        .collect();
    Json(types).into_response()
}

trait AllowedExt {
    fn is_none_or_allowed(&self, s: &SandboxState, profile: i64) -> bool;
}

impl AllowedExt for Option<Unit<'_>> {
    fn is_none_or_allowed(&self, s: &SandboxState, profile: i64) -> bool {
        self.map_or(true, |u| s.profile_allowed(u, profile))
    }
}

/// `GET /ssl/v1/customFields`.
pub async fn custom_fields(State(s): St) -> Response {
    let fields: Vec<CustomField> = s
        .cfg
        .custom_fields
        .iter()
        .map(|f| CustomField {
            id: f.id,
            name: f.name.clone(),
            mandatory: f.mandatory,
        })
        .collect();
    Json(fields).into_response()
}

fn validation_status(d: &crate::sandbox::config::DomainConfig) -> &'static str {
    let today = Utc::now().date_naive();
    match (d.validated, d.dcv_expiration) {
        (false, _) => "NOT_VALIDATED",
        (true, Some(e)) if e < today => "EXPIRED",
        (true, _) => "VALIDATED",
    }
}

/// `GET|HEAD /domain/v1?position&size&name&state&status&orgId`.
pub async fn domains(State(s): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let org: Option<i64> = q.get("orgId").and_then(|v| v.parse().ok());
    let rows: Vec<Domain> = s
        .cfg
        .domains
        .iter()
        .filter(|d| {
            q.get("name")
                .map_or(true, |n| n.eq_ignore_ascii_case(&d.name))
        })
        .filter(|d| {
            q.get("status")
                .map_or(true, |v| v.eq_ignore_ascii_case(validation_status(d)))
        })
        .filter(|_| {
            q.get("state")
                .map_or(true, |v| v.eq_ignore_ascii_case("ACTIVE"))
        })
        .filter(|d| {
            org.map_or(true, |o| {
                d.delegated_to.is_empty() || d.delegated_to.contains(&o)
            })
        })
        .map(|d| Domain {
            id: d.id,
            name: d.name.clone(),
        })
        .collect();
    super::certs::paged(rows, &q)
}

/// `GET /domain/v1/{id}`.
pub async fn domain(State(s): St, Path(id): Path<String>) -> Response {
    let Some(d) = s.cfg.domains.iter().find(|d| d.id.to_string() == id) else {
        return scm_error(
            StatusCode::NOT_FOUND,
            -1101,
            format!("Domain '{id}' not found"),
        );
    };
    let orgs: Vec<i64> = if d.delegated_to.is_empty() {
        s.cfg
            .organizations
            .iter()
            .flat_map(|o| std::iter::once(o.id).chain(o.departments.iter().map(|d| d.id)))
            .collect()
    } else {
        d.delegated_to.clone()
    };
    let mut privileges = vec!["DOMAIN".to_string()];
    if d.subdomains {
        privileges.push("SUBDOMAIN".into());
        privileges.push("WILDCARD_1ST_LEVEL".into());
    }
    Json(DomainDetails {
        id: d.id,
        name: d.name.clone(),
        delegation_status: Some("ACTIVE".into()),
        state: Some("ACTIVE".into()),
        validation_status: Some(validation_status(d).into()),
        dcv_expiration: d.dcv_expiration,
        delegations: orgs
            .into_iter()
            .map(|org_id| Delegation {
                org_id,
                cert_types: vec!["SSL".into()],
                domain_certificate_request_privileges: privileges.clone(),
            })
            .collect(),
    })
    .into_response()
}

/// `POST /dcv/v2/validation/status {"domain"}`.
pub async fn dcv_status(State(s): St, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = match str_field(&v, "domain") {
        Ok(Some(n)) => n.to_ascii_lowercase(),
        Ok(None) => return bad(-1002, "domain is required"),
        Err(r) => return r,
    };
    let entry = s
        .cfg
        .domains
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(&name));
    let (status, exp) = match entry {
        Some(d) => (validation_status(d), d.dcv_expiration),
        None if s.cfg.allow_any_domain => ("VALIDATED", None),
        None => ("NOT_VALIDATED", None),
    };
    let mut out = serde_json::json!({"status": status});
    if let Some(e) = exp {
        out["expirationDate"] = serde_json::json!(e.format("%Y-%m-%d").to_string());
    }
    Json(out).into_response()
}
