//! EAB HMAC keys at rest. A database backup must not be enough to register accounts (or, with a
//! `--trust-scm-dcv` key, to get certificates without a challenge), so with
//! `acme.eab_encryption_key` configured the store seals every HMAC key with XChaCha20-Poly1305
//! (random 192-bit nonces, so no nonce bookkeeping) and the key's kid as associated data: a sealed
//! key copied onto another row does not open there.
//!
//! Stored as `hmac_key_format` + `hmac_key`: `plain` is the key itself (written without an
//! encryption key configured, until `migrate` encrypts it), `xchacha20poly1305` is
//! `nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`.

use crate::secret::Secret;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The setting the encryption key comes from, for error messages.
pub const SETTING: &str = "acme.eab_encryption_key";

/// How `hmac_key` of an `eab_keys` row holds the HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// The HMAC key itself: written while no encryption key was configured.
    Plain,
    /// `nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`, the kid as associated data.
    XChaCha20Poly1305,
}

impl KeyFormat {
    /// The value of the `hmac_key_format` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::XChaCha20Poly1305 => "xchacha20poly1305",
        }
    }

    /// The format a `hmac_key_format` value names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plain" => Some(Self::Plain),
            "xchacha20poly1305" => Some(Self::XChaCha20Poly1305),
            _ => None,
        }
    }
}

const NONCE_LEN: usize = 24;

/// The key EAB HMAC keys are sealed with. `Debug` never shows it.
#[derive(Clone)]
pub struct EabCipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for EabCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EabCipher([redacted])")
    }
}

/// An encryption key that is not 32 bytes in hex or base64; says how long the value was, never
/// what it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{SETTING} must be 32 bytes written as 64 hex digits or as base64 (create one with \
     `openssl rand -base64 32`); the value given ({given_len} characters) is neither"
)]
pub struct BadEncryptionKey {
    /// Length of the refused text.
    pub given_len: usize,
}

impl EabCipher {
    /// Reads a 32-byte key written as 64 hex digits (`openssl rand -hex 32`) or as base64,
    /// standard or URL-safe, padded or not (`openssl rand -base64 32`). Surrounding whitespace is
    /// ignored. The error never contains the value.
    pub fn from_text(text: &Secret) -> Result<Self, BadEncryptionKey> {
        let t = text.expose().trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()
        } else {
            let unpadded = t.trim_end_matches('=');
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(unpadded)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(unpadded))
                .ok()
        };
        match bytes.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()) {
            Some(key) => Ok(Self::from_bytes(&key)),
            None => Err(BadEncryptionKey { given_len: t.len() }),
        }
    }

    /// A cipher over 32 raw key bytes.
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)),
        }
    }

    /// Seals `hmac_key` for the row of `kid`.
    pub fn seal(&self, kid: &str, hmac_key: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: hmac_key,
                    aad: kid.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message of a few bytes");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`EabCipher::seal`] made for `kid`; `None` when this is not the key it was
    /// sealed with, or the bytes or the kid were changed.
    pub fn open(&self, kid: &str, stored: &[u8]) -> Option<Vec<u8>> {
        if stored.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: kid.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "aa5dbc905cb7fe2fc4f01424df61fc179183d1c113873e0509f00e9ffb65b511";

    #[test]
    fn key_text_is_hex_or_base64_and_errors_do_not_show_it() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
        for ok in [HEX.to_string(), format!("{b64}\n"), url] {
            assert!(
                EabCipher::from_text(&Secret::new(ok.clone())).is_ok(),
                "{ok}"
            );
        }
        for bad in ["secret-too-short", &HEX[..62], &b64[..20]] {
            let e = EabCipher::from_text(&Secret::new(bad)).unwrap_err();
            let e = e.to_string();
            assert!(e.contains(SETTING) && !e.contains(bad), "{e}");
        }
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_key_and_kid() {
        let c = EabCipher::from_text(&Secret::new(HEX)).unwrap();
        let sealed = c.seal("kid-a", b"hmac bytes");
        assert_eq!(sealed.len(), 24 + 10 + 16);
        assert_ne!(
            sealed,
            c.seal("kid-a", b"hmac bytes"),
            "fresh nonce each time"
        );
        assert_eq!(
            c.open("kid-a", &sealed).as_deref(),
            Some(&b"hmac bytes"[..])
        );
        assert_eq!(c.open("kid-b", &sealed), None, "rows cannot be swapped");
        let other = EabCipher::from_bytes(&[1; 32]);
        assert_eq!(other.open("kid-a", &sealed), None);
        assert_eq!(c.open("kid-a", &sealed[..20]), None);
        assert_eq!(format!("{c:?}"), "EabCipher([redacted])");
    }
}
