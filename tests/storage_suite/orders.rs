//! Orders, their authorizations, and the look-ups newOrder relies on.

use super::fixtures::*;
use super::harness::TestStore;
use acme_sectigo_bridge::model::status::{AuthzStatus, OrderStatus};
use acme_sectigo_bridge::model::Identifier;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::Duration;

pub async fn an_order_keeps_its_authorizations_in_order(t: &TestStore) {
    let a = account(&t.store).await;
    let names = ["c.example.com", "a.example.com", "b.example.com"];
    let new = new_order(&a.id, &names, Some("server"));
    let order = t.store.create_order(&new, now()).await.unwrap();
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.profile.as_deref(), Some("server"));
    assert_eq!(order.identifiers, new.identifiers);
    assert_eq!(order.expires_at, new.expires_at);
    let expected: Vec<String> = new
        .authzs
        .iter()
        .map(|z| match z {
            OrderAuthz::New(a) => a.id.clone(),
            OrderAuthz::Reuse(id) => id.clone(),
        })
        .collect();
    assert_eq!(order.authz_ids, expected);
    for (id, name) in order.authz_ids.iter().zip(names) {
        let authz = t.store.authorization(id).await.unwrap().unwrap();
        assert_eq!(authz.identifier, Identifier::dns(name));
        let kinds: Vec<_> = authz.challenges.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["http-01", "dns-01"], "challenges keep their order");
    }
    // A second order reuses the middle authorization in first position.
    let mut second = new_order(&a.id, &["a.example.com", "d.example.com"], None);
    second.authzs[0] = OrderAuthz::Reuse(order.authz_ids[1].clone());
    let second = t.store.create_order(&second, now()).await.unwrap();
    assert_eq!(second.authz_ids[0], order.authz_ids[1]);
    assert_eq!(
        t.store.order(&second.id).await.unwrap().unwrap().authz_ids,
        second.authz_ids
    );
    assert!(t.store.order("nope").await.unwrap().is_none());
}

pub async fn reusable_orders_match_profile_and_live_authorizations(t: &TestStore) {
    let a = account(&t.store).await;
    let t0 = now();
    let plain = t
        .store
        .create_order(&new_order(&a.id, &["x.example.com"], None), now())
        .await
        .unwrap();
    let profiled = t
        .store
        .create_order(&new_order(&a.id, &["x.example.com"], Some("server")), now())
        .await
        .unwrap();
    let find = |profile: Option<&'static str>, at| {
        let s = t.store.clone();
        let account_id = a.id.clone();
        async move {
            s.find_reusable_order(&account_id, "x.example.com", profile, at)
                .await
                .unwrap()
                .map(|o| o.id)
        }
    };
    assert_eq!(find(None, t0).await, Some(plain.id.clone()));
    assert_eq!(find(Some("server"), t0).await, Some(profiled.id.clone()));
    assert_eq!(find(Some("other"), t0).await, None);
    // Past the orders' expiry nothing is reusable.
    assert_eq!(find(None, t0 + Duration::hours(2)).await, None);

    // An order whose authorization expires before the order does is not handed out once the
    // authorization has expired.
    let mut short = new_order(&a.id, &["y.example.com"], None);
    if let OrderAuthz::New(z) = &mut short.authzs[0] {
        z.expires_at = t0 + Duration::seconds(1);
    }
    let short = t.store.create_order(&short, now()).await.unwrap();
    let at = |s| t0 + Duration::seconds(s);
    let got = t
        .store
        .find_reusable_order(&a.id, "y.example.com", None, at(0))
        .await
        .unwrap();
    assert_eq!(got.map(|o| o.id), Some(short.id));
    let got = t
        .store
        .find_reusable_order(&a.id, "y.example.com", None, at(2))
        .await
        .unwrap();
    assert!(got.is_none());
}

pub async fn reusable_authorizations_respect_sub_second_bounds(t: &TestStore) {
    let a = account(&t.store).await;
    let (order, authz) = order(&t.store, &a.id, &["z.example.com"]).await;
    let validated = now();
    let valid_until = validated + Duration::days(30);
    let ch = &authz.challenges[0];
    t.store.start_challenge(&ch.id, validated).await.unwrap();
    let job = claim_one(&t.store, JobKind::Validate, &ch.id).await;
    t.store
        .finish_validation(
            &job.lease,
            &ch.id,
            &ValidationOutcome::Valid {
                record: serde_json::json!({}),
            },
            valid_until,
            validated,
        )
        .await
        .unwrap();
    assert_eq!(
        t.store.order(&order.id).await.unwrap().unwrap().status,
        OrderStatus::Ready
    );
    let us = Duration::microseconds(1);
    let find = |since, until| {
        let s = t.store.clone();
        let id = a.id.clone();
        async move {
            s.find_reusable_authz(&id, &Identifier::dns("z.example.com"), false, since, until)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        find(validated - us, valid_until - us).await,
        Some(authz.id.clone())
    );
    assert_eq!(
        find(validated, valid_until - us).await,
        None,
        "validated_at > since"
    );
    assert_eq!(
        find(validated - us, valid_until).await,
        None,
        "expires_at > until"
    );
    let other = t
        .store
        .find_reusable_authz(
            &a.id,
            &Identifier::dns("z.example.com"),
            true,
            validated - us,
            valid_until - us,
        )
        .await
        .unwrap();
    assert_eq!(other, None, "a wildcard authorization is a different one");
}

pub async fn order_pages_follow_creation_order(t: &TestStore) {
    let a = account(&t.store).await;
    let other = account(&t.store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (o, _) = order(&t.store, &a.id, &[&format!("p{i}.example.com")]).await;
        ids.push(o.id);
    }
    order(&t.store, &other.id, &["q.example.com"]).await;
    // An invalid order is left out of the list.
    let (bad, authz) = order(&t.store, &a.id, &["bad.example.com"]).await;
    t.store
        .deactivate_authz(&authz.id, &deactivated(), now())
        .await
        .unwrap();
    assert_eq!(
        t.store.order(&bad.id).await.unwrap().unwrap().status,
        OrderStatus::Invalid
    );
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = t
            .store
            .account_order_ids(&a.id, cursor.as_deref(), 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        cursor = page.last().cloned();
        seen.extend(page);
    }
    assert_eq!(seen, ids);
}

pub async fn authz_states_come_back_in_the_order_asked(t: &TestStore) {
    let a = account(&t.store).await;
    let (o, _) = order(
        &t.store,
        &a.id,
        &["s1.example.com", "s2.example.com", "s3.example.com"],
    )
    .await;
    t.store
        .deactivate_authz(&o.authz_ids[1], &deactivated(), now())
        .await
        .unwrap();
    let asked = vec![
        o.authz_ids[2].clone(),
        o.authz_ids[1].clone(),
        o.authz_ids[0].clone(),
    ];
    let states = t.store.authz_states(&asked).await.unwrap();
    let statuses: Vec<_> = states.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        [
            AuthzStatus::Pending,
            AuthzStatus::Deactivated,
            AuthzStatus::Pending
        ]
    );
    assert!(states.iter().all(|(_, exp)| *exp == o.expires_at));
    assert!(t.store.authz_states(&[]).await.unwrap().is_empty());
}
