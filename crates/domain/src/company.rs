//! Company registration numbers of the legal entities and business customers
//! (ENT-01): the Belgian enterprise number and the Dutch KvK number.

use crate::checks::{compact_upper, digits_value, is_digits};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Belgian enterprise number (ondernemingsnummer / numéro d'entreprise)
/// from the Crossroads Bank for Enterprises (KBO/BCE): ten digits starting
/// with 0 or 1, the last two being 97 minus the first eight mod 97. Stored
/// `0123456749`, displayed `0123.456.749`; it is also the VAT number with
/// `BE` in front.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KboNumber {
    value: String,
}

/// Why an enterprise number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KboError {
    /// Nothing was entered.
    #[error("no enterprise number entered")]
    Empty,
    /// Not ten digits (nine are accepted for the old format, a leading 0 is
    /// then added).
    #[error("an enterprise number has ten digits")]
    Format,
    /// Does not start with 0 or 1.
    #[error("an enterprise number starts with 0 or 1")]
    FirstDigit,
    /// The check digits do not match.
    #[error("the enterprise number's check digits do not match")]
    Checksum,
}

error_codes!(KboError {
    KboError::Empty => "kbo.empty",
    KboError::Format => "kbo.format",
    KboError::FirstDigit => "kbo.first_digit",
    KboError::Checksum => "kbo.checksum",
});

/// The KBO check digits for the first eight digits.
fn kbo_check(base: u64) -> u64 {
    97 - base % 97
}

impl KboNumber {
    /// How many distinct numbers [`KboNumber::generate`] produces.
    pub const GENERATED_CAPACITY: u64 = 20_000_000;

    /// Parses `0123.456.749`, `0123 456 749`, `BE0123456749`,
    /// `BE 0123.456.749` or the old nine-digit form `123456749`.
    pub fn parse(input: &str) -> Result<KboNumber, KboError> {
        let compact = compact_upper(input, &[' ', '.', '-', '\u{a0}']);
        if compact.is_empty() {
            return Err(KboError::Empty);
        }
        let digits = compact.strip_prefix("BE").unwrap_or(&compact);
        if !is_digits(digits) || !(9..=10).contains(&digits.len()) {
            return Err(KboError::Format);
        }
        let value = format!("{digits:0>10}");
        if !value.starts_with(['0', '1']) {
            return Err(KboError::FirstDigit);
        }
        match (digits_value(&value[..8]), digits_value(&value[8..])) {
            (Some(base), Some(check)) if kbo_check(base) == check => Ok(KboNumber { value }),
            _ => Err(KboError::Checksum),
        }
    }

    /// A valid enterprise number built from `n` for test data: distinct `n`
    /// give distinct numbers; `None` when `n` is at or beyond
    /// [`KboNumber::GENERATED_CAPACITY`].
    pub fn generate(n: u64) -> Option<KboNumber> {
        if n >= KboNumber::GENERATED_CAPACITY {
            return None;
        }
        KboNumber::parse(&format!("{n:08}{:02}", kbo_check(n))).ok()
    }

    /// The canonical form, ten digits: `0123456749`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The Belgian VAT number: `BE0123456749`.
    pub fn vat_number(&self) -> String {
        format!("BE{}", self.value)
    }
}

impl fmt::Display for KboNumber {
    /// `0123.456.749`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.value;
        write!(f, "{}.{}.{}", &v[..4], &v[4..7], &v[7..])
    }
}

/// A Dutch Chamber of Commerce (Kamer van Koophandel) number: exactly eight
/// digits, with no check digit.
///
/// Not a permanent key: a company gets a new KvK number when its legal form
/// changes (e.g. a sole proprietorship becoming a B.V.), so link records to
/// the entity, not to this number (SECURITY 14).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KvkNumber {
    value: String,
}

/// Why a KvK number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KvkError {
    /// Nothing was entered.
    #[error("no KvK number entered")]
    Empty,
    /// Not exactly eight digits.
    #[error("a KvK number has eight digits")]
    Format,
}

error_codes!(KvkError {
    KvkError::Empty => "kvk.empty",
    KvkError::Format => "kvk.format",
});

impl KvkNumber {
    /// Parses eight digits; spaces and dots are ignored.
    pub fn parse(input: &str) -> Result<KvkNumber, KvkError> {
        let value = compact_upper(input, &[' ', '.', '\u{a0}']);
        if value.is_empty() {
            return Err(KvkError::Empty);
        }
        if value.len() != 8 || !is_digits(&value) {
            return Err(KvkError::Format);
        }
        Ok(KvkNumber { value })
    }

    /// The eight digits.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for KvkNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

string_conversions!(KboNumber, KboError);
string_conversions!(KvkNumber, KvkError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    // ENT-01: KBO/BCE example and accepted notations.
    #[test]
    fn parses_enterprise_numbers() {
        for s in [
            "0123.456.749",
            "0123 456 749",
            "BE0123456749",
            "be 0123.456.749",
            "123456749",
        ] {
            let kbo = KboNumber::parse(s).unwrap();
            assert_eq!(kbo.as_str(), "0123456749", "{s}");
            assert_eq!(kbo.to_string(), "0123.456.749");
            assert_eq!(kbo.vat_number(), "BE0123456749");
        }
        // Another number that satisfies the check (02032013 mod 97 = 57; 97 - 57 = 40).
        assert!(KboNumber::parse("0203.201.340").is_ok());
    }

    // ENT-01
    #[test]
    fn refuses_empty() {
        assert_eq!(KboNumber::parse(" "), Err(KboError::Empty));
        assert_eq!(KvkNumber::parse(""), Err(KvkError::Empty));
    }

    // ENT-01
    #[test]
    fn refuses_wrong_format() {
        for s in ["12345678", "01234567490", "0123.456.74a", "NL0123456749"] {
            assert_eq!(KboNumber::parse(s), Err(KboError::Format), "{s}");
        }
    }

    // ENT-01
    #[test]
    fn refuses_wrong_first_digit() {
        assert_eq!(KboNumber::parse("2123456749"), Err(KboError::FirstDigit));
    }

    // ENT-01
    #[test]
    fn refuses_wrong_checksum() {
        assert_eq!(KboNumber::parse("0123.456.748"), Err(KboError::Checksum));
        assert_eq!(KboNumber::parse("0123.456.794"), Err(KboError::Checksum));
    }

    // ENT-01: KvK numbers are eight digits, no checksum.
    #[test]
    fn kvk_numbers() {
        assert_eq!(
            KvkNumber::parse(" 1234 5678 ").unwrap().as_str(),
            "12345678"
        );
        assert_eq!(
            KvkNumber::parse("01234567").unwrap().to_string(),
            "01234567"
        );
        for s in ["1234567", "123456789", "1234567a"] {
            assert_eq!(KvkNumber::parse(s), Err(KvkError::Format), "{s}");
        }
    }

    #[test]
    fn generator_limits() {
        assert_eq!(KboNumber::generate(0).unwrap().as_str(), "0000000097");
        assert!(KboNumber::generate(KboNumber::GENERATED_CAPACITY - 1)
            .unwrap()
            .as_str()
            .starts_with('1'));
        assert_eq!(KboNumber::generate(KboNumber::GENERATED_CAPACITY), None);
    }

    #[test]
    fn serde_revalidates() {
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "0123456748".into_deserializer();
        assert!(KboNumber::deserialize(bad).is_err());
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "0123.456.749".into_deserializer();
        assert_eq!(KboNumber::deserialize(ok).unwrap().as_str(), "0123456749");
        let kvk: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "1234567".into_deserializer();
        assert!(KvkNumber::deserialize(kvk).is_err());
    }

    proptest! {
        // ENT-01
        #[test]
        fn generated_round_trip(a in 0..KboNumber::GENERATED_CAPACITY, b in 0..KboNumber::GENERATED_CAPACITY) {
            let kbo = KboNumber::generate(a).unwrap();
            prop_assert_eq!(KboNumber::parse(&format!("{kbo}")), Ok(kbo.clone()));
            prop_assert_eq!(KboNumber::parse(&kbo.vat_number()), Ok(kbo.clone()));
            if a != b {
                prop_assert_ne!(KboNumber::generate(b), Some(kbo));
            }
        }

        // ENT-01: mod 97 catches every single-digit change.
        #[test]
        fn single_digit_change_is_caught(n in 0..KboNumber::GENERATED_CAPACITY, pos in 1usize..10, delta in 1u8..10) {
            let kbo = KboNumber::generate(n).unwrap();
            let mut bytes = kbo.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(KboNumber::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = KboNumber::parse(&s);
            let _ = KvkNumber::parse(&s);
        }
    }
}
