//! Admin bearer tokens (`server.admin_tokens_file`) and the console's session cookie and CSRF
//! tokens derived from them. A session is `name.expiry.mac`, the MAC keyed with the token
//! itself: every replica with the same file accepts it, and removing or changing a token ends its
//! sessions at once. Tokens are never logged (`Debug` shows names only).

use crate::config::InvalidSetting;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// The configured tokens, by name.
#[derive(Clone, Default)]
pub struct AdminTokens {
    tokens: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("AdminTokens")
            .field("names", &names)
            .finish()
    }
}

/// Tokens shorter than this are refused: they would be guessable.
const MIN_TOKEN_LEN: usize = 16;

impl AdminTokens {
    /// Reads `name:token` lines; blank lines and `#` comments are skipped. Names are unique,
    /// tokens at least 16 characters.
    pub fn parse(text: &str) -> Result<Self, InvalidSetting> {
        let mut tokens: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, token)) = line.split_once(':') else {
                return Err(format!(
                    "server.admin_tokens_file line {}: expected `name:token`",
                    i + 1
                )
                .into());
            };
            let (name, token) = (name.trim(), token.trim());
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
            {
                return Err(format!(
                    "server.admin_tokens_file line {}: a name is letters, digits, `-_.@`",
                    i + 1
                )
                .into());
            }
            if token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "server.admin_tokens_file line {}: the token of {name} is shorter than \
                     {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 24`)",
                    i + 1
                )
                .into());
            }
            if tokens.iter().any(|(n, _)| n == name) {
                return Err(format!("server.admin_tokens_file: {name} appears twice").into());
            }
            tokens.push((name.to_string(), token.as_bytes().to_vec()));
        }
        if tokens.is_empty() {
            return Err("server.admin_tokens_file holds no token".into());
        }
        Ok(Self { tokens })
    }

    /// Reads the file.
    pub fn load(path: &Path) -> Result<Self, InvalidSetting> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            InvalidSetting(format!(
                "cannot read server.admin_tokens_file {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text)
    }

    /// The name of the token `presented`, compared in constant time against every token.
    pub fn name_of(&self, presented: &str) -> Option<&str> {
        let mut found = None;
        for (name, token) in &self.tokens {
            if constant_time_eq(token, presented.as_bytes()) {
                found = Some(name.as_str());
            }
        }
        found
    }

    fn token(&self, name: &str) -> Option<&[u8]> {
        self.tokens
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_slice())
    }

    /// A session cookie value for `name`, valid until `expires` (unix seconds).
    pub fn session(&self, name: &str, expires: i64) -> Option<String> {
        let mac = mac(self.token(name)?, &format!("session|{name}|{expires}"));
        Some(format!("{name}.{expires}.{mac}"))
    }

    /// The operator a session cookie belongs to, if its MAC holds and it has not expired.
    pub fn check_session(&self, cookie: &str, now: i64) -> Option<String> {
        let mut parts = cookie.rsplitn(3, '.');
        let (given, expires, name) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: i64 = expires.parse().ok()?;
        let want = mac(self.token(name)?, &format!("session|{name}|{expires}"));
        (expires > now && constant_time_eq(want.as_bytes(), given.as_bytes()))
            .then(|| name.to_string())
    }

    /// The CSRF token of a session: derived from the session cookie, so it needs no storage, and
    /// a page of another session (or another site) cannot know it.
    pub fn csrf(&self, cookie: &str) -> Option<String> {
        let name = cookie.split('.').next()?;
        Some(mac(self.token(name)?, &format!("csrf|{cookie}")))
    }
}

fn mac(key: &[u8], msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg.as_bytes());
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_sessions_check() {
        let t = AdminTokens::parse("# ops\nalice: 0123456789abcdef0\n\nbob:fedcba98765432100\n")
            .unwrap();
        assert_eq!(t.name_of("0123456789abcdef0"), Some("alice"));
        assert_eq!(t.name_of("0123456789abcdef"), None);
        let s = t.session("bob", 100).unwrap();
        assert_eq!(t.check_session(&s, 99).as_deref(), Some("bob"));
        assert_eq!(t.check_session(&s, 100), None, "expired");
        assert_eq!(t.check_session(&s.replace("bob.", "alice."), 99), None);
        assert_ne!(t.csrf(&s), t.csrf(&t.session("bob", 101).unwrap()));
        assert!(AdminTokens::parse("alice:short").is_err());
        assert!(AdminTokens::parse("a:0123456789abcdef0\na:0123456789abcdef1").is_err());
        assert!(format!("{t:?}").contains("alice") && !format!("{t:?}").contains("0123"));
    }
}
