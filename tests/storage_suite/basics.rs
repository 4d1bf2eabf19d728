//! Schema, settings, nonces, and what survives a restart.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::ids::random_id;
use acme_sectigo_bridge::store::*;
use chrono::Duration;

pub async fn migrating_twice_changes_nothing(t: &TestStore) {
    let acct = account(&t.store).await;
    t.store.migrate().await.unwrap();
    let again = t.reopen().await; // migrates on open
    assert_eq!(again.account(&acct.id).await.unwrap().unwrap().id, acct.id);
    again.ping().await.unwrap();
}

pub async fn a_restart_keeps_everything(t: &TestStore) {
    let key = eab_key(false);
    t.store.create_eab_key(&key).await.unwrap();
    let (order, job) = processing_order(&t.store).await;
    let cert = certificate(&order);
    t.store
        .complete_issuance(&job.lease, &cert, now())
        .await
        .unwrap();
    let nonce_seen = t
        .store
        .redeem_nonce("n-restart", now() + Duration::minutes(5))
        .await
        .unwrap();
    assert!(nonce_seen);
    t.store.close().await;

    let s = t.reopen().await;
    assert_eq!(
        s.eab_key(&key.kid).await.unwrap().unwrap().hmac_key,
        key.hmac_key
    );
    let stored = s.order(&order.id).await.unwrap().unwrap();
    assert_eq!(stored.certificate_id.as_deref(), Some(cert.id.as_str()));
    assert_eq!(
        s.certificate(&cert.id).await.unwrap().unwrap().chain_pem,
        cert.chain_pem
    );
    assert!(s.account(&order.account_id).await.unwrap().is_some());
    // A nonce redeemed before the restart stays redeemed.
    assert!(!s
        .redeem_nonce("n-restart", now() + Duration::minutes(5))
        .await
        .unwrap());
}

pub async fn a_setting_is_initialised_once_under_concurrency(t: &TestStore) {
    let tasks: Vec<_> = (0..12u8)
        .map(|i| {
            let s = t.store.clone();
            tokio::spawn(async move { s.setting_or_init("shared", &[i; 32]).await.unwrap() })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    assert!(values.iter().all(|v| v == &values[0]), "{values:?}");
    assert_eq!(values[0].len(), 32);
}

pub async fn a_nonce_is_redeemed_once_under_concurrency(t: &TestStore) {
    let expires = now() + Duration::minutes(5);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = t.store.clone();
            tokio::spawn(async move { s.redeem_nonce("same-nonce", expires).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await.unwrap() as usize;
    }
    assert_eq!(accepted, 1);
    assert!(t.store.redeem_nonce("other-nonce", expires).await.unwrap());
}

/// Writers that arrive together all land, each acknowledged only once it is committed: after the
/// store is closed and opened again every one is there. On SQLite they share commits (group
/// commit): fewer commits, each one `fsync`, than transactions.
pub async fn concurrent_writers_all_land_and_share_commits(t: &TestStore) {
    let before = t.store.commit_totals();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(48));
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let s = t.store.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let acct = account(&s).await;
                let fresh = s
                    .redeem_nonce(&format!("group-{i}"), now() + Duration::minutes(5))
                    .await
                    .unwrap();
                assert!(fresh, "nonce group-{i} was new");
                acct.id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    if let (Some(b), Some(a)) = (before, t.store.commit_totals()) {
        let transactions = a.transactions - b.transactions;
        let commits = a.commits - b.commits;
        assert!(transactions >= 96, "{transactions} transactions");
        assert!(
            commits < transactions,
            "48 concurrent writers shared no commit: {commits} commits for {transactions} transactions"
        );
    }
    t.store.close().await;
    let s = t.reopen().await;
    for id in &ids {
        assert!(s.account(id).await.unwrap().is_some(), "account {id} lost");
    }
    for i in 0..48 {
        assert!(
            !s.redeem_nonce(&format!("group-{i}"), now() + Duration::minutes(5))
                .await
                .unwrap(),
            "nonce group-{i} was forgotten"
        );
    }
}

pub async fn writers_rolling_back_amid_others_undo_only_their_own_changes(t: &TestStore) {
    // Half the writers register the same key (all but one roll back on the unique key, in the
    // middle of whatever batch they share), the others distinct keys: every distinct account and
    // exactly one of the contested ones must be there after a reopen.
    let contested = new_account(None);
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(48));
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let s = t.store.clone();
            let start = start.clone();
            let mut new = if i % 2 == 0 {
                contested.clone()
            } else {
                new_account(None)
            };
            new.id = random_id();
            tokio::spawn(async move {
                start.wait().await;
                let outcome = s.create_account(&new, now()).await.unwrap();
                (i, new.id, outcome)
            })
        })
        .collect();
    let mut distinct = Vec::new();
    let mut winners = std::collections::BTreeSet::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, id, CreateAccountOutcome::Created(a)) if i % 2 == 1 => {
                assert_eq!(a.id, id);
                distinct.push(id);
            }
            (_, _, CreateAccountOutcome::Created(a) | CreateAccountOutcome::KeyExists(a)) => {
                winners.insert(a.id);
            }
            (_, _, other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(distinct.len(), 24);
    assert_eq!(
        winners.len(),
        1,
        "every contender saw the one winner: {winners:?}"
    );
    t.store.close().await;
    let s = t.reopen().await;
    for id in &distinct {
        assert!(s.account(id).await.unwrap().is_some(), "account {id} lost");
    }
    let winner = s
        .account_by_thumbprint(&contested.key_thumbprint)
        .await
        .unwrap()
        .expect("the contested key has its account");
    assert!(winners.contains(&winner.id));
}

pub async fn expired_nonce_records_are_purged(t: &TestStore) {
    let t0 = now();
    t.store
        .redeem_nonce("old", t0 - Duration::milliseconds(1))
        .await
        .unwrap();
    t.store
        .redeem_nonce("young", t0 + Duration::milliseconds(1))
        .await
        .unwrap();
    assert_eq!(t.store.purge_expired_nonces(t0).await.unwrap(), 1);
    // The young one is still remembered; the old one may be redeemed again (it would fail the
    // nonce's own expiry check long before reaching the store).
    assert!(!t.store.redeem_nonce("young", t0).await.unwrap());
    assert!(t.store.redeem_nonce("old", t0).await.unwrap());
}

pub async fn an_abandoned_transaction_leaves_its_connection_clean(t: &TestStore) {
    // One pooled connection: whatever a transaction left behind, the next user gets.
    let s = t.reopen_with_pool(1).await;
    let a = account(&s).await;
    let (_, authz) = order(&s, &a.id, &["abandon.example.com"]).await;
    let ch = &authz.challenges[0].id;
    assert!(matches!(
        s.start_challenge(ch, now()).await.unwrap(),
        acme_sectigo_bridge::store::StartChallenge::Started
    ));
    // Already processing: the transaction is dropped without commit.
    for _ in 0..3 {
        assert!(matches!(
            s.start_challenge(ch, now()).await.unwrap(),
            acme_sectigo_bridge::store::StartChallenge::Unchanged
        ));
    }
    // The connection serves the next write outside any transaction: another process sees it.
    assert!(s
        .redeem_nonce("after-abandon", now() + Duration::minutes(5))
        .await
        .unwrap());
    let other = t.reopen().await;
    assert!(!other
        .redeem_nonce("after-abandon", now() + Duration::minutes(5))
        .await
        .unwrap());
}

pub async fn a_nonce_is_redeemed_with_the_account_read(t: &TestStore) {
    let a = account(&t.store).await;
    let exp = now() + Duration::minutes(5);
    let (fresh, got) = t
        .store
        .redeem_nonce_and_read_account("n-with-account", exp, &a.id)
        .await
        .unwrap();
    assert!(fresh);
    assert_eq!(got.unwrap().jwk, a.jwk);
    let (fresh, got) = t
        .store
        .redeem_nonce_and_read_account("n-with-account", exp, &a.id)
        .await
        .unwrap();
    assert!(!fresh, "a replay");
    assert!(got.is_some());
    let (fresh, got) = t
        .store
        .redeem_nonce_and_read_account("n-other", exp, "no-such-account")
        .await
        .unwrap();
    assert!(fresh);
    assert!(got.is_none());
    assert!(
        !t.store.redeem_nonce("n-other", exp).await.unwrap(),
        "it was recorded"
    );
}

/// Look-ups made once per issuance find their rows through an index, so their cost does not grow
/// with the number of certificates (the replaced-certificate look-up was a full scan: 6.7 ms per
/// issuance at ~10,000 certificates on SQLite).
pub async fn per_issuance_lookups_use_an_index(t: &TestStore) {
    let plan = t
        .query_plan("SELECT ssl_id FROM certificates WHERE replaced_by_order = 'o-1'")
        .await;
    assert!(plan.to_lowercase().contains("index"), "{plan}");
}
