//! Account contact URLs (RFC 8555 §7.3): only `mailto:` with one plausible address each, so the
//! operator can actually reach the team behind an account.

use crate::acme::{Error, ProblemType, Result};

/// Most contacts one account may list.
pub const MAX_CONTACTS: usize = 10;

/// Validates and returns the contact list as stored.
pub fn validate_contacts(contacts: &[String]) -> Result<Vec<String>> {
    if contacts.len() > MAX_CONTACTS {
        return Err(Error::new(
            ProblemType::InvalidContact,
            format!("at most {MAX_CONTACTS} contacts are allowed"),
        ));
    }
    contacts.iter().map(|c| validate_contact(c)).collect()
}

fn validate_contact(contact: &str) -> Result<String> {
    let Some(address) = contact.strip_prefix("mailto:") else {
        return Err(Error::new(
            ProblemType::UnsupportedContact,
            format!("contact {contact:?} is not supported: only mailto: URLs are accepted"),
        ));
    };
    let invalid = |why: &str| {
        Error::new(
            ProblemType::InvalidContact,
            format!("contact {contact:?} is invalid: {why}"),
        )
    };
    if address.contains('?') {
        return Err(invalid("mailto: header fields are not allowed"));
    }
    if address.contains(',') || address.contains('%') {
        return Err(invalid("give exactly one email address per contact"));
    }
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| invalid("an email address needs an @"))?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$&'*+-/=^_`{|}~.".contains(c));
    if !local_ok {
        return Err(invalid("the part before @ is not a valid mailbox"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Err(invalid("the domain is not a valid host name"));
    }
    Ok(contact.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(c: &str) -> Option<ProblemType> {
        validate_contacts(&[c.to_string()]).err().map(|e| e.kind)
    }

    #[test]
    fn contact_rules() {
        assert_eq!(kind("mailto:ops@example.edu"), None);
        assert_eq!(kind("tel:+1555"), Some(ProblemType::UnsupportedContact));
        assert_eq!(
            kind("mailto:a@b.edu,c@d.edu"),
            Some(ProblemType::InvalidContact)
        );
        assert_eq!(kind("mailto:nobody"), Some(ProblemType::InvalidContact));
        assert_eq!(
            kind("mailto:a@localhost"),
            Some(ProblemType::InvalidContact)
        );
        assert_eq!(
            kind("mailto:a@b.edu?subject=x"),
            Some(ProblemType::InvalidContact)
        );
    }
}
