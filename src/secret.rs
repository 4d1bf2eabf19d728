//! A string that must never reach a log line or a `Debug` dump (SCM passwords, EAB HMAC keys,
//! the nonce key): wrapping it makes leaking it a deliberate act (`expose`) instead of an accident.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret value; `Debug`/`Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that must stay out of logs.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value: grep for `expose` to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accepts numbers and booleans too: an environment variable such as `BRIDGE_SCM__PASSWORD=1234`
    /// arrives typed as an integer, and a password is still a string.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            S(String),
            I(i64),
            F(f64),
            B(bool),
        }
        Ok(match Any::deserialize(d)? {
            Any::S(s) => Secret(s),
            Any::I(i) => Secret(i.to_string()),
            Any::F(f) => Secret(f.to_string()),
            Any::B(b) => Secret(b.to_string()),
        })
    }
}

/// Reads a secret from a file (Docker/Kubernetes secrets), trimming the trailing newline editors add.
pub fn read_secret_file(path: &std::path::Path) -> std::io::Result<Secret> {
    let text = std::fs::read_to_string(path)?;
    Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
