//! Text encodings every layer writes: PEM armour (certificates handed to clients, CSRs sent to
//! SCM, the sandbox's files) and hex (serial numbers, digests in messages). One spelling each, so
//! a chain the bridge stores and a file the sandbox serves are armoured the same way.

use base64::Engine;

/// PEM armour with 64-character lines (RFC 7468 §2), ending in a newline.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Lower-case hex, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A certificate serial number as the store keeps it: lower-case hex without leading zero bytes
/// (DER may pad a positive serial with one), at least one byte.
pub fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    hex(&bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_at_64_columns() {
        let text = pem("CERTIFICATE", &[0u8; 60]);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 16);
        assert_eq!(lines[3], "-----END CERTIFICATE-----");
    }

    #[test]
    fn serials_drop_leading_zero_bytes() {
        assert_eq!(serial_hex(&[0, 0x8a, 0x01]), "8a01");
        assert_eq!(serial_hex(&[0]), "00");
        assert_eq!(hex(&[0, 0x0f]), "000f");
    }
}
