//! dns-01 against an in-process DNS server on loopback.

mod support;

use acme_sectigo_bridge::acme::error::ProblemType;
use acme_sectigo_bridge::validation::dns01_txt_value;
use acme_sectigo_bridge::validation::ChallengeType::Dns01;
use std::net::SocketAddr;
use support::validation::dns::DnsServer;
use support::validation::*;

fn expected() -> String {
    dns01_txt_value(KEY_AUTHZ)
}

#[tokio::test]
async fn succeeds_among_other_txt_records() {
    let dns = DnsServer::start().await;
    dns.add_txt("_acme-challenge.example.com", "stale-value");
    dns.add_txt("_acme-challenge.example.com", &expected());
    let v = validator(dns.addr, 0, 0, true);
    let rec = v
        .validate(Dns01, &dns_id("example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.hostname, "example.com");
    assert_eq!(
        rec.record_name.as_deref(),
        Some("_acme-challenge.example.com")
    );
}

#[tokio::test]
async fn wildcard_is_validated_at_the_base_name() {
    let dns = DnsServer::start().await;
    dns.add_txt("_acme-challenge.wild.example.com", &expected());
    let v = validator(dns.addr, 0, 0, true);
    let rec = v
        .validate(Dns01, &dns_id("*.wild.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.hostname, "*.wild.example.com");
    assert_eq!(
        rec.record_name.as_deref(),
        Some("_acme-challenge.wild.example.com")
    );
}

#[tokio::test]
async fn cname_chain_is_followed() {
    let dns = DnsServer::start().await;
    dns.add_cname(
        "_acme-challenge.cn.example.com",
        "step1.acme-delegation.example.net",
    );
    dns.add_cname(
        "step1.acme-delegation.example.net",
        "step2.acme-delegation.example.net",
    );
    dns.add_txt("step2.acme-delegation.example.net", &expected());
    let v = validator(dns.addr, 0, 0, true);
    let rec = v
        .validate(Dns01, &dns_id("cn.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.hostname, "cn.example.com");
    assert_eq!(
        rec.record_name.as_deref(),
        Some("_acme-challenge.cn.example.com")
    );
    // The value exists only at the end of the chain: without it there, nothing answers.
    dns.clear("step2.acme-delegation.example.net");
    let e = v
        .validate(Dns01, &dns_id("cn.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind, ProblemType::Dns | ProblemType::IncorrectResponse),
        "{e:?}"
    );
}

#[tokio::test]
async fn address_policy_does_not_apply_to_the_configured_resolver() {
    // The operator chose the resolver; allowed_networks governs only the applicant's targets.
    let dns = DnsServer::start().await;
    dns.add_txt("_acme-challenge.example.com", &expected());
    let v = validator(dns.addr, 0, 0, false);
    let rec = v
        .validate(Dns01, &dns_id("example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(
        rec.record_name.as_deref(),
        Some("_acme-challenge.example.com")
    );
}

#[tokio::test]
async fn wrong_key_authorization_is_an_incorrect_response() {
    let dns = DnsServer::start().await;
    dns.add_txt(
        "_acme-challenge.example.com",
        &dns01_txt_value(OTHER_KEY_AUTHZ),
    );
    let v = validator(dns.addr, 0, 0, true);
    let e = v
        .validate(Dns01, &dns_id("example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::IncorrectResponse, "{e:?}");
    assert!(
        e.detail.contains("_acme-challenge.example.com"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains(&expected()), "{}", e.detail);
    assert!(
        e.detail.contains(&dns01_txt_value(OTHER_KEY_AUTHZ)),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn missing_record_is_a_dns_problem() {
    let dns = DnsServer::start().await;
    let v = validator(dns.addr, 0, 0, true);
    let e = v
        .validate(Dns01, &dns_id("absent.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Dns, "{e:?}");
    assert!(e.detail.contains("NXDOMAIN"), "{}", e.detail);
    assert!(
        e.detail.contains("_acme-challenge.absent.example.com"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn name_without_txt_records_is_a_dns_problem() {
    let dns = DnsServer::start().await;
    dns.add_a(
        "_acme-challenge.a-only.example.com",
        "192.0.2.1".parse().unwrap(),
    );
    let v = validator(dns.addr, 0, 0, true);
    let e = v
        .validate(Dns01, &dns_id("a-only.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Dns, "{e:?}");
    assert!(e.detail.contains("no TXT records"), "{}", e.detail);
    assert!(
        e.detail.contains("_acme-challenge.a-only.example.com"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn servfail_is_a_dns_problem() {
    let dns = DnsServer::start().await;
    dns.servfail("_acme-challenge.broken.example.com");
    let v = validator(dns.addr, 0, 0, true);
    let e = v
        .validate(Dns01, &dns_id("broken.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Dns, "{e:?}");
    assert!(e.detail.contains("SERVFAIL"), "{}", e.detail);
    assert!(
        e.detail.contains("_acme-challenge.broken.example.com"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn unreachable_resolver_is_a_dns_problem_within_the_timeout() {
    let dead: SocketAddr = format!("127.0.0.1:{}", closed_port()).parse().unwrap();
    let v = validator(dead, 0, 0, true);
    let started = std::time::Instant::now();
    let e = v
        .validate(Dns01, &dns_id("example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(e.kind, ProblemType::Dns, "{e:?}");
    assert!(
        e.detail.contains("_acme-challenge.example.com"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains(&dead.to_string()), "{}", e.detail);
}

#[tokio::test]
async fn ip_identifiers_cannot_use_dns01() {
    let dns = DnsServer::start().await;
    let v = validator(dns.addr, 0, 0, true);
    let e = v
        .validate(Dns01, &ip_id("192.0.2.1"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Malformed);
    assert!(e.detail.contains("192.0.2.1"));
}
