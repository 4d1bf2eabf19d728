//! Alternate chains (RFC 8555 §7.4.2): with SCM returning a cross-signed root, the certificate URL
//! serves the chain to the root that issued the intermediate, names the chain through the
//! cross-signed root as `Link: rel="alternate"`, and both verify with openssl to their own roots.

mod support;

use acme_sectigo_bridge::issuance::chain::build_chains;
use acme_sectigo_bridge::sandbox::pki::Pki;
use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::{certificates_in, CollectFormat};
use std::path::PathBuf;
use std::process::Command;
use support::acme::links;
use support::flow::{csr, finalize, Env};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acme-chains-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `openssl verify` of `chain` (leaf first; the rest untrusted) against `anchor` only.
fn verifies(chain: &str, anchor: &str, tag: &str) -> (bool, String) {
    let certs = certificates_in(chain.as_bytes()).unwrap();
    let pem = |ders: &[Vec<u8>]| -> String {
        ders.iter()
            .map(|d| acme_sectigo_bridge::sandbox::pki::pem("CERTIFICATE", d))
            .collect()
    };
    let (leaf, untrusted, ca) = (
        tmp(&format!("{tag}-leaf.pem")),
        tmp(&format!("{tag}-untrusted.pem")),
        tmp(&format!("{tag}-ca.pem")),
    );
    std::fs::write(&leaf, pem(&certs[..1])).unwrap();
    std::fs::write(&untrusted, pem(&certs[1..])).unwrap();
    std::fs::write(&ca, anchor).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args(["verify", "-purpose", "sslserver", "-CAfile"])
        .arg(&ca);
    if certs.len() > 1 {
        cmd.arg("-untrusted").arg(&untrusted);
    }
    let out = cmd
        .arg(&leaf)
        .output()
        .expect("the openssl CLI is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_signed_root_is_offered_as_an_alternate_chain_and_both_verify() {
    let env = Env::start_with(
        SandboxConfig {
            cross_signed_root: true,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let cert_url = r.body["certificate"].as_str().unwrap().to_string();

    let main = c.post(&cert_url, None).await;
    assert_eq!(main.status, 200, "{main:?}");
    let alternates = links(&main, "alternate");
    assert_eq!(alternates, vec![format!("{cert_url}/alt/1")], "{main:?}");
    let main_pem = main.body.as_str().unwrap().to_string();
    assert_eq!(
        certificates_in(main_pem.as_bytes()).unwrap().len(),
        2,
        "leaf and intermediate; the root is left out"
    );

    let alt = c.post(&alternates[0], None).await;
    assert_eq!(alt.status, 200, "{alt:?}");
    assert_eq!(
        alt.header("content-type"),
        Some("application/pem-certificate-chain")
    );
    assert_eq!(links(&alt, "alternate"), vec![cert_url.clone()], "{alt:?}");
    let alt_pem = alt.body.as_str().unwrap().to_string();
    let alt_certs = certificates_in(alt_pem.as_bytes()).unwrap();
    let main_certs = certificates_in(main_pem.as_bytes()).unwrap();
    assert_eq!(alt_certs.len(), 3, "leaf, intermediate, cross-signed root");
    assert_eq!(
        alt_certs[..2],
        main_certs[..],
        "the same leaf and intermediate"
    );
    let cross = certificates_in(env.sandbox.cross_signed_root_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(alt_certs[2], cross[0]);

    let root = env.sandbox.root_pem();
    let old_root = env.sandbox.old_root_pem().unwrap();
    let (ok, text) = verifies(&main_pem, &root, "main-root");
    assert!(ok, "default chain → root: {text}");
    let (ok, text) = verifies(&alt_pem, &old_root, "alt-old");
    assert!(ok, "alternate chain → old root: {text}");
    let (ok, _) = verifies(&main_pem, &old_root, "main-old");
    assert!(!ok, "the default chain does not reach the old root");

    // Past the last alternate, a malformed index, another account: not found.
    assert_eq!(c.post(&format!("{cert_url}/alt/2"), None).await.status, 404);
    assert_eq!(c.post(&format!("{cert_url}/alt/0"), None).await.status, 404);
    assert_eq!(c.post(&format!("{cert_url}/alt/x"), None).await.status, 404);
    let other = env.client().await;
    assert_eq!(other.post(&alternates[0], None).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cross_signing_there_is_no_alternate() {
    let env = Env::start().await;
    let c = env.client().await;
    let (_, order) = env.ready_order(&c, &["127.0.0.1"]).await;
    let (der, _) = csr(&["127.0.0.1"], None);
    let r = finalize(&c, &order, &der).await;
    assert_eq!(r.body["status"], "valid", "{r:?}");
    let cert_url = r.body["certificate"].as_str().unwrap();
    let main = c.post(cert_url, None).await;
    assert_eq!(main.status, 200);
    assert!(links(&main, "alternate").is_empty(), "{main:?}");
    assert_eq!(c.post(&format!("{cert_url}/alt/1"), None).await.status, 404);
}

/// Whatever order SCM's format puts them in, the default chain ends at the root that issued the
/// intermediate and the alternate goes through the cross-signed root; with `include_root` each
/// carries its own root.
#[test]
fn the_default_chain_is_the_shortest_whatever_the_format_order() {
    let pki = Pki::generate(true).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = pki
        .issue(
            key.public_key_der().as_slice(),
            "a.example.com",
            &["a.example.com".into()],
            30,
            &[0x11; 16],
        )
        .unwrap();
    let thumbprint = {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
        acme_sectigo_bridge::jose::spki::jwk_from_spki(cert.public_key())
            .unwrap()
            .0
            .thumbprint()
    };
    let one = |p: String| certificates_in(p.as_bytes()).unwrap().remove(0);
    let (root, inter) = (one(pki.root_pem()), one(pki.intermediate_pem()));
    let (cross, old) = (
        one(pki.cross_signed_root_pem().unwrap()),
        one(pki.old_root_pem().unwrap()),
    );
    for format in [
        CollectFormat::X509,
        CollectFormat::X509R,
        CollectFormat::Base64,
    ] {
        let ders = certificates_in(&pki.bundle(&leaf, format)).unwrap();
        let chains = build_chains(&ders, &thumbprint, false).unwrap();
        let got = |pem: &str| certificates_in(pem.as_bytes()).unwrap();
        assert_eq!(
            got(&chains.default.pem),
            vec![leaf.clone(), inter.clone()],
            "{format:?}"
        );
        assert_eq!(chains.alternates.len(), 1, "{format:?}");
        assert_eq!(
            got(&chains.alternates[0]),
            vec![leaf.clone(), inter.clone(), cross.clone()],
            "{format:?}"
        );
        let with_root = build_chains(&ders, &thumbprint, true).unwrap();
        assert_eq!(
            got(&with_root.default.pem),
            vec![leaf.clone(), inter.clone(), root.clone()],
            "{format:?}"
        );
        assert_eq!(
            got(&with_root.alternates[0]),
            vec![leaf.clone(), inter.clone(), cross.clone(), old.clone()],
            "{format:?}"
        );
    }
}
