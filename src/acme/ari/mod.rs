//! ACME Renewal Information (RFC 9773): the renewalInfo resource (when a client should renew a
//! certificate) and newOrder's `replaces` (which certificate an order renews). A certificate SCM
//! reports revoked, replaced or expired, or one the operator marks with `certs renew-now`, gets a
//! window in the past: clients that check ARI renew it at their next run.

pub mod certid;
pub mod window;

pub use certid::CertId;
pub use window::{suggested_window, Window, WindowPercent};

use crate::acme::{AcmeContext, Error, ProblemType, Result};
use crate::model::Identifier;
use crate::model::{Account, Order};
use crate::store::{AriCertificate, ReplacementClaim};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Reason codes of a renew-now mark: stored with the mark, logged, and sent as `?reason=` of
/// `explanationURL` so an operator's page can explain each.
pub mod reasons {
    /// `certs renew-now` without `--reason`.
    pub const OPERATOR: &str = "operator";
    /// Revoked through the bridge (revokeCert); derived from the revocation, never stored.
    pub const REVOKED: &str = "revoked";

    /// The code for a status SCM reports outside the bridge, if that status means "renew now".
    pub fn for_scm_status(status: &crate::scm::types::CertStatus) -> Option<&'static str> {
        use crate::scm::types::CertStatus;
        match status {
            CertStatus::Revoked => Some("scm-revoked"),
            CertStatus::Replaced => Some("scm-replaced"),
            CertStatus::Expired => Some("scm-expired"),
            _ => None,
        }
    }

    /// Whether an operator-given code is usable in a URL query and a log line as is.
    pub fn is_valid(code: &str) -> bool {
        (1..=40).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
}

/// The renewalInfo object (RFC 9773 §4.2).
#[derive(Debug, Clone, Serialize)]
pub struct RenewalInfo {
    #[serde(rename = "suggestedWindow")]
    pub suggested_window: SuggestedWindow,
    #[serde(rename = "explanationURL", skip_serializing_if = "Option::is_none")]
    pub explanation_url: Option<String>,
}

/// `suggestedWindow`: RFC 3339 timestamps.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestedWindow {
    pub start: String,
    pub end: String,
}

/// Checks the ARI settings (`Config` validation): window percentages, a sane Retry-After.
pub fn validate_config(
    cfg: &crate::config::Config,
) -> std::result::Result<(), crate::config::InvalidSetting> {
    cfg.acme
        .ari_renewal_window_percent
        .validate("acme.ari_renewal_window_percent")?;
    for (name, p) in &cfg.profiles {
        if let Some(w) = p.renewal_window_percent {
            w.validate(&format!("profiles.{name}.renewal_window_percent"))?;
        }
    }
    if !(1..=86_400).contains(&cfg.acme.ari_retry_after_secs) {
        return Err(
            "acme.ari_retry_after_secs must be between 1 and 86400 (RFC 9773 §4.3.2: clients \
             clamp other values anyway)"
                .into(),
        );
    }
    Ok(())
}

/// `GET renewalInfo/{certID}`: the suggested window of a certificate this server issued.
/// A text that is not a certID is `malformed` (400); an unknown certificate 404.
pub async fn renewal_info(ctx: &AcmeContext, cert_id: &str) -> Result<RenewalInfo> {
    let id = parse(cert_id)?;
    let cert = find(ctx, &id)
        .await?
        .ok_or_else(|| Error::not_found("certificate issued by this server with that certID"))?;
    let leaf = Leaf::of(&cert)?;
    let (since, reason) = match (cert.revoked_at, cert.renew_now_at) {
        (Some(r), _) => (Some(r), Some(reasons::REVOKED)),
        (None, Some(m)) => (
            Some(m),
            Some(
                cert.renew_now_reason
                    .as_deref()
                    .unwrap_or(reasons::OPERATOR),
            ),
        ),
        (None, None) => (None, None),
    };
    let w = suggested_window(
        leaf.not_before,
        cert.not_after,
        window_of(ctx, &cert),
        since,
    );
    if let Some(reason) = reason {
        tracing::debug!(certificate = %cert.id, reason, "renewalInfo: renew now");
    }
    Ok(RenewalInfo {
        suggested_window: SuggestedWindow {
            start: ts(w.start),
            end: ts(w.end),
        },
        explanation_url: explanation_url(ctx, reason),
    })
}

/// Checks newOrder's `replaces` (RFC 9773 §5): a certID of a certificate this server issued to
/// this account, sharing an identifier with the new order. Whether another order already replaces
/// it is decided atomically by [`claim`] once the order exists.
pub async fn check_replaces(
    ctx: &AcmeContext,
    account: &Account,
    identifiers: &[Identifier],
    replaces: &str,
) -> Result<AriCertificate> {
    let id = parse(replaces)?;
    let cert = find(ctx, &id).await?.ok_or_else(|| {
        Error::malformed(format!(
            "\"replaces\" names {replaces}, which is not a certificate this server issued"
        ))
    })?;
    if cert.account_id != account.id {
        return Err(Error::unauthorized(
            "\"replaces\" names a certificate issued to another account; only its own account \
             may replace it",
        ));
    }
    let same =
        |a: &Identifier, b: &Identifier| a.kind == b.kind && a.value.eq_ignore_ascii_case(&b.value);
    if !identifiers
        .iter()
        .any(|n| cert.identifiers.iter().any(|o| same(n, o)))
    {
        return Err(Error::malformed(
            "\"replaces\" names a certificate that shares no identifier with this order",
        ));
    }
    Ok(cert)
}

/// Records that `order` replaces `cert`; `alreadyReplaced` (409) when another live order already
/// does, and then `order` is made invalid so it is never used.
pub async fn claim(ctx: &AcmeContext, order: &Order, cert: &AriCertificate) -> Result<()> {
    match ctx
        .store
        .claim_replacement(&cert.id, &order.id, ctx.now())
        .await?
    {
        ReplacementClaim::Claimed => {
            tracing::info!(order = %order.id, certificate = %cert.id, ssl_id = cert.ssl_id, "order replaces a certificate");
            Ok(())
        }
        ReplacementClaim::AlreadyReplaced(other) => {
            let err = Error::new(
                ProblemType::AlreadyReplaced,
                format!(
                    "the certificate named in \"replaces\" is already being replaced by order {}",
                    ctx.urls.order(&other)
                ),
            );
            ctx.store
                .abandon_order(&order.id, &err.problem_document(), ctx.now())
                .await?;
            Err(err)
        }
    }
}

/// The enrollment's SCM `comments`: the idempotency marker first and intact (the worker finds a
/// lost enroll by it), then the sslId of the certificate this order replaces, so SCM's
/// administrators see the link.
pub fn enroll_comments(marker: &str, replaces_ssl_id: Option<i64>) -> String {
    match replaces_ssl_id {
        Some(id) => format!("{marker}; replaces sslId {id}"),
        None => marker.to_string(),
    }
}

fn parse(text: &str) -> Result<CertId> {
    CertId::parse(text).ok_or_else(|| {
        Error::malformed(format!(
            "{text:?} is not an ARI certID: base64url(AKI keyIdentifier) \".\" base64url(serial), \
             without padding (RFC 9773 §4.1)"
        ))
    })
}

/// The certificate a certID names: the serial finds it, the AKI must match its issuer's key.
async fn find(ctx: &AcmeContext, id: &CertId) -> Result<Option<AriCertificate>> {
    let Some(cert) = ctx
        .store
        .ari_certificate_by_serial(&id.serial_hex())
        .await?
    else {
        return Ok(None);
    };
    let leaf = Leaf::of(&cert)?;
    Ok((leaf.key_id.as_deref() == Some(id.key_id.as_slice())).then_some(cert))
}

/// What the stored leaf adds to the row.
struct Leaf {
    not_before: DateTime<Utc>,
    key_id: Option<Vec<u8>>,
}

impl Leaf {
    fn of(cert: &AriCertificate) -> Result<Self> {
        let corrupt =
            || Error::internal(format!("certificate {} has an unreadable chain", cert.id));
        let der = crate::scm::certificates_in(cert.chain_pem.as_bytes())
            .ok()
            .and_then(|v| v.into_iter().next())
            .ok_or_else(corrupt)?;
        let (_, x) = X509Certificate::from_der(&der).map_err(|_| corrupt())?;
        Ok(Self {
            not_before: DateTime::from_timestamp(x.validity().not_before.timestamp(), 0)
                .ok_or_else(corrupt)?,
            key_id: certid::authority_key_id(&x),
        })
    }
}

fn window_of(ctx: &AcmeContext, cert: &AriCertificate) -> WindowPercent {
    cert.profile
        .as_ref()
        .and_then(|p| ctx.config.profiles.get(p))
        .and_then(|p| p.renewal_window_percent)
        .unwrap_or(ctx.config.acme.ari_renewal_window_percent)
}

fn explanation_url(ctx: &AcmeContext, reason: Option<&str>) -> Option<String> {
    let mut url = ctx.config.acme.ari_explanation_url.clone()?;
    if let Some(r) = reason {
        url.query_pairs_mut().append_pair("reason", r);
    }
    Some(url.to_string())
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_keep_the_marker_first() {
        let m = "acme-sectigo-bridge order abc";
        assert_eq!(enroll_comments(m, None), m);
        let c = enroll_comments(m, Some(4300000001));
        assert!(c.starts_with(m) && c.ends_with("replaces sslId 4300000001"));
    }

    #[test]
    fn ari_settings_are_read_and_checked() {
        let load = |text: &str| crate::config::Config::from_table(text.parse().unwrap());
        let c = load("").unwrap();
        assert_eq!(c.acme.ari_retry_after_secs, 21600);
        assert_eq!(c.acme.ari_renewal_window_percent, WindowPercent(67, 90));
        assert_eq!(c.issuance.status_sweep_calls_per_hour, 600);
        let c = load(
            "[acme]\nari_renewal_window_percent = [50, 75]\n\
             [profiles.ov]\ndescription = \"x\"\nscm_cert_type = 1\nterm_days = 90\n\
             renewal_window_percent = [10, 20]",
        )
        .unwrap();
        assert_eq!(c.acme.ari_renewal_window_percent, WindowPercent(50, 75));
        assert_eq!(
            c.profiles["ov"].renewal_window_percent,
            Some(WindowPercent(10, 20))
        );
        let e = load("[acme]\nari_renewal_window_percent = [90, 60]").unwrap_err();
        assert!(
            e.to_string().contains("acme.ari_renewal_window_percent"),
            "{e}"
        );
        let e = load(
            "[profiles.ov]\ndescription = \"x\"\nscm_cert_type = 1\nterm_days = 90\n\
             renewal_window_percent = [10, 120]",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("profiles.ov.renewal_window_percent"),
            "{e}"
        );
        assert!(load("[acme]\nari_retry_after_secs = 0").is_err());
    }

    #[test]
    fn reason_codes() {
        assert!(reasons::is_valid("operator") && reasons::is_valid("ca-incident-2026"));
        assert!(!reasons::is_valid("") && !reasons::is_valid("Bad Reason"));
    }
}
