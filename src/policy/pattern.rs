//! Name patterns from an EAB key: which identifiers the accounts bound to that key may order.

use super::identifier::canonical_name;
use crate::model::Identifier;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// One allowed-name pattern of an EAB key (`eab create --allow`).
///
/// An operator binds each key to the names its owner controls, so a compromised or careless
/// account cannot obtain certificates for somebody else's names even where validation would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// `example.edu`: exactly that name.
    Exact(String),
    /// `*.example.edu`: every name strictly below `example.edu` at any depth, wildcard names included,
    /// but not `example.edu` itself. Holds the base name (`example.edu`).
    Subdomains(String),
    /// `10.0.0.0/8`, `2001:db8::/32` or a single address: `ip` identifiers inside the range.
    Network(IpNet),
    /// Every identifier. Not parseable (a typo must not open everything); for callers that apply no
    /// per-key restriction, e.g. accounts created without EAB when EAB is optional.
    Any,
}

/// Why a pattern string is not a pattern; names the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name pattern \"{pattern}\": {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

impl NamePattern {
    /// Parses `example.edu`, `*.example.edu`, a CIDR range or a single IP address. Names are spelled
    /// canonically (lower-case A-labels) so they compare with normalised identifiers.
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        let err = |reason: String| PatternError {
            pattern: s.to_string(),
            reason,
        };
        let s_trim = s.trim();
        if let Ok(net) = s_trim.parse::<IpNet>() {
            return Ok(Self::Network(net.trunc()));
        }
        if let Ok(ip) = s_trim.parse::<IpAddr>() {
            return Ok(Self::Network(IpNet::from(ip)));
        }
        if s_trim.contains('/') {
            return Err(err("not a valid CIDR range".into()));
        }
        let name = canonical_name(s_trim).map_err(|why| err(format!("the name {why}")))?;
        match name.strip_prefix("*.") {
            Some(base) => Ok(Self::Subdomains(base.to_string())),
            None if name.contains('.') => Ok(Self::Exact(name)),
            None => Err(err(
                "a single-label name; use a full name such as example.edu".into(),
            )),
        }
    }

    /// Parses every pattern of a key, failing on the first invalid one.
    pub fn parse_all<S: AsRef<str>>(patterns: &[S]) -> Result<Vec<Self>, PatternError> {
        patterns.iter().map(|p| Self::parse(p.as_ref())).collect()
    }

    /// A pattern matching every identifier (see [`NamePattern::Any`]).
    pub fn any() -> Self {
        Self::Any
    }

    /// Whether this pattern allows the *normalised* identifier `id`.
    pub fn matches(&self, id: &Identifier) -> bool {
        match (self, id.kind.as_str()) {
            (Self::Any, _) => true,
            (Self::Exact(name), "dns") => id.value == *name,
            (Self::Subdomains(base), "dns") => id
                .value
                .strip_suffix(base.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (Self::Network(net), "ip") => {
                id.value.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip))
            }
            _ => false,
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => f.write_str(n),
            Self::Subdomains(b) => write!(f, "*.{b}"),
            Self::Network(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", net.addr())
            }
            Self::Network(net) => write!(f, "{net}"),
            Self::Any => f.write_str("any name"),
        }
    }
}

/// Whether any of `patterns` allows the normalised identifier `id`. No patterns allow nothing, which
/// is what an EAB key created without `--allow` means.
pub fn allowed(patterns: &[NamePattern], id: &Identifier) -> bool {
    patterns.iter().any(|p| p.matches(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> NamePattern {
        NamePattern::parse(s).unwrap()
    }

    #[test]
    fn exact_name() {
        let pats = [p("Example.EDU.")];
        assert!(allowed(&pats, &Identifier::dns("example.edu")));
        assert!(!allowed(&pats, &Identifier::dns("www.example.edu")));
        assert!(!allowed(&pats, &Identifier::dns("*.example.edu")));
        assert!(!allowed(&pats, &Identifier::dns("badexample.edu")));
    }

    #[test]
    fn subdomains_at_any_depth_but_not_the_base() {
        let pats = [p("*.example.edu")];
        for good in [
            "a.example.edu",
            "a.b.example.edu",
            "*.b.example.edu",
            "*.example.edu",
        ] {
            assert!(allowed(&pats, &Identifier::dns(good)), "{good}");
        }
        for bad in [
            "example.edu",
            "badexample.edu",
            "a.badexample.edu",
            "example.edu.evil.com",
        ] {
            assert!(!allowed(&pats, &Identifier::dns(bad)), "{bad}");
        }
        assert!(!allowed(&pats, &Identifier::ip("10.0.0.1")));
    }

    #[test]
    fn idn_patterns_compare_as_a_labels() {
        assert!(allowed(
            &[p("*.bücher.example")],
            &Identifier::dns("www.xn--bcher-kva.example")
        ));
    }

    #[test]
    fn ip_ranges_and_single_addresses() {
        let pats = [p("10.0.0.0/8"), p("2001:db8::/32"), p("192.0.2.7")];
        assert!(allowed(&pats, &Identifier::ip("10.1.2.3")));
        assert!(allowed(&pats, &Identifier::ip("2001:db8::1")));
        assert!(allowed(&pats, &Identifier::ip("192.0.2.7")));
        assert!(!allowed(&pats, &Identifier::ip("192.0.2.8")));
        assert!(!allowed(&pats, &Identifier::ip("11.0.0.1")));
        assert!(!allowed(&pats, &Identifier::dns("10.example.com")));
        assert_eq!(p("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(p("192.0.2.7").to_string(), "192.0.2.7");
    }

    #[test]
    fn empty_allows_nothing_and_any_allows_all() {
        assert!(!allowed(&[], &Identifier::dns("example.com")));
        assert!(allowed(
            &[NamePattern::any()],
            &Identifier::dns("example.com")
        ));
        assert!(allowed(&[NamePattern::any()], &Identifier::ip("192.0.2.1")));
    }

    #[test]
    fn bad_patterns_are_named() {
        for bad in [
            "",
            "*",
            "edu",
            "a.*.edu",
            "10.0.0.0/33",
            "under_score.edu",
            "*.*.x.edu",
        ] {
            let e = NamePattern::parse(bad).unwrap_err();
            assert_eq!(e.pattern, bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(NamePattern::parse_all(&["a.edu", "b.edu"]).is_ok());
        assert!(NamePattern::parse_all(&["a.edu", "b_.edu"]).is_err());
    }
}
