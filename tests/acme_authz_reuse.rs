//! Authorization reuse never hands an order an authorization that expires before the order does.

mod support;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use serde_json::json;
use support::flow::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_expiring_before_the_new_order_is_not_reused() {
    // Valid authorizations last one hour; orders a week.
    let env = Env::start_with(SandboxConfig::default(), |c| {
        c.acme.authz_valid_secs = 3600;
    })
    .await;
    let c = env.client().await;
    let (_, first) = env.ready_order(&c, &["127.0.0.1"]).await;
    // A different identifier set, so the first (ready) order itself is not returned.
    let again = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&json!({"identifiers": [
                {"type": "ip", "value": "127.0.0.1"},
                {"type": "ip", "value": "127.0.0.2"}
            ]})),
        )
        .await;
    assert_eq!(again.body["status"], "pending", "{again:?}");
    assert_ne!(again.body["authorizations"][0], first["authorizations"][0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_outliving_the_new_order_is_reused() {
    let env = Env::start().await;
    let c = env.client().await;
    let (_, first) = env.ready_order(&c, &["127.0.0.1"]).await;
    // A different identifier set, so the first (ready) order itself is not returned.
    let again = c
        .post(
            &env.app.url("/acme/new-order"),
            Some(&json!({"identifiers": [
                {"type": "ip", "value": "127.0.0.1"},
                {"type": "ip", "value": "127.0.0.2"}
            ]})),
        )
        .await;
    assert_eq!(again.body["authorizations"][0], first["authorizations"][0]);
}
