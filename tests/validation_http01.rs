//! http-01 over real HTTP and DNS on loopback.

mod support;

use acme_sectigo_bridge::acme::error::ProblemType;
use acme_sectigo_bridge::validation::ChallengeType::Http01;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use std::net::IpAddr;
use support::validation::dns::DnsServer;
use support::validation::servers::{challenge_router, spawn_http, spawn_http_with, spawn_https};
use support::validation::*;

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn succeeds_for_a_name_with_trailing_newline() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let http = spawn_http(challenge_router(TOKEN, &format!("{KEY_AUTHZ}\r\n"))).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let rec = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.hostname, "web.example.com");
    assert_eq!(
        rec.url.as_deref(),
        Some(
            format!(
                "http://web.example.com:{}/.well-known/acme-challenge/{TOKEN}",
                http.port()
            )
            .as_str()
        )
    );
    assert_eq!(rec.addresses_resolved, vec![LOOPBACK]);
    assert_eq!(rec.address_used, Some(LOOPBACK));
    assert_eq!(rec.port, Some(http.port()));
}

#[tokio::test]
async fn refused_addresses_of_a_name_are_skipped() {
    let dns = DnsServer::start().await;
    dns.add_a("mixed.example.com", "10.11.12.13".parse().unwrap());
    dns.add_a("mixed.example.com", LOOPBACK);
    let http = spawn_http(challenge_router(TOKEN, KEY_AUTHZ)).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let rec = v
        .validate(Http01, &dns_id("mixed.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.addresses_resolved.len(), 2);
    assert_eq!(rec.address_used, Some(LOOPBACK));
}

#[tokio::test]
async fn succeeds_for_an_ip_identifier() {
    let dns = DnsServer::start().await;
    let http = spawn_http(challenge_router(TOKEN, KEY_AUTHZ)).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let rec = v
        .validate(Http01, &ip_id("127.0.0.1"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.address_used, Some(LOOPBACK));
}

#[tokio::test]
async fn follows_redirects_across_hosts_and_records_each_hop() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    dns.add_a("other.example.com", LOOPBACK);
    let http = spawn_http_with(|port| {
        Router::new()
            .route(
                &format!("/.well-known/acme-challenge/{TOKEN}"),
                get(move || async move {
                    Redirect::temporary(&format!("http://other.example.com:{port}/moved"))
                }),
            )
            .route("/moved", get(|| async { Redirect::permanent("/final") }))
            .route("/final", get(|| async { KEY_AUTHZ }))
    })
    .await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let rec = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.hostname, "web.example.com");
    assert_eq!(rec.redirects.len(), 2);
    assert_eq!(rec.redirects[0].hostname, "other.example.com");
    assert_eq!(rec.redirects[0].addresses_resolved, vec![LOOPBACK]);
    assert!(rec.redirects[1].url.as_ref().unwrap().ends_with("/final"));
    assert_eq!(rec.flatten().len(), 3);
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(json["addressUsed"], "127.0.0.1");
    assert_eq!(json["redirects"][0]["hostname"], "other.example.com");
}

#[tokio::test]
async fn follows_a_redirect_to_https_on_the_tls_port_without_checking_the_certificate() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let https = spawn_https(
        Router::new().route("/secure", get(|| async { KEY_AUTHZ })),
        "web.example.com",
    )
    .await;
    let tls_port = https.port();
    let http = spawn_http(Router::new().route(
        &format!("/.well-known/acme-challenge/{TOKEN}"),
        get(move || async move {
            Redirect::temporary(&format!("https://web.example.com:{tls_port}/secure"))
        }),
    ))
    .await;
    let v = validator(dns.addr, http.port(), tls_port, true);
    let rec = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(
        rec.redirects[0].url.as_deref(),
        Some(format!("https://web.example.com:{tls_port}/secure").as_str())
    );
    assert_eq!(rec.redirects[0].address_used, Some(LOOPBACK));
}

#[tokio::test]
async fn redirect_to_another_host_resolves_and_checks_it_again() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    dns.add_a("private.example.com", "10.11.12.13".parse().unwrap());
    let http = spawn_http_with(|port| {
        Router::new().route(
            &format!("/.well-known/acme-challenge/{TOKEN}"),
            get(move || async move {
                Redirect::temporary(&format!("http://private.example.com:{port}/x"))
            }),
        )
    })
    .await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(e.detail.contains("private.example.com"), "{}", e.detail);
    assert!(e.detail.contains("10.11.12.13"), "{}", e.detail);
    assert!(e.detail.contains("allowed_networks"), "{}", e.detail);
}

#[tokio::test]
async fn redirect_to_another_port_or_scheme_is_refused() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let router = Router::new()
        .route(
            &format!("/.well-known/acme-challenge/{TOKEN}"),
            get(|| async { Redirect::temporary("http://web.example.com:8081/x") }),
        )
        .route(
            "/ftp",
            get(|| async { Redirect::temporary("ftp://web.example.com/x") }),
        );
    let http = spawn_http(router).await;
    let v = validator(dns.addr, http.port(), 8443, true);
    let e = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(e.detail.contains(":8081"), "{}", e.detail);
    assert!(
        e.detail.contains(&format!("port {}", http.port())),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn too_many_redirects() {
    let dns = DnsServer::start().await;
    dns.add_a("loop.example.com", LOOPBACK);
    let router = Router::new().route(
        &format!("/.well-known/acme-challenge/{TOKEN}"),
        get(|| async { Redirect::temporary(&format!("/.well-known/acme-challenge/{TOKEN}")) }),
    );
    let http = spawn_http(router).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("loop.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(e.detail.contains("Too many redirects"), "{}", e.detail);
    assert!(e.detail.contains("loop.example.com"), "{}", e.detail);
}

#[tokio::test]
async fn wrong_key_authorization_is_an_incorrect_response() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let http = spawn_http(challenge_router(TOKEN, OTHER_KEY_AUTHZ)).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::IncorrectResponse, "{e:?}");
    assert!(e.detail.contains("http://web.example.com:"), "{}", e.detail);
    assert!(
        e.detail.contains(OTHER_KEY_AUTHZ) && e.detail.contains(KEY_AUTHZ),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn wrong_status_is_an_incorrect_response_naming_it() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let http = spawn_http(challenge_router("another-token", KEY_AUTHZ)).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::IncorrectResponse, "{e:?}");
    assert!(e.detail.contains("404"), "{}", e.detail);
    assert!(e.detail.contains(TOKEN), "{}", e.detail);
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let dns = DnsServer::start().await;
    let http = spawn_http(challenge_router(TOKEN, &"x".repeat(100_000))).await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v
        .validate(Http01, &ip_id("127.0.0.1"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::IncorrectResponse, "{e:?}");
    assert!(e.detail.contains("4096 bytes"), "{}", e.detail);
}

#[tokio::test]
async fn unreachable_port_is_a_connection_problem() {
    let dns = DnsServer::start().await;
    dns.add_a("down.example.com", LOOPBACK);
    let port = closed_port();
    let v = validator(dns.addr, port, closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("down.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(e.detail.contains("down.example.com"), "{}", e.detail);
    assert!(e.detail.contains("127.0.0.1"), "{}", e.detail);
    assert!(e.detail.contains(&format!("port {port}")), "{}", e.detail);
}

#[tokio::test]
async fn refused_network_is_a_connection_problem_naming_the_address() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let http = spawn_http(challenge_router(TOKEN, KEY_AUTHZ)).await;
    let v = validator(dns.addr, http.port(), closed_port(), false);
    for id in [dns_id("web.example.com"), ip_id("127.0.0.1")] {
        let e = v.validate(Http01, &id, TOKEN, KEY_AUTHZ).await.unwrap_err();
        assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
        assert!(e.detail.contains(&id.value), "{}", e.detail);
        assert!(
            e.detail.contains("127.0.0.1 (in 127.0.0.0/8, loopback)"),
            "{}",
            e.detail
        );
        assert!(e.detail.contains("allowed_networks"), "{}", e.detail);
    }
}

#[tokio::test]
async fn unknown_name_is_a_dns_problem() {
    let dns = DnsServer::start().await;
    let v = validator(dns.addr, closed_port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("nowhere.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Dns, "{e:?}");
    assert!(e.detail.contains("NXDOMAIN"), "{}", e.detail);
    assert!(e.detail.contains("nowhere.example.com"), "{}", e.detail);
}

#[tokio::test]
async fn wildcards_and_bad_tokens_are_refused_before_any_request() {
    let dns = DnsServer::start().await;
    let v = validator(dns.addr, closed_port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("*.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Malformed);
    let e = v
        .validate(Http01, &dns_id("web.example.com"), "../../etc", KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Malformed);
}

/// A NAT64 address (`64:ff9b::/96`) is judged by the IPv4 address it embeds: on a NAT64 network
/// `64:ff9b::7f00:1` reaches 127.0.0.1.
#[tokio::test]
async fn a_nat64_address_is_judged_by_the_ipv4_address_it_embeds() {
    let dns = DnsServer::start().await;
    dns.add_a("nat64.example.com", "64:ff9b::7f00:1".parse().unwrap());
    let http = spawn_http(challenge_router(TOKEN, KEY_AUTHZ)).await;
    let id = dns_id("nat64.example.com");

    // Nothing allowed: refused as loopback, naming both forms.
    let v = validator(dns.addr, http.port(), closed_port(), false);
    let e = v.validate(Http01, &id, TOKEN, KEY_AUTHZ).await.unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(
        e.detail.contains("64:ff9b::7f00:1 (the NAT64 form, 64:ff9b::/96, of 127.0.0.1: in 127.0.0.0/8, loopback)"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("allowed_networks"), "{}", e.detail);

    // 127.0.0.0/8 allowed: the address passes the policy and is connected to (this host has no
    // NAT64, so the connection itself fails — but not as a refusal).
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v.validate(Http01, &id, TOKEN, KEY_AUTHZ).await.unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(!e.detail.contains("refused networks"), "{}", e.detail);
    assert!(e.detail.contains("64:ff9b::7f00:1"), "{}", e.detail);
}

/// Every redirect hop goes through the address policy, also an IPv6 literal embedding the
/// metadata address 169.254.169.254.
#[tokio::test]
async fn a_redirect_to_a_nat64_literal_of_a_refused_address_is_refused() {
    let dns = DnsServer::start().await;
    dns.add_a("web.example.com", LOOPBACK);
    let http = spawn_http_with(|port| {
        Router::new().route(
            &format!("/.well-known/acme-challenge/{TOKEN}"),
            get(move || async move {
                Redirect::temporary(&format!(
                    "http://[64:ff9b::a9fe:a9fe]:{port}/latest/meta-data"
                ))
            }),
        )
    })
    .await;
    let v = validator(dns.addr, http.port(), closed_port(), true);
    let e = v
        .validate(Http01, &dns_id("web.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(
        e.detail
            .contains("of 169.254.169.254: in 169.254.0.0/16, link-local"),
        "{}",
        e.detail
    );
}
