//! Choosing the certificate profile of a newOrder (the ACME profiles extension).

use super::config::{PolicyConfig, ProfileConfig};
use crate::acme::error::{Error, ProblemType};
use crate::config::InvalidSetting;
use std::collections::BTreeMap;

/// Picks the profile an order is issued under, or `None` when the server offers no profiles.
///
/// `requested` is the newOrder's `profile`; `allowed_for_key` the EAB key's profiles (empty = all).
/// With none requested: `[policy] default_profile` when this key may use it, else the only profile
/// the key may use. Unknown or forbidden profiles are `invalidProfile` naming what may be requested,
/// so the client can correct its request.
pub fn resolve_profile(
    cfg: &PolicyConfig,
    profiles: &BTreeMap<String, ProfileConfig>,
    requested: Option<&str>,
    allowed_for_key: &[String],
) -> Result<Option<String>, Error> {
    let usable: Vec<&str> = profiles
        .keys()
        .map(String::as_str)
        .filter(|p| allowed_for_key.is_empty() || allowed_for_key.iter().any(|a| a == p))
        .collect();
    match requested {
        Some(name) => {
            if profiles.is_empty() {
                return Err(Error::new(
                    ProblemType::InvalidProfile,
                    format!(
                        "Profile \"{name}\" was requested but this server offers no profiles; omit \
                         \"profile\" from the order."
                    ),
                ));
            }
            if !profiles.contains_key(name) {
                return Err(Error::new(
                    ProblemType::InvalidProfile,
                    format!(
                        "Profile \"{name}\" is not offered by this server (offered: {}).",
                        list(profiles.keys().map(String::as_str))
                    ),
                ));
            }
            if !usable.contains(&name) {
                return Err(Error::new(
                    ProblemType::InvalidProfile,
                    format!(
                        "Profile \"{name}\" is not allowed for this account's external account \
                         binding key (allowed: {}).",
                        list(usable.iter().copied())
                    ),
                ));
            }
            Ok(Some(name.to_string()))
        }
        None if profiles.is_empty() => Ok(None),
        None => {
            if let Some(d) = &cfg.default_profile {
                if usable.contains(&d.as_str()) {
                    return Ok(Some(d.clone()));
                }
            }
            match usable.as_slice() {
                [only] => Ok(Some(only.to_string())),
                [] => Err(Error::new(
                    ProblemType::InvalidProfile,
                    "This account's external account binding key allows none of the profiles this \
                     server offers; ask the operator to grant one.",
                )),
                many => Err(Error::new(
                    ProblemType::InvalidProfile,
                    format!(
                        "The order names no profile and no default applies to this account; request \
                         one of: {}.",
                        list(many.iter().copied())
                    ),
                )),
            }
        }
    }
}

/// Checks the profile configuration at start-up: the default profile must exist. Returns a message
/// naming the offending key, for `Config` validation.
pub fn validate_profiles(
    cfg: &PolicyConfig,
    profiles: &BTreeMap<String, ProfileConfig>,
) -> Result<(), InvalidSetting> {
    if let Some(d) = &cfg.default_profile {
        if !profiles.contains_key(d) {
            return Err(InvalidSetting(format!(
                "policy.default_profile = \"{d}\" is not a configured profile (configured: {})",
                list(profiles.keys().map(String::as_str))
            )));
        }
    }
    for (name, p) in profiles {
        if p.term_days <= 0 {
            return Err(InvalidSetting(format!(
                "profiles.{name}.term_days must be positive"
            )));
        }
    }
    Ok(())
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles(names: &[&str]) -> BTreeMap<String, ProfileConfig> {
        names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    ProfileConfig {
                        description: format!("{n} profile"),
                        scm_cert_type: 1,
                        term_days: 365,
                        renewal_window_percent: None,
                    },
                )
            })
            .collect()
    }

    fn keys(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn requested_profile_is_checked() {
        let cfg = PolicyConfig::default();
        let ps = profiles(&["dv", "ov"]);
        assert_eq!(
            resolve_profile(&cfg, &ps, Some("ov"), &[]).unwrap(),
            Some("ov".into())
        );
        let e = resolve_profile(&cfg, &ps, Some("ev"), &[]).unwrap_err();
        assert_eq!(e.kind, ProblemType::InvalidProfile);
        assert!(e.detail.contains("\"ev\"") && e.detail.contains("offered: dv, ov"));
        let e = resolve_profile(&cfg, &ps, Some("ov"), &keys(&["dv"])).unwrap_err();
        assert_eq!(e.kind, ProblemType::InvalidProfile);
        assert!(e.detail.contains("not allowed") && e.detail.contains("allowed: dv"));
        let e = resolve_profile(&cfg, &profiles(&[]), Some("dv"), &[]).unwrap_err();
        assert_eq!(e.kind, ProblemType::InvalidProfile);
    }

    #[test]
    fn default_and_only_profile() {
        let mut cfg = PolicyConfig::default();
        assert_eq!(
            resolve_profile(&cfg, &profiles(&[]), None, &[]).unwrap(),
            None
        );
        assert_eq!(
            resolve_profile(&cfg, &profiles(&["dv"]), None, &[]).unwrap(),
            Some("dv".into())
        );
        let ps = profiles(&["dv", "ov"]);
        let e = resolve_profile(&cfg, &ps, None, &[]).unwrap_err();
        assert!(e.detail.contains("request one of: dv, ov"), "{}", e.detail);
        assert_eq!(
            resolve_profile(&cfg, &ps, None, &keys(&["ov"])).unwrap(),
            Some("ov".into())
        );
        cfg.default_profile = Some("dv".into());
        assert_eq!(
            resolve_profile(&cfg, &ps, None, &[]).unwrap(),
            Some("dv".into())
        );
        // The default is not used where the key forbids it.
        assert_eq!(
            resolve_profile(&cfg, &ps, None, &keys(&["ov"])).unwrap(),
            Some("ov".into())
        );
        let e = resolve_profile(&cfg, &ps, None, &keys(&["ev"])).unwrap_err();
        assert_eq!(e.kind, ProblemType::InvalidProfile);
    }

    #[test]
    fn validation_of_configuration() {
        let cfg = PolicyConfig {
            default_profile: Some("ev".into()),
            ..Default::default()
        };
        let e = validate_profiles(&cfg, &profiles(&["dv"])).unwrap_err();
        assert!(e.mentions("default_profile") && e.mentions("ev"));
        assert!(validate_profiles(&PolicyConfig::default(), &profiles(&["dv"])).is_ok());
    }
}
