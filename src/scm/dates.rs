//! SCM dates: US style `MM/dd/yyyy` by default, ISO `yyyy-MM-dd` with `?dateFormat=ISO`, sometimes a
//! full timestamp, and `""` where a date is not set. The client accepts all of them so a tenant's
//! setting or an API change cannot break parsing.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

/// How the sandbox renders dates (`?dateFormat=`): SCM's default is US style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateFormat {
    /// `MM/dd/yyyy`.
    #[default]
    Us,
    /// `yyyy-MM-dd`.
    Iso,
}

impl DateFormat {
    /// Reads the `dateFormat` query value (`ISO`, case-insensitive; anything else is US).
    pub fn from_query(v: Option<&str>) -> Self {
        match v {
            Some(s) if s.eq_ignore_ascii_case("iso") || s.eq_ignore_ascii_case("yyyy-MM-dd") => {
                DateFormat::Iso
            }
            _ => DateFormat::Us,
        }
    }

    /// Renders a date in this format.
    pub fn format(self, d: NaiveDate) -> String {
        match self {
            DateFormat::Us => d.format("%m/%d/%Y").to_string(),
            DateFormat::Iso => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// A date in none of the forms SCM is known to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised SCM date {0:?}")]
pub struct UnrecognisedDate(pub String);

/// Parses any date form SCM uses; `None` for an empty string.
pub fn parse(s: &str) -> Result<Option<NaiveDate>, UnrecognisedDate> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%m/%d/%Y") {
        return Ok(Some(d));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Some(d));
    }
    // Timestamps: keep the date part (`2025-01-31T10:00:00Z`, `2025-01-31 10:00:00`, `01/31/2025 10:00`).
    if let Some(head) = s.split(['T', ' ']).next() {
        if head != s {
            return parse(head);
        }
    }
    Err(UnrecognisedDate(s.to_string()))
}

/// Serde helper for `Option<NaiveDate>` fields: accepts absent, `null`, `""`, US, ISO and timestamps.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(s) => parse(&s).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap();
        assert_eq!(parse("01/31/2025").unwrap(), Some(d));
        assert_eq!(parse("2025-01-31").unwrap(), Some(d));
        assert_eq!(parse("2025-01-31T10:00:00.000Z").unwrap(), Some(d));
        assert_eq!(parse("").unwrap(), None);
        assert!(parse("31.01.2025").is_err());
        assert_eq!(DateFormat::Us.format(d), "01/31/2025");
        assert_eq!(DateFormat::from_query(Some("ISO")).format(d), "2025-01-31");
    }
}
