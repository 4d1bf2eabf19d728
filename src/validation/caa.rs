//! CAA pre-check (RFC 8659): whether the names of an order let the CA (the identities in
//! `acme.caa_identities`) issue, so an order SCM would refuse on CAA grounds fails at once with a
//! `caa` problem naming the record, instead of as an SCM refusal later.
//!
//! The relevant record set of a name is the CAA RRset of the name itself or, when it has none, of
//! its closest ancestor that has one (tree climbing, §3; the resolver follows CNAMEs). A wildcard
//! name is looked up without its `*.` label and is governed by `issuewild` records when the set has
//! any, else by `issue` (§4.3). A critical property the bridge does not know forbids issuance
//! (§4.1). Parameters after `;` (RFC 8657 `accounturi`, `validationmethods`) concern the CA's own
//! accounts and methods: the bridge cannot evaluate them and leaves them to SCM.

use super::error::ValidationError;
use super::resolver::DnsSession;
use crate::acme::error::ProblemType;
use hickory_resolver::proto::rr::rdata::CAA;

/// Tags the bridge understands. Non-TLS ones (`issuemail`, `issuevmc`, the CA/B Forum contact tags)
/// are known in the sense of §4.1: they do not restrict TLS certificates, so they never forbid.
const KNOWN_TAGS: &[&str] = &[
    "issue",
    "issuewild",
    "iodef",
    "issuemail",
    "issuevmc",
    "contactemail",
    "contactphone",
];

/// One CAA record as found: flags, tag and raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaRecord {
    /// Where the record set was found (the name or an ancestor), without the trailing dot.
    pub owner: String,
    /// The issuer-critical flag (bit 0, value 128).
    pub critical: bool,
    /// The property tag as published (matched case-insensitively).
    pub tag: String,
    /// The raw value (for `issue`: issuer domain name, then optional `;` parameters).
    pub value: String,
}

impl CaaRecord {
    fn from_rdata(owner: &str, caa: &CAA) -> Self {
        Self {
            owner: owner.to_string(),
            critical: caa.issuer_critical(),
            tag: caa.tag().as_str().to_string(),
            value: String::from_utf8_lossy(caa.raw_value()).into_owned(),
        }
    }
}

impl std::fmt::Display for CaaRecord {
    /// Presentation form, as an operator would write it in a zone file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags = if self.critical { 128 } else { 0 };
        write!(
            f,
            "{}. CAA {flags} {} \"{}\"",
            self.owner,
            self.tag,
            self.value.escape_default()
        )
    }
}

/// Why a name may not be issued for: the sentence a `caa` problem carries, naming the records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaaForbidden(pub String);

impl CaaForbidden {
    /// Whether the sentence mentions `text` (tests name the record they expect).
    pub fn contains(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

/// Why a name may be issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaaPermit {
    /// No CAA record at the name or any ancestor.
    NoRecords,
    /// The relevant record set holds no `issue` (or, for a wildcard, `issuewild`) property.
    NoIssueProperty {
        /// Where the relevant record set was found.
        owner: String,
    },
    /// This record names one of the CA's identities.
    Record(CaaRecord),
}

/// Decides on the relevant record set `records` for a name (`wildcard`: the name had a `*.` label):
/// the permit, or the `caa` detail naming the records that forbid it.
pub fn evaluate(
    name: &str,
    wildcard: bool,
    records: &[CaaRecord],
    identities: &[String],
) -> Result<CaaPermit, CaaForbidden> {
    let Some(first) = records.first() else {
        return Ok(CaaPermit::NoRecords);
    };
    if let Some(r) = records
        .iter()
        .find(|r| r.critical && !KNOWN_TAGS.contains(&r.tag.to_ascii_lowercase().as_str()))
    {
        return Err(CaaForbidden(format!(
            "CAA record {r} for {name} is marked critical with a property the CA does not \
             understand, which forbids issuance (RFC 8659 §4.1)"
        )));
    }
    let tagged = |tag: &str| -> Vec<&CaaRecord> {
        records
            .iter()
            .filter(|r| r.tag.eq_ignore_ascii_case(tag))
            .collect()
    };
    let issuewild = tagged("issuewild");
    let (tag, set) = if wildcard && !issuewild.is_empty() {
        ("issuewild", issuewild)
    } else {
        ("issue", tagged("issue"))
    };
    if set.is_empty() {
        return Ok(CaaPermit::NoIssueProperty {
            owner: first.owner.clone(),
        });
    }
    if let Some(r) = set.iter().find(|r| names_identity(&r.value, identities)) {
        return Ok(CaaPermit::Record((*r).clone()));
    }
    let listed: Vec<String> = set.iter().map(|r| r.to_string()).collect();
    Err(CaaForbidden(format!(
        "CAA record{} {} forbid{} issuance for {name}{}: the CA is {}; add a record such as \
         `{}. CAA 0 {tag} \"{}\"`",
        if listed.len() == 1 { "" } else { "s" },
        listed.join(", "),
        if listed.len() == 1 { "s" } else { "" },
        if wildcard && tag == "issue" {
            " (no issuewild record, so issue applies)"
        } else {
            ""
        },
        identities.join(", "),
        first.owner,
        identities
            .first()
            .map(String::as_str)
            .unwrap_or("sectigo.com"),
    )))
}

/// Whether an `issue`/`issuewild` value names one of `identities`. A value not matching RFC 8659's
/// grammar counts as naming no one (§4.2), like `;` alone.
fn names_identity(value: &str, identities: &[String]) -> bool {
    let domain = value.split(';').next().unwrap_or("").trim();
    let well_formed = !domain.is_empty()
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    well_formed
        && identities
            .iter()
            .any(|i| i.trim_end_matches('.').eq_ignore_ascii_case(domain))
}

/// Looks up the relevant record set of `name` (tree climbing) and evaluates it. `Err` is a
/// `caa` problem (forbidden) or a `dns` one (the lookup failed).
pub(crate) async fn check(
    dns: &DnsSession,
    name: &str,
    identities: &[String],
) -> Result<CaaPermit, ValidationError> {
    let (wildcard, base) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let base = base.trim_end_matches('.');
    let mut at = base;
    loop {
        let found = dns.lookup_caa(at).await?;
        if !found.is_empty() {
            let records: Vec<CaaRecord> =
                found.iter().map(|c| CaaRecord::from_rdata(at, c)).collect();
            return evaluate(name, wildcard, &records, identities)
                .map_err(|d| ValidationError::new(ProblemType::Caa, d.0));
        }
        match at.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => at = parent,
            _ => return Ok(CaaPermit::NoRecords),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(tag: &str, value: &str) -> CaaRecord {
        CaaRecord {
            owner: "example.com".into(),
            critical: false,
            tag: tag.into(),
            value: value.into(),
        }
    }

    fn ids() -> Vec<String> {
        vec!["sectigo.com".into(), "comodoca.com".into()]
    }

    #[test]
    fn issue_records_decide_for_plain_names() {
        assert_eq!(
            evaluate("a.example.com", false, &[], &ids()),
            Ok(CaaPermit::NoRecords)
        );
        let ok = [
            rec("issue", "letsencrypt.org"),
            rec("issue", "Sectigo.com; accounturi=x"),
        ];
        assert!(matches!(
            evaluate("a.example.com", false, &ok, &ids()),
            Ok(CaaPermit::Record(r)) if r.value.starts_with("Sectigo")
        ));
        let no = [
            rec("issue", "letsencrypt.org"),
            rec("iodef", "mailto:x@example.com"),
        ];
        let err = evaluate("a.example.com", false, &no, &ids()).unwrap_err();
        assert!(
            err.contains("example.com. CAA 0 issue \"letsencrypt.org\""),
            "{err}"
        );
        assert!(!err.contains("iodef"), "{err}");
        // ";" alone and malformed values name no one.
        for v in [";", "sectigo.com extra", "", "secti go.com"] {
            assert!(
                evaluate("a", false, &[rec("issue", v)], &ids()).is_err(),
                "{v:?}"
            );
        }
        // Only iodef / issuewild: plain names are not restricted.
        assert!(evaluate("a", false, &[rec("iodef", "mailto:a@b.c")], &ids()).is_ok());
        assert!(evaluate("a", false, &[rec("issuewild", ";")], &ids()).is_ok());
    }

    #[test]
    fn wildcards_use_issuewild_when_present_else_issue() {
        let set = [
            rec("issue", "sectigo.com"),
            rec("issuewild", "letsencrypt.org"),
        ];
        assert!(evaluate("a.example.com", false, &set, &ids()).is_ok());
        let err = evaluate("*.example.com", true, &set, &ids()).unwrap_err();
        assert!(err.contains("issuewild \"letsencrypt.org\""), "{err}");
        let set = [
            rec("issue", "letsencrypt.org"),
            rec("issuewild", "comodoca.com"),
        ];
        assert!(evaluate("*.example.com", true, &set, &ids()).is_ok());
        assert!(evaluate("a.example.com", false, &set, &ids()).is_err());
        let only_issue = [rec("issue", "letsencrypt.org")];
        let err = evaluate("*.example.com", true, &only_issue, &ids()).unwrap_err();
        assert!(err.contains("no issuewild record"), "{err}");
    }

    #[test]
    fn a_critical_unknown_tag_forbids_and_a_known_one_does_not() {
        let mut odd = rec("tbs", "x");
        odd.critical = true;
        let set = [rec("issue", "sectigo.com"), odd.clone()];
        let err = evaluate("a.example.com", false, &set, &ids()).unwrap_err();
        assert!(err.contains("example.com. CAA 128 tbs \"x\""), "{err}");
        odd.critical = false;
        assert!(evaluate("a", false, &[rec("issue", "sectigo.com"), odd], &ids()).is_ok());
        let mut mail = rec("issuemail", "sectigo.com");
        mail.critical = true;
        assert!(evaluate("a", false, &[rec("issue", "sectigo.com"), mail], &ids()).is_ok());
    }
}
