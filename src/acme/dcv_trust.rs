//! Trusting SCM's own domain validation (design.md §3.7): for accounts whose EAB key says so, a name
//! under a domain that SCM reports validated and delegated to the key's organization is authorized
//! without a challenge — what Sectigo's own ACME service does. SCM's answers are cached: the org's
//! whole domain list (a few pages) and the details of the entries that matched, each for
//! `acme.scm_dcv_cache_secs`, so orders for ever new names cost SCM no call at all in between.
//!
//! This is the one place a request handler waits on SCM (newOrder must know whether an authorization
//! starts out valid); any SCM failure falls back to ordinary challenges.
//!
//! Listing is single-flight **per organization**: the map of orgs is locked only to find an org's
//! slot, never across an SCM call, so one org's slow SCM pages stall no other org's orders. While
//! one request refreshes an org's expired list, others for that org keep using the expired list
//! (the domain *details* deciding trust are cached and fetched separately); only an org never
//! listed yet makes its concurrent look-ups wait for the first listing.

use crate::scm::{DomainFilter, ScmClient, ScmError};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What SCM says about one domain entry, for one organization.
#[derive(Debug, Clone)]
struct DomainFacts {
    validated: bool,
    /// Privileges delegated to the org (`DOMAIN`, `SUBDOMAIN`, `WILDCARD_1ST_LEVEL`…).
    privileges: Vec<String>,
}

/// When an answer was fetched, and the answer (`None`: SCM has no such domain for the org).
type Cached = (Instant, Option<DomainFacts>);

/// An org's domain entries, lower-cased name → SCM id, and when they were listed.
type DomainList = (Instant, std::sync::Arc<HashMap<String, i64>>);

/// Entries per page when listing an org's domains.
const LIST_PAGE: u64 = 200;

/// One organization's domain list and the lock that makes its listing single-flight.
#[derive(Default)]
struct OrgSlot {
    /// The last list fetched, if any (read and replaced under this short lock only).
    list: Mutex<Option<DomainList>>,
    /// Held while listing this org in SCM, so a burst of cold look-ups lists it once.
    listing: tokio::sync::Mutex<()>,
}

/// Cached look-ups of SCM's domain validation.
pub struct DcvTrust {
    scm: ScmClient,
    ttl: Duration,
    cache: Mutex<HashMap<(i64, String), Cached>>,
    /// Per org; the map lock is held only to find or add a slot.
    lists: Mutex<HashMap<i64, std::sync::Arc<OrgSlot>>>,
}

impl DcvTrust {
    /// A cache of SCM answers kept for `ttl`.
    pub fn new(scm: ScmClient, ttl: Duration) -> Self {
        Self {
            scm,
            ttl,
            cache: Mutex::default(),
            lists: Mutex::default(),
        }
    }

    /// Whether SCM's validation covers `name` (a base name; `wildcard` for `*.name`) for `org_id`.
    /// SCM errors count as "not covered" (the client then gets challenges).
    pub async fn covers(&self, org_id: i64, name: &str, wildcard: bool) -> bool {
        for (domain, needed) in candidates(name, wildcard) {
            match self.facts(org_id, &domain).await {
                Ok(Some(f)) if f.validated && f.privileges.iter().any(|p| needed.allows(p)) => {
                    return true
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, domain, "SCM domain look-up failed; asking for a challenge instead");
                    return false;
                }
            }
        }
        false
    }

    async fn facts(&self, org_id: i64, domain: &str) -> Result<Option<DomainFacts>, ScmError> {
        let key = (org_id, domain.to_string());
        if let Some((at, facts)) = self.cache.lock().expect("lock").get(&key) {
            if at.elapsed() < self.ttl {
                return Ok(facts.clone());
            }
        }
        let facts = match self
            .org_domains(org_id)
            .await?
            .get(&domain.to_ascii_lowercase())
        {
            None => None,
            Some(&id) => {
                let details = self.scm.domain(id).await?;
                let today = Utc::now().date_naive();
                let validated = details.validation_status.as_deref() == Some("VALIDATED")
                    && details.dcv_expiration.map_or(true, |e| e >= today);
                let privileges = details
                    .delegations
                    .iter()
                    .filter(|del| del.org_id == org_id)
                    .flat_map(|del| del.domain_certificate_request_privileges.clone())
                    .collect();
                Some(DomainFacts {
                    validated,
                    privileges,
                })
            }
        };
        // Only entries SCM has are kept: names it lacks are answered from the list, and keeping
        // them would grow the cache with every new name ordered.
        if facts.is_some() {
            self.cache
                .lock()
                .expect("lock")
                .insert(key, (Instant::now(), facts.clone()));
        }
        Ok(facts)
    }

    /// Every domain entry delegated to `org_id`, listed once per `ttl`. Expired lists are
    /// served while another request refreshes them (see the module docs).
    async fn org_domains(
        &self,
        org_id: i64,
    ) -> Result<std::sync::Arc<HashMap<String, i64>>, ScmError> {
        let slot = self
            .lists
            .lock()
            .expect("lock")
            .entry(org_id)
            .or_default()
            .clone();
        let current = slot.list.lock().expect("lock").clone();
        let _listing = match current {
            Some((at, list)) if at.elapsed() < self.ttl => return Ok(list),
            // Expired: refresh it unless someone else already does; then use the old one.
            Some((_, list)) => match slot.listing.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(list),
            },
            None => slot.listing.lock().await,
        };
        // Whoever held the lock before may have listed the org meanwhile.
        if let Some((at, list)) = slot.list.lock().expect("lock").as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(list.clone());
            }
        }
        let list = std::sync::Arc::new(self.list_org(org_id).await?);
        *slot.list.lock().expect("lock") = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    /// Lists `org_id`'s domain entries from SCM, page by page (no lock held).
    async fn list_org(&self, org_id: i64) -> Result<HashMap<String, i64>, ScmError> {
        let mut names = HashMap::new();
        let mut position = 0;
        loop {
            let filter = DomainFilter {
                org_id: Some(org_id),
                position: Some(position),
                size: Some(LIST_PAGE),
                ..Default::default()
            };
            let page = self.scm.domains(&filter).await?;
            let got = page.items.len() as u64;
            for d in page.items {
                names.insert(d.name.to_ascii_lowercase(), d.id);
            }
            position += got;
            if got < LIST_PAGE || page.total.is_some_and(|t| position >= t) {
                break;
            }
        }
        Ok(names)
    }
}

/// Which delegated privilege a candidate domain entry must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needed {
    /// The entry is the name itself.
    Domain,
    /// The entry is a parent of the name.
    Subdomain,
    /// The name is a wildcard below the entry.
    Wildcard,
}

impl Needed {
    fn allows(self, privilege: &str) -> bool {
        match self {
            Needed::Domain => privilege == "DOMAIN",
            Needed::Subdomain => privilege == "SUBDOMAIN",
            Needed::Wildcard => privilege.starts_with("WILDCARD"),
        }
    }
}

/// The SCM domain entries that could cover a name, most specific first.
fn candidates(name: &str, wildcard: bool) -> Vec<(String, Needed)> {
    let mut out = Vec::new();
    if wildcard {
        out.push((format!("*.{name}"), Needed::Domain));
        out.push((name.to_string(), Needed::Wildcard));
    } else {
        out.push((name.to_string(), Needed::Domain));
    }
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        if !parent.contains('.') {
            break; // never trust a bare TLD
        }
        out.push((parent.to_string(), Needed::Subdomain));
        rest = parent;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_walk_up_to_the_registrable_domain() {
        let c = candidates("a.b.example.com", false);
        let names: Vec<_> = c.iter().map(|(d, n)| (d.as_str(), *n)).collect();
        assert_eq!(
            names,
            vec![
                ("a.b.example.com", Needed::Domain),
                ("b.example.com", Needed::Subdomain),
                ("example.com", Needed::Subdomain)
            ]
        );
        let w = candidates("x.example.com", true);
        assert_eq!(w[0], ("*.x.example.com".into(), Needed::Domain));
        assert_eq!(w[1], ("x.example.com".into(), Needed::Wildcard));
        assert_eq!(w[2], ("example.com".into(), Needed::Subdomain));
    }
}
