//! dns-01 (RFC 8555 §8.4): a TXT record at `_acme-challenge.NAME` holding the base64url SHA-256
//! digest of the key authorization.

use super::error::{ValidationError, ValidationRecord};
use super::resolver::DnsSession;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The TXT value dns-01 expects for `key_authorization`: base64url(SHA-256), no padding.
pub fn dns01_txt_value(key_authorization: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(key_authorization.as_bytes()))
}

/// The record name dns-01 queries for `name`; a wildcard is validated at its base name
/// (RFC 8555 §8.4: `*.example.com` → `_acme-challenge.example.com`).
pub fn dns01_record_name(name: &str) -> String {
    let base = name.strip_prefix("*.").unwrap_or(name);
    format!("_acme-challenge.{base}")
}

/// Looks the TXT records up (CNAMEs followed by the resolver) and passes when any equals the expected
/// digest.
pub(crate) async fn validate(
    dns: &DnsSession,
    name: &str,
    key_authorization: &str,
) -> Result<ValidationRecord, ValidationError> {
    let record_name = dns01_record_name(name);
    let expected = dns01_txt_value(key_authorization);
    let found = dns.lookup_txt(&record_name).await?;
    if found.iter().any(|v| v.trim() == expected) {
        return Ok(ValidationRecord {
            hostname: name.to_string(),
            record_name: Some(record_name),
            ..Default::default()
        });
    }
    let shown: Vec<String> = found
        .iter()
        .take(3)
        .map(|v| format!("\"{}\"", truncate(v, 80)))
        .collect();
    let more = if found.len() > 3 {
        format!(" and {} more", found.len() - 3)
    } else {
        String::new()
    };
    Err(ValidationError::incorrect(format!(
        "Incorrect TXT record at {record_name}: found {}{more}, but expected \"{expected}\" (the \
         base64url SHA-256 digest of the key authorization). Publish that value and retry.",
        shown.join(", ")
    )))
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_name_and_value() {
        assert_eq!(
            dns01_record_name("*.example.com"),
            "_acme-challenge.example.com"
        );
        assert_eq!(
            dns01_record_name("a.example.com"),
            "_acme-challenge.a.example.com"
        );
        // RFC 8555 §8.4 digest of "token.thumbprint" style input: 43 base64url characters.
        let v = dns01_txt_value("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ");
        assert_eq!(v.len(), 43);
        assert!(!v.contains('=') && !v.contains('+') && !v.contains('/'));
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc…");
    }
}
