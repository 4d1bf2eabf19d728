//! SSL certificate lifecycle calls (`/ssl/v1`): enroll, collect, details, list/count, revoke, renew,
//! replace, approve/decline.

use crate::scm::client::{decode, total_count, Body, ScmClient};
use crate::scm::collect::{CollectFormat, CollectStyle, Collected};
use crate::scm::error::ScmError;
use crate::scm::types::{
    CertificateDetails, EnrollRequest, EnrollResponse, ListFilter, ListItem, Page, RenewResponse,
    RevocationReason,
};
use http::Method;
use serde_json::json;

impl EnrollRequest {
    /// SCM's JSON body: `subjAltNames` is one comma-separated string (an array gives -1002).
    pub fn to_wire(&self) -> serde_json::Value {
        let mut body = json!({
            "orgId": self.org_id,
            "csr": self.csr.trim(),
            "certType": self.cert_type,
            "term": self.term,
            "subjAltNames": self.subj_alt_names.join(","),
        });
        let obj = body.as_object_mut().expect("object");
        if let Some(cn) = &self.common_name {
            obj.insert("commonName".into(), json!(cn));
        }
        if let Some(c) = &self.comments {
            obj.insert("comments".into(), json!(c));
        }
        if let Some(r) = &self.external_requester {
            obj.insert("externalRequester".into(), json!(r));
        }
        if !self.custom_fields.is_empty() {
            obj.insert("customFields".into(), json!(self.custom_fields));
        }
        body
    }
}

/// Replace's JSON body. Unlike enroll's `subjAltNames` (one comma-separated string),
/// `subjectAlternativeNames` is an **array** here. `reason` is required: blank becomes a default
/// text, and it is cut to 512 characters like revoke's.
pub fn replace_body(csr_pem: &str, reason: &str, sans: &[String]) -> serde_json::Value {
    let reason = if reason.trim().is_empty() {
        "replaced via acme-sectigo-bridge"
    } else {
        reason
    };
    let reason: String = reason.chars().take(512).collect();
    json!({"csr": csr_pem.trim(), "reason": reason, "subjectAlternativeNames": sans})
}

impl ScmClient {
    /// `POST /ssl/v1/enroll`. On an error with `may_have_taken_effect()`, reconcile (list + details on
    /// the `comments` marker) before enrolling again.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, ScmError> {
        let body = req.to_wire();
        let (r, _) = self
            .json(Method::POST, "/ssl/v1/enroll", &[], Body::Json(&body), true)
            .await?;
        Ok(r)
    }

    /// [`ScmClient::enroll`] that calls `on_send` just before the request goes out — after it got
    /// its concurrency slot, which may take a while when SCM is slow — so the caller can record
    /// when the enroll really started (the settle window of an unknown outcome counts from there,
    /// #12 item 2). An `Err` from `on_send` sends nothing and is returned as the outer `Err`.
    pub async fn enroll_noting_send<E, Fut>(
        &self,
        req: &EnrollRequest,
        on_send: impl FnOnce() -> Fut,
    ) -> Result<Result<EnrollResponse, ScmError>, E>
    where
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        let permit = match self.permit().await {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        on_send().await?;
        let body = req.to_wire();
        let path = "/ssl/v1/enroll";
        let reply = self
            .send_holding(Method::POST, path, &[], Body::Json(&body), true)
            .await;
        drop(permit);
        Ok(reply.and_then(|r| decode(path, r, true).map(|(v, _)| v)))
    }

    /// `GET /ssl/v1/collect/{id}?format=F`. Not ready → an error whose class is `Pending` or
    /// `AwaitingApproval` (or [`ScmError::NotReady`] for an empty body).
    pub async fn collect(&self, ssl_id: i64, format: CollectFormat) -> Result<Collected, ScmError> {
        self.collect_with(ssl_id, format, CollectStyle::Query).await
    }

    /// Collect with an explicit URL style (`?format=F` or `/F`).
    pub async fn collect_with(
        &self,
        ssl_id: i64,
        format: CollectFormat,
        style: CollectStyle,
    ) -> Result<Collected, ScmError> {
        let (path, query) = match style {
            CollectStyle::Query => (
                format!("/ssl/v1/collect/{ssl_id}"),
                vec![("format", format.as_str().to_string())],
            ),
            CollectStyle::Path => (
                format!("/ssl/v1/collect/{ssl_id}/{}", format.as_str()),
                vec![],
            ),
        };
        let reply = self
            .send(Method::GET, &path, &query, Body::None, false)
            .await?;
        if reply.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ScmError::NotReady);
        }
        let filename = reply
            .headers
            .get(http::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("filename=").nth(1))
            .map(|f| f.trim_matches(['"', ' ', ';']).to_string());
        Ok(Collected {
            format,
            body: reply.body,
            filename,
        })
    }

    /// `GET /ssl/v1/{id}`: status, dates, names, comments.
    pub async fn details(&self, ssl_id: i64) -> Result<CertificateDetails, ScmError> {
        let (mut d, _): (CertificateDetails, _) = self
            .json(
                Method::GET,
                &format!("/ssl/v1/{ssl_id}"),
                &[],
                Body::None,
                false,
            )
            .await?;
        if d.id == 0 {
            d.id = ssl_id;
        }
        Ok(d)
    }

    /// `GET /ssl/v1?…`: one page plus `X-Total-Count`.
    pub async fn list(&self, filter: &ListFilter) -> Result<Page<ListItem>, ScmError> {
        let (items, headers) = self
            .json(Method::GET, "/ssl/v1", &filter.query(), Body::None, false)
            .await?;
        Ok(Page {
            items,
            total: total_count(&headers),
        })
    }

    /// Every certificate matching `filter` (its paging fields are ignored), newest (highest sslId)
    /// first: SCM documents no sort order, so all pages are read — 200 rows each, until a page
    /// comes back short — and sorted here. For reconciliation, where missing the one row that
    /// matters means enrolling twice (#12 item 3).
    pub async fn list_all(&self, filter: &ListFilter) -> Result<Vec<ListItem>, ScmError> {
        const PAGE: u64 = 200;
        let mut all: Vec<ListItem> = Vec::new();
        let mut f = filter.clone();
        f.size = Some(PAGE);
        loop {
            f.position = Some(all.len() as u64);
            let page = self.list(&f).await?;
            let n = page.items.len() as u64;
            all.extend(page.items);
            let done = n < PAGE || page.total.is_some_and(|t| all.len() as u64 >= t);
            if done {
                break;
            }
        }
        all.sort_by_key(|i| std::cmp::Reverse(i.ssl_id));
        all.dedup_by_key(|i| i.ssl_id);
        Ok(all)
    }

    /// `HEAD /ssl/v1?…`: the number of matching certificates.
    pub async fn count(&self, filter: &ListFilter) -> Result<u64, ScmError> {
        let mut f = filter.clone();
        f.position = None;
        f.size = None;
        let reply = self
            .send(Method::HEAD, "/ssl/v1", &f.query(), Body::None, false)
            .await?;
        total_count(&reply.headers).ok_or_else(|| ScmError::Decode {
            message: "HEAD /ssl/v1 without X-Total-Count".into(),
            mutating: false,
        })
    }

    /// `POST /ssl/v1/revoke/{id}` with the (now mandatory) `reasonCode`.
    pub async fn revoke(
        &self,
        ssl_id: i64,
        reason: RevocationReason,
        text: &str,
    ) -> Result<(), ScmError> {
        self.revoke_at(&format!("/ssl/v1/revoke/{ssl_id}"), reason, text)
            .await
    }

    /// `POST /ssl/v1/revoke/serial/{serial}` (hex, with or without colons).
    pub async fn revoke_by_serial(
        &self,
        serial: &str,
        reason: RevocationReason,
        text: &str,
    ) -> Result<(), ScmError> {
        self.revoke_at(&format!("/ssl/v1/revoke/serial/{serial}"), reason, text)
            .await
    }

    async fn revoke_at(
        &self,
        path: &str,
        reason: RevocationReason,
        text: &str,
    ) -> Result<(), ScmError> {
        let text = if text.trim().is_empty() {
            "revoked via acme-sectigo-bridge"
        } else {
            text
        };
        let text: String = text.chars().take(512).collect();
        let body = json!({"reasonCode": reason as u8, "reason": text});
        self.send(Method::POST, path, &[], Body::Json(&body), true)
            .await?;
        Ok(())
    }

    /// `POST /ssl/v1/renewById/{id}` (`{}` or `{"csr"}`): a new certificate with the same details.
    pub async fn renew_by_id(
        &self,
        ssl_id: i64,
        csr: Option<&str>,
    ) -> Result<RenewResponse, ScmError> {
        let body = match csr {
            Some(c) => json!({"csr": c.trim()}),
            None => json!({}),
        };
        let (r, _) = self
            .json(
                Method::POST,
                &format!("/ssl/v1/renewById/{ssl_id}"),
                &[],
                Body::Json(&body),
                true,
            )
            .await?;
        Ok(r)
    }

    /// `POST /ssl/v1/replace/{id}` → 204: the same sslId gets a new certificate for `csr_pem`'s key
    /// carrying `sans` (empty = keep the current names). The old certificate is no longer served;
    /// collect the new one as after an enroll (it may be pending first). Refusals: unknown id -124,
    /// not issued -102, CSR/key codes as enroll's, DCV -107.
    pub async fn replace(
        &self,
        ssl_id: i64,
        csr_pem: &str,
        reason: &str,
        sans: &[String],
    ) -> Result<(), ScmError> {
        let body = replace_body(csr_pem, reason, sans);
        self.send(
            Method::POST,
            &format!("/ssl/v1/replace/{ssl_id}"),
            &[],
            Body::Json(&body),
            true,
        )
        .await?;
        Ok(())
    }

    /// `POST /ssl/v1/approve/{id}`: only from `Requested` (else -1112).
    pub async fn approve(&self, ssl_id: i64, message: &str) -> Result<(), ScmError> {
        let body = json!({"message": message});
        self.send(
            Method::POST,
            &format!("/ssl/v1/approve/{ssl_id}"),
            &[],
            Body::Json(&body),
            true,
        )
        .await?;
        Ok(())
    }

    /// `POST /ssl/v1/decline/{id}`: only from `Requested` (else -1112).
    pub async fn decline(&self, ssl_id: i64, message: &str) -> Result<(), ScmError> {
        let body = json!({"message": message});
        self.send(
            Method::POST,
            &format!("/ssl/v1/decline/{ssl_id}"),
            &[],
            Body::Json(&body),
            true,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_sends_names_as_an_array_and_always_a_reason() {
        let sans = vec!["a.example".to_string(), "b.example".to_string()];
        let b = replace_body("\n-----BEGIN CERTIFICATE REQUEST-----\n", "  ", &sans);
        assert_eq!(
            b["subjectAlternativeNames"],
            json!(["a.example", "b.example"])
        );
        assert_eq!(b["csr"], "-----BEGIN CERTIFICATE REQUEST-----");
        assert_eq!(b["reason"], "replaced via acme-sectigo-bridge");
        let long = "x".repeat(600);
        let b = replace_body("csr", &long, &[]);
        assert_eq!(b["reason"].as_str().unwrap().len(), 512);
        assert_eq!(b["subjectAlternativeNames"], json!([]));
    }
}
