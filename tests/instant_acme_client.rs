//! An independently written ACME client (the instant-acme crate, 0.8: RFC 9773 ARI support)
//! against the running server: it registers with External Account Binding, and it renews a
//! certificate an SCM administrator revoked because renewalInfo told it to, sending `replaces` —
//! the wire format of both is checked by someone else's code.

mod support;

use acme_sectigo_bridge::acme::ari::CertId;
use acme_sectigo_bridge::scm::{ListFilter, ScmClient};
use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Error, ExternalAccountKey,
    Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use rustls::pki_types::CertificateDer;
use std::time::{Duration, Instant};
use support::app::TestApp;
use support::flow::Env;
use support::instant_acme::PlainHttp;

const NEW_ACCOUNT: NewAccount<'static> = NewAccount {
    contact: &["mailto:ops@example.test"],
    terms_of_service_agreed: true,
    only_return_existing: false,
};

/// instant-acme's `create`, carried over [`PlainHttp`].
async fn create_account(
    directory: String,
    eab: Option<&ExternalAccountKey>,
) -> Result<Account, Error> {
    let (account, _credentials) = Account::builder_with_http(PlainHttp::boxed())
        .create(&NEW_ACCOUNT, directory, eab)
        .await?;
    Ok(account)
}

#[tokio::test]
async fn instant_acme_registers_with_eab() {
    let app = TestApp::spawn().await;
    let (kid, hmac) = app.eab_key(false).await;
    let directory = app.url("/directory");

    // Without EAB the server refuses.
    let err = create_account(directory.clone(), None)
        .await
        .err()
        .expect("EAB is required");
    assert!(
        format!("{err:?}").contains("externalAccountRequired"),
        "{err:?}"
    );
    assert_eq!(app.db.count("accounts").await, 0);

    let eab = ExternalAccountKey::new(kid.clone(), &hmac);
    let account = create_account(directory, Some(&eab))
        .await
        .expect("instant-acme creates an account");
    assert!(account.id().starts_with(&app.url("/acme/acct/")));
    let id = account.id().rsplit('/').next().unwrap();
    let stored = app.store.account(id).await.unwrap().expect("stored");
    assert_eq!(stored.eab_kid.as_deref(), Some(kid.as_str()));
    assert_eq!(stored.contact, vec!["mailto:ops@example.test".to_string()]);
}

/// Answers every pending authorization of `order` with http-01 through the flow's responder, then
/// finalizes with instant-acme's own CSR and returns the leaf of the chain it downloads.
async fn issue_with(env: &Env, order: &mut Order) -> CertificateDer<'static> {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.expect("authorization");
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        assert_eq!(authz.status, AuthorizationStatus::Pending);
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .expect("http-01 offered");
        env.responder.tokens.lock().unwrap().insert(
            challenge.token.clone(),
            challenge.key_authorization().as_str().to_string(),
        );
        challenge.set_ready().await.expect("challenge accepted");
    }
    let retries = RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(30));
    let status = order.poll_ready(&retries).await.expect("order settles");
    assert_eq!(status, OrderStatus::Ready);
    order.finalize().await.expect("finalize");
    let chain = order.poll_certificate(&retries).await.expect("certificate");
    let leaf = rustls_pemfile::certs(&mut chain.as_bytes())
        .next()
        .expect("a leaf")
        .expect("PEM");
    leaf
}

/// The sslId under which the sandbox holds the certificate with this leaf's serial.
async fn ssl_id(scm: &ScmClient, leaf: &[u8]) -> i64 {
    let serial = support::e2e::certs::serial_hex(leaf);
    let filter = ListFilter {
        serial_number: Some(serial.clone()),
        ..ListFilter::default()
    };
    let page = scm.list(&filter).await.expect("SCM list");
    assert_eq!(page.items.len(), 1, "one certificate with serial {serial}");
    page.items[0].ssl_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_acme_renews_through_renewal_info_and_replaces() {
    let env = Env::start_with(Default::default(), |c| {
        // The status sweep reads SCM quickly here (production default: 600 calls per hour).
        c.issuance.status_sweep_calls_per_hour = 36_000;
        c.issuance.status_sweep_interval_secs = 1;
    })
    .await;
    let (kid, hmac) = env.app.eab_key_for(&["127.0.0.0/8"], &[], false).await;
    let eab = ExternalAccountKey::new(kid, &hmac);
    let account = create_account(env.app.url("/directory"), Some(&eab))
        .await
        .expect("instant-acme creates an account");
    let ids = [Identifier::Ip("127.0.0.1".parse().unwrap())];

    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .expect("newOrder");
    assert!(order.state().replaces.is_none());
    let first = issue_with(&env, &mut order).await;

    // The client computes the certID itself (AKI keyIdentifier and serial, RFC 9773 §4.1); it is
    // the one the bridge indexes.
    let cert_id = CertificateIdentifier::try_from(&first).expect("the leaf carries an AKI");
    assert_eq!(
        cert_id.to_string(),
        CertId::of_der(&first).unwrap().encode(),
        "both sides name the certificate alike"
    );
    let (info, retry_after) = account.renewal_info(&cert_id).await.expect("renewalInfo");
    let now = time::OffsetDateTime::now_utc();
    assert!(now < info.suggested_window.start, "not due yet: {info:?}");
    assert!(
        retry_after > Duration::from_secs(3600),
        "Retry-After 6 h by default: {retry_after:?}"
    );

    // An SCM administrator revokes it behind the bridge's back (the sandbox's control API).
    let scm = ScmClient::new(&env.sandbox.scm_config()).unwrap();
    let first_ssl_id = ssl_id(&scm, &first).await;
    let r = reqwest::Client::new()
        .post(format!(
            "{}/revoke/{first_ssl_id}",
            env.sandbox.control_url()
        ))
        .json(&serde_json::json!({"reason_code": 1, "reason": "key compromise"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sandbox admin revocation: {r:?}");

    // The status sweep notices; the client, reading renewalInfo, sees the window in the past.
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        let (info, _) = account.renewal_info(&cert_id).await.expect("renewalInfo");
        if info.suggested_window.end < time::OffsetDateTime::now_utc() {
            break info;
        }
        assert!(
            Instant::now() < deadline,
            "the window stayed in the future: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(info.suggested_window.start < info.suggested_window.end);

    // It renews with `replaces`; the order echoes it (instant-acme itself refuses an order that
    // does not) and a certificate is issued.
    let renewal = NewOrder::new(&ids).replaces(cert_id.clone());
    let mut order = account.new_order(&renewal).await.expect("replacing order");
    assert_eq!(order.state().replaces.as_ref(), Some(&cert_id));
    let order_url = order.url().to_string();
    let second = issue_with(&env, &mut order).await;
    assert_ne!(
        support::e2e::certs::serial_hex(&second),
        support::e2e::certs::serial_hex(&first),
        "a new certificate"
    );
    let refreshed = order.refresh().await.expect("order");
    assert_eq!(refreshed.status, OrderStatus::Valid);
    assert_eq!(refreshed.replaces.as_ref(), Some(&cert_id));

    // SCM's enrollment of the renewal names the sslId it replaces.
    let second_ssl_id = ssl_id(&scm, &second).await;
    let comments = scm
        .details(second_ssl_id)
        .await
        .unwrap()
        .comments
        .unwrap_or_default();
    let order_id = order_url.rsplit('/').next().unwrap();
    assert_eq!(
        comments,
        format!("acme-sectigo-bridge order {order_id}; replaces sslId {first_ssl_id}")
    );
    // The renewed certificate is not due; the replaced one stays due.
    let (info, _) = account
        .renewal_info(&CertificateIdentifier::try_from(&second).unwrap())
        .await
        .expect("renewalInfo of the renewal");
    assert!(time::OffsetDateTime::now_utc() < info.suggested_window.start);
    let (info, _) = account.renewal_info(&cert_id).await.expect("renewalInfo");
    assert!(info.suggested_window.end < time::OffsetDateTime::now_utc());

    // The same renewal again: the certificate is already replaced (409 alreadyReplaced).
    let err = account
        .new_order(&renewal)
        .await
        .err()
        .expect("a second replacement is refused");
    let Error::Api(problem) = err else {
        panic!("a problem document: {err:?}")
    };
    assert_eq!(
        problem.r#type.as_deref(),
        Some("urn:ietf:params:acme:error:alreadyReplaced"),
        "{problem:?}"
    );
    assert_eq!(problem.status, Some(409), "{problem:?}");
    assert!(
        problem
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains(&order_url),
        "{problem:?}"
    );
}
