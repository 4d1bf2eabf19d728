//! finalize's CSR check with any bytes, mutated real CSRs, and real CSRs carrying random names.

use crate::fixtures::{csr_with, fixtures};
use crate::strategies::{edits, mutate};
use acme_sectigo_bridge::acme::csr::check_csr;
use acme_sectigo_bridge::model::Identifier;
use proptest::prelude::*;
use rcgen::SanType;
use std::net::IpAddr;

/// Identifiers of any type and value, mostly `dns`/`ip`.
fn identifiers() -> impl Strategy<Value = Vec<Identifier>> {
    let kind = prop_oneof![Just("dns".to_string()), Just("ip".to_string()), ".{0,5}"];
    let value = prop_oneof![
        Just("fuzz.example.com".to_string()),
        "[a-z0-9.*-]{0,20}",
        any::<IpAddr>().prop_map(|ip| ip.to_string()),
        ".{0,20}",
    ];
    proptest::collection::vec(
        (kind, value).prop_map(|(kind, value)| Identifier { kind, value }),
        0..5,
    )
}

/// A subjectAltName of any kind rcgen can write.
fn san() -> impl Strategy<Value = SanType> {
    prop_oneof![
        4 => "[a-zA-Z0-9.*-]{0,24}\\.?".prop_filter_map("IA5", |s| s.as_str().try_into().ok().map(SanType::DnsName)),
        2 => any::<IpAddr>().prop_map(SanType::IpAddress),
        1 => "[a-z]{1,8}@[a-z]{1,8}\\.org".prop_filter_map("IA5", |s| s.as_str().try_into().ok().map(SanType::Rfc822Name)),
        1 => "https://[a-z]{1,8}/".prop_filter_map("IA5", |s| s.as_str().try_into().ok().map(SanType::URI)),
    ]
}

proptest! {
    #![proptest_config(crate::config(128))]

    #[test]
    fn any_bytes_and_identifiers(der in proptest::collection::vec(any::<u8>(), 0..600), ids in identifiers()) {
        let _ = check_csr(&der, &ids);
    }

    #[test]
    fn mutated_real_csrs(rsa in any::<bool>(), e in edits(), ids in identifiers()) {
        let f = fixtures();
        let der = mutate(if rsa { &f.rsa_csr } else { &f.csr }, &e);
        let _ = check_csr(&der, &ids);
        if e.is_empty() {
            prop_assert!(check_csr(&der, &[Identifier::dns("fuzz.example.com")]).is_ok());
        }
    }

    #[test]
    fn real_csrs_with_random_names(
        sans in proptest::collection::vec(san(), 0..5),
        cn in proptest::option::of(".{0,20}"),
        ids in identifiers(),
    ) {
        if let Some(der) = csr_with(&fixtures().key, cn.as_deref(), sans) {
            let _ = check_csr(&der, &ids);
        }
    }

    #[test]
    fn csrs_naming_exactly_the_order_pass(names in proptest::collection::btree_set("[a-z]{1,10}\\.example\\.org", 1..4)) {
        let names: Vec<String> = names.into_iter().collect();
        let sans = names.iter().map(|n| SanType::DnsName(n.as_str().try_into().unwrap())).collect();
        let der = csr_with(&fixtures().key, Some(&names[0]), sans).unwrap();
        let ids: Vec<Identifier> = names.iter().map(Identifier::dns).collect();
        let checked = check_csr(&der, &ids);
        prop_assert!(checked.is_ok(), "{:?}", checked.err());
        prop_assert_eq!(checked.unwrap().key_thumbprint, fixtures().thumbprint.clone());
    }
}
