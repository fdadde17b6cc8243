//! Shared check-digit arithmetic and small text helpers for the identifier
//! parsers: one mod-97 implementation serves IBAN (ISO 7064 MOD 97-10), the
//! Belgian BBAN, KBO/BCE numbers and Belgian structured communications (OGM).

/// Remainder modulo 97 of the number spelled by `s`, where ASCII digits count
/// as themselves and uppercase letters as two digits (`A` = 10 … `Z` = 35),
/// as ISO 13616 prescribes for IBANs. `None` if `s` holds any other character.
pub(crate) fn mod97(s: &str) -> Option<u32> {
    s.bytes().try_fold(0u32, |rem, b| match b {
        b'0'..=b'9' => Some((rem * 10 + u32::from(b - b'0')) % 97),
        b'A'..=b'Z' => Some((rem * 100 + u32::from(b - b'A') + 10) % 97),
        _ => None,
    })
}

/// The Belgian national check: `base mod 97`, where a remainder of 0 is
/// written as 97. Used by Belgian BBANs and structured communications.
pub(crate) fn mod97_or_97(base: u64) -> u64 {
    match base % 97 {
        0 => 97,
        r => r,
    }
}

/// Anchored, regex-free shape check: `pattern` is a string where `A` stands
/// for an uppercase ASCII letter, `9` for an ASCII digit, `X` for either, and
/// any other character for itself.
pub(crate) fn matches_pattern(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'A' => c.is_ascii_uppercase(),
            b'9' => c.is_ascii_digit(),
            b'X' => c.is_ascii_uppercase() || c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Trims `s`, removes every character in `remove` and uppercases ASCII
/// letters (other characters are kept as they are, so that the caller's
/// character check rejects them rather than a case mapping altering them).
pub(crate) fn compact_upper(s: &str, remove: &[char]) -> String {
    s.trim()
        .chars()
        .filter(|c| !remove.contains(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether `s` is non-empty and consists of ASCII digits only.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The value of a string of at most 19 ASCII digits.
pub(crate) fn digits_value(s: &str) -> Option<u64> {
    if !is_digits(s) || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Splits `s` into groups of `size` characters joined by `separator`; the
/// short group (if any) is the last one, or the first one when `from_right`.
pub(crate) fn group(s: &str, size: usize, separator: &str, from_right: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let size = size.max(1);
    let head = if from_right { chars.len() % size } else { 0 };
    let mut out = String::with_capacity(s.len() + s.len() / size * separator.len());
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && (i + size - head) % size == 0 {
            out.push_str(separator);
        }
        out.push(*c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod97_transliterates_letters() {
        // ISO 13616 example: GB82WEST12345698765432 rearranged.
        assert_eq!(mod97("WEST12345698765432GB82"), Some(1));
        assert_eq!(mod97("12a"), None);
        assert_eq!(mod97_or_97(97 * 3), 97);
        assert_eq!(mod97_or_97(1_234_567_890), 2);
    }

    #[test]
    fn patterns_and_grouping() {
        assert!(matches_pattern("AB1234", "AA9999"));
        assert!(!matches_pattern("ab1234", "AA9999"));
        assert!(matches_pattern("A1-B", "XX-X"));
        assert!(!matches_pattern("É1234", "AA9999"));
        assert_eq!(
            group("NL91ABNA0417164300", 4, " ", false),
            "NL91 ABNA 0417 1643 00"
        );
        assert_eq!(group("12234534622567", 4, " ", true), "12 2345 3462 2567");
        assert_eq!(group("1234", 4, " ", true), "1234");
        assert_eq!(group("", 4, " ", true), "");
        assert_eq!(digits_value("0012"), Some(12));
        assert_eq!(digits_value("99999999999999999999"), None);
        assert_eq!(compact_upper(" ab-c d ", &[' ', '-']), "ABCD");
    }
}
