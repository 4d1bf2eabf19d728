//! Retention: old finished or expired orders go with their authorizations and challenges, in
//! batches; recent and unfinished orders stay, and so do certificates, enrollments and the orders
//! they belong to.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::status::OrderStatus;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::{DateTime, Duration, Utc};

/// The cut-off of a 90-day retention.
fn cutoff() -> DateTime<Utc> {
    now() - Duration::days(90)
}

/// Ages an order so it finished (and expired) 100 days ago.
async fn age(t: &TestStore, order_id: &str) {
    let long_ago = now() - Duration::days(100);
    t.set_order_times(order_id, long_ago, long_ago).await;
}

/// An order whose only validation failed: `invalid`, without an enrollment.
async fn failed_order(store: &Store, account_id: &str, name: &str) -> (Order, Authorization) {
    let (o, authz) = order(store, account_id, &[name]).await;
    let ch = &authz.challenges[0];
    store.start_challenge(&ch.id, now()).await.unwrap();
    let job = claim_one(store, JobKind::Validate, &ch.id).await;
    store
        .finish_validation(
            &job.lease,
            &ch.id,
            &ValidationOutcome::Invalid {
                error: serde_json::json!({"type": "urn:ietf:params:acme:error:connection"}),
                record: None,
            },
            now() + Duration::days(30),
            now(),
        )
        .await
        .unwrap();
    (o, authz)
}

/// Everything of an authorization is gone (or not).
async fn authz_gone(store: &Store, authz: &Authorization) -> bool {
    let a = store.authorization(&authz.id).await.unwrap();
    let mut challenges_left = 0;
    for c in &authz.challenges {
        if store.challenge(&c.id).await.unwrap().is_some() {
            challenges_left += 1;
        }
    }
    match a {
        None => {
            assert_eq!(
                challenges_left, 0,
                "challenges went with their authorization"
            );
            true
        }
        Some(_) => {
            assert_eq!(challenges_left, authz.challenges.len());
            false
        }
    }
}

/// Purges in batches of `batch` until nothing is left; the batches' sum.
async fn purge_all(store: &Store, batch: i64) -> Purged {
    let mut total = Purged::default();
    loop {
        let p = store
            .purge_finished_orders(cutoff(), batch, now())
            .await
            .unwrap();
        assert!(p.orders_examined <= batch as u64);
        total.add(p);
        if p.orders_examined < batch as u64 {
            return total;
        }
    }
}

pub async fn old_finished_orders_go_recent_and_unfinished_ones_and_certificates_stay(
    t: &TestStore,
) {
    let s = &t.store;
    let a = account(s).await;

    // Old: failed (invalid), expired while pending, and valid with a certificate.
    let (failed, failed_authz) = failed_order(s, &a.id, "failed.example.com").await;
    assert_eq!(
        s.order(&failed.id).await.unwrap().unwrap().status,
        OrderStatus::Invalid
    );
    age(t, &failed.id).await;
    let (expired, expired_authz) = order(s, &a.id, &["expired.example.com"]).await;
    age(t, &expired.id).await;
    let (issued, job) = processing_order(s).await;
    let issued_authz = s
        .authorization(&issued.authz_ids[0])
        .await
        .unwrap()
        .unwrap();
    let cert = certificate(&issued);
    s.complete_issuance(&job.lease, &cert, now()).await.unwrap();
    age(t, &issued.id).await;

    // Not to be touched: a recent failed order, a recent pending one, and an old order still
    // processing (SCM may take days).
    let (recent_failed, recent_failed_authz) = failed_order(s, &a.id, "recent.example.com").await;
    let (pending, pending_authz) = order(s, &a.id, &["pending.example.com"]).await;
    let (processing, _) = processing_order(s).await;
    let processing_authz = s
        .authorization(&processing.authz_ids[0])
        .await
        .unwrap()
        .unwrap();
    age(t, &processing.id).await;

    let purged = purge_all(s, 100).await;
    assert_eq!(purged.orders_examined, 3, "{purged:?}");
    assert_eq!(
        purged.orders, 2,
        "the order with a certificate keeps its row"
    );
    assert_eq!(purged.authorizations, 1 + 1 + 2, "{purged:?}");
    assert_eq!(purged.challenges, 2 * (1 + 1 + 2), "{purged:?}");

    assert!(s.order(&failed.id).await.unwrap().is_none());
    assert!(authz_gone(s, &failed_authz).await);
    assert!(s.order(&expired.id).await.unwrap().is_none());
    assert!(authz_gone(s, &expired_authz).await);

    // The certificate, its enrollment and its order stay; the order's authorizations go.
    let kept = s.order(&issued.id).await.unwrap().expect("order row kept");
    assert_eq!(kept.status, OrderStatus::Valid);
    assert!(kept.authz_ids.is_empty(), "{:?}", kept.authz_ids);
    assert_eq!(kept.certificate_id.as_deref(), Some(cert.id.as_str()));
    assert!(authz_gone(s, &issued_authz).await);
    assert_eq!(
        s.certificate_by_serial(&cert.serial)
            .await
            .unwrap()
            .unwrap()
            .id,
        cert.id
    );
    assert!(s.enrollment(&issued.id).await.unwrap().is_some());
    assert!(s.account(&a.id).await.unwrap().is_some());

    for (o, authz) in [
        (&recent_failed, &recent_failed_authz),
        (&pending, &pending_authz),
        (&processing, &processing_authz),
    ] {
        let stored = s.order(&o.id).await.unwrap().expect("kept");
        assert_eq!(stored.authz_ids, o.authz_ids);
        assert!(!authz_gone(s, authz).await);
    }

    // A second run finds nothing: the kept order is not examined again.
    assert_eq!(purge_all(s, 100).await, Purged::default());
}

pub async fn an_authorization_a_newer_order_links_to_stays(t: &TestStore) {
    let s = &t.store;
    let a = account(s).await;
    let (old, authz) = order(s, &a.id, &["shared.example.com"]).await;
    make_ready(s, &old).await;
    // A newer order reuses the old order's (valid) authorization.
    let mut newer = new_order(&a.id, &["shared.example.com"], None);
    newer.authzs = vec![OrderAuthz::Reuse(authz.id.clone())];
    let newer = s.create_order(&newer, now()).await.unwrap();
    age(t, &old.id).await;

    let purged = purge_all(s, 100).await;
    assert_eq!((purged.orders, purged.authorizations), (1, 0), "{purged:?}");
    assert!(s.order(&old.id).await.unwrap().is_none());
    assert!(!authz_gone(s, &authz).await);
    assert_eq!(
        s.order(&newer.id).await.unwrap().unwrap().authz_ids,
        vec![authz.id.clone()]
    );
}

pub async fn retention_works_in_batches(t: &TestStore) {
    let s = &t.store;
    let a = account(s).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (o, _) = order(s, &a.id, &[&format!("b{i}.example.com")]).await;
        age(t, &o.id).await;
        ids.push(o.id);
    }
    let mut examined = Vec::new();
    loop {
        let p = s.purge_finished_orders(cutoff(), 2, now()).await.unwrap();
        examined.push(p.orders_examined);
        assert_eq!(p.orders, p.orders_examined);
        assert_eq!(p.challenges, 2 * p.authorizations);
        if p.orders_examined < 2 {
            break;
        }
    }
    assert_eq!(examined, vec![2, 2, 1]);
    for id in &ids {
        assert!(s.order(id).await.unwrap().is_none());
    }
}
