//! What every ACME operation needs: the store, the URLs, the configuration, the clock.

use crate::acme::urls::Urls;
use crate::config::Config;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Shared by all requests of a replica; cheap to clone.
#[derive(Clone)]
pub struct AcmeContext {
    pub store: Store,
    pub urls: Urls,
    pub config: Arc<Config>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl AcmeContext {
    /// A context on the wall clock.
    pub fn new(store: Store, config: Arc<Config>) -> Self {
        let urls = Urls::new(&config.server.base_url());
        Self {
            store,
            urls,
            config,
            clock: Arc::new(Utc::now),
        }
    }

    /// Replaces the clock (tests move time instead of sleeping).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    /// The current time as this context sees it.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}
