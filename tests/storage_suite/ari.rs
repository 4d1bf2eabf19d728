//! ACME Renewal Information in the store: the certificate found by serial with its order's
//! profile and identifiers, `replaces` on the order, the replacement claim under concurrency and
//! after the claiming order failed, renew-now marks and the status sweep's batches and job.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::Duration;

/// An issued certificate (order for a/b.example.com, sslId 4242).
async fn issued(t: &TestStore) -> (Order, Certificate) {
    let (o, job) = processing_order(&t.store).await;
    let cert = certificate(&o);
    t.store
        .complete_issuance(&job.lease, &cert, now())
        .await
        .unwrap();
    (o, cert)
}

pub async fn replacement_is_claimed_once_and_freed_by_an_invalid_order(t: &TestStore) {
    let (o, cert) = issued(t).await;
    let found = t
        .store
        .ari_certificate_by_serial(&cert.serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), found.order_id.as_str()),
        (cert.id.as_str(), o.id.as_str())
    );
    assert_eq!(found.identifiers, o.identifiers);
    assert_eq!(found.replaced_by_order, None);
    assert!(t
        .store
        .ari_certificate_by_serial("ffff")
        .await
        .unwrap()
        .is_none());

    // Replacing orders record `replaces` and read it back.
    let mut orders = Vec::new();
    for _ in 0..6 {
        let mut n = new_order(&o.account_id, &["a.example.com"], None);
        n.replaces = Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".into());
        let created = t.store.create_order(&n, now()).await.unwrap();
        assert_eq!(created.replaces, n.replaces);
        orders.push(created);
    }
    assert_eq!(
        t.store
            .order(&orders[0].id)
            .await
            .unwrap()
            .unwrap()
            .replaces
            .as_deref(),
        Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    );
    // Racing claims: exactly one order wins.
    let tasks: Vec<_> = orders
        .iter()
        .map(|ord| {
            let (s, c, id) = (t.store.clone(), cert.id.clone(), ord.id.clone());
            tokio::spawn(async move { s.claim_replacement(&c, &id, now()).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (task, ord) in tasks.into_iter().zip(&orders) {
        if task.await.unwrap().unwrap() == ReplacementClaim::Claimed {
            winners.push(ord.id.clone());
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let winner = winners[0].clone();
    let loser = orders.iter().find(|x| x.id != winner).unwrap().id.clone();
    // The winner may claim again; the others are told who holds it.
    assert_eq!(
        t.store
            .claim_replacement(&cert.id, &winner, now())
            .await
            .unwrap(),
        ReplacementClaim::Claimed
    );
    assert_eq!(
        t.store
            .claim_replacement(&cert.id, &loser, now())
            .await
            .unwrap(),
        ReplacementClaim::AlreadyReplaced(winner.clone())
    );
    // Once the winner is invalid, another order may replace the certificate.
    t.store
        .abandon_order(&winner, &serde_json::json!({"type": "x"}), now())
        .await
        .unwrap();
    assert_eq!(
        t.store
            .claim_replacement(&cert.id, &loser, now())
            .await
            .unwrap(),
        ReplacementClaim::Claimed
    );
    assert_eq!(t.store.replaced_ssl_id(&loser).await.unwrap(), Some(4242));
    assert_eq!(t.store.replaced_ssl_id(&winner).await.unwrap(), None);
    // An order that expired unfinished frees it as well (the fixture's orders live one hour).
    let third = orders
        .iter()
        .find(|x| x.id != winner && x.id != loser)
        .unwrap();
    assert_eq!(
        t.store
            .claim_replacement(&cert.id, &third.id, now())
            .await
            .unwrap(),
        ReplacementClaim::AlreadyReplaced(loser.clone())
    );
    let later = now() + Duration::hours(2);
    assert_eq!(
        t.store
            .claim_replacement(&cert.id, &third.id, later)
            .await
            .unwrap(),
        ReplacementClaim::Claimed
    );
}

pub async fn renew_now_marks_and_the_status_sweep(t: &TestStore) {
    let (_, a) = issued(t).await;
    let (_, b) = issued(t).await;
    let (_, c) = issued(t).await;
    let t0 = now();
    let candidates = t.store.renew_now_candidates(t0).await.unwrap();
    assert_eq!(candidates.len(), 3);
    assert!(candidates
        .iter()
        .all(|x| x.eab_kid.is_none() && x.identifiers.len() == 2));

    // Never-checked certificates come first, then the least recently checked.
    let first = t.store.status_sweep_batch(t0, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    for (id, ssl) in &first {
        assert_eq!(*ssl, 4242);
        t.store
            .record_scm_status(id, "Issued", None, t0)
            .await
            .unwrap();
    }
    let next = t.store.status_sweep_batch(t0, 2).await.unwrap();
    let unchecked = [&a, &b, &c]
        .into_iter()
        .find(|x| first.iter().all(|(id, _)| *id != x.id))
        .unwrap();
    assert_eq!(next[0].0, unchecked.id, "the unchecked one first: {next:?}");

    // SCM reports one revoked: marked, and the sweep no longer reads it.
    t.store
        .record_scm_status(&unchecked.id, "Revoked", Some("scm-revoked"), t0)
        .await
        .unwrap();
    let s = t.store.ari_state(&unchecked.id).await.unwrap().unwrap();
    assert_eq!(s.scm_status.as_deref(), Some("Revoked"));
    assert_eq!(s.renew_now_reason.as_deref(), Some("scm-revoked"));
    assert_eq!(s.renew_now_at, Some(t0));
    let all = t.store.status_sweep_batch(t0, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|(id, _)| *id != unchecked.id));

    // The operator marks the rest; an already marked certificate keeps its first mark.
    let ids: Vec<String> = [&a, &b, &c].iter().map(|x| x.id.clone()).collect();
    let t1 = t0 + Duration::seconds(5);
    assert_eq!(
        t.store.mark_renew_now(&ids, "operator", t1).await.unwrap(),
        2
    );
    let s = t.store.ari_state(&unchecked.id).await.unwrap().unwrap();
    assert_eq!(
        (s.renew_now_at, s.renew_now_reason.as_deref()),
        (Some(t0), Some("scm-revoked"))
    );
    assert!(t.store.renew_now_candidates(t1).await.unwrap().is_empty());
    assert!(t.store.status_sweep_batch(t1, 10).await.unwrap().is_empty());
}

pub async fn the_sweep_job_exists_once_and_only_its_holder_reschedules_it(t: &TestStore) {
    for _ in 0..3 {
        t.store
            .ensure_job(JobKind::StatusSweep, STATUS_SWEEP_SUBJECT, now())
            .await
            .unwrap();
    }
    assert_eq!(t.store.pending_jobs(JobKind::StatusSweep).await.unwrap(), 1);
    let job = claim_one(&t.store, JobKind::StatusSweep, STATUS_SWEEP_SUBJECT).await;
    let next = now() + Duration::seconds(60);
    let stale = JobLease {
        token: "an earlier claim".into(),
        ..job.lease.clone()
    };
    assert!(matches!(
        t.store.reschedule_job(&stale, next).await,
        Err(StoreError::LeaseLost(_))
    ));
    t.store.reschedule_job(&job.lease, next).await.unwrap();
    // Not due before its next round.
    let due = t
        .store
        .claim_jobs("tester", 10, now(), now() + Duration::minutes(5), &[])
        .await
        .unwrap();
    assert!(
        due.iter().all(|j| j.kind != JobKind::StatusSweep),
        "{due:?}"
    );
    let due = t
        .store
        .claim_jobs("tester", 10, next, next + Duration::minutes(5), &[])
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1, "a round is not a retry");
}
