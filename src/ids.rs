//! Random identifiers for URLs and tokens (design.md §3.2: never sequence numbers).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// 128 random bits, base64url without padding (22 characters): unguessable resource ids and tokens.
pub fn random_id() -> String {
    random_b64(16)
}

/// `n` random bytes, base64url without padding.
pub fn random_b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf
}

/// Whether `s` looks like an id we minted: keeps junk out of database look-ups and logs.
pub fn is_plausible_id(s: &str) -> bool {
    (16..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_128_bit_and_url_safe() {
        let a = random_id();
        assert_eq!(a.len(), 22);
        assert!(is_plausible_id(&a));
        assert_ne!(a, random_id());
        assert!(!is_plausible_id("../etc/passwd"));
    }
}
