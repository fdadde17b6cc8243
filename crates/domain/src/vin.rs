//! Vehicle identification numbers (ISO 3779; CON-02).

use crate::checks::compact_upper;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A vehicle identification number: 17 characters from A–Z and 0–9 without
/// I, O and Q, stored uppercase.
///
/// The check digit in position 9 (49 CFR 565 / ISO 3779 transliteration and
/// weights) is mandatory for the North American market only (first
/// character 1–5) and enforced there. Elsewhere manufacturers need not use
/// it, so a mismatch is not an error but is reported by
/// [`Vin::check_digit_warning`] (SECURITY 14).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Vin {
    value: String,
}

/// Why a VIN was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VinError {
    /// Nothing was entered.
    #[error("no VIN entered")]
    Empty,
    /// Not 17 characters.
    #[error("a VIN has 17 characters")]
    Length,
    /// A character other than letters and digits.
    #[error("a VIN holds only letters and digits")]
    InvalidCharacter,
    /// The letters I, O or Q, which VINs never use (they look like 1 and 0).
    #[error("a VIN never contains I, O or Q")]
    ForbiddenLetter,
    /// A North American VIN whose check digit (position 9) does not match.
    #[error("the VIN check digit does not match")]
    CheckDigit,
}

error_codes!(VinError {
    VinError::Empty => "vin.empty",
    VinError::Length => "vin.length",
    VinError::InvalidCharacter => "vin.invalid_character",
    VinError::ForbiddenLetter => "vin.forbidden_letter",
    VinError::CheckDigit => "vin.check_digit",
});

/// Position weights for the check digit (position 9 itself weighs 0).
const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
/// The characters a VIN may hold, in the order [`Vin::generate`] uses.
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

/// The numeric value of a VIN character (49 CFR 565.15 transliteration).
fn transliterate(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A' | b'J' => 1,
        b'B' | b'K' | b'S' => 2,
        b'C' | b'L' | b'T' => 3,
        b'D' | b'M' | b'U' => 4,
        b'E' | b'N' | b'V' => 5,
        b'F' | b'W' => 6,
        b'G' | b'P' | b'X' => 7,
        b'H' | b'Y' => 8,
        b'R' | b'Z' => 9,
        _ => return None,
    })
}

/// The check digit the 17 characters of `vin` call for: the weighted sum
/// mod 11, with 10 written `X`.
fn expected_check_digit(vin: &[u8]) -> Option<u8> {
    let sum = vin
        .iter()
        .zip(WEIGHTS)
        .try_fold(0u32, |acc, (&c, w)| Some(acc + transliterate(c)? * w))?;
    match sum % 11 {
        10 => Some(b'X'),
        r => u8::try_from(r).ok().map(|r| b'0' + r),
    }
}

impl Vin {
    /// Parses a VIN: whitespace and dashes removed, letters uppercased.
    pub fn parse(input: &str) -> Result<Vin, VinError> {
        let value = compact_upper(input, &[' ', '-', '\u{a0}']);
        if value.is_empty() {
            return Err(VinError::Empty);
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(VinError::InvalidCharacter);
        }
        if value.len() != 17 {
            return Err(VinError::Length);
        }
        if value.bytes().any(|b| matches!(b, b'I' | b'O' | b'Q')) {
            return Err(VinError::ForbiddenLetter);
        }
        let vin = Vin { value };
        if vin.is_north_american() && vin.check_digit_warning() {
            return Err(VinError::CheckDigit);
        }
        Ok(vin)
    }

    /// A valid VIN with a correct check digit for test data: `wmi` (3
    /// characters) followed by 13 characters derived from `n` (distinct `n`
    /// give distinct VINs) with the check digit in position 9.
    pub fn generate(wmi: &str, n: u64) -> Result<Vin, VinError> {
        let wmi = compact_upper(wmi, &[]);
        if wmi.len() != 3 {
            return Err(VinError::Length);
        }
        let radix = ALPHABET.len() as u64;
        let mut rest = n;
        let mut tail = [b'0'; 13];
        for slot in tail.iter_mut().rev() {
            let index = usize::try_from(rest % radix).map_err(|_| VinError::Length)?;
            *slot = ALPHABET
                .get(index)
                .copied()
                .ok_or(VinError::InvalidCharacter)?;
            rest /= radix;
        }
        let mut bytes: Vec<u8> = wmi.into_bytes();
        bytes.extend_from_slice(&tail[..5]);
        bytes.push(b'0');
        bytes.extend_from_slice(&tail[5..]);
        if let Some(check) = expected_check_digit(&bytes) {
            bytes[8] = check;
        }
        Vin::parse(&String::from_utf8(bytes).map_err(|_| VinError::InvalidCharacter)?)
    }

    /// The canonical form: 17 uppercase characters.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The world manufacturer identifier: the first three characters.
    pub fn wmi(&self) -> &str {
        &self.value[..3]
    }

    /// The vehicle descriptor section: characters 4–9.
    pub fn vds(&self) -> &str {
        &self.value[3..9]
    }

    /// The vehicle identifier section: characters 10–17.
    pub fn vis(&self) -> &str {
        &self.value[9..]
    }

    /// Whether the VIN was assigned for the North American market (first
    /// character 1–5), where the check digit is mandatory.
    pub fn is_north_american(&self) -> bool {
        matches!(self.value.as_bytes().first(), Some(b'1'..=b'5'))
    }

    /// Whether the character in position 9 is not the check digit the rest
    /// calls for. Always `false` for North American VINs (parse refuses
    /// them); for other VINs a hint to double-check the input, not an error.
    pub fn check_digit_warning(&self) -> bool {
        let bytes = self.value.as_bytes();
        expected_check_digit(bytes) != bytes.get(8).copied()
    }
}

string_conversions!(Vin, VinError);

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    // CON-02: published valid examples.
    #[test]
    fn accepts_valid_vins() {
        for s in [
            "1M8GDM9AXKP042788",
            "11111111111111111",
            "1HGCM82633A004352",
        ] {
            let vin = Vin::parse(s).unwrap();
            assert!(!vin.check_digit_warning(), "{s}");
            assert!(vin.is_north_american());
        }
        let vin = Vin::parse(" wvw-zzz1jz-yw000001 ").unwrap();
        assert_eq!(vin.as_str(), "WVWZZZ1JZYW000001");
        assert_eq!(
            (vin.wmi(), vin.vds(), vin.vis()),
            ("WVW", "ZZZ1JZ", "YW000001")
        );
        assert_eq!(vin.to_string(), "WVWZZZ1JZYW000001");
    }

    // CON-02
    #[test]
    fn refuses_empty() {
        assert_eq!(Vin::parse("   "), Err(VinError::Empty));
    }

    // CON-02
    #[test]
    fn refuses_wrong_length() {
        assert_eq!(Vin::parse("1M8GDM9AXKP04278"), Err(VinError::Length));
        assert_eq!(Vin::parse("1M8GDM9AXKP0427888"), Err(VinError::Length));
    }

    // CON-02
    #[test]
    fn refuses_invalid_characters() {
        assert_eq!(
            Vin::parse("1M8GDM9AXKP04278*"),
            Err(VinError::InvalidCharacter)
        );
        assert_eq!(
            Vin::parse("1M8GDM9AXKP04278É"),
            Err(VinError::InvalidCharacter)
        );
    }

    // CON-02
    #[test]
    fn refuses_i_o_q() {
        for s in [
            "1M8GDM9AXKP04278I",
            "WVWZZZ1JZYW00000O",
            "QVWZZZ1JZYW000001",
        ] {
            assert_eq!(Vin::parse(s), Err(VinError::ForbiddenLetter), "{s}");
        }
    }

    // CON-02, SECURITY 14: the check digit is enforced in North America only.
    #[test]
    fn check_digit_enforced_in_north_america_only() {
        assert_eq!(Vin::parse("1M8GDM9A1KP042788"), Err(VinError::CheckDigit));
        assert_eq!(Vin::parse("11111111211111111"), Err(VinError::CheckDigit));
        let european = Vin::parse("WM8GDM9A1KP042788").unwrap();
        assert!(european.check_digit_warning());
        assert!(!european.is_north_american());
        // The same VIN with a correct check digit raises no warning.
        let check = char::from(expected_check_digit(b"WM8GDM9A0KP042788").unwrap());
        let european_ok = Vin::parse(&format!("WM8GDM9A{check}KP042788")).unwrap();
        assert!(!european_ok.check_digit_warning());
    }

    #[test]
    fn generates_valid_vins() {
        let vin = Vin::generate("wvw", 0).unwrap();
        assert_eq!(vin.wmi(), "WVW");
        assert!(!vin.check_digit_warning());
        assert_eq!(Vin::generate("WV", 0), Err(VinError::Length));
        assert_eq!(Vin::generate("WVI", 0), Err(VinError::ForbiddenLetter));
        assert!(Vin::generate("1HG", u64::MAX).is_ok());
    }

    #[test]
    fn serde_revalidates() {
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "1M8GDM9A1KP042788".into_deserializer();
        assert!(Vin::deserialize(bad).is_err());
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "1m8gdm9axkp042788".into_deserializer();
        assert_eq!(Vin::deserialize(ok).unwrap().as_str(), "1M8GDM9AXKP042788");
    }

    proptest! {
        // CON-02
        #[test]
        fn generated_round_trip(wmi in "[1-5A-HJ-NPR-Z][0-9A-HJ-NPR-Z]{2}", a in any::<u64>(), b in any::<u64>()) {
            let vin = Vin::generate(&wmi, a).unwrap();
            prop_assert!(!vin.check_digit_warning());
            prop_assert_eq!(Vin::parse(&format!("{vin}")), Ok(vin.clone()));
            if a != b {
                prop_assert_ne!(Vin::generate(&wmi, b), Ok(vin));
            }
        }

        // CON-02: a single changed digit breaks a North American check digit.
        #[test]
        fn single_digit_change_is_caught(n in any::<u64>(), pos in 0usize..17, delta in 1u8..10) {
            let vin = Vin::generate("1HG", n).unwrap();
            let mut bytes = vin.as_str().as_bytes().to_vec();
            // Digits other than the leading 1 (changing that leaves North America).
            let digits: Vec<usize> = (1..17).filter(|&i| bytes[i].is_ascii_digit()).collect();
            prop_assume!(!digits.is_empty());
            let pos = digits[pos % digits.len()];
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(Vin::parse(&changed), Err(VinError::CheckDigit));
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Vin::parse(&s);
        }
    }
}
