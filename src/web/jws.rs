//! The JWS request pipeline (RFC 8555 §6.2–6.5) as named stages, after Boulder's wfe2/verify.go:
//! [`SignedRequest`] extracts and parses the body; then one of
//! [`SignedRequest::for_account`] (kid), [`SignedRequest::post_as_get`] (kid, empty payload) or
//! [`SignedRequest::self_authenticated`] (embedded jwk) checks, in order: form (flattened JWS,
//! a signature, no `crit`), algorithm, URL, key, signature, nonce — so a forged request never
//! burns a nonce. For `kid` requests the signature is first checked against the key this replica
//! last saw for the account (no database round-trip); if that fails, the account is read and the
//! signature checked against its current key (a keyChange elsewhere), before any nonce is spent.

use crate::acme::{Error, ProblemType, Result};
use crate::jose::nonce::NonceRejection;
use crate::jose::{Jws, PublicJwk};
use crate::model::{Account, AccountStatus};
use crate::web::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use chrono::{DateTime, Utc};

/// The only media type ACME requests may use.
pub const JOSE_JSON: &str = "application/jose+json";

/// A POST body parsed as a flattened JWS, with the URL the request was addressed to.
#[derive(Debug)]
pub struct SignedRequest {
    pub jws: Jws,
    /// The absolute URL this request was sent to (from `external_url` and the path).
    pub url: String,
}

/// What a verified kid-signed request yields.
#[derive(Debug)]
pub struct AccountRequest {
    pub account: Account,
    pub payload: Vec<u8>,
    pub url: String,
}

/// What a verified jwk-signed request yields.
#[derive(Debug)]
pub struct KeyRequest {
    pub key: PublicJwk,
    pub payload: Vec<u8>,
    pub url: String,
}

impl FromRequest<AppState> for SignedRequest {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case(JOSE_JSON) {
            return Err(Error::malformed(format!(
                "Content-Type must be {JOSE_JSON}, not {content_type:?}"
            ))
            .with_status(415));
        }
        // Path and query: a URL with a query (the orders list's `next`) is signed as given (§6.4).
        let target = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or_else(|| req.uri().path());
        let url = state.ctx.urls.for_path(target);
        let limit = state.ctx.config.server.max_body_bytes;
        let body = super::body::read_limited(req.into_body(), limit).await?;
        let jws = Jws::parse(&body)?;
        Ok(Self { jws, url })
    }
}

impl SignedRequest {
    /// Stages shared by every kind of request: algorithm and URL.
    fn check_alg_and_url(&self) -> Result<()> {
        self.jws.check_alg()?;
        match self.jws.header.url.as_deref() {
            None => Err(Error::malformed("JWS protected header has no url")),
            Some(u) if u == self.url => Ok(()),
            Some(u) => Err(Error::unauthorized(format!(
                "JWS url {u:?} does not match the request URL {:?}",
                self.url
            ))),
        }
    }

    /// The nonce's hash and expiry if it is one of ours and unexpired (stateless: no database).
    fn checked_nonce<'a>(&'a self, state: &AppState) -> Result<(&'a str, DateTime<Utc>)> {
        let nonce = self
            .jws
            .header
            .nonce
            .as_deref()
            .ok_or_else(|| Error::bad_nonce("the JWS protected header has no nonce"))?;
        let expires = state
            .nonces
            .check(nonce, state.ctx.now())
            .map_err(nonce_rejected)?;
        Ok((nonce, expires))
    }

    /// Redeems the nonce: last stage, after the signature verified.
    async fn redeem_nonce(&self, state: &AppState) -> Result<()> {
        let (nonce, expires) = self.checked_nonce(state)?;
        if let Some(spent) = state.nonces.spend_locally(nonce) {
            return spent.map_err(nonce_rejected);
        }
        if !state.ctx.store.redeem_nonce(nonce, expires).await? {
            return Err(used_nonce());
        }
        Ok(())
    }

    /// Redeems the nonce and reads the account: one round-trip when the store records the nonce,
    /// a read alone when this process spends it in memory. Returns whether the nonce was fresh.
    async fn redeem_nonce_and_read_account(
        &self,
        state: &AppState,
        id: &str,
    ) -> Result<(bool, Option<Account>)> {
        let (nonce, expires) = self.checked_nonce(state)?;
        let store = &state.ctx.store;
        match state.nonces.spend_locally(nonce) {
            Some(Ok(())) => Ok((true, store.account(id).await?)),
            Some(Err(NonceRejection::Spent)) => Ok((false, store.account(id).await?)),
            Some(Err(r)) => Err(nonce_rejected(r)),
            None => Ok(store
                .redeem_nonce_and_read_account(nonce, expires, id)
                .await?),
        }
    }

    /// A request signed by an account's key, identified by `kid` (most endpoints).
    pub async fn for_account(self, state: &AppState) -> Result<AccountRequest> {
        self.check_alg_and_url()?;
        if self.jws.header.jwk.is_some() {
            return Err(Error::malformed(
                "this request must identify the account with kid, not carry a jwk",
            ));
        }
        let kid = self.jws.header.kid.as_deref().ok_or_else(|| {
            Error::malformed("JWS protected header must have a kid (the account URL)")
        })?;
        let not_found = || {
            Error::new(
                ProblemType::AccountDoesNotExist,
                format!("no account exists at {kid:?}"),
            )
        };
        let id = state
            .ctx
            .urls
            .account_id_from_url(kid)
            .ok_or_else(not_found)?;
        let verify_with = |jwk: &serde_json::Value| -> Result<()> {
            let key = PublicJwk::from_value(jwk)
                .map_err(|e| Error::internal(format!("stored key of account {id}: {e}")))?;
            Ok(self.jws.verify(&key)?)
        };
        // A key last seen on this replica that does not verify the signature may be stale (a
        // keyChange here or on another replica): then the account is read as if unknown.
        let known = state
            .account_keys
            .get(id)
            .filter(|known| verify_with(known).is_ok());
        let (account, fresh) = match known {
            // Known key: the signature verified; redeem the nonce and read the account in one
            // round-trip; the account read is authoritative.
            Some(known) => {
                let (fresh, account) = self.redeem_nonce_and_read_account(state, id).await?;
                let account = account.ok_or_else(not_found)?;
                if account.jwk != known {
                    state.account_keys.put(id, &account.jwk);
                    verify_with(&account.jwk)?;
                }
                (account, fresh)
            }
            // First request of this account on this replica, or a key that changed: read,
            // check, then redeem.
            None => {
                let account = state.ctx.store.account(id).await?.ok_or_else(not_found)?;
                verify_with(&account.jwk)?;
                state.account_keys.put(id, &account.jwk);
                if account.status == AccountStatus::Valid {
                    self.redeem_nonce(state).await?;
                }
                (account, true)
            }
        };
        if account.status != AccountStatus::Valid {
            return Err(Error::account_not_valid(account.status));
        }
        if !fresh {
            return Err(used_nonce());
        }
        Ok(AccountRequest {
            account,
            payload: self.jws.payload,
            url: self.url,
        })
    }

    /// A POST-as-GET (§6.3): signed by an account, empty payload.
    pub async fn post_as_get(self, state: &AppState) -> Result<Account> {
        let r = self.for_account(state).await?;
        if !r.payload.is_empty() {
            return Err(Error::malformed(
                "POST-as-GET requests must have an empty payload",
            ));
        }
        Ok(r.account)
    }

    /// revokeCert accepts either (§7.6): an account's kid or the certificate's own key as jwk.
    pub async fn kid_or_jwk(
        self,
        state: &AppState,
    ) -> Result<(crate::acme::revocation::Revoker, Vec<u8>)> {
        use crate::acme::revocation::Revoker;
        if self.jws.header.kid.is_some() {
            let r = self.for_account(state).await?;
            Ok((Revoker::Account(r.account), r.payload))
        } else {
            let r = self.self_authenticated(state).await?;
            Ok((Revoker::CertificateKey(r.key), r.payload))
        }
    }

    /// A request signed by the key it carries as `jwk` (newAccount; revokeCert by certificate key).
    pub async fn self_authenticated(self, state: &AppState) -> Result<KeyRequest> {
        self.check_alg_and_url()?;
        if self.jws.header.kid.is_some() {
            return Err(Error::malformed(
                "this request must carry the key as jwk, not a kid",
            ));
        }
        let jwk = self
            .jws
            .header
            .jwk
            .as_ref()
            .ok_or_else(|| Error::malformed("JWS protected header must have a jwk"))?;
        let key = PublicJwk::from_value(jwk)?;
        self.jws.verify(&key)?;
        self.redeem_nonce(state).await?;
        Ok(KeyRequest {
            key,
            payload: self.jws.payload,
            url: self.url,
        })
    }
}

fn used_nonce() -> Error {
    Error::bad_nonce("the nonce has already been used")
}

fn nonce_rejected(r: NonceRejection) -> Error {
    match r {
        NonceRejection::Unknown => Error::bad_nonce(
            "the nonce was not issued by this server (or by it before a restart); use the one in \
             this response",
        ),
        NonceRejection::Expired => {
            Error::bad_nonce("the nonce has expired; use the one in this response")
        }
        NonceRejection::Spent => used_nonce(),
    }
}
