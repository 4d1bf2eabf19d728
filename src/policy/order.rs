//! The identifier checks of newOrder: everything about the requested names that can be decided
//! without the network.

use super::config::PolicyConfig;
use super::identifier::{is_wildcard, normalize_identifier};
use super::pattern::{allowed, NamePattern};
use crate::acme::error::{Error, ProblemType, Subproblem};
use crate::model::Identifier;

/// Normalises, deduplicates and checks the identifiers of a newOrder against the global policy and
/// the EAB key's name patterns. Returns the canonical identifiers in request order (first
/// occurrence wins), so the order, its authorizations and the CSR check all use one spelling.
///
/// Every bad identifier is reported at once, each as a subproblem naming it, so a client fixes its
/// request in one round: the top-level type is the subproblems' common type, else
/// `rejectedIdentifier`.
pub fn check_new_order(
    cfg: &PolicyConfig,
    patterns: &[NamePattern],
    ids: &[Identifier],
) -> Result<Vec<Identifier>, Error> {
    if ids.is_empty() {
        return Err(Error::malformed(
            "The order has no identifiers; list at least one in \"identifiers\".",
        ));
    }
    let mut good: Vec<Identifier> = Vec::with_capacity(ids.len());
    let mut bad: Vec<Subproblem> = Vec::new();
    for id in ids {
        match check_one(cfg, patterns, id) {
            Ok(n) if good.contains(&n) => {}
            Ok(n) => good.push(n),
            Err((kind, detail)) => {
                if !bad.iter().any(|s| s.identifier.as_ref() == Some(id)) {
                    bad.push(Subproblem {
                        kind,
                        detail,
                        identifier: Some(id.clone()),
                    });
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(combine(bad));
    }
    if good.len() > cfg.max_identifiers {
        return Err(Error::malformed(format!(
            "The order has {} distinct identifiers; at most {} are allowed per order. Split it into \
             several orders.",
            good.len(),
            cfg.max_identifiers
        )));
    }
    Ok(good)
}

fn check_one(
    cfg: &PolicyConfig,
    patterns: &[NamePattern],
    id: &Identifier,
) -> Result<Identifier, (ProblemType, String)> {
    let n = normalize_identifier(id).map_err(|e| (e.kind, e.detail))?;
    if n.kind == "ip" && !cfg.allow_ip_identifiers {
        return Err((
            ProblemType::UnsupportedIdentifier,
            format!(
                "IP identifier {} cannot be ordered: this server does not issue certificates for IP \
                 addresses.",
                n.value
            ),
        ));
    }
    if is_wildcard(&n) && !cfg.allow_wildcards {
        return Err((
            ProblemType::RejectedIdentifier,
            format!(
                "Wildcard {} cannot be ordered: this server does not issue wildcard certificates; \
                 order the individual names instead.",
                n.value
            ),
        ));
    }
    if !allowed(patterns, &n) {
        let list = if patterns.is_empty() {
            "none; ask the operator to add name patterns to your external account binding key"
                .to_string()
        } else {
            patterns
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err((
            ProblemType::RejectedIdentifier,
            format!(
                "{} is not allowed for this account (allowed: {list}).",
                n.value
            ),
        ));
    }
    Ok(n)
}

fn combine(bad: Vec<Subproblem>) -> Error {
    let first = bad[0].kind;
    let kind = if bad.iter().all(|s| s.kind == first) {
        first
    } else {
        ProblemType::RejectedIdentifier
    };
    let detail = if bad.len() == 1 {
        bad[0].detail.clone()
    } else {
        let names: Vec<&str> = bad
            .iter()
            .filter_map(|s| s.identifier.as_ref().map(|i| i.value.as_str()))
            .collect();
        format!(
            "{} identifiers of the order cannot be issued ({}); see the subproblems for each.",
            bad.len(),
            names.join(", ")
        )
    };
    Error::new(kind, detail).with_subproblems(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats() -> Vec<NamePattern> {
        NamePattern::parse_all(&["example.edu", "*.example.edu", "10.0.0.0/8"]).unwrap()
    }

    #[test]
    fn normalises_and_dedups_in_request_order() {
        let got = check_new_order(
            &PolicyConfig::default(),
            &pats(),
            &[
                Identifier::dns("WWW.example.edu."),
                Identifier::dns("example.edu"),
                Identifier::dns("www.example.edu"),
                Identifier::ip("10.0.0.1"),
                Identifier::dns("*.Example.edu"),
            ],
        )
        .unwrap();
        let values: Vec<&str> = got.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(
            values,
            [
                "www.example.edu",
                "example.edu",
                "10.0.0.1",
                "*.example.edu"
            ]
        );
    }

    #[test]
    fn empty_order_is_malformed() {
        let e = check_new_order(&PolicyConfig::default(), &pats(), &[]).unwrap_err();
        assert_eq!(e.kind, ProblemType::Malformed);
    }

    #[test]
    fn too_many_identifiers() {
        let cfg = PolicyConfig {
            max_identifiers: 2,
            ..Default::default()
        };
        let ids = [
            Identifier::dns("a.example.edu"),
            Identifier::dns("b.example.edu"),
            Identifier::dns("c.example.edu"),
        ];
        let e = check_new_order(&cfg, &pats(), &ids).unwrap_err();
        assert_eq!(e.kind, ProblemType::Malformed);
        assert!(e.detail.contains("at most 2"), "{}", e.detail);
        // Duplicates do not count.
        let ids = [
            Identifier::dns("a.example.edu"),
            Identifier::dns("A.example.edu"),
            Identifier::dns("b.example.edu"),
        ];
        assert_eq!(check_new_order(&cfg, &pats(), &ids).unwrap().len(), 2);
    }

    #[test]
    fn name_outside_patterns_is_rejected_with_the_allowed_list() {
        let e = check_new_order(
            &PolicyConfig::default(),
            &pats(),
            &[Identifier::dns("evil.com")],
        )
        .unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        assert!(e
            .detail
            .contains("evil.com is not allowed for this account"));
        assert!(
            e.detail.contains("example.edu, *.example.edu, 10.0.0.0/8"),
            "{}",
            e.detail
        );
        assert_eq!(e.subproblems.len(), 1);
        assert_eq!(
            e.subproblems[0].identifier,
            Some(Identifier::dns("evil.com"))
        );
        let e = check_new_order(&PolicyConfig::default(), &[], &[Identifier::dns("a.com")])
            .unwrap_err();
        assert!(e.detail.contains("allowed: none"), "{}", e.detail);
    }

    #[test]
    fn several_bad_names_give_one_error_with_subproblems() {
        let ids = [
            Identifier::dns("ok.example.edu"),
            Identifier::dns("evil.com"),
            Identifier::dns("bad_name.example.edu"),
            Identifier {
                kind: "email".into(),
                value: "x@example.edu".into(),
            },
        ];
        let e = check_new_order(&PolicyConfig::default(), &pats(), &ids).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        let kinds: Vec<ProblemType> = e.subproblems.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                ProblemType::RejectedIdentifier,
                ProblemType::Malformed,
                ProblemType::UnsupportedIdentifier
            ]
        );
        assert_eq!(
            e.subproblems[1].identifier,
            Some(Identifier::dns("bad_name.example.edu"))
        );
        assert!(e.detail.contains("evil.com") && e.detail.contains("bad_name.example.edu"));
    }

    #[test]
    fn all_malformed_gives_malformed() {
        let ids = [
            Identifier::dns("a..example.edu"),
            Identifier::dns("-x.example.edu"),
        ];
        let e = check_new_order(&PolicyConfig::default(), &pats(), &ids).unwrap_err();
        assert_eq!(e.kind, ProblemType::Malformed);
        assert_eq!(e.subproblems.len(), 2);
    }

    #[test]
    fn wildcards_and_ips_can_be_switched_off() {
        let cfg = PolicyConfig {
            allow_wildcards: false,
            allow_ip_identifiers: false,
            ..Default::default()
        };
        let e = check_new_order(&cfg, &pats(), &[Identifier::dns("*.example.edu")]).unwrap_err();
        assert_eq!(e.kind, ProblemType::RejectedIdentifier);
        assert!(e.detail.contains("*.example.edu"));
        let e = check_new_order(&cfg, &pats(), &[Identifier::ip("10.0.0.1")]).unwrap_err();
        assert_eq!(e.kind, ProblemType::UnsupportedIdentifier);
        assert!(e.detail.contains("10.0.0.1"));
    }
}
