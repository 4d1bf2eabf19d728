//! The durable job queue: exclusive claims, leases, retries and wake-ups.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::Duration;
use std::collections::HashSet;

/// `n` validation jobs (one per authorization of one order); returns their challenge ids.
async fn validation_jobs(t: &TestStore, n: usize) -> Vec<String> {
    let a = account(&t.store).await;
    let names: Vec<String> = (0..n).map(|i| format!("j{i}.example.com")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (o, _) = order(&t.store, &a.id, &refs).await;
    let mut challenges = Vec::new();
    for id in &o.authz_ids {
        let ch = t.store.authorization(id).await.unwrap().unwrap().challenges[0]
            .id
            .clone();
        assert!(matches!(
            t.store.start_challenge(&ch, now()).await.unwrap(),
            StartChallenge::Started
        ));
        challenges.push(ch);
    }
    challenges
}

pub async fn concurrent_claimers_never_share_a_job(t: &TestStore) {
    validation_jobs(t, 24).await;
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let s = t.store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let jobs = s
                        .claim_jobs(
                            &format!("w{w}"),
                            2,
                            now(),
                            now() + Duration::minutes(5),
                            &[],
                        )
                        .await
                        .unwrap();
                    if jobs.is_empty() {
                        return mine;
                    }
                    mine.extend(jobs.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 24, "every job claimed once: {all:?}");
    assert_eq!(unique.len(), 24);
}

pub async fn an_expired_lease_is_claimed_again(t: &TestStore) {
    validation_jobs(t, 1).await;
    let t0 = now();
    let first = t
        .store
        .claim_jobs("w1", 10, t0, t0 + Duration::seconds(1), &[])
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    let leased = t
        .store
        .claim_jobs("w2", 10, t0, t0 + Duration::seconds(1), &[])
        .await
        .unwrap();
    assert!(leased.is_empty(), "a live lease is respected");
    let later = t0 + Duration::seconds(2);
    let again = t
        .store
        .claim_jobs("w2", 10, later, later + Duration::seconds(60), &[])
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].attempts, 2);
    assert_ne!(
        again[0].lease.token, first[0].lease.token,
        "a fresh token per claim"
    );
    // w1 lost it: its renewal fails.
    assert!(matches!(
        t.store
            .renew_lease(&first[0].lease, later + Duration::seconds(90))
            .await,
        Err(StoreError::LeaseLost(_))
    ));
}

pub async fn only_the_holder_renews_a_lease(t: &TestStore) {
    validation_jobs(t, 1).await;
    let t0 = now();
    let job = t
        .store
        .claim_jobs("w1", 1, t0, t0 + Duration::seconds(5), &[])
        .await
        .unwrap()
        .remove(0);
    let other = JobLease {
        worker: "w2".into(),
        token: "not the claim's".into(),
        ..job.lease.clone()
    };
    assert!(matches!(
        t.store
            .renew_lease(&other, t0 + Duration::seconds(60))
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    t.store
        .renew_lease(&job.lease, t0 + Duration::seconds(60))
        .await
        .unwrap();
    // The renewed lease holds past the original one.
    let at = t0 + Duration::seconds(30);
    assert!(t
        .store
        .claim_jobs("w2", 1, at, at + Duration::seconds(5), &[])
        .await
        .unwrap()
        .is_empty());
    // A renewal never shortens a lease.
    t.store
        .renew_lease(&job.lease, t0 + Duration::seconds(10))
        .await
        .unwrap();
    assert!(t
        .store
        .claim_jobs("w2", 1, at, at + Duration::seconds(5), &[])
        .await
        .unwrap()
        .is_empty());
    // Once rescheduled, the job is no longer held.
    t.store.retry_job(&job.lease, t0, "later").await.unwrap();
    assert!(matches!(
        t.store
            .renew_lease(&job.lease, t0 + Duration::seconds(90))
            .await,
        Err(StoreError::LeaseLost(_))
    ));
}

pub async fn retry_release_and_drop(t: &TestStore) {
    validation_jobs(t, 2).await;
    let t0 = now();
    let lease = t0 + Duration::minutes(5);
    let jobs = t.store.claim_jobs("w1", 10, t0, lease, &[]).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        t.store.jobs_by_kind().await.unwrap(),
        vec![("validate".to_string(), 2)]
    );

    // Retried: not due before its time, due after.
    let run_at = t0 + Duration::seconds(30);
    t.store
        .retry_job(&jobs[0].lease, run_at, "SCM busy")
        .await
        .unwrap();
    assert!(t
        .store
        .claim_jobs("w2", 10, t0, lease, &[])
        .await
        .unwrap()
        .is_empty());
    let due = t
        .store
        .claim_jobs("w2", 10, run_at, lease, &[])
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![jobs[0].id]
    );

    // Released (graceful shutdown): due at once for another worker.
    assert_eq!(t.store.release_jobs("w1").await.unwrap(), 1);
    let released = t.store.claim_jobs("w3", 10, t0, lease, &[]).await.unwrap();
    assert_eq!(
        released.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![jobs[1].id]
    );

    // Only the current claims drop them.
    assert!(matches!(
        t.store.drop_job(&jobs[0].lease).await,
        Err(StoreError::LeaseLost(_))
    ));
    t.store.drop_job(&due[0].lease).await.unwrap();
    t.store.drop_job(&released[0].lease).await.unwrap();
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);
    assert!(t.store.jobs_by_kind().await.unwrap().is_empty());
}

/// A job claimed again after its lease ran out (a database outage longer than the lease): every
/// write of the first handler — renewal, retry, reschedule, drop, and the outcome writes of an
/// issue job — fails with `LeaseLost` and changes nothing; the new holder's writes go through
/// (#12 item 1).
pub async fn a_lost_lease_fences_every_job_write(t: &TestStore) {
    let (o, old) = processing_order(&t.store).await;
    let later = now() + Duration::minutes(10);
    let new = t
        .store
        .claim_jobs("w2", 10, later, later + Duration::minutes(1), &[])
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.id == old.id)
        .expect("the expired issue job is claimed again");
    let lost =
        |r: Result<(), StoreError>| matches!(r, Err(StoreError::LeaseLost(id)) if id == old.id);
    let l = &old.lease;
    let at = later + Duration::seconds(1);
    assert!(lost(t.store.renew_lease(l, at).await));
    assert!(lost(t.store.mark_enroll_started(l, &o.id, at).await));
    assert!(lost(t.store.mark_enroll_answered(l, &o.id, at).await));
    assert!(lost(t.store.clear_enroll_started(l, &o.id, at).await));
    assert!(lost(t.store.record_ssl_id(l, &o.id, 77, None, at).await));
    assert!(lost(
        t.store.schedule_collect(l, &o.id, at, "pending", at).await
    ));
    assert!(lost(
        t.store.complete_issuance(l, &certificate(&o), at).await
    ));
    let problem = serde_json::json!({"type": "urn:ietf:params:acme:error:serverInternal"});
    assert!(lost(t.store.fail_issuance(l, &o.id, &problem, at).await));
    assert!(lost(t.store.retry_job(l, at, "stale").await));
    assert!(lost(t.store.reschedule_job(l, at).await));
    assert!(lost(t.store.drop_job(l).await));

    // Nothing of it landed: the order is processing, the enrollment untouched, the job is w2's.
    let stored = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Processing);
    assert!(stored.certificate_id.is_none());
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!(
        (
            e.enroll_started_at,
            e.enroll_attempts,
            e.ssl_id,
            e.collect_attempts
        ),
        (None, 0, None, 0)
    );
    assert_eq!(t.store.pending_jobs(JobKind::Issue).await.unwrap(), 1);

    // The new holder carries on.
    t.store
        .mark_enroll_started(&new.lease, &o.id, at)
        .await
        .unwrap();
    t.store
        .mark_enroll_answered(&new.lease, &o.id, at + Duration::seconds(1))
        .await
        .unwrap();
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!(e.enroll_started_at, Some(at));
    assert_eq!(e.enroll_answered_at, Some(at + Duration::seconds(1)));
    t.store
        .complete_issuance(&new.lease, &certificate(&o), at)
        .await
        .unwrap();
    assert_eq!(
        t.store.order(&o.id).await.unwrap().unwrap().status,
        OrderStatus::Valid
    );
    assert_eq!(t.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);
}

/// A validation outcome from a handler whose lease is gone is not recorded.
pub async fn a_lost_lease_does_not_finish_a_validation(t: &TestStore) {
    let ch = validation_jobs(t, 1).await.remove(0);
    let t0 = now();
    let old = t
        .store
        .claim_jobs("w1", 1, t0, t0 + Duration::seconds(1), &[])
        .await
        .unwrap()
        .remove(0);
    let later = t0 + Duration::seconds(5);
    let new = t
        .store
        .claim_jobs("w2", 1, later, later + Duration::minutes(1), &[])
        .await
        .unwrap()
        .remove(0);
    let outcome = ValidationOutcome::Valid {
        record: serde_json::json!({"url": "http://x/"}),
    };
    let valid_until = later + Duration::days(30);
    let r = t
        .store
        .finish_validation(&old.lease, &ch, &outcome, valid_until, later)
        .await;
    assert!(matches!(r, Err(StoreError::LeaseLost(_))), "{r:?}");
    assert_eq!(
        t.store.challenge(&ch).await.unwrap().unwrap().status,
        ChallengeStatus::Processing
    );
    t.store
        .finish_validation(&new.lease, &ch, &outcome, valid_until, later)
        .await
        .unwrap();
    assert_eq!(
        t.store.challenge(&ch).await.unwrap().unwrap().status,
        ChallengeStatus::Valid
    );
}

/// A worker never claims again a job it still runs, even once its lease ran out (its handler
/// may be stuck behind a database outage); other workers still can.
pub async fn a_claim_skips_the_jobs_this_process_runs(t: &TestStore) {
    validation_jobs(t, 1).await;
    let t0 = now();
    let first = t
        .store
        .claim_jobs("w1", 10, t0, t0 + Duration::seconds(1), &[])
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let later = t0 + Duration::seconds(5);
    let lease = later + Duration::minutes(1);
    let running = [first[0].id];
    assert!(t
        .store
        .claim_jobs("w1", 10, later, lease, &running)
        .await
        .unwrap()
        .is_empty());
    let other = t
        .store
        .claim_jobs("w2", 10, later, lease, &[])
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].id, first[0].id);
}

pub async fn an_enqueued_job_wakes_the_worker(t: &TestStore) {
    let mut wakeups = t.store.job_wakeups().await.unwrap();
    let waiter = tokio::spawn(async move {
        tokio::time::timeout(std::time::Duration::from_secs(30), wakeups.recv()).await
    });
    validation_jobs(t, 1).await;
    let woke = waiter.await.unwrap();
    assert!(matches!(woke, Ok(Ok(()))), "no wake-up: {woke:?}");
}
