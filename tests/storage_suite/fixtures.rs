//! Records the suite stores: accounts, EAB keys, orders with fresh authorizations, enrollments and
//! certificates, with random ids so tests never collide.

use acme_sectigo_bridge::ids::random_id;
use acme_sectigo_bridge::model::status::{AuthzStatus, ChallengeStatus, OrderStatus};
use acme_sectigo_bridge::model::Identifier;
use acme_sectigo_bridge::model::*;
use acme_sectigo_bridge::store::*;
use chrono::{DateTime, Duration, DurationRound, Utc};

/// Now, truncated to microseconds: PostgreSQL keeps microseconds, so values compared after a
/// round trip must not carry more.
pub fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

pub fn new_account(eab_kid: Option<&str>) -> NewAccount {
    let id = random_id();
    NewAccount {
        key_thumbprint: format!("thumb-{id}"),
        jwk: serde_json::json!({"kty": "EC", "crv": "P-256", "x": id, "y": "y"}),
        id,
        contact: vec!["mailto:admin@example.com".into()],
        tos_agreed: true,
        eab_kid: eab_kid.map(str::to_string),
        eab_binding: eab_kid.map(|kid| {
            serde_json::json!({"protected": format!("p-{kid}"), "payload": "pl", "signature": "s"})
        }),
    }
}

pub async fn account(store: &Store) -> Account {
    match store
        .create_account(&new_account(None), now())
        .await
        .unwrap()
    {
        CreateAccountOutcome::Created(a) => a,
        other => panic!("account not created: {other:?}"),
    }
}

pub fn eab_key(single_use: bool) -> EabKey {
    EabKey {
        kid: format!("kid-{}", random_id()),
        hmac_key: vec![0, 1, 2, 255, 254],
        label: "team ünïcode".into(),
        allowed_patterns: vec!["*.example.com".into(), "10.0.0.0/8".into()],
        scm_org_id: Some(1001),
        profiles: vec!["server".into()],
        trust_scm_dcv: true,
        single_use,
        created_at: now(),
        used_at: None,
        revoked_at: None,
        accounts_stopped: false,
    }
}

/// A pending authorization for `name` with an http-01 and a dns-01 challenge.
pub fn authorization(account_id: &str, name: &str, expires_at: DateTime<Utc>) -> Authorization {
    let id = random_id();
    let challenge = |kind: &str| Challenge {
        id: random_id(),
        authz_id: id.clone(),
        kind: kind.into(),
        token: random_id(),
        status: ChallengeStatus::Pending,
        validated_at: None,
        error: None,
        validation_record: None,
    };
    Authorization {
        challenges: vec![challenge("http-01"), challenge("dns-01")],
        id,
        account_id: account_id.into(),
        identifier: Identifier::dns(name),
        wildcard: false,
        status: AuthzStatus::Pending,
        expires_at,
        validated_at: None,
    }
}

/// A new pending order for `names`, each with a new authorization, expiring in an hour.
pub fn new_order(account_id: &str, names: &[&str], profile: Option<&str>) -> NewOrder {
    let expires_at = now() + Duration::hours(1);
    NewOrder {
        id: random_id(),
        account_id: account_id.into(),
        status: OrderStatus::Pending,
        identifiers: names.iter().map(|n| Identifier::dns(*n)).collect(),
        identifiers_key: names.join(","),
        profile: profile.map(str::to_string),
        expires_at,
        replaces: None,
        authzs: names
            .iter()
            .map(|n| OrderAuthz::New(authorization(account_id, n, expires_at)))
            .collect(),
    }
}

/// A stored order and its first authorization.
pub async fn order(store: &Store, account_id: &str, names: &[&str]) -> (Order, Authorization) {
    let order = store
        .create_order(&new_order(account_id, names, None), now())
        .await
        .unwrap();
    let authz = store
        .authorization(&order.authz_ids[0])
        .await
        .unwrap()
        .unwrap();
    (order, authz)
}

/// Validates every authorization of `order` through the validation path, so it becomes ready.
pub async fn make_ready(store: &Store, order: &Order) {
    for authz_id in &order.authz_ids {
        let authz = store.authorization(authz_id).await.unwrap().unwrap();
        let ch = &authz.challenges[0];
        assert!(matches!(
            store.start_challenge(&ch.id, now()).await.unwrap(),
            StartChallenge::Started
        ));
        let job = claim_one(store, JobKind::Validate, &ch.id).await;
        store
            .finish_validation(
                &job.lease,
                &ch.id,
                &ValidationOutcome::Valid {
                    record: serde_json::json!({"url": "http://x/"}),
                },
                now() + Duration::days(30),
                now(),
            )
            .await
            .unwrap();
    }
}

/// Claims jobs until the one of `kind` for `subject` comes up (other tests' jobs do not exist:
/// every test has its own database).
pub async fn claim_one(store: &Store, kind: JobKind, subject: &str) -> Job {
    let jobs = store
        .claim_jobs("tester", 100, now(), now() + Duration::minutes(5), &[])
        .await
        .unwrap();
    jobs.into_iter()
        .find(|j| j.kind == kind && j.subject_id == subject)
        .unwrap_or_else(|| panic!("no {kind} job for {subject}"))
}

pub fn enrollment(order_id: &str) -> Enrollment {
    Enrollment {
        order_id: order_id.into(),
        csr_der: vec![0x30, 0x82, 0, 1],
        marker: format!("acme-sectigo-bridge order {order_id}"),
        org_id: 1001,
        cert_type: 501,
        term: 365,
        subj_alt_names: vec!["a.example.com".into(), "b.example.com".into()],
        common_name: Some("a.example.com".into()),
        enroll_started_at: None,
        enroll_answered_at: None,
        enroll_attempts: 0,
        ssl_id: None,
        renew_id: None,
        collect_attempts: 0,
        next_poll_at: None,
        finalized_at: now(),
    }
}

pub fn certificate(order: &Order) -> Certificate {
    Certificate {
        id: random_id(),
        order_id: order.id.clone(),
        account_id: order.account_id.clone(),
        chain_pem: "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n".into(),
        serial: format!("0a{}", &random_id().to_ascii_lowercase()[..8]),
        key_thumbprint: "cert-key".into(),
        ssl_id: 4242,
        not_after: now() + Duration::days(90),
        revoked_at: None,
        revocation_reason: None,
        alternate_chains: Vec::new(),
    }
}

/// An order taken through validation and finalize, with its issue job claimed.
pub async fn processing_order(store: &Store) -> (Order, Job) {
    let acct = account(store).await;
    let (order, _) = order(store, &acct.id, &["a.example.com", "b.example.com"]).await;
    make_ready(store, &order).await;
    assert!(matches!(
        store
            .start_finalize(&enrollment(&order.id), now())
            .await
            .unwrap(),
        FinalizeOutcome::Started
    ));
    let job = claim_one(store, JobKind::Issue, &order.id).await;
    (order, job)
}

/// The problem an order gets when one of its authorizations is deactivated (the ACME layer makes
/// it; the store records what it is given).
pub fn deactivated() -> serde_json::Value {
    serde_json::json!({
        "type": "urn:ietf:params:acme:error:unauthorized",
        "detail": "an authorization of this order was deactivated",
        "status": 403,
    })
}
