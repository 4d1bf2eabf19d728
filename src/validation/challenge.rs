//! Challenge types.

use std::fmt;
use std::str::FromStr;

/// An ACME challenge type this server can validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChallengeType {
    /// RFC 8555 §8.3: a file under `/.well-known/acme-challenge/` over plain HTTP.
    Http01,
    /// RFC 8555 §8.4: a TXT record at `_acme-challenge.NAME`.
    Dns01,
    /// RFC 8737: a special certificate served with ALPN `acme-tls/1`.
    TlsAlpn01,
}

impl ChallengeType {
    /// Every type, in the order challenges are offered.
    pub const ALL: [ChallengeType; 3] = [Self::Http01, Self::Dns01, Self::TlsAlpn01];

    /// The wire name (`"http-01"`, `"dns-01"`, `"tls-alpn-01"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
            Self::TlsAlpn01 => "tls-alpn-01",
        }
    }

    /// Parses a wire name; `None` for types this server does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ChallengeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`ChallengeType::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown challenge type \"{0}\"")]
pub struct UnknownChallengeType(pub String);

impl FromStr for ChallengeType {
    type Err = UnknownChallengeType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownChallengeType(s.to_string()))
    }
}

impl serde::Serialize for ChallengeType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ChallengeType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for t in ChallengeType::ALL {
            assert_eq!(ChallengeType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string().parse::<ChallengeType>().unwrap(), t);
        }
        assert_eq!(ChallengeType::parse("tls-sni-01"), None);
        assert_eq!(
            serde_json::to_string(&ChallengeType::TlsAlpn01).unwrap(),
            "\"tls-alpn-01\""
        );
    }
}
