//! Accounts and External Account Binding keys.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::EabRevocation::{KeepAccounts, StopAccounts};
use acme_sectigo_bridge::store::*;

pub async fn an_account_round_trips(t: &TestStore) {
    let new = new_account(None);
    let CreateAccountOutcome::Created(a) = t.store.create_account(&new, now()).await.unwrap()
    else {
        panic!("not created");
    };
    let by_id = t.store.account(&new.id).await.unwrap().unwrap();
    let by_key = t
        .store
        .account_by_thumbprint(&new.key_thumbprint)
        .await
        .unwrap()
        .unwrap();
    for got in [&a, &by_id, &by_key] {
        assert_eq!(got.id, new.id);
        assert_eq!(got.jwk, new.jwk);
        assert_eq!(got.contact, new.contact);
        assert_eq!(got.status, AccountStatus::Valid);
        assert!(got.tos_agreed);
        assert_eq!(got.eab_kid, None);
    }
    assert!(t.store.account("nope").await.unwrap().is_none());
}

pub async fn the_same_key_registers_one_account_under_concurrency(t: &TestStore) {
    let base = new_account(None);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = t.store.clone();
            let mut new = new_account(None);
            new.key_thumbprint = base.key_thumbprint.clone();
            tokio::spawn(async move { s.create_account(&new, now()).await.unwrap() })
        })
        .collect();
    let (mut created, mut existing) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            CreateAccountOutcome::Created(a) => created.push(a.id),
            CreateAccountOutcome::KeyExists(a) => existing.push(a.id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one account per key");
    assert!(existing.iter().all(|id| id == &created[0]));
}

pub async fn a_single_use_eab_key_binds_one_account_under_concurrency(t: &TestStore) {
    let key = eab_key(true);
    t.store.create_eab_key(&key).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = t.store.clone();
            let new = new_account(Some(&key.kid));
            tokio::spawn(async move { s.create_account(&new, now()).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            CreateAccountOutcome::Created(a) => {
                created += 1;
                assert_eq!(a.eab_kid.as_deref(), Some(key.kid.as_str()));
                // The binding as sent comes back, and again on a later read.
                let sent = new_account(Some(&key.kid)).eab_binding;
                assert_eq!(a.eab_binding, sent);
                let read = t.store.account(&a.id).await.unwrap().unwrap();
                assert_eq!(read.eab_binding, sent);
            }
            CreateAccountOutcome::EabUnusable => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert!(t
        .store
        .eab_key(&key.kid)
        .await
        .unwrap()
        .unwrap()
        .used_at
        .is_some());
}

pub async fn a_revoked_eab_key_binds_nothing(t: &TestStore) {
    let key = eab_key(false);
    t.store.create_eab_key(&key).await.unwrap();
    assert!(matches!(
        t.store
            .create_account(&new_account(Some(&key.kid)), now())
            .await
            .unwrap(),
        CreateAccountOutcome::Created(_)
    ));
    // A reusable key binds a second account.
    assert!(matches!(
        t.store
            .create_account(&new_account(Some(&key.kid)), now())
            .await
            .unwrap(),
        CreateAccountOutcome::Created(_)
    ));
    assert!(t
        .store
        .revoke_eab_key(&key.kid, KeepAccounts, now())
        .await
        .unwrap());
    assert!(
        !t.store
            .revoke_eab_key(&key.kid, KeepAccounts, now())
            .await
            .unwrap(),
        "already revoked"
    );
    assert!(matches!(
        t.store
            .create_account(&new_account(Some(&key.kid)), now())
            .await
            .unwrap(),
        CreateAccountOutcome::EabUnusable
    ));
    assert!(matches!(
        t.store
            .create_account(&new_account(Some("kid-unknown")), now())
            .await
            .unwrap(),
        CreateAccountOutcome::EabUnusable
    ));
}

pub async fn key_change_detects_stale_and_taken_keys(t: &TestStore) {
    let a = account(&t.store).await;
    let b = account(&t.store).await;
    let jwk = serde_json::json!({"kty": "EC", "new": true});
    // b's key is taken.
    assert!(matches!(
        t.store.change_account_key(&a.id, &a.key_thumbprint, &b.key_thumbprint, &jwk, now()).await.unwrap(),
        KeyChangeOutcome::KeyInUse { account_id } if account_id == b.id
    ));
    // Two accounts race for the same new key: one wins, the other learns who holds it.
    let (s1, s2) = (t.store.clone(), t.store.clone());
    let (a2, b2, jwk2) = (a.clone(), b.clone(), jwk.clone());
    let r1 = tokio::spawn(async move {
        s1.change_account_key(&a2.id, &a2.key_thumbprint, "contested", &jwk2, now())
            .await
            .unwrap()
    });
    let r2 = tokio::spawn(async move {
        s2.change_account_key(&b2.id, &b2.key_thumbprint, "contested", &jwk, now())
            .await
            .unwrap()
    });
    let outcomes = [r1.await.unwrap(), r2.await.unwrap()];
    let changed = outcomes
        .iter()
        .filter(|o| matches!(o, KeyChangeOutcome::Changed(_)))
        .count();
    assert_eq!(changed, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, KeyChangeOutcome::KeyInUse { .. })));
    // The old thumbprint is stale for whoever changed.
    let winner = t
        .store
        .account_by_thumbprint("contested")
        .await
        .unwrap()
        .unwrap();
    let old = if winner.id == a.id { &a } else { &b };
    assert!(matches!(
        t.store
            .change_account_key(
                &winner.id,
                &old.key_thumbprint,
                "x",
                &serde_json::json!({}),
                now()
            )
            .await
            .unwrap(),
        KeyChangeOutcome::Stale
    ));
}

pub async fn contact_update_and_deactivation(t: &TestStore) {
    let a = account(&t.store).await;
    let contact = vec![
        "mailto:ops@example.com".to_string(),
        "mailto:x@example.com".into(),
    ];
    let updated = t
        .store
        .update_account_contact(&a.id, &contact, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.contact, contact);
    let d = t
        .store
        .deactivate_account(&a.id, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, AccountStatus::Deactivated);
    assert!(t
        .store
        .update_account_contact(&a.id, &[], now())
        .await
        .unwrap()
        .is_none());
    assert!(t
        .store
        .deactivate_account("nope", now())
        .await
        .unwrap()
        .is_none());
}

pub async fn eab_keys_round_trip_and_revoke(t: &TestStore) {
    let first = eab_key(false);
    let mut second = eab_key(true);
    second.created_at = first.created_at + chrono::Duration::microseconds(1);
    second.scm_org_id = None;
    second.profiles = vec![];
    t.store.create_eab_key(&first).await.unwrap();
    t.store.create_eab_key(&second).await.unwrap();
    let got = t.store.eab_key(&first.kid).await.unwrap().unwrap();
    assert_eq!(got.hmac_key, first.hmac_key);
    assert_eq!(got.label, first.label);
    assert_eq!(got.allowed_patterns, first.allowed_patterns);
    assert_eq!(got.scm_org_id, Some(1001));
    assert_eq!(got.profiles, first.profiles);
    assert!(got.trust_scm_dcv);
    assert!(!got.single_use);
    assert_eq!(got.created_at, first.created_at);
    let list = t.store.list_eab_keys().await.unwrap();
    let kids: Vec<_> = list.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(
        kids,
        vec![first.kid.as_str(), second.kid.as_str()],
        "oldest first"
    );
    assert_eq!(list[1].scm_org_id, None);
    assert!(t
        .store
        .revoke_eab_key(&second.kid, StopAccounts, now())
        .await
        .unwrap());
    assert!(t
        .store
        .eab_key(&second.kid)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

pub async fn revoking_an_eab_key_stops_its_accounts_unless_kept(t: &TestStore) {
    let kept = eab_key(false);
    let stopped = eab_key(false);
    t.store.create_eab_key(&kept).await.unwrap();
    t.store.create_eab_key(&stopped).await.unwrap();
    let read = |kid: String| async move { t.store.eab_key(&kid).await.unwrap().unwrap() };
    assert!(!read(kept.kid.clone()).await.stops_accounts());

    assert!(t
        .store
        .revoke_eab_key(&kept.kid, KeepAccounts, now())
        .await
        .unwrap());
    let k = read(kept.kid.clone()).await;
    let first_revoked_at = k.revoked_at.expect("revoked");
    assert!(!k.accounts_stopped && !k.stops_accounts());
    assert!(!t
        .store
        .revoke_eab_key(&kept.kid, KeepAccounts, now())
        .await
        .unwrap());

    // Revoked again without keeping: its accounts stop, the first revocation time stays.
    assert!(t
        .store
        .revoke_eab_key(&kept.kid, StopAccounts, now())
        .await
        .unwrap());
    let k = read(kept.kid.clone()).await;
    assert!(k.stops_accounts());
    assert_eq!(k.revoked_at, Some(first_revoked_at));
    assert!(!t
        .store
        .revoke_eab_key(&kept.kid, StopAccounts, now())
        .await
        .unwrap());
    assert!(!t
        .store
        .revoke_eab_key(&kept.kid, KeepAccounts, now())
        .await
        .unwrap());

    assert!(t
        .store
        .revoke_eab_key(&stopped.kid, StopAccounts, now())
        .await
        .unwrap());
    assert!(read(stopped.kid.clone()).await.stops_accounts());
    assert!(!t
        .store
        .revoke_eab_key("kid-unknown", StopAccounts, now())
        .await
        .unwrap());
}
