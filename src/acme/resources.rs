//! Orders, authorizations and challenges as clients see them (§7.1.3–7.1.5): stored records plus
//! the status rules evaluated at `now`.

use crate::acme::AcmeContext;
use crate::model::status::{authz_status, order_status};
use crate::model::Identifier;
use crate::model::{Authorization, Challenge, Order};
use crate::model::{AuthzStatus, ChallengeStatus, OrderStatus};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The order object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResource {
    pub status: OrderStatus,
    pub expires: String,
    pub identifiers: Vec<Identifier>,
    pub authorizations: Vec<String>,
    pub finalize: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// RFC 9773 §5: echoed as the client sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// The authorization object.
#[derive(Debug, Serialize)]
pub struct AuthzResource {
    pub identifier: Identifier,
    pub status: AuthzStatus,
    pub expires: String,
    pub challenges: Vec<ChallengeResource>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wildcard: bool,
}

/// The challenge object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub status: ChallengeStatus,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_record: Option<Value>,
}

/// Renders an order; `authzs` are the (status, expiry) of its authorizations in order.
pub fn order_resource(
    ctx: &AcmeContext,
    order: &Order,
    authzs: &[(AuthzStatus, DateTime<Utc>)],
) -> OrderResource {
    let now = ctx.now();
    let effective: Vec<AuthzStatus> = authzs
        .iter()
        .map(|(s, exp)| authz_status(*s, *exp, now))
        .collect();
    let status = order_status(order.status, order.expires_at, &effective, now);
    let error = order.error.clone().or_else(|| {
        (status == OrderStatus::Invalid).then(|| {
            crate::acme::Error::unauthorized(
                "the order or one of its authorizations expired or became invalid; create a new \
                 order",
            )
            .problem_document()
        })
    });
    OrderResource {
        status,
        expires: ts(order.expires_at),
        identifiers: order.identifiers.clone(),
        authorizations: order
            .authz_ids
            .iter()
            .map(|id| ctx.urls.authz(id))
            .collect(),
        finalize: ctx.urls.finalize(&order.id),
        certificate: order
            .certificate_id
            .as_ref()
            .map(|c| ctx.urls.certificate(c)),
        error,
        profile: order.profile.clone(),
        replaces: order.replaces.clone(),
    }
}

/// Renders an authorization with its challenges.
pub fn authz_resource(ctx: &AcmeContext, authz: &Authorization) -> AuthzResource {
    let status = authz_status(authz.status, authz.expires_at, ctx.now());
    // Once valid, only the challenge that succeeded is listed (§7.1.4 allows either).
    let challenges = authz
        .challenges
        .iter()
        .filter(|c| status != AuthzStatus::Valid || c.status == ChallengeStatus::Valid)
        .map(|c| challenge_resource(ctx, c))
        .collect();
    AuthzResource {
        identifier: authz.identifier.clone(),
        status,
        expires: ts(authz.expires_at),
        challenges,
        wildcard: authz.wildcard,
    }
}

/// Renders a challenge.
pub fn challenge_resource(ctx: &AcmeContext, c: &Challenge) -> ChallengeResource {
    ChallengeResource {
        kind: c.kind.clone(),
        url: ctx.urls.challenge(&c.id),
        status: c.status,
        token: c.token.clone(),
        validated: c.validated_at.map(ts),
        error: c.error.clone(),
        validation_record: c.validation_record.clone(),
    }
}
