//! Certificates the sandbox issues: chain order of every collect format (both URL styles), and
//! `openssl verify` against the sandbox root with exactly the requested names, the CSR's key and CN,
//! and validity = term.

mod support;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::{CollectFormat, CollectStyle};
use std::path::PathBuf;
use std::process::Command;
use support::scm::{client, csr, csr_rsa, pem_ders, request, sandbox};
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

#[tokio::test]
async fn a_cross_signed_root_gives_a_second_chain_up_to_the_old_root() {
    let sb = sandbox(SandboxConfig {
        cross_signed_root: true,
        ..Default::default()
    });
    let c = client(&sb);
    let (pem, spki) = csr("cross.example.com");
    let id = c
        .enroll(&request(&pem, &["cross.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let one = |p: Option<String>| pem_ders(&p.unwrap()).remove(0);
    let root = one(Some(sb.root_pem()));
    let inter = one(Some(sb.intermediate_pem()));
    let cross = one(sb.cross_signed_root_pem());
    let old = one(sb.old_root_pem());
    // A separate process's tests fetch them from the control API.
    for (path, der) in [("/cross-signed-root.pem", &cross), ("/old-root.pem", &old)] {
        let text = reqwest::get(format!("{}{path}", sb.control_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(&pem_ders(&text)[0], der, "{path}");
    }
    let name = |d: &Vec<u8>| -> &'static str {
        if *d == root {
            "root"
        } else if *d == inter {
            "intermediate"
        } else if *d == cross {
            "cross"
        } else if *d == old {
            "old root"
        } else {
            let (_, cert) = X509Certificate::from_der(d).unwrap();
            assert_eq!(
                cert.public_key().raw,
                spki.as_slice(),
                "an unknown certificate"
            );
            "leaf"
        }
    };
    let leaf_first: &[&str] = &["leaf", "intermediate", "root", "cross", "old root"];
    let root_first: Vec<&str> = leaf_first.iter().rev().copied().collect();
    for format in CollectFormat::ALL {
        let got = c.collect(id, format).await.unwrap();
        let names: Vec<&str> = got.certificates().unwrap().iter().map(name).collect();
        let expected: Vec<&str> = match format {
            CollectFormat::X509 | CollectFormat::Pem => root_first.clone(),
            CollectFormat::X509R | CollectFormat::Base64 | CollectFormat::Bin => {
                leaf_first.to_vec()
            }
            CollectFormat::X509IO => root_first[..4].to_vec(),
            CollectFormat::X509IOR => leaf_first[1..].to_vec(),
            CollectFormat::X509CO | CollectFormat::PemCO => vec!["leaf"],
            CollectFormat::PemIA => vec!["leaf", "intermediate"],
        };
        assert_eq!(names, expected, "{format:?}");
    }

    // The cross-signed certificate is the root's subject and key, issued by the old root.
    fn parse(d: &[u8]) -> X509Certificate<'_> {
        X509Certificate::from_der(d).unwrap().1
    }
    let (root_c, inter_c, cross_c, old_c) =
        (parse(&root), parse(&inter), parse(&cross), parse(&old));
    assert_eq!(cross_c.subject().as_raw(), root_c.subject().as_raw());
    assert_eq!(cross_c.public_key().raw, root_c.public_key().raw);
    assert_eq!(cross_c.issuer().as_raw(), old_c.subject().as_raw());
    assert_ne!(old_c.subject().as_raw(), root_c.subject().as_raw());
    assert_eq!(inter_c.issuer().as_raw(), cross_c.subject().as_raw());
    cross_c.verify_signature(Some(old_c.public_key())).unwrap();
    assert!(cross_c.verify_signature(Some(root_c.public_key())).is_err());
    inter_c
        .verify_signature(Some(cross_c.public_key()))
        .unwrap();
    old_c.verify_signature(None).unwrap();

    // openssl builds both paths: to the old root through the cross-signed root, and to the root.
    let pemf = |n: &str, ders: &[&Vec<u8>]| {
        let text: String = ders
            .iter()
            .map(|d| acme_sectigo_bridge::sandbox::pki::pem("CERTIFICATE", d))
            .collect();
        std::fs::write(tmp(n), text).unwrap();
        tmp(n)
    };
    let leaf = c.collect(id, CollectFormat::X509CO).await.unwrap();
    let leaf = leaf.certificates().unwrap().remove(0);
    let leaf_path = pemf("x-leaf.pem", &[&leaf]);
    let verify = |anchor: &[&Vec<u8>], untrusted: &[&Vec<u8>], tag: &str| {
        let out = Command::new("openssl")
            .args(["verify", "-purpose", "sslserver", "-CAfile"])
            .arg(pemf(&format!("x-anchor-{tag}.pem"), anchor))
            .arg("-untrusted")
            .arg(pemf(&format!("x-untrusted-{tag}.pem"), untrusted))
            .arg(&leaf_path)
            .output()
            .expect("the openssl CLI is installed");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = verify(&[&old], &[&inter, &cross], "old");
    assert!(ok, "leaf → intermediate → cross → old root: {text}");
    let (ok, text) = verify(&[&root], &[&inter], "new");
    assert!(ok, "leaf → intermediate → root: {text}");
    let (ok, _) = verify(&[&old], &[&inter], "none");
    assert!(
        !ok,
        "without the cross-signed root the old root is out of reach"
    );

    // Off by default: the chains stay root, intermediate, leaf.
    let plain = sandbox(SandboxConfig::default());
    assert!(plain.cross_signed_root_pem().is_none() && plain.old_root_pem().is_none());
}
