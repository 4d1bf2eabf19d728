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
                        .claim_jobs(&format!("w{w}"), 2, now(), now() + Duration::minutes(5))
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
        .claim_jobs("w1", 10, t0, t0 + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    let leased = t
        .store
        .claim_jobs("w2", 10, t0, t0 + Duration::seconds(1))
        .await
        .unwrap();
    assert!(leased.is_empty(), "a live lease is respected");
    let later = t0 + Duration::seconds(2);
    let again = t
        .store
        .claim_jobs("w2", 10, later, later + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].attempts, 2);
    // w1 lost it: its renewal fails.
    assert!(!t
        .store
        .renew_lease(first[0].id, "w1", later + Duration::seconds(90))
        .await
        .unwrap());
}

pub async fn only_the_holder_renews_a_lease(t: &TestStore) {
    validation_jobs(t, 1).await;
    let t0 = now();
    let job = t
        .store
        .claim_jobs("w1", 1, t0, t0 + Duration::seconds(5))
        .await
        .unwrap()
        .remove(0);
    assert!(!t
        .store
        .renew_lease(job.id, "w2", t0 + Duration::seconds(60))
        .await
        .unwrap());
    assert!(t
        .store
        .renew_lease(job.id, "w1", t0 + Duration::seconds(60))
        .await
        .unwrap());
    // The renewed lease holds past the original one.
    let at = t0 + Duration::seconds(30);
    assert!(t
        .store
        .claim_jobs("w2", 1, at, at + Duration::seconds(5))
        .await
        .unwrap()
        .is_empty());
    // A renewal never shortens a lease.
    assert!(t
        .store
        .renew_lease(job.id, "w1", t0 + Duration::seconds(10))
        .await
        .unwrap());
    assert!(t
        .store
        .claim_jobs("w2", 1, at, at + Duration::seconds(5))
        .await
        .unwrap()
        .is_empty());
    // Once rescheduled, the job is no longer held.
    t.store.retry_job(job.id, t0, "later").await.unwrap();
    assert!(!t
        .store
        .renew_lease(job.id, "w1", t0 + Duration::seconds(90))
        .await
        .unwrap());
}

pub async fn retry_release_and_drop(t: &TestStore) {
    validation_jobs(t, 2).await;
    let t0 = now();
    let lease = t0 + Duration::minutes(5);
    let jobs = t.store.claim_jobs("w1", 10, t0, lease).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        t.store.jobs_by_kind().await.unwrap(),
        vec![("validate".to_string(), 2)]
    );

    // Retried: not due before its time, due after.
    let run_at = t0 + Duration::seconds(30);
    t.store
        .retry_job(jobs[0].id, run_at, "SCM busy")
        .await
        .unwrap();
    assert!(t
        .store
        .claim_jobs("w2", 10, t0, lease)
        .await
        .unwrap()
        .is_empty());
    let due = t.store.claim_jobs("w2", 10, run_at, lease).await.unwrap();
    assert_eq!(
        due.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![jobs[0].id]
    );

    // Released (graceful shutdown): due at once for another worker.
    assert_eq!(t.store.release_jobs("w1").await.unwrap(), 1);
    let released = t.store.claim_jobs("w3", 10, t0, lease).await.unwrap();
    assert_eq!(
        released.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![jobs[1].id]
    );

    t.store.drop_job(jobs[0].id).await.unwrap();
    t.store.drop_job(jobs[1].id).await.unwrap();
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);
    assert!(t.store.jobs_by_kind().await.unwrap().is_empty());
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
