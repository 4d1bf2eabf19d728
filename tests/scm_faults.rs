//! Fault injection and how the client classifies it: 5xx bursts, dropped enroll responses (the
//! certificate exists but the caller never learns its id), connection resets, slow answers, refused
//! connections, connections closed after every answer.

mod common_scm;

use acme_sectigo_bridge::sandbox::{Faults, SandboxConfig};
use acme_sectigo_bridge::scm::types::ListFilter;
use acme_sectigo_bridge::scm::{ErrorClass, ScmClient, ScmError, TransportKind};
use common_scm::{client, csr, request, sandbox};

#[tokio::test]
async fn five_xx_burst_is_retryable_and_may_have_taken_effect() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("burst.example.com");
    sb.set_faults(Faults {
        fail_next: 2,
        ..Default::default()
    });
    for _ in 0..2 {
        let e = c
            .enroll(&request(&pem, &["burst.example.com"]))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.class(), ErrorClass::Retryable);
        assert!(e.may_have_taken_effect(), "a 5xx on enroll is ambiguous");
    }
    assert_eq!(sb.enrollment_count(), 0);
    c.enroll(&request(&pem, &["burst.example.com"]))
        .await
        .unwrap();
    assert_eq!(sb.enrollment_count(), 1);

    sb.set_faults(Faults {
        fail_next: 1,
        fail_status: 500,
        ..Default::default()
    });
    let e = c.organizations().await.unwrap_err();
    assert_eq!((e.status(), e.class()), (Some(500), ErrorClass::Retryable));
    assert!(!e.may_have_taken_effect(), "reads change nothing");
}

#[tokio::test]
async fn dropped_enroll_response_is_found_again_by_its_marker() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("dropped.example.com");
    sb.set_faults(Faults {
        drop_enroll_response_next: 1,
        ..Default::default()
    });
    let mut req = request(&pem, &["dropped.example.com"]);
    req.comments = Some("order:abc123".into());
    let e = c.enroll(&req).await.unwrap_err();
    assert!(matches!(e, ScmError::Transport { .. }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert!(e.may_have_taken_effect());
    assert_eq!(sb.enrollment_count(), 1, "the certificate was created");
    let page = c
        .list(&ListFilter {
            common_name: Some("dropped.example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, Some(1));
    let d = c.details(page.items[0].ssl_id).await.unwrap();
    assert_eq!(d.comments.as_deref(), Some("order:abc123"));
}

#[tokio::test]
async fn reset_connection_changes_nothing() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("reset.example.com");
    sb.set_faults(Faults {
        reset_next: 1,
        ..Default::default()
    });
    let e = c
        .enroll(&request(&pem, &["reset.example.com"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ScmError::Transport {
                kind: TransportKind::Other,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.may_have_taken_effect(),
        "the client cannot tell a reset from a drop"
    );
    assert_eq!(sb.enrollment_count(), 0);
    c.organizations().await.unwrap();
}

#[tokio::test]
async fn slow_response_times_out() {
    let sb = sandbox(SandboxConfig::default());
    let mut cfg = sb.scm_config();
    cfg.timeout_secs = 1;
    let c = ScmClient::new(&cfg).unwrap();
    sb.set_faults(Faults {
        delay_ms: 1500,
        delay_next: Some(1),
        ..Default::default()
    });
    let (pem, _) = csr("slow.example.com");
    let e = c
        .enroll(&request(&pem, &["slow.example.com"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ScmError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.may_have_taken_effect());
    // Only one request was delayed.
    c.organizations().await.unwrap();
}

#[tokio::test]
async fn refused_connection_did_not_take_effect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = acme_sectigo_bridge::scm::ScmConfig::new(
        format!("http://127.0.0.1:{port}/api").parse().unwrap(),
        "demo",
        "demo",
        "demo",
    );
    let c = ScmClient::new(&cfg).unwrap();
    let (pem, _) = csr("nobody.example.com");
    let e = c
        .enroll(&request(&pem, &["nobody.example.com"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ScmError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert!(!e.may_have_taken_effect());
}

#[tokio::test]
async fn connection_closed_after_each_response_is_tolerated() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    sb.set_faults(Faults {
        close_after_response: true,
        ..Default::default()
    });
    for _ in 0..3 {
        c.organizations().await.unwrap();
        let e = c.organization(424242).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Permanent);
    }
}
