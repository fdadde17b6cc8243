//! Time-based one-time passwords for the second factor (ACC-04).
//!
//! RFC 6238 with HMAC-SHA1, 6 digits and 30-second steps — the parameters
//! every authenticator app supports. A code is accepted for the current
//! step and one step either side, and never for a step at or before the
//! last one used (no replay).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use qrcode::render::svg;
use qrcode::QrCode;
use rand::rngs::OsRng;
use rand::RngCore;
use sha1::Sha1;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Length of a step in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Bytes in a generated secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// RFC 4648 base32 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A shared TOTP secret. Zeroed when dropped; `Debug` does not show it.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new random secret of [`SECRET_BYTES`] bytes from the OS generator.
    pub fn generate() -> TotpSecret {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        OsRng.fill_bytes(bytes.as_mut_slice());
        TotpSecret(bytes)
    }

    /// A secret from its raw bytes (for instance, opened from the database).
    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The secret in base32 (RFC 4648 alphabet, upper case, no padding), as
    /// authenticator apps expect it.
    pub fn to_base32(&self) -> String {
        base32_encode(self.as_bytes())
    }

    /// Parses a base32 secret: case-insensitive, spaces and `=` padding
    /// ignored. `None` for other characters, an impossible length or an
    /// empty secret.
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let bytes = base32_decode(text)?;
        if bytes.is_empty() {
            return None;
        }
        Some(TotpSecret(Zeroizing::new(bytes)))
    }
}

/// Base32 encoding (RFC 4648 section 6) without padding.
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Base32 decoding; ignores whitespace and `=`, accepts lower case.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut symbols = 0usize;
    for c in text.chars() {
        if c.is_whitespace() || c == '=' {
            continue;
        }
        let value = match c.to_ascii_uppercase() {
            upper @ 'A'..='Z' => u32::from(upper) - u32::from('A'),
            digit @ '2'..='7' => u32::from(digit) - u32::from('2') + 26,
            _ => return None,
        };
        symbols += 1;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A final group of 1, 3 or 6 symbols cannot come from whole bytes.
    if matches!(symbols % 8, 1 | 3 | 6) {
        return None;
    }
    Some(out)
}

/// The step number of a Unix time (seconds): `floor(unix_time / 30)`.
pub fn step_of(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

/// The code for a Unix time: 6 digits, zero-padded.
pub fn code_at(secret: &TotpSecret, unix_time: i64) -> String {
    code_for_step(secret, step_of(unix_time))
}

/// RFC 4226 HOTP value for a counter, 6 digits zero-padded.
fn code_for_step(secret: &TotpSecret, step: i64) -> String {
    // HMAC accepts keys of any length, so this never fails; an empty string
    // would never match a code in `verify`.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    // Negative steps (times before 1970) wrap, as a u64 counter would.
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", binary % 1_000_000)
}

/// Checks a code typed by the customer.
///
/// Spaces in `code` are ignored. The current step and one step either side
/// are tried; a step at or before `last_used_step` is refused (replay).
/// Returns the matched step, which the caller stores as the new
/// `last_used_step`.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_time: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_of(unix_time);
    let mut matched = None;
    // Every candidate is computed and compared, without stopping early.
    for step in [
        current.checked_sub(1),
        Some(current),
        current.checked_add(1),
    ]
    .into_iter()
    .flatten()
    {
        let expected = code_for_step(secret, step);
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh {
            matched = Some(step);
        }
    }
    matched
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(byte >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
///
/// The issuer and account are percent-encoded. The URI contains the secret:
/// do not log it.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        account = percent_encode(account),
        secret = secret.to_base32(),
    )
}

/// A QR code of `data` as an SVG document: black modules on white, at least
/// 200×200 pixels, with a quiet zone, no scripts. `None` if the data is
/// too long for a QR code.
pub fn qr_svg(data: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build();
    Some(svg)
}

/// The QR code of `data` as a `data:image/svg+xml;base64,…` URI, for an
/// `<img src>` under a strict content security policy.
pub fn qr_data_uri(data: &str) -> Option<String> {
    qr_svg(data).map(|svg| format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = rfc_secret();
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(&secret, time), expected[2..], "t={time}");
        }
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        // RFC 4226 Appendix D, counters 0..9.
        let secret = rfc_secret();
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_for_step(&secret, counter as i64), *code);
        }
    }

    #[test]
    fn steps() {
        assert_eq!(step_of(0), 0);
        assert_eq!(step_of(29), 0);
        assert_eq!(step_of(30), 1);
        assert_eq!(step_of(59), 1);
        assert_eq!(step_of(-1), -1);
    }

    #[test]
    fn window_and_replay() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = step_of(now);
        let code = code_at(&secret, now);
        assert_eq!(verify(&secret, &code, now, None), Some(step));
        // One step either side is accepted.
        assert_eq!(verify(&secret, &code, now - 30, None), Some(step));
        assert_eq!(verify(&secret, &code, now + 30, None), Some(step));
        let previous = code_at(&secret, now - 30);
        let next = code_at(&secret, now + 30);
        assert_eq!(verify(&secret, &previous, now, None), Some(step - 1));
        assert_eq!(verify(&secret, &next, now, None), Some(step + 1));
        // Two steps away is refused (unless the codes happen to collide).
        let far = code_at(&secret, now - 60);
        if far != code && far != previous && far != next {
            assert_eq!(verify(&secret, &far, now, None), None);
        }
        let far = code_at(&secret, now + 60);
        if far != code && far != previous && far != next {
            assert_eq!(verify(&secret, &far, now, None), None);
        }
        // Replay: the same step, or an earlier one, is refused.
        assert_eq!(verify(&secret, &code, now, Some(step)), None);
        assert_eq!(verify(&secret, &previous, now, Some(step)), None);
        assert_eq!(verify(&secret, &previous, now, Some(step - 1)), None);
        assert_eq!(verify(&secret, &code, now, Some(step - 1)), Some(step));
        assert_eq!(verify(&secret, &next, now, Some(step)), Some(step + 1));
    }

    #[test]
    fn window_with_rfc_secret() {
        let secret = rfc_secret();
        // At t = 59 (step 1) the step-1 code is 287082.
        assert_eq!(verify(&secret, "287 082", 59, None), Some(1));
        assert_eq!(verify(&secret, "755224", 59, None), Some(0));
        assert_eq!(verify(&secret, "359152", 59, None), Some(2));
        assert_eq!(verify(&secret, "969429", 59, None), None);
        assert_eq!(verify(&secret, "28708", 59, None), None);
        assert_eq!(verify(&secret, "2870822", 59, None), None);
        assert_eq!(verify(&secret, "28708a", 59, None), None);
        assert_eq!(verify(&secret, "", 59, None), None);
    }

    #[test]
    fn base32_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        // Padding, lower case and spaces are accepted.
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MY======").unwrap(), b"f");
        // Invalid characters and lengths are refused.
        assert!(base32_decode("MZXW1").is_none());
        assert!(base32_decode("M").is_none());
        assert!(base32_decode("MZX").is_none());
        assert!(base32_decode("MZXW6Y").is_none());
    }

    #[test]
    fn secret_round_trip() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.as_bytes().len(), SECRET_BYTES);
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        let back = TotpSecret::from_base32(&text.to_lowercase()).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(TotpSecret::from_base32("").is_none());
        assert!(TotpSecret::from_base32("====").is_none());
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }

    #[test]
    fn uri() {
        let uri = otpauth_uri(&rfc_secret(), "Carfin Lease", "jan+test@example.be");
        assert_eq!(
            uri,
            "otpauth://totp/Carfin%20Lease:jan%2Btest%40example.be\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Carfin%20Lease\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            percent_encode("é:/?#&=~-._"),
            "%C3%A9%3A%2F%3F%23%26%3D~-._"
        );
    }

    #[test]
    fn qr() {
        let uri = otpauth_uri(&TotpSecret::generate(), "Carfin", "jan@example.be");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("<svg"));
        assert!(!svg.to_lowercase().contains("script"));
        assert!(
            !svg.to_lowercase().contains(" on"),
            "no event handler attributes"
        );
        assert!(svg.contains("#000000") && svg.contains("#ffffff"));
        let width: u32 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(width >= 200, "{width}");

        let data = qr_data_uri(&uri).unwrap();
        let payload = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        assert_eq!(STANDARD.decode(payload).unwrap(), svg.as_bytes());
        // Too long for any QR code.
        assert!(qr_svg(&"x".repeat(8_000)).is_none());
    }
}
