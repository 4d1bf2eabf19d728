//! Certificates the sandbox issues: chain order of every collect format (both URL styles), and
//! `openssl verify` against the sandbox root with exactly the requested names, the CSR's key and CN,
//! and validity = term.

mod common_scm;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::{CollectFormat, CollectStyle};
use common_scm::{client, csr, csr_rsa, pem_ders, request, sandbox};
use std::path::PathBuf;
use std::process::Command;
use x509_parser::prelude::*;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scm-pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test]
async fn every_format_in_its_chain_order_with_both_url_styles() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, spki) = csr("order.example.com");
    let id = c
        .enroll(&request(&pem, &["order.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let root = pem_ders(&sb.root_pem()).remove(0);
    let inter = pem_ders(&sb.intermediate_pem()).remove(0);
    let leaf_of = |der: &Vec<u8>| {
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        cert.public_key().raw == spki.as_slice()
    };
    for format in CollectFormat::ALL {
        for style in [CollectStyle::Query, CollectStyle::Path] {
            let got = c.collect_with(id, format, style).await.unwrap();
            assert!(got.filename.is_some());
            let certs = got.certificates().unwrap();
            let names: Vec<&str> = certs
                .iter()
                .map(|d| {
                    if leaf_of(d) {
                        "leaf"
                    } else if *d == root {
                        "root"
                    } else if *d == inter {
                        "intermediate"
                    } else {
                        "unknown"
                    }
                })
                .collect();
            let expected: &[&str] = match format {
                CollectFormat::X509 | CollectFormat::Pem => &["root", "intermediate", "leaf"],
                CollectFormat::X509R => &["leaf", "intermediate", "root"],
                CollectFormat::X509CO | CollectFormat::PemCO => &["leaf"],
                CollectFormat::X509IO => &["root", "intermediate"],
                CollectFormat::X509IOR => &["intermediate", "root"],
                CollectFormat::PemIA => &["leaf", "intermediate"],
                CollectFormat::Base64 | CollectFormat::Bin => &["leaf", "intermediate", "root"],
            };
            assert_eq!(names, expected, "{format:?} {style:?}");
            let text = String::from_utf8_lossy(&got.body);
            match format {
                CollectFormat::Base64 => assert!(text.starts_with("-----BEGIN PKCS7-----")),
                CollectFormat::Bin => assert_eq!(got.body[0], 0x30),
                _ => assert!(text.starts_with("-----BEGIN CERTIFICATE-----")),
            }
        }
    }
    // Unknown format.
    let raw = reqwest::Client::new()
        .get(format!("{}/ssl/v1/collect/{id}/nope", sb.base_url()))
        .header("customerUri", "demo")
        .header("login", "demo")
        .header("password", "demo")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
}

#[tokio::test]
async fn issued_certificates_verify_with_openssl_and_carry_exactly_the_requested_names() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    std::fs::write(tmp("root.pem"), sb.root_pem()).unwrap();
    for (cn, names, rsa, profile) in [
        ("single.example.com", vec!["single.example.com"], false, 501),
        (
            "multi.example.com",
            vec![
                "multi.example.com",
                "www.multi.example.com",
                "other.example.org",
            ],
            true,
            502,
        ),
        (
            "*.wild.example.com",
            vec!["*.wild.example.com", "wild.example.com"],
            false,
            503,
        ),
    ] {
        let (pem, spki) = if rsa { csr_rsa(cn) } else { csr(cn) };
        let mut req = request(&pem, &names);
        req.cert_type = profile;
        req.term = 200;
        let id = c.enroll(&req).await.unwrap().ssl_id;
        let chain = c.collect(id, CollectFormat::PemIA).await.unwrap();
        let ders = chain.certificates().unwrap();
        let stem = cn.replace('*', "star");
        let leaf_path = tmp(&format!("{stem}.pem"));
        let inter_path = tmp(&format!("{stem}-inter.pem"));
        std::fs::write(
            &leaf_path,
            acme_sectigo_bridge::sandbox::pki::pem("CERTIFICATE", &ders[0]),
        )
        .unwrap();
        std::fs::write(
            &inter_path,
            acme_sectigo_bridge::sandbox::pki::pem("CERTIFICATE", &ders[1]),
        )
        .unwrap();
        let out = Command::new("openssl")
            .args(["verify", "-purpose", "sslserver", "-CAfile"])
            .arg(tmp("root.pem"))
            .arg("-untrusted")
            .arg(&inter_path)
            .arg(&leaf_path)
            .output()
            .expect("the openssl CLI is installed");
        assert!(
            out.status.success(),
            "openssl verify failed for {cn}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Without the intermediate the leaf must not verify (a real 3-level chain).
        let alone = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(tmp("root.pem"))
            .arg(&leaf_path)
            .output()
            .unwrap();
        assert!(!alone.status.success());

        let (_, cert) = X509Certificate::from_der(&ders[0]).unwrap();
        assert_eq!(cert.public_key().raw, spki.as_slice());
        let got_cn = cert
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(got_cn, cn);
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|g| match g {
                GeneralName::DNSName(d) => d.to_string(),
                other => panic!("unexpected SAN {other:?}"),
            })
            .collect();
        assert_eq!(sans, names, "exactly the subjAltNames sent");
        let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp())
            / 86400;
        assert!((200..=201).contains(&days), "validity {days} days");
    }
    // PKCS#7 as openssl reads it.
    let (pem, _) = csr("p7.example.com");
    let id = c
        .enroll(&request(&pem, &["p7.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let p7 = c.collect(id, CollectFormat::Base64).await.unwrap();
    std::fs::write(tmp("p7.pem"), &p7.body).unwrap();
    let out = Command::new("openssl")
        .args(["pkcs7", "-print_certs", "-noout", "-in"])
        .arg(tmp("p7.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("subject=").count(), 3, "{text}");
}
