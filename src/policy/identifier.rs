//! Identifier normalisation: one canonical spelling per name, so patterns, deduplication,
//! authorizations and the CSR check all compare like with like.

use crate::acme::error::ProblemType;
use crate::model::Identifier;
use crate::validation::ChallengeType;
use std::net::IpAddr;

/// Longest DNS name in presentation form without the trailing dot (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Why an identifier cannot be ordered; `kind` is the ACME problem type a client should see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct IdentifierError {
    /// `rejectedIdentifier`, `unsupportedIdentifier` or `malformed`.
    pub kind: ProblemType,
    /// A sentence naming the identifier and what is wrong with it.
    pub detail: String,
}

impl IdentifierError {
    fn malformed(detail: String) -> Self {
        Self {
            kind: ProblemType::Malformed,
            detail,
        }
    }

    fn rejected(detail: String) -> Self {
        Self {
            kind: ProblemType::RejectedIdentifier,
            detail,
        }
    }
}

/// Returns the canonical form of `id`: for `dns`, lower-case A-labels without a trailing dot; for
/// `ip`, the address's canonical text (RFC 5952 for IPv6). Anything that is not a name a public
/// certificate can carry is refused with a problem type and a sentence naming the identifier.
pub fn normalize_identifier(id: &Identifier) -> Result<Identifier, IdentifierError> {
    match id.kind.as_str() {
        "dns" => normalize_dns(&id.value).map(|value| Identifier {
            kind: "dns".into(),
            value,
        }),
        "ip" => normalize_ip(&id.value).map(|ip| Identifier {
            kind: "ip".into(),
            value: ip.to_string(),
        }),
        other => Err(IdentifierError {
            kind: ProblemType::UnsupportedIdentifier,
            detail: format!(
                "Identifier type \"{other}\" (value \"{}\") is not supported; use \"dns\" or \"ip\".",
                id.value
            ),
        }),
    }
}

/// Whether a (normalised) identifier is a wildcard name such as `*.example.com`.
pub fn is_wildcard(id: &Identifier) -> bool {
    id.kind == "dns" && id.value.starts_with("*.")
}

/// The challenge types that can prove control of `id`: a wildcard only by DNS (RFC 8555 §7.1.3), an
/// IP address never by DNS (RFC 8738 §7), any other name by all three.
pub fn challenge_types_for(id: &Identifier) -> Vec<ChallengeType> {
    if id.kind == "ip" {
        vec![ChallengeType::Http01, ChallengeType::TlsAlpn01]
    } else if is_wildcard(id) {
        vec![ChallengeType::Dns01]
    } else {
        vec![
            ChallengeType::Http01,
            ChallengeType::Dns01,
            ChallengeType::TlsAlpn01,
        ]
    }
}

fn normalize_ip(value: &str) -> Result<IpAddr, IdentifierError> {
    value.parse::<IpAddr>().map_err(|_| {
        IdentifierError::malformed(format!(
            "IP identifier \"{value}\" is not a valid IPv4 or IPv6 address (RFC 8738)."
        ))
    })
}

fn normalize_dns(value: &str) -> Result<String, IdentifierError> {
    if value.is_empty() {
        return Err(IdentifierError::malformed(
            "A DNS identifier has an empty value.".into(),
        ));
    }
    if value.parse::<IpAddr>().is_ok()
        || value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .is_some_and(|v| v.parse::<IpAddr>().is_ok())
    {
        return Err(IdentifierError::rejected(format!(
            "\"{value}\" is an IP address; order it as an identifier of type \"ip\", not \"dns\"."
        )));
    }
    let name = canonical_name(value)
        .map_err(|why| IdentifierError::malformed(format!("DNS name \"{value}\" {why}")))?;
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(IdentifierError::rejected(format!(
            "DNS name \"{value}\" has a single label; certificates are only issued for names with \
             at least two labels (like example.com)."
        )));
    }
    if labels[0] == "*" && labels.len() < 3 {
        return Err(IdentifierError::rejected(format!(
            "Wildcard \"{value}\" covers a whole top-level domain; a wildcard needs at least two \
             labels after \"*.\" (like *.example.com)."
        )));
    }
    let tld = labels[labels.len() - 1];
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentifierError::rejected(format!(
            "DNS name \"{value}\" ends in the all-numeric label \"{tld}\", which is no top-level domain."
        )));
    }
    Ok(name)
}

/// Why a text is not a DNS name; displays as the end of a sentence that starts with the name ("is
/// …"), so identifiers and EAB patterns can each say which name they mean.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NameSyntaxError(String);

impl From<String> for NameSyntaxError {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for NameSyntaxError {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// Lower-cases, strips one trailing dot, maps U-labels to A-labels and checks LDH syntax; a leading
/// `*` label is kept. Shared with name patterns so both are spelled the same way. The error is the
/// end of a sentence starting with the name ("is …").
pub(crate) fn canonical_name(value: &str) -> Result<String, NameSyntaxError> {
    let trimmed = value.strip_suffix('.').unwrap_or(value);
    let (wildcard, rest) = match trimmed.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if rest.is_empty() {
        return Err("has no labels.".into());
    }
    if rest.contains('*') {
        return Err(
            "has a \"*\" that is not the whole left-most label; only names like \
             *.example.com are wildcards."
                .into(),
        );
    }
    if rest.split('.').any(str::is_empty) {
        return Err("has an empty label (two dots in a row, or a leading dot).".into());
    }
    let ascii = if rest.is_ascii() {
        rest.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(rest)
            .map_err(|_| "is not a valid internationalised domain name (IDNA, UTS #46).")?
    };
    for label in ascii.split('.') {
        check_label(label)?;
    }
    // Punycode labels are checked by decoding them: an invalid xn-- label is not a name.
    if ascii.split('.').any(|l| l.starts_with("xn--")) {
        let (_, result) = idna::domain_to_unicode(&ascii);
        if result.is_err() {
            return Err("has an invalid \"xn--\" (Punycode) label.".into());
        }
    }
    let name = if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    };
    if name.len() > MAX_NAME_LEN {
        return Err(NameSyntaxError::from(format!(
            "is {} characters long; DNS names are at most {MAX_NAME_LEN}.",
            name.len()
        )));
    }
    Ok(name)
}

fn check_label(label: &str) -> Result<(), NameSyntaxError> {
    if label.is_empty() {
        return Err("has an empty label.".into());
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(NameSyntaxError::from(format!(
            "has a label of {} characters (\"{label}\"); labels are at most {MAX_LABEL_LEN}.",
            label.len()
        )));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(NameSyntaxError::from(format!(
            "contains the character {c:?}; only letters, digits and hyphens are allowed in labels."
        )));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(NameSyntaxError::from(format!(
            "has the label \"{label}\", which starts or ends with a hyphen."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: Identifier) -> String {
        normalize_identifier(&id).unwrap().value
    }

    fn err(id: Identifier) -> IdentifierError {
        normalize_identifier(&id).unwrap_err()
    }

    #[test]
    fn dns_names_are_canonicalised() {
        assert_eq!(ok(Identifier::dns("WWW.Example.COM.")), "www.example.com");
        assert_eq!(ok(Identifier::dns("*.Example.com")), "*.example.com");
        assert_eq!(
            ok(Identifier::dns("bücher.example")),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            ok(Identifier::dns("*.BÜCHER.example")),
            "*.xn--bcher-kva.example"
        );
        assert_eq!(
            ok(Identifier::dns("xn--bcher-kva.example")),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            ok(Identifier::dns("a-b.c1.example.org")),
            "a-b.c1.example.org"
        );
        assert_eq!(ok(Identifier::dns("xn--ls8h.example")), "xn--ls8h.example");
        assert_eq!(ok(Identifier::dns("ÉCOLE.example")), "xn--cole-9oa.example");
    }

    #[test]
    fn malformed_names_are_refused_with_the_name() {
        for bad in [
            "a*.x.com",
            "x.*.com",
            "*.*.example.com",
            "a..example.com",
            ".example.com",
            "under_score.example.com",
            "-lead.example.com",
            "trail-.example.com",
            "sp ace.example.com",
            "example.com..",
            "xn--zz-invalid-.example",
            "xn--a.example",
            "xn--ab-cd-.example",
        ] {
            let e = err(Identifier::dns(bad));
            assert_eq!(e.kind, ProblemType::Malformed, "{bad}: {e:?}");
            assert!(e.detail.contains(bad), "{bad}: {}", e.detail);
        }
        let long_label = format!("{}.example.com", "a".repeat(64));
        assert_eq!(
            err(Identifier::dns(&long_label)).kind,
            ProblemType::Malformed
        );
        let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(err(Identifier::dns(&long_name))
            .detail
            .contains("at most 253"));
        assert_eq!(err(Identifier::dns("")).kind, ProblemType::Malformed);
    }

    #[test]
    fn names_we_will_not_issue_for_are_rejected() {
        for bad in [
            "localhost",
            "*.com",
            "*.example",
            "com.",
            "1.2.3.4",
            "[::1]",
            "a.b.123",
        ] {
            let e = err(Identifier::dns(bad));
            assert_eq!(e.kind, ProblemType::RejectedIdentifier, "{bad}: {e:?}");
            assert!(e.detail.contains(bad), "{bad}: {}", e.detail);
        }
        assert!(err(Identifier::dns("10.0.0.1")).detail.contains("\"ip\""));
    }

    #[test]
    fn ip_identifiers() {
        assert_eq!(ok(Identifier::ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(ok(Identifier::ip("2001:DB8:0:0::1")), "2001:db8::1");
        assert_eq!(err(Identifier::ip("192.0.2")).kind, ProblemType::Malformed);
        assert_eq!(
            err(Identifier::ip("example.com")).kind,
            ProblemType::Malformed
        );
        assert_eq!(
            err(Identifier::ip("fe80::1%eth0")).kind,
            ProblemType::Malformed
        );
        assert!(err(Identifier::ip("300.1.1.1"))
            .detail
            .contains("300.1.1.1"));
    }

    #[test]
    fn unknown_types_are_unsupported() {
        let e = err(Identifier {
            kind: "email".into(),
            value: "a@example.com".into(),
        });
        assert_eq!(e.kind, ProblemType::UnsupportedIdentifier);
        assert!(e.detail.contains("email") && e.detail.contains("a@example.com"));
    }

    #[test]
    fn challenge_types() {
        use ChallengeType::*;
        assert_eq!(
            challenge_types_for(&Identifier::dns("example.com")),
            vec![Http01, Dns01, TlsAlpn01]
        );
        assert_eq!(
            challenge_types_for(&Identifier::dns("*.example.com")),
            vec![Dns01]
        );
        assert_eq!(
            challenge_types_for(&Identifier::ip("192.0.2.1")),
            vec![Http01, TlsAlpn01]
        );
    }
}
