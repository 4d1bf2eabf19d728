//! SCM's notifications reach the team behind an account: enroll carries the account's first
//! contact (without `mailto:`) as `externalRequester`, read at enroll time; none when the account
//! has no contact or `issuance.external_requester_from_contact` is off.

mod support;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::{ListFilter, ScmClient};
use serde_json::json;
use support::client::Client;
use support::flow::{csr, finalize, Env};

/// Issues a certificate for 127.0.0.1 and returns its SCM request's `externalRequester`.
async fn requester_of_next_issue(env: &Env, c: &Client<'_>) -> Option<String> {
    let (_, order) = env.ready_order(c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let scm = ScmClient::new(&env.sandbox.scm_config()).unwrap();
    let newest = scm
        .list(&ListFilter::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.ssl_id)
        .max()
        .unwrap();
    scm.details(newest).await.unwrap().external_requester
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_first_contact_is_the_external_requester() {
    let env = Env::start().await;
    let c = env.client().await; // contact mailto:ops@example.test
    assert_eq!(
        requester_of_next_issue(&env, &c).await.as_deref(),
        Some("ops@example.test")
    );
    // SCM's list filter finds it by that address.
    let scm = ScmClient::new(&env.sandbox.scm_config()).unwrap();
    let found = scm
        .list(&ListFilter {
            external_requester: Some("ops@example.test".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);

    // The contact as it is at enroll time: changed, then removed.
    let account = c.kid.clone().unwrap();
    let r = c
        .post(
            &account,
            Some(&json!({"contact": ["mailto:team@example.test", "mailto:b@example.test"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        requester_of_next_issue(&env, &c).await.as_deref(),
        Some("team@example.test")
    );
    let r = c.post(&account, Some(&json!({"contact": []}))).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(requester_of_next_issue(&env, &c).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setting_off_sends_no_external_requester() {
    let env = Env::start_with(SandboxConfig::default(), |c| {
        c.issuance.external_requester_from_contact = false
    })
    .await;
    let c = env.client().await;
    assert_eq!(requester_of_next_issue(&env, &c).await, None);
}
