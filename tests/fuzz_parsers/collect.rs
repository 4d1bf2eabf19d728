//! SCM collect bodies (PEM chains, PKCS#7 in PEM or DER) and the sandbox's CSR parsing.

use crate::fixtures::fixtures;
use crate::strategies::{b64, der, der_tree, edits, mutate, pem_text};
use acme_sectigo_bridge::sandbox::handlers::enroll::parse_csr;
use acme_sectigo_bridge::sandbox::pki::pkcs7;
use acme_sectigo_bridge::scm::collect::{pem_blocks, pkcs7_certificates};
use acme_sectigo_bridge::scm::{certificates_in, CollectFormat, Collected};
use proptest::prelude::*;

/// Real certificates and random TLV trees, for PEM bodies and PKCS#7 contents.
fn blobs() -> Vec<Vec<u8>> {
    let f = fixtures();
    let mut v = f.chain.clone();
    v.push(pkcs7(&f.chain));
    v.push(f.csr.clone());
    v
}

proptest! {
    #![proptest_config(crate::config(512))]

    #[test]
    fn pem_blocks_of_any_text(text in any::<String>()) {
        let _ = pem_blocks(&text);
    }

    #[test]
    fn pem_blocks_of_pem_like_text(text in pem_text(blobs())) {
        let _ = pem_blocks(&text);
        let _ = certificates_in(text.as_bytes());
    }

    #[test]
    fn certificates_in_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = certificates_in(&data);
        let _ = pkcs7_certificates(&data);
    }

    #[test]
    fn pkcs7_of_random_tlvs(tree in der_tree(), certs in proptest::collection::vec(der_tree(), 0..4), e in edits()) {
        let _ = pkcs7_certificates(&mutate(&tree, &e));
        let wrapped = pkcs7(&certs);
        let _ = pkcs7_certificates(&wrapped);
        let mutated = mutate(&wrapped, &e);
        let _ = pkcs7_certificates(&mutated);
        let armoured = format!("-----BEGIN PKCS7-----\n{}\n-----END PKCS7-----\n", b64(&mutated));
        let _ = certificates_in(armoured.as_bytes());
        // A ContentInfo whose explicit content is not the SignedData SEQUENCE expected.
        let odd = der(0x30, &[der(0x06, &[0x2a]), der(0xa0, &tree)].concat());
        let _ = pkcs7_certificates(&mutate(&odd, &e));
    }

    #[test]
    fn collected_bodies_mutated(index in 0..CollectFormat::ALL.len(), e in edits()) {
        let f = fixtures();
        let format = CollectFormat::ALL[index];
        let body = mutate(&f.bodies[index], &e);
        let collected = Collected { format, body: body.into(), filename: None };
        let certs = collected.certificates();
        // Untouched, every format but the issuers-only ones holds the leaf.
        let issuers_only = matches!(format, CollectFormat::X509IO | CollectFormat::X509IOR);
        if e.is_empty() && !issuers_only {
            prop_assert!(certs.unwrap().contains(&f.chain[0]), "{:?}", format);
        }
    }

    #[test]
    fn sandbox_parse_csr_of_any_text(text in any::<String>()) {
        let _ = parse_csr(&text);
    }

    #[test]
    fn sandbox_parse_csr_of_pem_like_or_mutated_csrs(text in pem_text(blobs()), e in edits()) {
        let _ = parse_csr(&text);
        let csr = mutate(&fixtures().csr, &e);
        let _ = parse_csr(&b64(&csr));
        let armoured = format!("-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----", b64(&csr));
        let parsed = parse_csr(&armoured);
        if e.is_empty() {
            prop_assert!(parsed.is_ok());
        }
    }
}
