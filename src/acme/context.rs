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
    /// SCM (or the sandbox), when configured.
    pub scm: Option<crate::scm::ScmClient>,
    /// Cached SCM domain validation, for EAB keys that trust it.
    pub dcv: Option<Arc<crate::acme::dcv_trust::DcvTrust>>,
    /// Counters and histograms of this replica.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// EAB keys' policy, read again once `acme.eab_cache_secs` old.
    pub eab_policies: Arc<crate::acme::eab_policies::EabPolicies>,
    /// This replica's rate limiters (`[limits]`).
    pub limits: Arc<crate::limits::Limits>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl AcmeContext {
    /// A context on the wall clock; `scm` is the client built from `[scm]`, if any.
    pub fn new(store: Store, config: Arc<Config>, scm: Option<crate::scm::ScmClient>) -> Self {
        let urls = Urls::new(&config.server.base_url());
        let dcv = scm.as_ref().map(|c| {
            Arc::new(crate::acme::dcv_trust::DcvTrust::new(
                c.clone(),
                std::time::Duration::from_secs(config.acme.scm_dcv_cache_secs),
            ))
        });
        let eab_policies = Arc::new(crate::acme::eab_policies::EabPolicies::new(
            std::time::Duration::from_secs(config.acme.eab_cache_secs),
        ));
        let limits = Arc::new(crate::limits::Limits::new(&config.limits));
        Self {
            limits,
            store,
            urls,
            config,
            scm,
            dcv,
            metrics: Arc::default(),
            eab_policies,
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
