//! Fault injection and how the client classifies it: 5xx bursts, dropped enroll responses (the
//! certificate exists but the caller never learns its id), connection resets, slow answers, refused
//! connections, connections closed after every answer, enrolls that land after the caller gave up,
//! and random faults on a fraction of calls (chaos runs) replayed from a seed.

mod support;

use acme_sectigo_bridge::sandbox::{FaultKind, Faults, SandboxConfig, SandboxHandle};
use acme_sectigo_bridge::scm::types::ListFilter;
use acme_sectigo_bridge::scm::{ErrorClass, ScmClient, ScmError, TransportKind};
use std::time::{Duration, Instant};
use support::scm::{client, csr, request, sandbox};

/// A client that gives up after one second.
fn impatient(sb: &SandboxHandle) -> ScmClient {
    let mut cfg = sb.scm_config();
    cfg.timeout_secs = 1;
    ScmClient::new(&cfg).unwrap()
}

fn is_timeout(e: &ScmError) -> bool {
    matches!(
        e,
        ScmError::Transport {
            kind: TransportKind::Timeout,
            ..
        }
    )
}

/// Waits (up to 5 s) until the sandbox has created `n` certificates.
async fn until_enrollments(sb: &SandboxHandle, n: u64) {
    let start = Instant::now();
    while sb.enrollment_count() < n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "only {} of {n} certificates were created",
            sb.enrollment_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Certificates listed under `cn`.
async fn listed(c: &ScmClient, cn: &str) -> u64 {
    c.count(&ListFilter {
        common_name: Some(cn.into()),
        ..Default::default()
    })
    .await
    .unwrap()
}

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

#[tokio::test]
async fn a_slow_enroll_still_lands_after_the_client_gave_up() {
    let sb = sandbox(SandboxConfig::default());
    sb.set_faults(Faults {
        delay_ms: 1500,
        delay_next: Some(1),
        ..Default::default()
    });
    let (pem, _) = csr("late.example.com");
    let e = impatient(&sb)
        .enroll(&request(&pem, &["late.example.com"]))
        .await
        .unwrap_err();
    assert!(is_timeout(&e), "{e:?}");
    assert_eq!(sb.enrollment_count(), 0, "SCM is still working on it");
    // The caller hung up; SCM finishes the work anyway.
    until_enrollments(&sb, 1).await;
    assert_eq!(listed(&client(&sb), "late.example.com").await, 1);
}

#[tokio::test]
async fn enroll_created_then_answered_late_or_never() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("limbo.example.com");
    let req = request(&pem, &["limbo.example.com"]);

    // Created at once, never answered: the caller times out, the certificate exists.
    sb.set_faults(Faults {
        delay_enroll_response_next: 1,
        ..Default::default()
    });
    let e = impatient(&sb).enroll(&req).await.unwrap_err();
    assert!(is_timeout(&e), "{e:?}");
    assert!(e.may_have_taken_effect());
    assert_eq!(sb.enrollment_count(), 1);
    assert_eq!(listed(&c, "limbo.example.com").await, 1);

    // Created only after the caller gave up, still never answered.
    sb.set_faults(Faults {
        delay_enroll_response_next: 1,
        enroll_create_after_ms: 1500,
        ..Default::default()
    });
    let e = impatient(&sb).enroll(&req).await.unwrap_err();
    assert!(is_timeout(&e), "{e:?}");
    assert_eq!(sb.enrollment_count(), 1, "not created yet");
    until_enrollments(&sb, 2).await;
    assert_eq!(listed(&c, "limbo.example.com").await, 2);

    // Answered late but within the caller's patience: it learns the id.
    sb.set_faults(Faults {
        delay_enroll_response_next: 1,
        enroll_create_after_ms: 100,
        enroll_answer_after_ms: Some(400),
        ..Default::default()
    });
    let started = Instant::now();
    let id = c.enroll(&req).await.unwrap().ssl_id;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(c.details(id).await.unwrap().id, id);
    assert_eq!(sb.enrollment_count(), 3);

    // The counter is used up: the next enroll answers at once.
    let started = Instant::now();
    c.enroll(&req).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(sb.faults().delay_enroll_response_next, 0);
}

/// What one call looked like to the client: "ok", the HTTP status, or "transport".
fn outcome<T>(r: &Result<T, ScmError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e
            .status()
            .map_or("transport".to_string(), |s| s.to_string()),
    }
}

#[tokio::test]
async fn random_faults_hit_a_fraction_of_calls_and_replay_from_a_seed() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let faults = Faults {
        fault_rate: 0.3,
        fault_seed: Some(11),
        fault_kinds: vec![
            FaultKind::Error500,
            FaultKind::Error503,
            FaultKind::Reset,
            FaultKind::Slow,
        ],
        fault_slow_max_ms: 20,
        ..Default::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        sb.set_faults(faults.clone());
        let mut seen = Vec::new();
        for _ in 0..60 {
            seen.push(outcome(&c.organizations().await));
        }
        let stats = sb.chaos_stats();
        assert_eq!(stats.calls, 60);
        let failed = seen.iter().filter(|o| *o != "ok").count() as u64;
        let n = |k: &str| stats.injected.get(k).copied().unwrap_or(0);
        assert_eq!(failed, n("error_500") + n("error_503") + n("reset"));
        assert_eq!(
            seen.iter().filter(|o| *o == "transport").count() as u64,
            n("reset")
        );
        let hit = stats.injected.values().sum::<u64>();
        assert!((6..=30).contains(&hit), "{hit} of 60 calls at rate 0.3");
        assert!(failed > 0 && n("slow") > 0, "{stats:?}");
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1], "the same seed replays the same faults");
    sb.set_faults(Faults::default());
    c.organizations().await.unwrap();
    assert_eq!(sb.chaos_stats().calls, 0, "off: nothing is drawn");
}

#[tokio::test]
async fn random_enroll_faults_hit_only_enrolls_and_the_certificates_exist() {
    let sb = sandbox(SandboxConfig::default());
    sb.set_faults(Faults {
        fault_rate: 1.0,
        fault_seed: Some(3),
        fault_kinds: vec![
            FaultKind::DropEnrollResponse,
            FaultKind::DelayEnrollResponse,
        ],
        ..Default::default()
    });
    let c = impatient(&sb);
    for _ in 0..3 {
        c.organizations().await.unwrap();
    }
    let (pem, _) = csr("chaos.example.com");
    for _ in 0..4 {
        let e = c
            .enroll(&request(&pem, &["chaos.example.com"]))
            .await
            .unwrap_err();
        assert!(e.may_have_taken_effect(), "{e:?}");
    }
    assert_eq!(sb.enrollment_count(), 4);
    assert_eq!(listed(&c, "chaos.example.com").await, 4);
    let stats = sb.chaos_stats();
    assert_eq!(stats.calls, 8);
    assert_eq!(stats.injected.values().sum::<u64>(), 4, "{stats:?}");
}
