//! SCM's JSON answers into the client's types, and SCM's dates, from any JSON and any bytes.

use crate::strategies::json;
use acme_sectigo_bridge::scm::dates;
use acme_sectigo_bridge::scm::error::ErrorBody;
use acme_sectigo_bridge::scm::types::*;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Field names of SCM's answers and values they take.
const WORDS: &[&str] = &[
    "id",
    "sslId",
    "renewId",
    "commonName",
    "orgId",
    "status",
    "certType",
    "term",
    "requested",
    "approved",
    "issued",
    "expires",
    "revoked",
    "reasonCode",
    "serialNumber",
    "subjectAlternativeNames",
    "comments",
    "externalRequester",
    "requestedVia",
    "name",
    "description",
    "terms",
    "keyTypes",
    "useSecondaryOrgName",
    "certTypes",
    "departments",
    "parentName",
    "delegationStatus",
    "state",
    "validationStatus",
    "dcvExpiration",
    "delegations",
    "domainCertificateRequestPrivileges",
    "expirationDate",
    "mandatory",
    "value",
    "code",
    "Issued",
    "Requested",
    "Applied",
    "Revoked",
    "VALIDATED",
    "",
    "01/31/2025",
    "2025-01-31",
    "2025-01-31T10:00:00Z",
    "13/45/2025",
    "02/30/2025",
    "a,b,,c",
    "RSA",
    "EC",
];

/// Parses `v` (as a value and as text) and `bytes` into `T`; only panics matter.
fn parse_all<T: DeserializeOwned>(v: &Value, bytes: &[u8]) {
    let _ = serde_json::from_value::<T>(v.clone());
    let _ = serde_json::from_slice::<T>(&serde_json::to_vec(v).unwrap());
    let _ = serde_json::from_slice::<T>(bytes);
    let _ = serde_json::from_value::<Vec<T>>(v.clone());
}

/// A date-like string: digits (of any size) around `/`, `-`, `T`, spaces.
fn date_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            (0u32..100).prop_map(|n| n.to_string()),
            prop::sample::select(vec!["/", "-", "T", " ", ":", "Z", ".", "+", "\u{a0}"])
                .prop_map(str::to_string),
        ],
        0..10,
    )
    .prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(crate::config(256))]

    #[test]
    fn scm_types_from_any_json(v in json(WORDS), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        parse_all::<EnrollResponse>(&v, &bytes);
        parse_all::<RenewResponse>(&v, &bytes);
        parse_all::<CertStatus>(&v, &bytes);
        parse_all::<CertificateDetails>(&v, &bytes);
        parse_all::<ListItem>(&v, &bytes);
        parse_all::<Domain>(&v, &bytes);
        parse_all::<DomainDetails>(&v, &bytes);
        parse_all::<Delegation>(&v, &bytes);
        parse_all::<DcvStatus>(&v, &bytes);
        parse_all::<Organization>(&v, &bytes);
        parse_all::<Department>(&v, &bytes);
        parse_all::<OrganizationDetails>(&v, &bytes);
        parse_all::<SslType>(&v, &bytes);
        parse_all::<CustomField>(&v, &bytes);
        parse_all::<CustomFieldValue>(&v, &bytes);
        parse_all::<ErrorBody>(&v, &bytes);
    }

    #[test]
    fn details_with_every_date_form(date in prop_oneof![date_like(), ".{0,12}"], status in prop::sample::select(WORDS)) {
        let v = serde_json::json!({"status": status, "requested": date, "expires": date, "subjectAlternativeNames": date});
        let _ = serde_json::from_value::<CertificateDetails>(v);
    }

    #[test]
    fn dates_of_any_text(s in prop_oneof![date_like(), any::<String>()]) {
        let _ = dates::parse(&s);
    }

    #[test]
    fn dates_render_and_parse_back(days in -100_000i32..100_000) {
        let d = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let d = d.checked_add_signed(chrono::Duration::days(i64::from(days))).unwrap();
        for f in [dates::DateFormat::Us, dates::DateFormat::Iso] {
            prop_assert_eq!(dates::parse(&f.format(d)), Ok(Some(d)), "{:?}", f);
        }
    }
}
