//! Starting and finishing validations: the transactions that move challenges, authorizations and
//! orders together.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::status::{AuthzStatus, ChallengeStatus, OrderStatus};
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::Duration;

pub async fn one_challenge_of_an_authorization_starts_under_concurrency(t: &TestStore) {
    let a = account(&t.store).await;
    let (_, authz) = order(&t.store, &a.id, &["race.example.com"]).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = t.store.clone();
            let ch = authz.challenges[i % 2].id.clone();
            tokio::spawn(async move { s.start_challenge(&ch, now()).await.unwrap() })
        })
        .collect();
    let mut started = 0;
    for task in tasks {
        started += matches!(task.await.unwrap(), StartChallenge::Started) as usize;
    }
    assert_eq!(started, 1);
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 1);
    let stored = t.store.authorization(&authz.id).await.unwrap().unwrap();
    let processing = stored
        .challenges
        .iter()
        .filter(|c| c.status == ChallengeStatus::Processing)
        .count();
    assert_eq!(processing, 1);
}

async fn validate(t: &TestStore, authz_id: &str, outcome: ValidationOutcome) {
    let authz = t.store.authorization(authz_id).await.unwrap().unwrap();
    let ch = &authz.challenges[0];
    assert!(matches!(
        t.store.start_challenge(&ch.id, now()).await.unwrap(),
        StartChallenge::Started
    ));
    let job = claim_one(&t.store, JobKind::Validate, &ch.id).await;
    t.store
        .finish_validation(
            &job.lease,
            &ch.id,
            &outcome,
            now() + Duration::days(30),
            now(),
        )
        .await
        .unwrap();
}

pub async fn a_valid_outcome_makes_waiting_orders_ready(t: &TestStore) {
    let a = account(&t.store).await;
    let (two, _) = order(&t.store, &a.id, &["v1.example.com", "v2.example.com"]).await;
    let mut one = new_order(&a.id, &["v1.example.com"], None);
    one.authzs[0] = OrderAuthz::Reuse(two.authz_ids[0].clone());
    let one = t.store.create_order(&one, now()).await.unwrap();

    let record = serde_json::json!({"url": "http://v1.example.com/.well-known/acme-challenge/t"});
    validate(
        t,
        &two.authz_ids[0],
        ValidationOutcome::Valid {
            record: record.clone(),
        },
    )
    .await;
    let status = |id: String| {
        let s = t.store.clone();
        async move { s.order(&id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(one.id.clone()).await, OrderStatus::Ready);
    assert_eq!(
        status(two.id.clone()).await,
        OrderStatus::Pending,
        "one authz still pending"
    );
    let authz = t
        .store
        .authorization(&two.authz_ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(authz.status, AuthzStatus::Valid);
    assert!(authz.validated_at.is_some());
    assert_eq!(authz.challenges[0].status, ChallengeStatus::Valid);
    assert_eq!(authz.challenges[0].validation_record, Some(record));
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);

    validate(
        t,
        &two.authz_ids[1],
        ValidationOutcome::Valid {
            record: serde_json::json!({}),
        },
    )
    .await;
    assert_eq!(status(two.id.clone()).await, OrderStatus::Ready);
}

pub async fn an_invalid_outcome_fails_waiting_orders(t: &TestStore) {
    let a = account(&t.store).await;
    let (o, authz) = order(&t.store, &a.id, &["i1.example.com", "i2.example.com"]).await;
    let error = serde_json::json!({
        "type": "urn:ietf:params:acme:error:connection",
        "detail": "connection refused",
    });
    validate(
        t,
        &authz.id,
        ValidationOutcome::Invalid {
            error: error.clone(),
            record: None,
        },
    )
    .await;
    let stored = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Invalid);
    assert_eq!(stored.error, Some(error.clone()));
    let authz = t.store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(authz.status, AuthzStatus::Invalid);
    assert_eq!(authz.challenges[0].status, ChallengeStatus::Invalid);
    assert_eq!(authz.challenges[0].error, Some(error));
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);
}

pub async fn an_expired_authorization_ignores_late_outcomes(t: &TestStore) {
    let a = account(&t.store).await;
    let t0 = now();
    let mut new = new_order(&a.id, &["late.example.com"], None);
    if let OrderAuthz::New(z) = &mut new.authzs[0] {
        z.expires_at = t0 + Duration::seconds(1);
    }
    let o = t.store.create_order(&new, now()).await.unwrap();
    let authz = t
        .store
        .authorization(&o.authz_ids[0])
        .await
        .unwrap()
        .unwrap();
    let ch = &authz.challenges[0];
    t.store.start_challenge(&ch.id, t0).await.unwrap();
    let job = claim_one(&t.store, JobKind::Validate, &ch.id).await;
    let late = t0 + Duration::seconds(2);
    t.store
        .finish_validation(
            &job.lease,
            &ch.id,
            &ValidationOutcome::Valid {
                record: serde_json::json!({}),
            },
            late + Duration::days(30),
            late,
        )
        .await
        .unwrap();
    let stored = t.store.authorization(&authz.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthzStatus::Pending, "not revived");
    assert_eq!(
        stored.expires_at,
        t0 + Duration::seconds(1),
        "expiry unchanged"
    );
    assert_eq!(
        t.store.order(&o.id).await.unwrap().unwrap().status,
        OrderStatus::Pending
    );
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);
    // Starting a challenge of the expired authorization does nothing.
    assert!(matches!(
        t.store
            .start_challenge(&authz.challenges[1].id, late)
            .await
            .unwrap(),
        StartChallenge::Unchanged
    ));
}

pub async fn deactivation_fails_waiting_orders(t: &TestStore) {
    let a = account(&t.store).await;
    let (o, authz) = order(&t.store, &a.id, &["d.example.com"]).await;
    make_ready(&t.store, &o).await;
    assert!(t
        .store
        .deactivate_authz(&authz.id, &deactivated(), now())
        .await
        .unwrap());
    assert!(
        !t.store
            .deactivate_authz(&authz.id, &deactivated(), now())
            .await
            .unwrap(),
        "only once"
    );
    let stored = t.store.order(&o.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Invalid);
    assert_eq!(
        stored.error.unwrap()["type"],
        "urn:ietf:params:acme:error:unauthorized"
    );
}

pub async fn concurrent_outcomes_all_land(t: &TestStore) {
    // Validation workers finish different authorizations of one order at the same moment; each
    // outcome transaction reads before it writes, and none may fail for the others' sake.
    let a = account(&t.store).await;
    let names: Vec<String> = (0..8).map(|i| format!("c{i}.example.com")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (o, _) = order(&t.store, &a.id, &refs).await;
    let mut started = Vec::new();
    for id in &o.authz_ids {
        let ch = t.store.authorization(id).await.unwrap().unwrap().challenges[0]
            .id
            .clone();
        t.store.start_challenge(&ch, now()).await.unwrap();
        started.push((claim_one(&t.store, JobKind::Validate, &ch).await, ch));
    }
    let tasks: Vec<_> = started
        .into_iter()
        .map(|(job, ch)| {
            let s = t.store.clone();
            tokio::spawn(async move {
                let outcome = ValidationOutcome::Valid {
                    record: serde_json::json!({}),
                };
                s.finish_validation(&job.lease, &ch, &outcome, now() + Duration::days(1), now())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("every outcome is recorded");
    }
    assert_eq!(
        t.store.order(&o.id).await.unwrap().unwrap().status,
        OrderStatus::Ready
    );
    assert_eq!(t.store.pending_jobs(JobKind::Validate).await.unwrap(), 0);
}
