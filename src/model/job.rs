//! Durable background work (validation, issuance, revocation) as the store queues it and the worker
//! runs it.

/// What a job does; stored as its [`JobKind::as_str`] spelling in `jobs.kind`, which is part of the
/// job's identity (one job per kind and subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Validate one challenge; the subject is the challenge id.
    Validate,
    /// Enroll and collect a finalized order's certificate at SCM; the subject is the order id.
    Issue,
    /// Revoke a certificate at SCM; the subject is the certificate id.
    Revoke,
    /// Count and log certificates expiring unrenewed; one recurring job (subject `all`).
    ExpirySweep,
    /// Purge finished orders past `retention.orders_days`; one recurring job (subject `orders`).
    Retention,
    /// Read SCM's status of certificates still valid (ARI "renew now"); one recurring job.
    StatusSweep,
    /// Find certificates SCM issued for orders that failed (orphans) and revoke them; one
    /// recurring job (subject `scm`).
    Reconcile,
}

impl JobKind {
    /// Every kind this version runs: a worker claims only these, so jobs a newer version queued
    /// wait for a replica that knows them instead of being lost during a rolling upgrade.
    pub const ALL: [JobKind; 7] = [
        JobKind::Validate,
        JobKind::Issue,
        JobKind::Revoke,
        JobKind::ExpirySweep,
        JobKind::Retention,
        JobKind::StatusSweep,
        JobKind::Reconcile,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Issue => "issue",
            Self::Revoke => "revoke",
            Self::ExpirySweep => "expiry_sweep",
            Self::Retention => "retention",
            Self::StatusSweep => "status_sweep",
            Self::Reconcile => "reconcile",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claimed unit of work.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub subject_id: String,
    /// How many times it has been claimed, this claim included.
    pub attempts: i32,
    /// The claim this handler holds; every write of the job names it.
    pub lease: JobLease,
}

/// One claim of a job: the fence every write of its handler passes. A claim sets a fresh `token`,
/// so once the lease ran out and another worker (or this one) claimed the job again, the old
/// handler's writes touch no row and fail with `StoreError::LeaseLost` instead of repeating or
/// overwriting the new holder's work (#12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    /// The job's row.
    pub id: i64,
    /// The replica that claimed it (`jobs.leased_by`).
    pub worker: String,
    /// This claim's random token (`jobs.lease_token`).
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::JobKind;

    #[test]
    fn every_kind_reads_back_from_its_spelling() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("Validate"), None);
    }
}
