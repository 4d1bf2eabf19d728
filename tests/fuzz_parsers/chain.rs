//! The chain builder over whatever SCM returned: real certificates in any order, mutated, mixed
//! with random DER.

use crate::fixtures::fixtures;
use crate::strategies::{der_tree, edits, mutate};
use acme_sectigo_bridge::issuance::chain::build_chain;
use proptest::prelude::*;

/// One element of an SCM answer: a real certificate (maybe edited) or a random TLV tree.
fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (0..3usize, edits()).prop_map(|(i, e)| mutate(&fixtures().chain[i], &e)),
        1 => der_tree(),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(crate::config(96))]

    #[test]
    fn any_der_list(ders in proptest::collection::vec(element(), 0..6), real_key in any::<bool>(), root in any::<bool>()) {
        let thumbprint = if real_key { fixtures().thumbprint.clone() } else { "x".into() };
        let _ = build_chain(&ders, &thumbprint, root);
    }

    #[test]
    fn real_chain_in_any_order_starts_with_the_leaf(order in Just((0..3usize).collect::<Vec<_>>()).prop_shuffle(), root in any::<bool>()) {
        let f = fixtures();
        let ders: Vec<Vec<u8>> = order.iter().map(|&i| f.chain[i].clone()).collect();
        let built = build_chain(&ders, &f.thumbprint, root).unwrap();
        let got = acme_sectigo_bridge::scm::certificates_in(built.pem.as_bytes()).unwrap();
        let want = if root { f.chain.clone() } else { f.chain[..2].to_vec() };
        prop_assert_eq!(got, want);
    }
}
