//! Random one-time codes, link tokens and recovery codes, all drawn from
//! the operating system's generator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use zeroize::Zeroizing;

/// Number of recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;

/// Characters of recovery codes: lower case letters and digits without the
/// easily confused `0`, `o`, `1`, `l` and `i` (31 symbols, ~4.95 bits each).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Characters in one recovery code, dashes not counted (~59 bits).
const RECOVERY_CHARS: usize = 12;

/// A uniformly random six-digit code, `000000` to `999999` (for SMS).
pub fn six_digit_code() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

/// 32 random bytes as base64url without padding (43 characters), for links
/// such as password reset.
pub fn url_token() -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// [`RECOVERY_CODES`] distinct recovery codes, each 12 characters from an
/// unambiguous alphabet, shown as `xxxx-xxxx-xxxx`.
pub fn recovery_codes() -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(RECOVERY_CODES);
    while codes.len() < RECOVERY_CODES {
        let code = recovery_code();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

fn recovery_code() -> String {
    let mut code = String::with_capacity(RECOVERY_CHARS + 2);
    for i in 0..RECOVERY_CHARS {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        let index = OsRng.gen_range(0..RECOVERY_ALPHABET.len());
        code.push(char::from(RECOVERY_ALPHABET[index]));
    }
    code
}

/// A recovery code as typed by the customer, reduced to the form it is
/// compared in: lower case, without spaces and dashes.
pub fn normalize_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn six_digits() {
        let mut seen = HashSet::new();
        for _ in 0..1_000 {
            let code = six_digit_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            seen.insert(code);
        }
        // 1,000 draws from a million values: collisions are rare.
        assert!(seen.len() > 950);
    }

    #[test]
    fn url_tokens() {
        let mut seen = HashSet::new();
        for _ in 0..1_000 {
            let token = url_token();
            assert_eq!(token.len(), 43);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
            assert!(seen.insert(token));
        }
    }

    #[test]
    fn recovery_code_format() {
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let codes = recovery_codes();
            assert_eq!(codes.len(), RECOVERY_CODES);
            for code in codes {
                assert_eq!(code.len(), 14, "{code}");
                let parts: Vec<&str> = code.split('-').collect();
                assert_eq!(parts.len(), 3, "{code}");
                for part in parts {
                    assert_eq!(part.len(), 4);
                    assert!(
                        part.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)),
                        "{code}"
                    );
                }
                assert_eq!(normalize_recovery_code(&code).len(), 12);
                assert!(seen.insert(code));
            }
        }
        for bad in [b'0', b'o', b'1', b'l', b'i'] {
            assert!(!RECOVERY_ALPHABET.contains(&bad));
        }
        assert_eq!(RECOVERY_ALPHABET.len(), 31);
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize_recovery_code("ABCD-EFGH-JKMN"), "abcdefghjkmn");
        assert_eq!(normalize_recovery_code(" abcd efgh\tjkmn "), "abcdefghjkmn");
        assert_eq!(normalize_recovery_code("abcd--efgh-jkmn"), "abcdefghjkmn");
        assert_eq!(normalize_recovery_code(""), "");
    }
}
