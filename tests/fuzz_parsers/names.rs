//! Identifier normalisation (newOrder, CSR names) and account contacts, from any text and from
//! text built of the pieces those parsers split on.

use acme_sectigo_bridge::acme::contact::validate_contacts;
use acme_sectigo_bridge::model::Identifier;
use acme_sectigo_bridge::policy::normalize_identifier;
use proptest::prelude::*;

/// Name-like text: labels, dots, wildcards, Punycode prefixes, brackets, Unicode.
fn name_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-z0-9-]{0,8}",
            prop::sample::select(vec![
                ".", "*", "*.", "xn--", "xn--a", "-", "[", "]", ":", "::", "%", "ß", "ü",
                "\u{200d}", "\u{fe0f}", "\u{3002}", "ＡＢ", "1", "255", "256", "0x1", " ", "\u{0}",
                "ǅ", "İ",
            ])
            .prop_map(str::to_string),
            ".{1,3}",
        ],
        0..12,
    )
    .prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(crate::config(512))]

    #[test]
    fn identifiers_of_any_text(kind in prop_oneof![Just("dns".to_string()), Just("ip".to_string()), ".{0,6}"], value in prop_oneof![name_like(), any::<String>()]) {
        if let Ok(n) = normalize_identifier(&Identifier { kind, value }) {
            // The canonical form is a fixed point.
            prop_assert_eq!(normalize_identifier(&n), Ok(n.clone()));
        }
    }

    #[test]
    fn contacts_of_any_text(contacts in proptest::collection::vec(
        prop_oneof![
            (name_like(), name_like()).prop_map(|(l, d)| format!("mailto:{l}@{d}")),
            name_like().prop_map(|s| format!("mailto:{s}")),
            any::<String>(),
        ],
        0..12,
    )) {
        let _ = validate_contacts(&contacts);
    }
}
