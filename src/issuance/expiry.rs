//! The expiry sweep: every `issuance.expiry_sweep_interval_secs` (a day by default) one replica —
//! whichever claims the single `expiry_sweep` job, so never two at once — looks for certificates
//! expiring within each of `issuance.expiry_warning_days` that nothing renewed, logs each one (for
//! the operator's log alerts) and stores the counts by EAB key label, which every replica serves as
//! `certificates_expiring{days,eab_label}`.

use super::worker::{Outcome, Worker};
use crate::model::Job;
use crate::store::{ExpiringCertificate, ExpirySnapshot};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// Runs one sweep and schedules the next.
pub(super) async fn run(w: &Worker, job: &Job) -> Outcome {
    let cfg = &w.ctx.config.issuance;
    let store = &w.ctx.store;
    if cfg.expiry_warning_days.is_empty() {
        let _ = store.drop_job(&job.lease).await;
        return Outcome::Done;
    }
    let now = w.ctx.now();
    let longest = *cfg.expiry_warning_days.iter().max().expect("not empty");
    let expiring = match store
        .expiring_unrenewed(now, now + Duration::days(i64::from(longest)))
        .await
    {
        Ok(e) => e,
        Err(e) => return Outcome::Retry(format!("expiry sweep: {e}")),
    };
    for c in &expiring {
        let names: Vec<&str> = c.identifiers.iter().map(|i| i.value.as_str()).collect();
        tracing::warn!(
            certificate = %c.id,
            serial = %c.serial,
            names = %names.join(","),
            not_after = %c.not_after,
            days_left = (c.not_after - now).num_days(),
            account = %c.account_id,
            eab_label = c.eab_label.as_deref().unwrap_or(""),
            "certificate expires soon and has not been renewed"
        );
    }
    let snapshot = ExpirySnapshot {
        swept_at: Some(now),
        counts: counts(&expiring, &cfg.expiry_warning_days, now),
    };
    for (days, label, n) in &snapshot.counts {
        tracing::info!(days, eab_label = %label, certificates = n, "expiry sweep");
    }
    let next = now + Duration::seconds(cfg.expiry_sweep_interval_secs.max(1));
    match store.finish_expiry_sweep(&job.lease, &snapshot, next).await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(format!("expiry sweep: {e}")),
    }
}

/// `(days, eab_label, count)` for every threshold and every label with a certificate expiring
/// within the longest one (0 where none expires that soon), so a series drops to 0 rather than
/// vanishing when the last certificate of a team is renewed.
pub fn counts(
    expiring: &[ExpiringCertificate],
    thresholds: &[u32],
    now: DateTime<Utc>,
) -> Vec<(u32, String, i64)> {
    let mut thresholds = thresholds.to_vec();
    thresholds.sort_unstable();
    thresholds.dedup();
    let mut by: BTreeMap<(u32, String), i64> = BTreeMap::new();
    for c in expiring {
        let label = c.eab_label.clone().unwrap_or_default();
        for &days in &thresholds {
            let n = by.entry((days, label.clone())).or_default();
            if c.not_after <= now + Duration::days(i64::from(days)) {
                *n += 1;
            }
        }
    }
    by.into_iter().map(|((d, l), n)| (d, l, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(label: Option<&str>, days: i64, now: DateTime<Utc>) -> ExpiringCertificate {
        ExpiringCertificate {
            id: "c".into(),
            serial: "01".into(),
            not_after: now + Duration::days(days) - Duration::hours(1),
            account_id: "a".into(),
            eab_label: label.map(String::from),
            identifiers: Vec::new(),
        }
    }

    #[test]
    fn counts_are_cumulative_per_threshold_and_label() {
        let now = Utc::now();
        let certs = [
            cert(Some("web"), 3, now),
            cert(Some("web"), 20, now),
            cert(Some("db"), 25, now),
            cert(None, 7, now),
        ];
        assert_eq!(
            counts(&certs, &[30, 7, 30], now),
            vec![
                (7, "".into(), 1),
                (7, "db".into(), 0),
                (7, "web".into(), 1),
                (30, "".into(), 1),
                (30, "db".into(), 1),
                (30, "web".into(), 2),
            ]
        );
    }
}
