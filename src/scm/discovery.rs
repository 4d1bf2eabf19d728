//! Discovery calls an operator (and the start-up checks) need: organizations, SSL types, custom
//! fields, and domains/DCV (to trust names SCM already validated).

use crate::scm::client::{total_count, Body, ScmClient};
use crate::scm::error::ScmError;
use crate::scm::types::{
    CustomField, DcvStatus, Domain, DomainDetails, Organization, OrganizationDetails, Page, SslType,
};
use http::Method;
use serde_json::json;

/// Filters and paging for `GET /domain/v1`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainFilter {
    /// First row.
    pub position: Option<u64>,
    /// Rows per page.
    pub size: Option<u64>,
    /// Domain name.
    pub name: Option<String>,
    /// Domain state.
    pub state: Option<String>,
    /// Validation status.
    pub status: Option<String>,
    /// Delegated to this org or department.
    pub org_id: Option<i64>,
}

impl ScmClient {
    /// `GET /organization/v1`: organizations with their departments.
    pub async fn organizations(&self) -> Result<Vec<Organization>, ScmError> {
        Ok(self
            .json(Method::GET, "/organization/v1", &[], Body::None, false)
            .await?
            .0)
    }

    /// `GET /organization/v1/{id}`: includes whether the SSL Web API is enabled.
    pub async fn organization(&self, id: i64) -> Result<OrganizationDetails, ScmError> {
        Ok(self
            .json(
                Method::GET,
                &format!("/organization/v1/{id}"),
                &[],
                Body::None,
                false,
            )
            .await?
            .0)
    }

    /// `GET /ssl/v1/types[?organizationId=N]`: profiles with their allowed terms.
    pub async fn ssl_types(&self, org_id: Option<i64>) -> Result<Vec<SslType>, ScmError> {
        let q: Vec<(&str, String)> = org_id
            .map(|o| vec![("organizationId", o.to_string())])
            .unwrap_or_default();
        Ok(self
            .json(Method::GET, "/ssl/v1/types", &q, Body::None, false)
            .await?
            .0)
    }

    /// `GET /ssl/v1/customFields`: enroll must carry every mandatory one.
    pub async fn custom_fields(&self) -> Result<Vec<CustomField>, ScmError> {
        Ok(self
            .json(Method::GET, "/ssl/v1/customFields", &[], Body::None, false)
            .await?
            .0)
    }

    /// `GET /domain/v1?…`: one page of domains plus `X-Total-Count`.
    pub async fn domains(&self, f: &DomainFilter) -> Result<Page<Domain>, ScmError> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(v) = f.position {
            q.push(("position", v.to_string()));
        }
        if let Some(v) = f.size {
            q.push(("size", v.to_string()));
        }
        if let Some(v) = &f.name {
            q.push(("name", v.clone()));
        }
        if let Some(v) = &f.state {
            q.push(("state", v.clone()));
        }
        if let Some(v) = &f.status {
            q.push(("status", v.clone()));
        }
        if let Some(v) = f.org_id {
            q.push(("orgId", v.to_string()));
        }
        let (items, headers) = self
            .json(Method::GET, "/domain/v1", &q, Body::None, false)
            .await?;
        Ok(Page {
            items,
            total: total_count(&headers),
        })
    }

    /// `GET /domain/v1/{id}`: delegations and validation state.
    pub async fn domain(&self, id: i64) -> Result<DomainDetails, ScmError> {
        Ok(self
            .json(
                Method::GET,
                &format!("/domain/v1/{id}"),
                &[],
                Body::None,
                false,
            )
            .await?
            .0)
    }

    /// `POST /dcv/v2/validation/status`: whether SCM considers `domain` validated.
    pub async fn dcv_status(&self, domain: &str) -> Result<DcvStatus, ScmError> {
        let body = json!({"domain": domain});
        Ok(self
            .json(
                Method::POST,
                "/dcv/v2/validation/status",
                &[],
                Body::Json(&body),
                false,
            )
            .await?
            .0)
    }
}
