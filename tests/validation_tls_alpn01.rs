//! tls-alpn-01 over real TLS (tokio-rustls, rcgen challenge certificates) on loopback.

mod support;

use acme_sectigo_bridge::acme::error::ProblemType;
use acme_sectigo_bridge::validation::ChallengeType::TlsAlpn01;
use std::net::IpAddr;
use support::validation::dns::DnsServer;
use support::validation::servers::{spawn_tls_alpn, TlsChallenge};
use support::validation::*;

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

async fn dns_for(name: &str) -> DnsServer {
    let dns = DnsServer::start().await;
    dns.add_a(name, LOOPBACK);
    dns
}

#[tokio::test]
async fn succeeds_for_a_name_and_sends_it_as_sni() {
    let dns = dns_for("tls.example.com").await;
    let server = spawn_tls_alpn(TlsChallenge::new("tls.example.com", KEY_AUTHZ)).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let rec = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.hostname, "tls.example.com");
    assert_eq!(rec.port, Some(server.addr.port()));
    assert_eq!(rec.addresses_resolved, vec![LOOPBACK]);
    assert_eq!(rec.address_used, Some(LOOPBACK));
    assert_eq!(rec.sni.as_deref(), Some("tls.example.com"));
    assert_eq!(
        server.sni_seen.lock().unwrap().as_slice(),
        [Some("tls.example.com".to_string())]
    );
}

#[tokio::test]
async fn succeeds_for_an_ip_identifier_with_reverse_dns_sni() {
    let dns = DnsServer::start().await;
    let server = spawn_tls_alpn(TlsChallenge::new("127.0.0.1", KEY_AUTHZ)).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let rec = v
        .validate(TlsAlpn01, &ip_id("127.0.0.1"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.sni.as_deref(), Some("1.0.0.127.in-addr.arpa"));
    assert_eq!(
        server.sni_seen.lock().unwrap().as_slice(),
        [Some("1.0.0.127.in-addr.arpa".to_string())]
    );
}

#[tokio::test]
async fn succeeds_over_tls12() {
    let dns = dns_for("tls.example.com").await;
    let mut c = TlsChallenge::new("tls.example.com", KEY_AUTHZ);
    c.tls12_only = true;
    let server = spawn_tls_alpn(c).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let rec = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap();
    assert_eq!(rec.port, Some(server.addr.port()));
    assert_eq!(rec.address_used, Some(LOOPBACK));
    assert_eq!(rec.sni.as_deref(), Some("tls.example.com"));
}

#[tokio::test]
async fn handshake_signed_by_another_key_is_a_tls_problem() {
    let dns = dns_for("tls.example.com").await;
    for tls12_only in [false, true] {
        let mut c = TlsChallenge::new("tls.example.com", KEY_AUTHZ);
        c.wrong_signing_key = true;
        c.tls12_only = tls12_only;
        let server = spawn_tls_alpn(c).await;
        let v = validator(dns.addr, closed_port(), server.addr.port(), true);
        let e = v
            .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ProblemType::Tls, "tls12_only={tls12_only}: {e:?}");
        assert!(
            e.detail.contains("tls.example.com at 127.0.0.1"),
            "{}",
            e.detail
        );
    }
}

#[tokio::test]
async fn wrong_key_authorization_is_unauthorized() {
    let dns = dns_for("tls.example.com").await;
    let server = spawn_tls_alpn(TlsChallenge::new("tls.example.com", OTHER_KEY_AUTHZ)).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Unauthorized, "{e:?}");
    assert!(e.detail.contains("acmeIdentifier"), "{}", e.detail);
    assert!(
        e.detail.contains(&format!(
            "tls.example.com at 127.0.0.1:{}",
            server.addr.port()
        )),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn missing_acme_identifier_is_unauthorized() {
    let dns = dns_for("tls.example.com").await;
    let mut c = TlsChallenge::new("tls.example.com", KEY_AUTHZ);
    c.key_authorization = None;
    let server = spawn_tls_alpn(c).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Unauthorized, "{e:?}");
    assert!(
        e.detail.contains("no acmeIdentifier extension"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn wrong_or_extra_names_are_unauthorized() {
    let dns = dns_for("tls.example.com").await;
    let mut c = TlsChallenge::new("tls.example.com", KEY_AUTHZ);
    c.sans.push("other.example.com".into());
    let server = spawn_tls_alpn(c).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Unauthorized, "{e:?}");
    assert!(
        e.detail.contains("exactly one subjectAltName"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("DNS:other.example.com"), "{}", e.detail);
}

#[tokio::test]
async fn server_without_acme_alpn_is_a_tls_problem() {
    let dns = dns_for("tls.example.com").await;
    let mut c = TlsChallenge::new("tls.example.com", KEY_AUTHZ);
    c.alpn = Vec::new();
    let server = spawn_tls_alpn(c).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Tls, "{e:?}");
    assert!(e.detail.contains("acme-tls/1"), "{}", e.detail);
    assert!(
        e.detail.contains("tls.example.com at 127.0.0.1"),
        "{}",
        e.detail
    );

    let mut c = TlsChallenge::new("tls.example.com", KEY_AUTHZ);
    c.alpn = vec![b"h2".to_vec()];
    let server = spawn_tls_alpn(c).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Tls, "{e:?}");
    assert!(e.detail.contains("acme-tls/1"), "{}", e.detail);
}

#[tokio::test]
async fn plain_tcp_server_is_a_tls_problem() {
    let dns = dns_for("tls.example.com").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let v = validator(dns.addr, closed_port(), port, true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Tls, "{e:?}");
    assert!(
        e.detail.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn unreachable_port_is_a_connection_problem() {
    let dns = dns_for("tls.example.com").await;
    let port = closed_port();
    let v = validator(dns.addr, closed_port(), port, true);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(e.detail.contains("tls.example.com"), "{}", e.detail);
    assert!(
        e.detail.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn refused_network_is_a_connection_problem_naming_the_address() {
    let dns = dns_for("tls.example.com").await;
    let server = spawn_tls_alpn(TlsChallenge::new("tls.example.com", KEY_AUTHZ)).await;
    let v = validator(dns.addr, closed_port(), server.addr.port(), false);
    let e = v
        .validate(TlsAlpn01, &dns_id("tls.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(e.detail.contains("tls.example.com"), "{}", e.detail);
    assert!(
        e.detail.contains("127.0.0.1 (in 127.0.0.0/8, loopback)"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("allowed_networks"), "{}", e.detail);
    assert!(
        server.sni_seen.lock().unwrap().is_empty(),
        "no connection was made"
    );
}

/// tls-alpn-01 goes through the same address policy: an IPv4-compatible IPv6 identifier is
/// judged by the IPv4 address it embeds.
#[tokio::test]
async fn an_ipv6_identifier_embedding_a_refused_ipv4_address_is_refused() {
    let dns = DnsServer::start().await;
    let v = validator(dns.addr, closed_port(), closed_port(), false);
    let e = v
        .validate(TlsAlpn01, &ip_id("::127.0.0.1"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Connection, "{e:?}");
    assert!(
        e.detail
            .contains("::7f00:1 (the IPv4-compatible form of 127.0.0.1: in 127.0.0.0/8, loopback)"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn unknown_name_is_a_dns_problem() {
    let dns = DnsServer::start().await;
    let v = validator(dns.addr, closed_port(), closed_port(), true);
    let e = v
        .validate(TlsAlpn01, &dns_id("nowhere.example.com"), TOKEN, KEY_AUTHZ)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProblemType::Dns, "{e:?}");
    assert!(e.detail.contains("nowhere.example.com"), "{}", e.detail);
}
