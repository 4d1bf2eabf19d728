//! The expiry sweep's query (expiring, unrevoked, not renewed by the account or its EAB key's
//! other accounts), its single job and its stored counts.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::{DateTime, Duration, Utc};

/// A certificate for `names` issued to `account_id` through finalize, expiring at `not_after`.
async fn issued(
    store: &Store,
    account_id: &str,
    names: &[&str],
    not_after: DateTime<Utc>,
) -> Certificate {
    let (o, _) = order(store, account_id, names).await;
    make_ready(store, &o).await;
    assert!(matches!(
        store
            .start_finalize(&enrollment(&o.id), now())
            .await
            .unwrap(),
        FinalizeOutcome::Started
    ));
    let job = claim_one(store, JobKind::Issue, &o.id).await;
    let mut cert = certificate(&o);
    cert.not_after = not_after;
    store
        .complete_issuance(&job.lease, &cert, now())
        .await
        .unwrap();
    cert
}

async fn account_of(store: &Store, eab_kid: Option<&str>) -> String {
    match store
        .create_account(&new_account(eab_kid), now())
        .await
        .unwrap()
    {
        CreateAccountOutcome::Created(a) => a.id,
        other => panic!("account not created: {other:?}"),
    }
}

pub async fn expiring_certificates_exclude_renewed_revoked_and_later_ones(t: &TestStore) {
    let s = &t.store;
    let key = eab_key(false);
    s.create_eab_key(&key).await.unwrap();
    let (team1, team2) = (
        account_of(s, Some(&key.kid)).await,
        account_of(s, Some(&key.kid)).await,
    );
    let (loner, other) = (account_of(s, None).await, account_of(s, None).await);
    let days = |d: i64| now() + Duration::days(d);

    let soon = issued(s, &team1, &["x.example.com"], days(5)).await;
    // Renewed by another account of the same EAB key: not reported.
    issued(s, &team1, &["y.example.com"], days(20)).await;
    issued(s, &team2, &["y.example.com"], days(90)).await;
    // "Renewed" by an unrelated account: still reported.
    let unrelated = issued(s, &loner, &["z.example.com"], days(25)).await;
    issued(s, &other, &["z.example.com"], days(90)).await;
    // An older certificate of the same names is covered by the newer one, which is reported.
    issued(s, &team1, &["u.example.com", "v.example.com"], days(3)).await;
    let newer = issued(s, &team1, &["u.example.com", "v.example.com"], days(15)).await;
    // Revoked, too late, already expired: not reported.
    let revoked = issued(s, &team1, &["r.example.com"], days(10)).await;
    s.request_revocation(&revoked.id, 4, now()).await.unwrap();
    let job = claim_one(s, JobKind::Revoke, &revoked.id).await;
    s.complete_revocation(&job.lease, &revoked.id, now())
        .await
        .unwrap();
    issued(s, &team1, &["late.example.com"], days(60)).await;
    issued(s, &team1, &["gone.example.com"], days(-1)).await;

    let found = s.expiring_unrenewed(now(), days(30)).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![soon.id.as_str(), newer.id.as_str(), unrelated.id.as_str()],
        "soonest first: {found:?}"
    );
    assert_eq!(found[0].eab_label.as_deref(), Some("team ünïcode"));
    assert_eq!(found[0].account_id, team1);
    assert_eq!(found[0].serial, soon.serial);
    assert_eq!(found[0].not_after, soon.not_after);
    assert_eq!(found[1].identifiers.len(), 2);
    assert_eq!(found[1].identifiers[0].value, "u.example.com");
    assert_eq!(found[2].eab_label, None);
    let within_week = s.expiring_unrenewed(now(), days(7)).await.unwrap();
    assert_eq!(within_week.len(), 1);
}

pub async fn the_sweep_is_one_job_rescheduled_with_its_counts(t: &TestStore) {
    let s = &t.store;
    assert_eq!(
        s.expiry_snapshot().await.unwrap(),
        ExpirySnapshot::default()
    );
    // Every replica ensures it at start: one job.
    for _ in 0..3 {
        s.ensure_expiry_sweep(now()).await.unwrap();
    }
    assert_eq!(s.pending_jobs(JobKind::ExpirySweep).await.unwrap(), 1);
    let job = claim_one(s, JobKind::ExpirySweep, "all").await;
    // Leased: another replica finds nothing to claim.
    let other = s
        .claim_jobs("other", 10, now(), now() + Duration::minutes(1), &[])
        .await
        .unwrap();
    assert!(other.is_empty(), "{other:?}");
    let snap = ExpirySnapshot {
        swept_at: Some(now()),
        counts: vec![(7, "web".into(), 1), (30, "web".into(), 3)],
    };
    let next = now() + Duration::days(1);
    s.finish_expiry_sweep(&job.lease, &snap, next)
        .await
        .unwrap();
    assert_eq!(s.expiry_snapshot().await.unwrap(), snap);
    assert_eq!(s.pending_jobs(JobKind::ExpirySweep).await.unwrap(), 1);
    let early = s
        .claim_jobs("w", 10, now(), now() + Duration::minutes(1), &[])
        .await
        .unwrap();
    assert!(early.is_empty(), "not due before the next sweep");
    let due = s
        .claim_jobs("w", 10, next, next + Duration::minutes(1), &[])
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1, "attempts start again after each sweep");
    // Re-ensuring does not move the schedule.
    s.ensure_expiry_sweep(now()).await.unwrap();
    assert_eq!(s.pending_jobs(JobKind::ExpirySweep).await.unwrap(), 1);
}
