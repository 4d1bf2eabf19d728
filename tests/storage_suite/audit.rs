//! The audit trail (#15): every committed change has exactly one event, written in its own
//! transaction — a change rolled back (by a race, a refusal, or a statement failing after the
//! event was inserted) leaves none — and the table refuses UPDATE and DELETE.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::audit::kind;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;

/// Every event, oldest first.
async fn all_events(store: &Store) -> Vec<AuditRecord> {
    store
        .audit_events(&AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// How many events of `kind` there are.
fn count(events: &[AuditRecord], kind: &str) -> usize {
    events.iter().filter(|e| e.kind == kind).count()
}

pub async fn every_committed_change_has_exactly_one_event(t: &TestStore) {
    let s = &t.store;
    let key = eab_key(false);
    s.create_eab_key_by(&key, &Actor::Operator("alice".into()))
        .await
        .unwrap();
    let acct = match s
        .create_account(&new_account(Some(&key.kid)), now())
        .await
        .unwrap()
    {
        CreateAccountOutcome::Created(a) => a,
        other => panic!("{other:?}"),
    };
    let jwk = serde_json::json!({"kty": "EC", "new": true});
    let new_thumb = format!("new-{}", acct.id);
    assert!(matches!(
        s.change_account_key(&acct.id, &acct.key_thumbprint, &new_thumb, &jwk, now())
            .await
            .unwrap(),
        KeyChangeOutcome::Changed(_)
    ));
    let (order, _) = order(s, &acct.id, &["a.example.com", "b.example.com"]).await;
    make_ready(s, &order).await;
    assert!(matches!(
        s.start_finalize(&enrollment(&order.id), now())
            .await
            .unwrap(),
        FinalizeOutcome::Started
    ));
    // A second finalize changes nothing, so records nothing.
    assert!(matches!(
        s.start_finalize(&enrollment(&order.id), now())
            .await
            .unwrap(),
        FinalizeOutcome::NotReady
    ));
    let job = claim_one(s, JobKind::Issue, &order.id).await;
    s.record_ssl_id(&job.lease, &order.id, 4242, None, now())
        .await
        .unwrap();
    s.record_ssl_id(&job.lease, &order.id, 4242, None, now())
        .await
        .unwrap(); // the same answer again
    let cert = certificate(&order);
    s.complete_issuance(&job.lease, &cert, now()).await.unwrap();
    // A retried completion: the job is gone with its lease, so it is refused and records nothing.
    assert!(matches!(
        s.complete_issuance(&job.lease, &cert, now()).await,
        Err(StoreError::LeaseLost(_))
    ));
    let operator = Actor::Operator("bob".into());
    s.request_revocation_by(&cert.id, 4, &operator, now())
        .await
        .unwrap();
    s.request_revocation_by(&cert.id, 1, &operator, now())
        .await
        .unwrap(); // pending: nothing changes
    let job = claim_one(s, JobKind::Revoke, &cert.id).await;
    s.complete_revocation(&job.lease, &cert.id, now())
        .await
        .unwrap();
    assert!(s
        .rotate_eab_hmac(&key.kid, &[9; 32], &operator, now())
        .await
        .unwrap());
    assert!(s
        .revoke_eab_key_by(&key.kid, EabRevocation::StopAccounts, &operator, now())
        .await
        .unwrap());
    assert!(!s
        .revoke_eab_key_by(&key.kid, EabRevocation::StopAccounts, &operator, now())
        .await
        .unwrap());
    s.deactivate_account_by(&acct.id, &operator, now())
        .await
        .unwrap();
    s.deactivate_account(&acct.id, now()).await.unwrap(); // already deactivated

    let events = all_events(s).await;
    for k in [
        kind::EAB_CREATED,
        kind::ACCOUNT_CREATED,
        kind::ACCOUNT_KEY_CHANGED,
        kind::ORDER_CREATED,
        kind::ORDER_FINALIZED,
        kind::SCM_ENROLLED,
        kind::SCM_ISSUED,
        kind::REVOCATION_REQUESTED,
        kind::CERT_REVOKED,
        kind::EAB_HMAC_ROTATED,
        kind::EAB_REVOKED,
        kind::ACCOUNT_DEACTIVATED,
    ] {
        assert_eq!(count(&events, k), 1, "{k}: {events:#?}");
    }
    assert_eq!(events.len(), 12, "{events:#?}");

    // Who did it, and the keys an operator searches by.
    let by_kind = |k: &str| events.iter().find(|e| e.kind == k).unwrap().clone();
    assert_eq!(by_kind(kind::EAB_CREATED).actor, "operator:alice");
    assert_eq!(
        by_kind(kind::ACCOUNT_CREATED).actor,
        format!("account:{}", acct.id)
    );
    assert_eq!(by_kind(kind::REVOCATION_REQUESTED).actor, "operator:bob");
    assert_eq!(
        by_kind(kind::ORDER_FINALIZED).actor,
        format!("account:{}", acct.id)
    );
    assert_eq!(by_kind(kind::REVOCATION_REQUESTED).details["reason"], 4);
    let issued = by_kind(kind::SCM_ISSUED);
    assert_eq!(issued.serial.as_deref(), Some(cert.serial.as_str()));
    assert_eq!(issued.account_id.as_deref(), Some(acct.id.as_str()));
    assert_eq!(issued.eab_kid.as_deref(), Some(key.kid.as_str()));
    assert_eq!(issued.names.as_deref(), Some("a.example.com,b.example.com"));
    assert_eq!(by_kind(kind::SCM_ENROLLED).details["ssl_id"], 4242);
    assert!(
        !serde_json::to_string(&events).unwrap().contains("[9,9,9"),
        "an HMAC key reached the trail"
    );
}

pub async fn the_trail_is_searched_and_paged(t: &TestStore) {
    let s = &t.store;
    let key = eab_key(false);
    s.create_eab_key(&key).await.unwrap();
    let bound = match s
        .create_account(&new_account(Some(&key.kid)), now())
        .await
        .unwrap()
    {
        CreateAccountOutcome::Created(a) => a,
        other => panic!("{other:?}"),
    };
    let other = account(s).await;
    let before = now();
    for i in 0..5 {
        order(s, &bound.id, &[&format!("n{i}.team.example")]).await;
    }
    order(s, &other.id, &["else.example.org"]).await;
    let q = |f: &dyn Fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let label = key.label.clone();
    let by_label = s
        .audit_events(&q(&|q| q.eab_label = Some(label.clone())))
        .await
        .unwrap();
    // The key's creation, the account's, and its five orders.
    assert_eq!(by_label.len(), 7, "{by_label:#?}");
    let by_account = s
        .audit_events(&q(&|q| q.account_id = Some(other.id.clone())))
        .await
        .unwrap();
    assert_eq!(by_account.len(), 2);
    let by_name = s
        .audit_events(&q(&|q| q.name = Some("n3.team.example".into())))
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].kind, kind::ORDER_CREATED);
    // LIKE's wildcards in a searched name match only themselves.
    for wild in ["n_.team", "n%.team"] {
        let none = s
            .audit_events(&q(&|q| q.name = Some(wild.into())))
            .await
            .unwrap();
        assert!(none.is_empty(), "{wild}: {none:#?}");
    }
    let since = s
        .audit_events(&q(&|q| q.since = Some(before)))
        .await
        .unwrap();
    assert_eq!(since.len(), 6);
    let until = s
        .audit_events(&q(&|q| q.until = Some(before)))
        .await
        .unwrap();
    assert_eq!(until.len(), 3);

    // Pages of two, each after the last id of the previous one, cover everything once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .audit_events(&q(&|q| {
                q.limit = 2;
                q.after_id = after;
            }))
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|e| e.id);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    let all: Vec<i64> = all_events(s).await.into_iter().map(|e| e.id).collect();
    assert_eq!(seen, all);
    assert_eq!(all.len(), 9);
}

pub async fn a_rolled_back_change_leaves_no_event(t: &TestStore) {
    let s = &t.store;
    // A race lost: the same key registers once; the loser's transaction records nothing.
    let new = new_account(None);
    s.create_account(&new, now()).await.unwrap();
    let mut again = new.clone();
    again.id = format!("{}-2", new.id);
    assert!(matches!(
        s.create_account(&again, now()).await.unwrap(),
        CreateAccountOutcome::KeyExists(_)
    ));
    // A refusal: a revoked EAB key binds nothing.
    let key = eab_key(false);
    s.create_eab_key(&key).await.unwrap();
    s.revoke_eab_key(&key.kid, EabRevocation::KeepAccounts, now())
        .await
        .unwrap();
    let refused = new_account(Some(&key.kid));
    assert!(matches!(
        s.create_account(&refused, now()).await.unwrap(),
        CreateAccountOutcome::EabUnusable
    ));
    let events = all_events(s).await;
    assert_eq!(count(&events, kind::ACCOUNT_CREATED), 1, "{events:#?}");
    assert!(events
        .iter()
        .all(|e| e.account_id.as_deref() != Some(refused.id.as_str())
            && e.account_id.as_deref() != Some(again.id.as_str())));

    // A statement failing after the event was inserted: completing the issuance cannot remove
    // its job, so the certificate, the order's change and the event all roll back.
    let (order, job) = processing_order(s).await;
    t.fail_on("jobs", "DELETE", "OLD", "OLD.kind = 'issue'")
        .await;
    let cert = certificate(&order);
    assert!(s.complete_issuance(&job.lease, &cert, now()).await.is_err());
    assert_eq!(
        s.order(&order.id).await.unwrap().unwrap().status,
        OrderStatus::Processing
    );
    assert!(s.certificate(&cert.id).await.unwrap().is_none());
    assert_eq!(count(&all_events(s).await, kind::SCM_ISSUED), 0);

    // The event failing: the change it records rolls back with it.
    let acct = account(s).await;
    t.fail_on(
        "audit_events",
        "INSERT",
        "NEW",
        "NEW.kind = 'account.deactivated'",
    )
    .await;
    assert!(s
        .deactivate_account_by(&acct.id, &Actor::Operator("op".into()), now())
        .await
        .is_err());
    assert_eq!(
        s.account(&acct.id).await.unwrap().unwrap().status,
        AccountStatus::Valid
    );
    assert_eq!(count(&all_events(s).await, kind::ACCOUNT_DEACTIVATED), 0);
}

pub async fn the_trail_refuses_update_and_delete(t: &TestStore) {
    let s = &t.store;
    account(s).await;
    let before = all_events(s).await;
    assert_eq!(before.len(), 1);
    let update = t
        .raw_execute("UPDATE audit_events SET actor = 'someone else'")
        .await;
    assert!(
        update
            .as_ref()
            .is_err_and(|e| e.to_string().contains("append-only")),
        "{update:?}"
    );
    let delete = t.raw_execute("DELETE FROM audit_events").await;
    assert!(
        delete
            .as_ref()
            .is_err_and(|e| e.to_string().contains("append-only")),
        "{delete:?}"
    );
    if t.is_postgres() {
        let truncate = t.raw_execute("TRUNCATE audit_events").await;
        assert!(truncate.is_err(), "{truncate:?}");
    }
    let after = all_events(s).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].actor, before[0].actor);
}
