//! newOrder (§7.4) and the orders list (§7.1.2.1): what an account may order, which authorizations
//! it needs, and which existing ones it can reuse.

use crate::acme::resources::{order_resource, OrderResource};
use crate::acme::types::NewOrderRequest;
use crate::acme::{AcmeContext, Error, Result};
use crate::model::status::{AuthzStatus, ChallengeStatus, OrderStatus};
use crate::model::{Account, Authorization, Challenge, Identifier, Order};
use crate::policy::{self, NamePattern};
use crate::store::{NewOrder, OrderAuthz};
use chrono::Duration;

/// Bytes of randomness in a challenge token (RFC 8555 §8.3 asks for at least 128 bits).
const TOKEN_BYTES: usize = 32;

/// newOrder's rate limits, per account and per EAB key (`crate::limits`): every request counts,
/// also one answered with an existing order or refused, since a looping client costs either way.
fn check_order_rate(ctx: &AcmeContext, account: &Account) -> Result<()> {
    use crate::limits::LimitHit;
    ctx.limits
        .new_order(&account.id, account.eab_kid.as_deref())
        .map_err(|hit| match hit {
            LimitHit::Account(e) => Error::rate_limited(
                "this account sends newOrder requests faster than this server allows \
                 (limits.new_order_per_account); an order for the same names can be fetched \
                 again instead of created",
                e,
            ),
            LimitHit::EabKey(e) => Error::rate_limited(
                "the accounts of this account's External Account Binding key together send \
                 newOrder requests faster than this server allows (limits.new_order_per_eab_key)",
                e,
            ),
        })
}

/// Creates an order, or returns an identical pending/ready one of the same account. Four steps:
/// [`parse`] the request, apply the [`policy`](allowed) of the account's EAB key, [`plan`] the
/// authorizations (reused, trusted from SCM, or new), then persist the order.
pub async fn new_order(ctx: &AcmeContext, account: &Account, payload: &[u8]) -> Result<Order> {
    check_order_rate(ctx, account)?;
    let req = parse(payload)?;
    let allowed = allowed(ctx, account, &req).await?;
    let now = ctx.now();
    let key = identifiers_key(&allowed.identifiers);
    if let Some(existing) = ctx
        .store
        .find_reusable_order(&account.id, &key, allowed.profile.as_deref(), now)
        .await?
        .filter(|o| o.replaces == req.replaces)
    {
        return Ok(existing);
    }
    let expires_at = now + Duration::seconds(ctx.config.acme.order_lifetime_secs);
    let authzs = plan(ctx, account, &allowed, expires_at).await?;
    let all_valid = authzs.iter().all(PlannedAuthz::is_valid);
    let new = NewOrder {
        id: crate::ids::random_id(),
        account_id: account.id.clone(),
        status: if all_valid {
            OrderStatus::Ready
        } else {
            OrderStatus::Pending
        },
        identifiers: allowed.identifiers,
        identifiers_key: key,
        profile: allowed.profile,
        expires_at,
        replaces: req.replaces.clone(),
        authzs: authzs.into_iter().map(|a| a.0).collect(),
    };
    let order = ctx.store.create_order(&new, now).await?;
    if let Some(cert) = &allowed.replaced {
        crate::acme::ari::claim(ctx, &order, cert).await?;
    }
    tracing::info!(account = %account.id, order = %order.id, "order created");
    Ok(order)
}

/// Step 1: the newOrder payload, with what this server does not support refused.
fn parse(payload: &[u8]) -> Result<NewOrderRequest> {
    let req: NewOrderRequest = serde_json::from_slice(payload)
        .map_err(|e| Error::malformed(format!("newOrder payload is not valid: {e}")))?;
    if req.not_before.is_some() || req.not_after.is_some() {
        return Err(Error::malformed(
            "notBefore and notAfter are not supported: the validity comes from the certificate \
             profile; remove them from the newOrder request",
        ));
    }
    Ok(req)
}

/// What the account may order of what it asked for.
struct Allowed {
    /// The account's EAB key, when it has one: its policy and SCM organization.
    eab: Option<std::sync::Arc<crate::model::EabKey>>,
    /// Canonical identifiers, in the order asked.
    identifiers: Vec<Identifier>,
    profile: Option<String>,
    /// The certificate a `replaces` names, checked.
    replaced: Option<crate::store::AriCertificate>,
}

/// Step 2: the EAB key's name patterns and profiles, SCM's ability to issue the profile, and
/// `replaces` (RFC 9773): everything that can refuse the order before anything is stored.
async fn allowed(ctx: &AcmeContext, account: &Account, req: &NewOrderRequest) -> Result<Allowed> {
    let eab = crate::acme::eab_policies::policy_for_ordering(ctx, account).await?;
    // Accounts created without EAB (only possible when the operator turned it off) may order any
    // name; control of each name is still validated.
    let patterns = match &eab {
        Some(k) => NamePattern::parse_all(&k.allowed_patterns)
            .map_err(|e| Error::internal(format!("EAB key {} has a bad pattern: {e:?}", k.kid)))?,
        None => vec![NamePattern::any()],
    };
    let identifiers = policy::check_new_order(&ctx.config.policy, &patterns, &req.identifiers)?;
    let allowed_profiles = eab.as_ref().map(|k| k.profiles.clone()).unwrap_or_default();
    let profile = policy::resolve_profile(
        &ctx.config.policy,
        &ctx.config.profiles,
        req.profile.as_deref(),
        &allowed_profiles,
    )?;
    if ctx.config.scm.is_some() {
        // Refuse now what finalize could never issue (no SCM org, no type for the profile).
        crate::acme::scm_target::scm_target(&ctx.config, eab.as_deref(), profile.as_deref())?;
    }
    let replaced = match &req.replaces {
        Some(r) => Some(crate::acme::ari::check_replaces(ctx, account, &identifiers, r).await?),
        None => None,
    };
    Ok(Allowed {
        eab,
        identifiers,
        profile,
        replaced,
    })
}

/// One authorization of the planned order.
struct PlannedAuthz(OrderAuthz);

impl PlannedAuthz {
    /// Whether the order need not wait for it: a reused authorization is valid (only valid ones
    /// are reused), a new one only when SCM's domain validation is trusted for its name.
    fn is_valid(&self) -> bool {
        match &self.0 {
            OrderAuthz::Reuse(_) => true,
            OrderAuthz::New(a) => a.status == AuthzStatus::Valid,
        }
    }
}

/// Step 3: per identifier, an existing authorization that outlives the order, or a new one —
/// valid at once when the EAB key trusts SCM's domain validation and SCM covers the name, else
/// pending with one challenge per type the identifier allows.
async fn plan(
    ctx: &AcmeContext,
    account: &Account,
    allowed: &Allowed,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<PlannedAuthz>> {
    let acme_cfg = &ctx.config.acme;
    let now = ctx.now();
    let mut authzs = Vec::with_capacity(allowed.identifiers.len());
    for id in &allowed.identifiers {
        let wildcard = policy::is_wildcard(id);
        let base = Identifier {
            kind: id.kind.clone(),
            value: id.value.trim_start_matches("*.").to_string(),
        };
        // Only an authorization that outlives the new order is reused: otherwise the order would
        // turn invalid before it expires.
        let reusable = if acme_cfg.authz_reuse_secs > 0 {
            ctx.store
                .find_reusable_authz(
                    &account.id,
                    &base,
                    wildcard,
                    now - Duration::seconds(acme_cfg.authz_reuse_secs),
                    expires_at,
                )
                .await?
        } else {
            None
        };
        if let Some(authz_id) = reusable {
            authzs.push(PlannedAuthz(OrderAuthz::Reuse(authz_id)));
            continue;
        }
        let trusted = trusted_by_scm(ctx, allowed.eab.as_deref(), &base, wildcard).await;
        let authz_id = crate::ids::random_id();
        let challenges = policy::challenge_types_for(id)
            .into_iter()
            .map(|t| Challenge {
                id: crate::ids::random_id(),
                authz_id: authz_id.clone(),
                kind: t.as_str().to_string(),
                token: crate::ids::random_b64(TOKEN_BYTES),
                status: ChallengeStatus::Pending,
                validated_at: None,
                error: None,
                validation_record: None,
            })
            .collect();
        authzs.push(PlannedAuthz(OrderAuthz::New(Authorization {
            id: authz_id,
            account_id: account.id.clone(),
            identifier: base,
            wildcard,
            status: if trusted {
                AuthzStatus::Valid
            } else {
                AuthzStatus::Pending
            },
            expires_at: if trusted {
                now + Duration::seconds(acme_cfg.authz_valid_secs)
            } else {
                expires_at
            },
            validated_at: trusted.then_some(now),
            challenges,
        })));
    }
    Ok(authzs)
}

/// Whether the account's EAB key trusts SCM's domain validation and SCM covers this name.
async fn trusted_by_scm(
    ctx: &AcmeContext,
    eab: Option<&crate::model::EabKey>,
    base: &Identifier,
    wildcard: bool,
) -> bool {
    let (Some(key), Some(dcv)) = (eab, ctx.dcv.as_ref()) else {
        return false;
    };
    if !key.trust_scm_dcv || base.kind != "dns" {
        return false;
    }
    let org = key
        .scm_org_id
        .or(ctx.config.scm.as_ref().and_then(|s| s.org_id));
    match org {
        Some(org) => dcv.covers(org, &base.value, wildcard).await,
        None => false,
    }
}

/// Sorted `type:value` list: equal for two requests naming the same identifiers in any order.
fn identifiers_key(ids: &[Identifier]) -> String {
    let mut parts: Vec<String> = ids
        .iter()
        .map(|i| format!("{}:{}", i.kind, i.value))
        .collect();
    parts.sort();
    parts.join(",")
}

/// An order of `account`, rendered; `not found` when it is another account's.
pub async fn order_for(
    ctx: &AcmeContext,
    account: &Account,
    id: &str,
) -> Result<(Order, OrderResource)> {
    let order = ctx
        .store
        .order(id)
        .await?
        .filter(|o| o.account_id == account.id)
        .ok_or_else(|| Error::not_found("order"))?;
    let resource = render(ctx, &order).await?;
    Ok((order, resource))
}

/// Renders an order with the current state of its authorizations.
pub async fn render(ctx: &AcmeContext, order: &Order) -> Result<OrderResource> {
    Ok(order_resource(ctx, order, &order.authz_states))
}

/// One page of the account's orders list and the cursor of the next page, if any.
pub async fn orders_page(
    ctx: &AcmeContext,
    account: &Account,
    cursor: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    let size = ctx.config.acme.orders_page_size;
    let mut ids = ctx
        .store
        .account_order_ids(&account.id, cursor, size + 1)
        .await?;
    let next = if ids.len() as i64 > size {
        ids.truncate(size as usize);
        ids.last().cloned()
    } else {
        None
    };
    Ok((ids.iter().map(|id| ctx.urls.order(id)).collect(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_key_ignores_order() {
        let a = Identifier {
            kind: "dns".into(),
            value: "a.example".into(),
        };
        let b = Identifier {
            kind: "dns".into(),
            value: "b.example".into(),
        };
        assert_eq!(
            identifiers_key(&[a.clone(), b.clone()]),
            identifiers_key(&[b, a])
        );
    }
}
