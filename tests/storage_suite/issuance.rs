//! Finalize, enrollment progress, certificates and revocation.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::audit::kind;
use acme_sectigo_bridge::model::status::OrderStatus;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::Duration;

pub async fn finalize_claims_an_order_once_under_concurrency(t: &TestStore) {
    let a = account(&t.store).await;
    let (o, _) = order(&t.store, &a.id, &["f.example.com"]).await;
    // Not ready yet: nothing to claim.
    assert!(matches!(
        t.store
            .start_finalize(&enrollment(&o.id), now())
            .await
            .unwrap(),
        FinalizeOutcome::NotReady
    ));
    make_ready(&t.store, &o).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = t.store.clone();
            let e = enrollment(&o.id);
            tokio::spawn(async move { s.start_finalize(&e, now()).await })
        })
        .collect();
    let mut started = 0;
    for task in tasks {
        // A loser either finds the order no longer ready or, having raced past that check on
        // PostgreSQL, hits the enrollment's primary key; neither creates a second enrollment.
        if let Ok(FinalizeOutcome::Started) = task.await.unwrap() {
            started += 1;
        }
    }
    assert_eq!(started, 1);
    assert_eq!(
        t.store.order(&o.id).await.unwrap().unwrap().status,
        OrderStatus::Processing
    );
    assert_eq!(t.store.pending_jobs(JobKind::Issue).await.unwrap(), 1);
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!(e.subj_alt_names, ["a.example.com", "b.example.com"]);
    assert_eq!(e.csr_der, enrollment(&o.id).csr_der);
    assert_eq!(e.ssl_id, None);
}

pub async fn enrollment_progress_is_recorded(t: &TestStore) {
    let (o, job) = processing_order(&t.store).await;
    let t0 = now();
    t.store
        .mark_enroll_started(&job.lease, &o.id, t0)
        .await
        .unwrap();
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!(e.enroll_started_at, Some(t0));
    assert_eq!(e.enroll_attempts, 1);
    t.store
        .clear_enroll_started(&job.lease, &o.id, now())
        .await
        .unwrap();
    assert_eq!(
        t.store
            .enrollment(&o.id)
            .await
            .unwrap()
            .unwrap()
            .enroll_started_at,
        None
    );

    t.store
        .record_ssl_id(&job.lease, &o.id, 9_000_000_001, Some("renew-1"), now())
        .await
        .unwrap();
    let poll_at = t0 + Duration::seconds(7);
    t.store
        .schedule_collect(&job.lease, &o.id, poll_at, "pending", now())
        .await
        .unwrap();
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!(e.ssl_id, Some(9_000_000_001));
    assert_eq!(e.renew_id.as_deref(), Some("renew-1"));
    assert_eq!(e.collect_attempts, 1);
    assert_eq!(e.next_poll_at, Some(poll_at));
    // The job now runs at the poll time (Retry-After comes from it) and is no longer leased.
    assert_eq!(
        t.store.issue_job_run_at(&o.id).await.unwrap(),
        Some(poll_at)
    );
    let due = t
        .store
        .claim_jobs("w9", 10, poll_at, poll_at + Duration::minutes(1), &[])
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, job.id);
}

pub async fn completing_issuance_makes_the_order_valid(t: &TestStore) {
    let (o, job) = processing_order(&t.store).await;
    let mut cert = certificate(&o);
    cert.alternate_chains = vec!["alt one\n".into(), "alt two\n".into()];
    t.store
        .complete_issuance(&job.lease, &cert, now())
        .await
        .unwrap();
    let stored = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Valid);
    assert_eq!(stored.certificate_id.as_deref(), Some(cert.id.as_str()));
    let by_serial = t
        .store
        .certificate_by_serial(&cert.serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_serial.id, cert.id);
    assert_eq!(by_serial.not_after, cert.not_after);
    assert_eq!(by_serial.ssl_id, 4242);
    assert_eq!(
        by_serial.alternate_chains, cert.alternate_chains,
        "in order"
    );
    assert_eq!(t.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);
    assert_eq!(t.store.issue_job_run_at(&o.id).await.unwrap(), None);
    // A second completion (a stalled replica finishing late) is refused and changes nothing.
    let mut dup = certificate(&o);
    dup.serial = "ff00".into();
    assert!(matches!(
        t.store.complete_issuance(&job.lease, &dup, now()).await,
        Err(StoreError::LeaseLost(_))
    ));
    let again = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(again.certificate_id.as_deref(), Some(cert.id.as_str()));
    assert!(t.store.certificate(&dup.id).await.unwrap().is_none());
}

pub async fn failing_issuance_makes_the_order_invalid(t: &TestStore) {
    let (o, job) = processing_order(&t.store).await;
    let error = serde_json::json!({
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "SCM declined the request",
    });
    t.store
        .fail_issuance(&job.lease, &o.id, &error, now())
        .await
        .unwrap();
    let stored = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Invalid);
    assert_eq!(stored.error, Some(error));
    assert_eq!(t.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);
}

pub async fn revocation_moves_through_its_states(t: &TestStore) {
    let (o, job) = processing_order(&t.store).await;
    let cert = certificate(&o);
    t.store
        .complete_issuance(&job.lease, &cert, now())
        .await
        .unwrap();
    assert_eq!(
        t.store.revocation_state(&cert.id).await.unwrap(),
        RevocationState::NotRequested
    );
    t.store
        .request_revocation(&cert.id, 4, now())
        .await
        .unwrap();
    t.store
        .request_revocation(&cert.id, 1, now())
        .await
        .unwrap(); // idempotent while pending
    assert_eq!(
        t.store.revocation_state(&cert.id).await.unwrap(),
        RevocationState::Requested { reason: 4 }
    );
    assert_eq!(t.store.pending_jobs(JobKind::Revoke).await.unwrap(), 1);

    // SCM refuses: the request is cleared with the reason, and may be made again.
    let job = claim_one(&t.store, JobKind::Revoke, &cert.id).await;
    let refusal = serde_json::json!({"type": "urn:ietf:params:acme:error:serverInternal"});
    t.store
        .fail_revocation(&job.lease, &cert.id, &refusal, now())
        .await
        .unwrap();
    assert_eq!(
        t.store.revocation_state(&cert.id).await.unwrap(),
        RevocationState::Failed(refusal)
    );
    t.store
        .request_revocation(&cert.id, 1, now())
        .await
        .unwrap();
    let job = claim_one(&t.store, JobKind::Revoke, &cert.id).await;
    let at = now();
    t.store
        .complete_revocation(&job.lease, &cert.id, at)
        .await
        .unwrap();
    assert_eq!(
        t.store.revocation_state(&cert.id).await.unwrap(),
        RevocationState::Revoked
    );
    let stored = t.store.certificate(&cert.id).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(at));
    assert_eq!(stored.revocation_reason, Some(1));
    assert_eq!(t.store.pending_jobs(JobKind::Revoke).await.unwrap(), 0);
}

pub async fn finalize_wakes_the_worker(t: &TestStore) {
    let a = account(&t.store).await;
    let (o, _) = order(&t.store, &a.id, &["wake.example.com"]).await;
    make_ready(&t.store, &o).await;
    let mut wakeups = t.store.job_wakeups().await.unwrap();
    let waiter = tokio::spawn(async move {
        tokio::time::timeout(std::time::Duration::from_secs(30), wakeups.recv()).await
    });
    t.store
        .start_finalize(&enrollment(&o.id), now())
        .await
        .unwrap();
    let woke = waiter.await.unwrap();
    assert!(matches!(woke, Ok(Ok(()))), "no wake-up: {woke:?}");
    let job = claim_one(&t.store, JobKind::Issue, &o.id).await;
    assert_eq!(job.attempts, 1);
}

/// #12 item 4: a failed order's enrollment is an orphan candidate when it has an sslId, or an
/// enroll sent before the settle bound; once recorded or marked reconciled it is not listed again.
pub async fn failed_orders_enrollments_are_orphan_candidates_once(t: &TestStore) {
    let problem = serde_json::json!({"type": "urn:ietf:params:acme:error:serverInternal",
                                     "detail": "collect deadline"});
    let t0 = now();
    // Failed after an enroll with an unknown outcome.
    let (unknown, job) = processing_order(&t.store).await;
    t.store
        .mark_enroll_started(&job.lease, &unknown.id, t0)
        .await
        .unwrap();
    t.store
        .fail_issuance(&job.lease, &unknown.id, &problem, t0)
        .await
        .unwrap();
    // Failed while SCM held its request (an sslId).
    let (pending, job) = processing_order(&t.store).await;
    t.store
        .record_ssl_id(&job.lease, &pending.id, 5151, None, t0)
        .await
        .unwrap();
    t.store
        .fail_issuance(&job.lease, &pending.id, &problem, t0)
        .await
        .unwrap();
    // Failed before any enroll: nothing to look for.
    let (never, job) = processing_order(&t.store).await;
    t.store
        .fail_issuance(&job.lease, &never.id, &problem, t0)
        .await
        .unwrap();

    let ids = |c: Vec<OrphanCandidate>| {
        let mut v: Vec<String> = c.into_iter().map(|c| c.enrollment.order_id).collect();
        v.sort();
        v
    };
    let early = t.store.orphan_candidates(t0, 10).await.unwrap();
    assert_eq!(
        ids(early),
        vec![pending.id.clone()],
        "the unknown enroll may still land"
    );
    let settled = t0 + Duration::seconds(1);
    let all = t.store.orphan_candidates(settled, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].order_error.as_ref().unwrap()["detail"],
        "collect deadline"
    );
    let mut want = vec![unknown.id.clone(), pending.id.clone()];
    want.sort();
    assert_eq!(ids(all), want);

    t.store
        .record_orphan(
            &unknown.id,
            6161,
            "revoked",
            "issued for a failed order",
            settled,
        )
        .await
        .unwrap();
    t.store.mark_reconciled(&pending.id, settled).await.unwrap();
    assert!(t
        .store
        .orphan_candidates(settled, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        t.store.orphan_counts().await.unwrap(),
        vec![("revoked".to_string(), 1)]
    );
    let (order_of, action, _) = t.store.orphan(6161).await.unwrap().unwrap();
    assert_eq!((order_of, action), (unknown.id, "revoked".to_string()));
}

pub async fn first_collect_stores_the_ssl_id_with_the_certificate(t: &TestStore) {
    let (o, job) = processing_order(&t.store).await;
    // A stale lease (another replica's claim) writes nothing, not even the sslId.
    let stale = JobLease {
        token: "someone-else".into(),
        ..job.lease.clone()
    };
    let cert = certificate(&o);
    assert!(matches!(
        t.store
            .complete_first_issuance(&stale, &cert, Some("renew-7"), now())
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!((e.ssl_id, e.renew_id), (None, None));
    assert_eq!(
        t.store.order(&o.id).await.unwrap().unwrap().status,
        OrderStatus::Processing
    );

    t.store
        .complete_first_issuance(&job.lease, &cert, Some("renew-7"), now())
        .await
        .unwrap();
    let e = t.store.enrollment(&o.id).await.unwrap().unwrap();
    assert_eq!(e.ssl_id, Some(cert.ssl_id));
    assert_eq!(e.renew_id.as_deref(), Some("renew-7"));
    let stored = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Valid);
    assert_eq!(stored.certificate_id.as_deref(), Some(cert.id.as_str()));
    let events = t
        .store
        .audit_events(&AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let of_order = |k: &str| {
        events
            .iter()
            .filter(|ev| ev.kind == k && ev.order_id.as_deref() == Some(o.id.as_str()))
            .count()
    };
    assert_eq!(of_order(kind::SCM_ENROLLED), 1, "{events:#?}");
    assert_eq!(of_order(kind::SCM_ISSUED), 1, "{events:#?}");
}

/// Finalize's claim of `e` with a CSR whose key has this thumbprint.
async fn claim(t: &TestStore, e: &Enrollment, key: &str) -> FinalizeOutcome {
    t.store
        .start_finalize_unless_account_key(e, Some(key), now())
        .await
        .unwrap()
}

pub async fn finalize_refuses_a_csr_key_that_is_an_account_key(t: &TestStore) {
    let a = account(&t.store).await;
    let (o, _) = order(&t.store, &a.id, &["k.example.com"]).await;
    make_ready(&t.store, &o).await;
    let e = enrollment(&o.id);
    assert!(matches!(
        claim(t, &e, &a.key_thumbprint).await,
        FinalizeOutcome::CsrKeyIsAccountKey
    ));
    // Nothing changed: the order is still ready, with no enrollment and no job.
    assert_eq!(
        t.store.order(&o.id).await.unwrap().unwrap().status,
        OrderStatus::Ready
    );
    assert!(t.store.enrollment(&o.id).await.unwrap().is_none());
    assert_eq!(t.store.pending_jobs(JobKind::Issue).await.unwrap(), 0);
    // Another key claims it; a second claim finds it no longer ready, whatever its key.
    assert!(matches!(
        claim(t, &e, "not-an-account-key").await,
        FinalizeOutcome::Started
    ));
    assert!(matches!(
        claim(t, &e, &a.key_thumbprint).await,
        FinalizeOutcome::CsrKeyIsAccountKey
    ));
    assert!(matches!(
        claim(t, &e, "not-an-account-key").await,
        FinalizeOutcome::NotReady
    ));
}
