//! The suggested renewal window (RFC 9773 §4.2) as a pure function of the certificate and `now`:
//! a share of its validity normally, a window already past when it must be replaced at once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where in a certificate's validity its renewal window lies, in percent of the validity:
/// `[start, end]`, e.g. `[67, 90]`. Configured per profile (`profiles.NAME.renewal_window_percent`)
/// and globally (`acme.ari_renewal_window_percent`), so a CA-side policy ("renew in the last third")
/// is one setting rather than every client's guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct WindowPercent(pub u8, pub u8);

impl Default for WindowPercent {
    /// From two thirds of the validity (the last third, as clients without ARI renew) to 90 %: a
    /// random time in the window still leaves a tenth of the validity for retries.
    fn default() -> Self {
        Self(67, 90)
    }
}

impl WindowPercent {
    /// Checks `start < end <= 100`; the message names `key`.
    pub fn validate(&self, key: &str) -> Result<(), crate::config::InvalidSetting> {
        if self.0 < self.1 && self.1 <= 100 {
            Ok(())
        } else {
            Err(crate::config::InvalidSetting(format!(
                "{key} must be [start, end] with start < end <= 100 (percent of the validity), \
                 got [{}, {}]",
                self.0, self.1
            )))
        }
    }
}

/// A window as served: `start < end` always (RFC 9773 §4.2 forbids anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// How far before the moment a certificate was marked its past window ends and starts: a window
/// entirely in the past tells a client to renew now, and a margin keeps it in the past for a client
/// whose clock runs somewhat slow (RFC 9773 §6).
const PAST_END: i64 = 60 * 60;
const PAST_LENGTH: i64 = 60 * 60;

/// The suggested window. `renew_now_since` is when the certificate was marked (or revoked); then
/// the window lies before it. Otherwise `pct` of the validity `[not_before, not_after]`.
pub fn suggested_window(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    pct: WindowPercent,
    renew_now_since: Option<DateTime<Utc>>,
) -> Window {
    if let Some(since) = renew_now_since {
        let end = since - Duration::seconds(PAST_END);
        return Window {
            start: end - Duration::seconds(PAST_LENGTH),
            end,
        };
    }
    let validity = (not_after - not_before).num_seconds().max(2);
    let at = |p: u8| not_before + Duration::seconds(validity * i64::from(p) / 100);
    let (start, end) = (at(pct.0), at(pct.1));
    Window {
        start,
        end: if end > start {
            end
        } else {
            start + Duration::seconds(1)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn the_default_window_is_in_the_last_third() {
        let w = suggested_window(t(1), t(31), WindowPercent::default(), None);
        // 30 days of validity: 67 % = 20.1 days, 90 % = 27 days.
        assert_eq!(w.start, t(1) + Duration::seconds(30 * 86400 * 67 / 100));
        assert_eq!(w.end, t(28));
        assert!(w.start < w.end);
    }

    #[test]
    fn a_certificate_to_renew_now_gets_a_window_in_the_past() {
        let marked = t(5);
        let w = suggested_window(t(1), t(31), WindowPercent::default(), Some(marked));
        assert!(w.start < w.end && w.end < marked);
    }

    #[test]
    fn a_degenerate_validity_still_gives_start_before_end() {
        let w = suggested_window(t(1), t(1), WindowPercent(50, 51), None);
        assert!(w.start < w.end);
    }

    #[test]
    fn percentages_are_checked() {
        assert!(WindowPercent(67, 90).validate("k").is_ok());
        assert!(WindowPercent(90, 67).validate("k").is_err());
        assert!(WindowPercent(50, 101).validate("k").is_err());
        assert!(WindowPercent(50, 50).validate("k").is_err());
    }
}
