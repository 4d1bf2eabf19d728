//! What every handler can reach.

use crate::acme::AcmeContext;
use crate::jose::nonce::NonceKey;

/// Shared state of the HTTP front end; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub ctx: AcmeContext,
    pub nonces: NonceKey,
    /// Account keys as last read (JWS checks before the database is asked).
    pub account_keys: super::account_keys::AccountKeys,
    /// In-flight limit and request timeout of this replica.
    pub guard: super::guard::RequestGuard,
    /// `/readyz`'s memory of the last time the database answered (its grace).
    pub readiness: super::readiness::Readiness,
}

impl AppState {
    /// A fresh nonce for a `Replay-Nonce` header.
    pub fn mint_nonce(&self) -> String {
        self.nonces.mint(self.ctx.now())
    }
}
