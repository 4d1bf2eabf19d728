//! The sandbox's memory: its tenant configuration, issued certificates with their status machine
//! (`Requested → Approved → Applied → Issued → Revoked`, `Declined` from `Requested`), run-time
//! behaviour overrides, faults and the enrollment counter tests assert on.

use crate::sandbox::chaos::{Chaos, ChaosStats};
use crate::sandbox::config::{Issuance, OrgConfig, ProfileConfig, SandboxConfig};
use crate::sandbox::faults::Faults;
use crate::sandbox::pki::{random_serial, Pki};
use crate::scm::types::{CertStatus, CustomFieldValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A run-time change of behaviour for new enrollments (control API `POST /__sandbox/behavior`):
/// for one org/department when `org_id` is set, else for all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Behavior {
    /// Org or department it applies to; absent = every org.
    pub org_id: Option<i64>,
    /// Issuance timing.
    pub issuance: Option<Issuance>,
    /// Collect's pending code (0, -183, -1400, -109).
    pub pending_code: Option<i64>,
    /// Require approval.
    pub requires_approval: Option<bool>,
    /// SSL Web API enabled (false → enroll -1021).
    pub web_api: Option<bool>,
}

/// One certificate as the sandbox keeps it.
#[derive(Debug, Clone)]
pub struct CertRecord {
    /// sslId.
    pub id: i64,
    /// Org or department.
    pub org_id: i64,
    /// Profile id.
    pub cert_type: i64,
    /// Days.
    pub term: u32,
    /// CN from the CSR.
    pub common_name: String,
    /// Names on the certificate.
    pub sans: Vec<String>,
    /// The CSR's SubjectPublicKeyInfo (DER).
    pub spki: Vec<u8>,
    /// Key description for details (`RSA`/`EC`, size).
    pub key: (String, u32),
    /// Enroll's `comments`.
    pub comments: Option<String>,
    /// Enroll's `externalRequester`.
    pub external_requester: Option<String>,
    /// Enroll's custom fields.
    pub custom_fields: Vec<CustomFieldValue>,
    /// Status.
    pub status: CertStatus,
    /// Timing fixed at enrollment.
    pub issuance: Issuance,
    /// Pending code fixed at enrollment.
    pub pending_code: i64,
    /// Collect calls made while pending.
    pub polls: u32,
    /// Dates.
    pub requested: DateTime<Utc>,
    /// Approval time.
    pub approved: Option<DateTime<Utc>>,
    /// When it went to the (emulated) CA.
    pub applied: Option<DateTime<Utc>>,
    /// Issue time.
    pub issued: Option<DateTime<Utc>>,
    /// Expiry.
    pub expires: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked: Option<DateTime<Utc>>,
    /// Revocation reason.
    pub reason_code: Option<i64>,
    /// Serial number bytes, once issued.
    pub serial: Option<Vec<u8>>,
    /// The leaf, once issued.
    pub leaf: Option<Vec<u8>>,
    /// Token for `renew/{renewId}`.
    pub renew_id: String,
}

impl CertRecord {
    /// Uppercase hex with colons, SCM's serial format.
    pub fn serial_hex(&self) -> Option<String> {
        self.serial.as_ref().map(|s| {
            s.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
    }
}

struct Inner {
    certs: BTreeMap<i64, CertRecord>,
    next_id: i64,
    enrollments: u64,
    faults: Faults,
    chaos: Chaos,
    global: Behavior,
    per_org: HashMap<i64, Behavior>,
}

/// An org or department with its parent (for inheritance and domain delegation).
#[derive(Clone, Copy)]
pub struct Unit<'a> {
    /// The org or department itself.
    pub org: &'a OrgConfig,
    /// The organization a department belongs to.
    pub parent: Option<&'a OrgConfig>,
}

/// Shared state of one sandbox server.
pub struct SandboxState {
    /// The tenant.
    pub cfg: SandboxConfig,
    /// The PKI that signs.
    pub pki: Pki,
    /// Every SCM call received, by operation (`sandbox::calls`).
    pub calls: crate::sandbox::calls::Calls,
    inner: Mutex<Inner>,
}

impl SandboxState {
    /// Validates the configuration and generates the PKI.
    pub fn new(cfg: SandboxConfig) -> anyhow::Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let inner = Inner {
            certs: BTreeMap::new(),
            next_id: cfg.first_ssl_id,
            enrollments: 0,
            faults: cfg.faults.clone(),
            chaos: Chaos::new(cfg.faults.fault_seed),
            global: Behavior::default(),
            per_org: HashMap::new(),
        };
        Ok(Self {
            pki: Pki::generate(cfg.cross_signed_root)?,
            cfg,
            calls: Default::default(),
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads or changes the faults atomically (counters; use [`Self::set_faults`] to replace them).
    pub fn with_faults<R>(&self, f: impl FnOnce(&mut Faults) -> R) -> R {
        f(&mut self.lock().faults)
    }

    /// Reads or changes the faults together with the chaos draw, atomically (one decision per call).
    pub fn with_faults_and_chaos<R>(&self, f: impl FnOnce(&mut Faults, &mut Chaos) -> R) -> R {
        let inner = &mut *self.lock();
        f(&mut inner.faults, &mut inner.chaos)
    }

    /// Replaces the faults and starts a new chaos run from their seed (so the same faults set again
    /// replay the same run). Refuses an invalid rate.
    pub fn set_faults(&self, faults: Faults) -> Result<(), crate::config::InvalidSetting> {
        faults.validate()?;
        let mut inner = self.lock();
        inner.chaos = Chaos::new(faults.fault_seed);
        inner.faults = faults;
        Ok(())
    }

    /// What the chaos run did since the faults were last set.
    pub fn chaos_stats(&self) -> ChaosStats {
        self.lock().chaos.stats()
    }

    /// Applies a behaviour override (merging with earlier ones for the same scope).
    pub fn set_behavior(&self, b: Behavior) {
        let mut inner = self.lock();
        let slot = match b.org_id {
            Some(id) => inner.per_org.entry(id).or_default(),
            None => &mut inner.global,
        };
        slot.issuance = b.issuance.or(slot.issuance);
        slot.pending_code = b.pending_code.or(slot.pending_code);
        slot.requires_approval = b.requires_approval.or(slot.requires_approval);
        slot.web_api = b.web_api.or(slot.web_api);
    }

    /// Forgets every override and fault (tests sharing one sandbox).
    pub fn reset_behavior(&self) {
        let mut inner = self.lock();
        inner.global = Behavior::default();
        inner.per_org.clear();
        inner.faults = Faults::default();
        inner.chaos = Chaos::new(None);
    }

    /// Number of certificates created (enroll and renew), including ones whose answer was dropped.
    pub fn enrollment_count(&self) -> u64 {
        self.lock().enrollments
    }

    /// Every certificate created so far as (sslId, CN, enroll's `comments`), for a chaos run's
    /// count of duplicate and orphaned enrollments.
    pub fn enrollment_list(&self) -> Vec<(i64, String, Option<String>)> {
        self.lock()
            .certs
            .values()
            .map(|c| (c.id, c.common_name.clone(), c.comments.clone()))
            .collect()
    }

    /// Finds an org or department.
    pub fn unit(&self, id: i64) -> Option<Unit<'_>> {
        for o in &self.cfg.organizations {
            if o.id == id {
                return Some(Unit {
                    org: o,
                    parent: None,
                });
            }
            if let Some(d) = o.departments.iter().find(|d| d.id == id) {
                return Some(Unit {
                    org: d,
                    parent: Some(o),
                });
            }
        }
        None
    }

    /// A profile by id.
    pub fn profile(&self, id: i64) -> Option<&ProfileConfig> {
        self.cfg.profiles.iter().find(|p| p.id == id)
    }

    /// Whether `unit` may use profile `id`.
    pub fn profile_allowed(&self, unit: Unit<'_>, id: i64) -> bool {
        let list = unit
            .org
            .ssl_types
            .as_ref()
            .or(unit.parent.and_then(|p| p.ssl_types.as_ref()));
        list.map_or(true, |l| l.contains(&id))
    }

    fn overrides(&self, unit: Unit<'_>) -> Vec<Behavior> {
        let inner = self.lock();
        let mut v = Vec::new();
        if let Some(b) = inner.per_org.get(&unit.org.id) {
            v.push(b.clone());
        }
        if let Some(b) = unit.parent.and_then(|p| inner.per_org.get(&p.id)) {
            v.push(b.clone());
        }
        v.push(inner.global.clone());
        v
    }

    /// The SSL Web API flag, after overrides.
    pub fn web_api(&self, unit: Unit<'_>) -> bool {
        let o = self.overrides(unit);
        o.iter().find_map(|b| b.web_api).unwrap_or(unit.org.web_api)
    }

    /// Settings fixed at enrollment: (requires approval, issuance, pending code).
    pub fn settings(&self, unit: Unit<'_>, profile: &ProfileConfig) -> (bool, Issuance, i64) {
        let o = self.overrides(unit);
        let approval = o
            .iter()
            .find_map(|b| b.requires_approval)
            .or(unit.org.requires_approval)
            .or(unit.parent.and_then(|p| p.requires_approval))
            .unwrap_or(false);
        let issuance = o
            .iter()
            .find_map(|b| b.issuance)
            .or(unit.org.issuance)
            .or(unit.parent.and_then(|p| p.issuance))
            .or(profile.issuance)
            .unwrap_or(self.cfg.issuance);
        let pending = o
            .iter()
            .find_map(|b| b.pending_code)
            .or(unit.org.pending_code)
            .or(unit.parent.and_then(|p| p.pending_code))
            .or(profile.pending_code)
            .unwrap_or(self.cfg.pending_code);
        (approval, issuance, pending)
    }

    /// Whether `name` is delegated to `unit` (or its organization) and validated.
    pub fn domain_ok(&self, unit: Unit<'_>, name: &str) -> bool {
        if self.cfg.allow_any_domain {
            return true;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let today = Utc::now().date_naive();
        self.cfg.domains.iter().any(|d| {
            let dn = d.name.to_ascii_lowercase();
            let covers = name == dn
                || (d.subdomains && !dn.starts_with("*.") && name.ends_with(&format!(".{dn}")));
            let delegated = d.delegated_to.is_empty()
                || d.delegated_to.contains(&unit.org.id)
                || unit.parent.is_some_and(|p| d.delegated_to.contains(&p.id));
            let valid = d.validated && d.dcv_expiration.map_or(true, |e| e >= today);
            covers && delegated && valid
        })
    }

    /// Stores a new certificate, counts it, moves it as far as its settings allow; returns its id.
    pub fn create(&self, mut rec: CertRecord) -> i64 {
        let mut inner = self.lock();
        rec.id = inner.next_id;
        inner.next_id += 1;
        inner.enrollments += 1;
        let id = rec.id;
        self.advance(&mut rec, false);
        inner.certs.insert(id, rec);
        id
    }

    /// Runs `f` on a certificate after advancing its status (`poll` counts a collect).
    pub fn with_cert<R>(
        &self,
        id: i64,
        poll: bool,
        f: impl FnOnce(&mut CertRecord) -> R,
    ) -> Option<R> {
        let mut inner = self.lock();
        let rec = inner.certs.get_mut(&id)?;
        self.advance(rec, poll);
        Some(f(rec))
    }

    /// Every certificate (advanced), in id order.
    pub fn all_certs(&self) -> Vec<CertRecord> {
        let mut inner = self.lock();
        inner
            .certs
            .values_mut()
            .map(|r| {
                self.advance(r, false);
                r.clone()
            })
            .collect()
    }

    /// The certificate whose renewId is `renew_id`.
    pub fn by_renew_id(&self, renew_id: &str) -> Option<i64> {
        let inner = self.lock();
        inner
            .certs
            .values()
            .find(|r| r.renew_id == renew_id)
            .map(|r| r.id)
    }

    /// Moves a certificate along the status machine according to its timing.
    fn advance(&self, rec: &mut CertRecord, poll: bool) {
        let now = Utc::now();
        if rec.status == CertStatus::Approved {
            rec.status = CertStatus::Applied;
            rec.applied = Some(now);
        }
        if rec.status != CertStatus::Applied {
            return;
        }
        if poll {
            rec.polls += 1;
        }
        let ready = match rec.issuance {
            Issuance::Immediate => true,
            Issuance::Never => false,
            Issuance::AfterPolls(n) => rec.polls >= n,
            Issuance::AfterMillis(ms) => rec
                .applied
                .is_some_and(|a| (now - a).num_milliseconds() >= ms as i64),
        };
        if !ready {
            return;
        }
        let serial = random_serial().to_bytes();
        match self
            .pki
            .issue(&rec.spki, &rec.common_name, &rec.sans, rec.term, &serial)
        {
            Ok(der) => {
                rec.leaf = Some(der);
                rec.serial = Some(serial);
                rec.status = CertStatus::Issued;
                rec.issued = Some(now);
                rec.expires = Some(now + chrono::Duration::days(rec.term as i64));
            }
            Err(e) => {
                tracing::warn!(ssl_id = rec.id, error = %e, "sandbox could not sign");
                rec.status = CertStatus::Rejected;
            }
        }
    }
}
