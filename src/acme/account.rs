//! Account operations (RFC 8555 §7.3): registration with External Account Binding, lookup, update,
//! deactivation and key rollover. The JWS has already been verified by the caller; these functions
//! apply the rules about what the request may do.

use crate::acme::contact::validate_contacts;
use crate::acme::types::{
    AccountResource, AccountUpdateRequest, Directory, DirectoryMeta, KeyChangePayload,
    NewAccountRequest,
};
use crate::acme::{AcmeContext, Error, ProblemType, Result};
use crate::jose::eab::ExternalAccountBinding;
use crate::jose::{Jws, PublicJwk};
use crate::model::{Account, AccountStatus};
use crate::store::{CreateAccountOutcome, KeyChangeOutcome, NewAccount};

/// Result of newAccount: a new account (201) or the one that already has this key (200).
#[derive(Debug)]
pub enum NewAccountOutcome {
    Created(Account),
    Existing(Account),
}

/// The directory (§7.1.1).
pub fn directory(ctx: &AcmeContext) -> Directory {
    let u = &ctx.urls;
    let acme = &ctx.config.acme;
    Directory {
        new_nonce: u.new_nonce(),
        new_account: u.new_account(),
        new_order: u.new_order(),
        revoke_cert: u.revoke_cert(),
        key_change: u.key_change(),
        renewal_info: u.renewal_info(),
        meta: DirectoryMeta {
            terms_of_service: acme.terms_of_service_url.as_ref().map(|u| u.to_string()),
            website: acme.website.as_ref().map(|u| u.to_string()),
            caa_identities: acme.caa_identities.clone(),
            external_account_required: acme.eab_required,
            profiles: ctx
                .config
                .profiles
                .iter()
                .map(|(name, p)| (name.clone(), p.description.clone()))
                .collect(),
        },
    }
}

/// The account as clients see it.
pub fn account_resource(ctx: &AcmeContext, account: &Account) -> AccountResource {
    AccountResource {
        status: account.status,
        contact: account.contact.clone(),
        terms_of_service_agreed: account.tos_agreed,
        orders: ctx.urls.account_orders(&account.id),
        created_at: account.created_at.to_rfc3339(),
        external_account_binding: account.eab_binding.clone(),
    }
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(payload: &[u8], what: &str) -> Result<T> {
    if payload.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(payload)
        .map_err(|e| Error::malformed(format!("{what} payload is not valid: {e}")))
}

/// newAccount (§7.3). An existing key is answered before EAB is looked at, so re-registering never
/// uses up a single-use EAB key.
pub async fn new_account(
    ctx: &AcmeContext,
    key: &PublicJwk,
    url: &str,
    payload: &[u8],
) -> Result<NewAccountOutcome> {
    if payload.is_empty() {
        return Err(Error::malformed("newAccount needs a JSON payload"));
    }
    let req: NewAccountRequest = parse_json(payload, "newAccount")?;
    let thumbprint = key.thumbprint();
    if let Some(existing) = ctx.store.account_by_thumbprint(&thumbprint).await? {
        if existing.status != AccountStatus::Valid {
            return Err(Error::account_not_valid(existing.status));
        }
        return Ok(NewAccountOutcome::Existing(existing));
    }
    if req.only_return_existing {
        return Err(Error::new(
            ProblemType::AccountDoesNotExist,
            "no account exists for this key (onlyReturnExisting was set)",
        ));
    }
    if ctx.config.acme.terms_of_service_url.is_some() && req.terms_of_service_agreed != Some(true) {
        return Err(Error::malformed(
            "the terms of service must be agreed to (termsOfServiceAgreed: true)",
        ));
    }
    let contact = validate_contacts(req.contact.as_deref().unwrap_or_default())?;
    let eab_kid = match &req.external_account_binding {
        Some(eab) => Some(check_eab(ctx, eab, url, key).await?),
        None if ctx.config.acme.eab_required => return Err(Error::new(
            ProblemType::ExternalAccountRequired,
            "this server requires External Account Binding: ask the operator for an EAB kid and \
                 HMAC key and give them to your ACME client",
        )),
        None => None,
    };
    let new = NewAccount {
        id: crate::ids::random_id(),
        key_thumbprint: thumbprint,
        jwk: key.to_value().clone(),
        contact,
        tos_agreed: req.terms_of_service_agreed.unwrap_or(false),
        eab_binding: eab_kid.as_ref().and(req.external_account_binding.clone()),
        eab_kid,
    };
    match ctx.store.create_account(&new, ctx.now()).await? {
        CreateAccountOutcome::Created(a) => {
            tracing::info!(account = %a.id, eab_kid = ?a.eab_kid, "account created");
            Ok(NewAccountOutcome::Created(a))
        }
        CreateAccountOutcome::KeyExists(a) => Ok(NewAccountOutcome::Existing(a)),
        CreateAccountOutcome::EabUnusable => Err(Error::unauthorized(
            "the External Account Binding key was revoked or, being single-use, has already been used",
        )),
    }
}

/// Verifies the EAB and returns its kid.
async fn check_eab(
    ctx: &AcmeContext,
    eab: &serde_json::Value,
    url: &str,
    key: &PublicJwk,
) -> Result<String> {
    let binding = ExternalAccountBinding::parse(eab, url)?;
    let stored = ctx.store.eab_key(binding.kid()).await?.ok_or_else(|| {
        Error::unauthorized(format!(
            "unknown External Account Binding kid {:?}",
            binding.kid()
        ))
    })?;
    if stored.revoked_at.is_some() {
        return Err(Error::unauthorized(
            "the External Account Binding key has been revoked; ask the operator for a new one",
        ));
    }
    if stored.single_use && stored.used_at.is_some() {
        return Err(Error::unauthorized(
            "the External Account Binding key is single-use and has already been used",
        ));
    }
    binding.verify(&stored.hmac_key, key)?;
    Ok(stored.kid)
}

/// POST to the account URL: fetch (empty payload), update contacts, or deactivate (§7.3.2, §7.3.6).
pub async fn update_account(
    ctx: &AcmeContext,
    account: &Account,
    payload: &[u8],
) -> Result<Account> {
    let req: AccountUpdateRequest = parse_json(payload, "account update")?;
    if let Some(status) = req.status.as_deref() {
        if status != "deactivated" {
            return Err(Error::malformed(format!(
                "an account's status can only be set to \"deactivated\", not {status:?}"
            )));
        }
        let a = ctx
            .store
            .deactivate_account(&account.id, ctx.now())
            .await?
            .ok_or_else(|| Error::new(ProblemType::AccountDoesNotExist, "account is gone"))?;
        tracing::info!(account = %a.id, "account deactivated");
        return Ok(a);
    }
    if let Some(contact) = req.contact {
        let contact = validate_contacts(&contact)?;
        return ctx
            .store
            .update_account_contact(&account.id, &contact, ctx.now())
            .await?
            .ok_or_else(|| Error::unauthorized("the account is not valid"));
    }
    Ok(account.clone())
}

/// keyChange (§7.3.5): the outer JWS (already verified with the old key) carries an inner JWS
/// signed by the new key.
pub async fn key_change(
    ctx: &AcmeContext,
    account: &Account,
    outer_url: &str,
    payload: &[u8],
) -> Result<Account> {
    let inner_value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|_| Error::malformed("keyChange payload must be a JWS signed by the new key"))?;
    let inner = Jws::from_value(&inner_value)?;
    inner.check_alg()?;
    if inner.header.kid.is_some() {
        return Err(Error::malformed(
            "the inner keyChange JWS must not have a kid",
        ));
    }
    let new_key = PublicJwk::from_value(inner.header.jwk.as_ref().ok_or_else(|| {
        Error::malformed("the inner keyChange JWS must carry the new key as jwk")
    })?)?;
    inner.verify(&new_key)?;
    if inner.header.url.as_deref() != Some(outer_url) {
        return Err(Error::malformed(
            "the inner keyChange JWS url must equal the outer url",
        ));
    }
    let body: KeyChangePayload = serde_json::from_slice(&inner.payload).map_err(|e| {
        Error::malformed(format!(
            "inner keyChange payload needs account and oldKey: {e}"
        ))
    })?;
    if body.account != ctx.urls.account(&account.id) {
        return Err(Error::unauthorized(
            "keyChange payload account does not match the signing account",
        ));
    }
    let old_key = PublicJwk::from_value(&body.old_key)?;
    if old_key.thumbprint() != account.key_thumbprint {
        return Err(Error::unauthorized(
            "keyChange oldKey is not the account's current key",
        ));
    }
    let new_thumbprint = new_key.thumbprint();
    if new_thumbprint == account.key_thumbprint {
        return Err(Error::malformed("the new key is the same as the old key"));
    }
    match ctx
        .store
        .change_account_key(
            &account.id,
            &account.key_thumbprint,
            &new_thumbprint,
            new_key.to_value(),
            ctx.now(),
        )
        .await?
    {
        KeyChangeOutcome::Changed(a) => {
            tracing::info!(account = %a.id, "account key rolled over");
            Ok(*a)
        }
        KeyChangeOutcome::KeyInUse { account_id } => Err(Error::malformed(
            "the new key is already in use by another account",
        )
        .with_status(409)
        .with_location(ctx.urls.account(&account_id))),
        KeyChangeOutcome::Stale => Err(Error::malformed(
            "the account key changed concurrently; fetch the account and retry",
        )
        .with_status(409)),
    }
}
