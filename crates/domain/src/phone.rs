//! Telephone numbers in E.164 form.

use crate::Country;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A telephone number in E.164 form (`+31612345678`).
///
/// Dutch numbers (`+31`) have 9 national digits; Belgian numbers (`+32`)
/// have 8, or 9 for mobile numbers (starting with 4). Other countries are
/// checked for length only (8–15 digits in all, not starting with 0).
/// `Debug` shows the [masked](PhoneNumber::masked) form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber {
    value: String,
}

/// Why a telephone number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was entered.
    #[error("no telephone number entered")]
    Empty,
    /// A character other than digits, a leading `+`, spaces, dashes, dots,
    /// slashes and parentheses.
    #[error("a telephone number holds only digits")]
    InvalidCharacter,
    /// A national number (starting with a single 0) where no default country
    /// was given, or a number with neither `+`, `00` nor `0` in front.
    #[error("enter the number with its country code, e.g. +31")]
    MissingCountryCode,
    /// A country code or national number starting with 0 (`+0…`, `+44 0…`).
    #[error("the number after the country code cannot start with 0")]
    LeadingZero,
    /// A Dutch number without exactly 9 digits after +31 (10 with the 0).
    #[error("a Dutch number has 10 digits, starting with 0")]
    NlLength,
    /// A Belgian number without 8 digits after +32, or 9 starting with 4.
    #[error("a Belgian number has 9 digits, or 10 for mobile numbers")]
    BeLength,
    /// Fewer than 8 or more than 15 digits in all.
    #[error("a telephone number has 8 to 15 digits")]
    Length,
}

error_codes!(PhoneError {
    PhoneError::Empty => "phone.empty",
    PhoneError::InvalidCharacter => "phone.invalid_character",
    PhoneError::MissingCountryCode => "phone.missing_country_code",
    PhoneError::LeadingZero => "phone.leading_zero",
    PhoneError::NlLength => "phone.nl_length",
    PhoneError::BeLength => "phone.be_length",
    PhoneError::Length => "phone.length",
});

/// Characters people put between digits.
const SEPARATORS: [char; 8] = [' ', '-', '.', '/', '(', ')', '\u{a0}', '\u{202f}'];

/// Length of the ITU-T E.164 country code that `digits` starts with.
fn country_code_len(digits: &str) -> usize {
    const TWO_DIGIT: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with(['1', '7']) {
        1
    } else if digits.get(..2).is_some_and(|p| TWO_DIGIT.contains(&p)) {
        2
    } else {
        3
    }
}

impl PhoneNumber {
    /// Parses a number in international form (`+31 6 12345678`,
    /// `0032 470 12 34 56`, `+31 (0)6-1234 5678`); national numbers need
    /// [`PhoneNumber::parse_with_default`].
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        PhoneNumber::parse_inner(input, None)
    }

    /// Parses a number, reading a national number (`0612345678`) as one of
    /// `default_country`.
    ///
    /// Spaces, dashes, dots, slashes and parentheses are ignored, as is a
    /// trunk `(0)` after the country code; for Dutch and Belgian numbers a
    /// trunk 0 written after the country code (`+31 0612345678`) is dropped
    /// too.
    pub fn parse_with_default(
        input: &str,
        default_country: Country,
    ) -> Result<PhoneNumber, PhoneError> {
        PhoneNumber::parse_inner(input, Some(default_country))
    }

    fn parse_inner(input: &str, default: Option<Country>) -> Result<PhoneNumber, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let compact: String = trimmed
            .replace("(0)", "")
            .chars()
            .filter(|c| !SEPARATORS.contains(c))
            .collect();
        let (international, rest) = if let Some(rest) = compact.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = compact.strip_prefix("00") {
            (true, rest)
        } else {
            (false, compact.as_str())
        };
        if rest.is_empty() {
            return Err(PhoneError::Empty);
        }
        if !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::InvalidCharacter);
        }
        let digits = if international {
            rest.to_owned()
        } else {
            let national = rest
                .strip_prefix('0')
                .ok_or(PhoneError::MissingCountryCode)?;
            let country = default.ok_or(PhoneError::MissingCountryCode)?;
            format!("{}{national}", country.calling_code())
        };
        PhoneNumber::validate(digits)
    }

    /// Checks the E.164 digits (without `+`).
    fn validate(mut digits: String) -> Result<PhoneNumber, PhoneError> {
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        let country = Country::ALL
            .into_iter()
            .find(|c| digits.starts_with(c.calling_code()));
        if country.is_some() && digits.as_bytes().get(2) == Some(&b'0') {
            digits.remove(2);
        }
        let national = &digits[country_code_len(&digits).min(digits.len())..];
        if national.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        match country {
            Some(Country::Nl) if national.len() != 9 => return Err(PhoneError::NlLength),
            Some(Country::Be)
                if !(national.len() == 8 || (national.len() == 9 && national.starts_with('4'))) =>
            {
                return Err(PhoneError::BeLength)
            }
            None if !(8..=15).contains(&digits.len()) || national.is_empty() => {
                return Err(PhoneError::Length)
            }
            _ => {}
        }
        Ok(PhoneNumber {
            value: format!("+{digits}"),
        })
    }

    /// The canonical E.164 form, `+31612345678`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The country calling code without `+`, e.g. `31`.
    pub fn country_calling_code(&self) -> &str {
        let digits = &self.value[1..];
        &digits[..country_code_len(digits)]
    }

    /// The national significant number (after the country code).
    pub fn national_number(&self) -> &str {
        let digits = &self.value[1..];
        &digits[country_code_len(digits)..]
    }

    /// The country, if it is one carfin serves.
    pub fn country(&self) -> Option<Country> {
        let code = self.country_calling_code();
        Country::ALL.into_iter().find(|c| c.calling_code() == code)
    }

    /// Whether the number can receive SMS as a mobile number:
    /// NL `+316` followed by 8 digits, except `+3166` (pagers); BE `+324`
    /// with 9 national digits whose second digit is 5–9 (045x–049x). `097`
    /// (Dutch machine-to-machine) and numbers of other countries are not
    /// considered mobile.
    pub fn is_mobile(&self) -> bool {
        let national = self.national_number().as_bytes();
        match self.country() {
            Some(Country::Nl) => national.first() == Some(&b'6') && national.get(1) != Some(&b'6'),
            Some(Country::Be) => {
                national.len() == 9
                    && national.first() == Some(&b'4')
                    && matches!(national.get(1), Some(b'5'..=b'9'))
            }
            None => false,
        }
    }

    /// The number with all but the country code, the first national digit
    /// and the last two digits hidden: `+31 6 ••• ••• 78`.
    pub fn masked(&self) -> String {
        let national = self.national_number();
        let len = national.len();
        let hidden = len.saturating_sub(3);
        let dots = crate::checks::group(&"•".repeat(hidden), 3, " ", false);
        format!(
            "+{} {} {dots} {}",
            self.country_calling_code(),
            &national[..1.min(len)],
            &national[len.saturating_sub(2).max(1.min(len))..]
        )
    }
}

string_conversions!(PhoneNumber, PhoneError);

impl fmt::Display for PhoneNumber {
    /// Grouped for reading: `+31 6 12345678`, `+32 470 12 34 56`,
    /// `+32 2 123 45 67`, otherwise `+<country code> <national number>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cc = self.country_calling_code();
        let n = self.national_number();
        match (self.country(), n.len()) {
            (Some(Country::Nl), _) if n.starts_with('6') => write!(f, "+{cc} 6 {}", &n[1..]),
            (Some(Country::Be), 9) => {
                write!(f, "+{cc} {} {} {} {}", &n[..3], &n[3..5], &n[5..7], &n[7..])
            }
            (Some(Country::Be), 8) if n.starts_with(['2', '3', '4', '9']) => {
                write!(f, "+{cc} {} {} {} {}", &n[..1], &n[1..4], &n[4..6], &n[6..])
            }
            (Some(Country::Be), 8) => {
                write!(f, "+{cc} {} {} {} {}", &n[..2], &n[2..4], &n[4..6], &n[6..])
            }
            _ => write!(f, "+{cc} {n}"),
        }
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    fn e164(s: &str) -> Result<String, PhoneError> {
        PhoneNumber::parse(s).map(|p| p.as_str().to_owned())
    }

    fn nl(s: &str) -> Result<String, PhoneError> {
        PhoneNumber::parse_with_default(s, Country::Nl).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn parses_common_notations() {
        let want = Ok("+31612345678".to_owned());
        for s in [
            "+31612345678",
            "+31 6 12345678",
            "+31 (0)6-1234 5678",
            "0031 6 12 34 56 78",
            "+31 0612345678",
        ] {
            assert_eq!(e164(s), want, "{s}");
        }
        assert_eq!(nl("06-12345678"), want);
        assert_eq!(nl("(06) 123.456.78"), want);
        assert_eq!(e164("0032 470 12 34 56"), Ok("+32470123456".into()));
        assert_eq!(
            PhoneNumber::parse_with_default("0470/12.34.56", Country::Be).map(|p| p.to_string()),
            Ok("+32 470 12 34 56".into())
        );
        assert_eq!(nl("+32 2 123 45 67"), Ok("+3221234567".into()));
        assert_eq!(e164("+49 30 1234567"), Ok("+49301234567".into()));
        assert_eq!(e164("+1 (415) 555-2671"), Ok("+14155552671".into()));
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(e164(" "), Err(PhoneError::Empty));
        assert_eq!(e164("+"), Err(PhoneError::Empty));
    }

    #[test]
    fn refuses_invalid_characters() {
        assert_eq!(e164("+31 6 1234567a"), Err(PhoneError::InvalidCharacter));
        assert_eq!(e164("+31 6 12345678\n"), Ok("+31612345678".into()));
        assert_eq!(e164("+31 6 1234\n5678"), Err(PhoneError::InvalidCharacter));
        assert_eq!(e164("++31612345678"), Err(PhoneError::InvalidCharacter));
    }

    #[test]
    fn refuses_missing_country_code() {
        assert_eq!(e164("0612345678"), Err(PhoneError::MissingCountryCode));
        assert_eq!(nl("612345678"), Err(PhoneError::MissingCountryCode));
    }

    #[test]
    fn refuses_leading_zero() {
        assert_eq!(e164("+0612345678"), Err(PhoneError::LeadingZero));
        assert_eq!(e164("+44 020 7946 0958"), Err(PhoneError::LeadingZero));
    }

    #[test]
    fn refuses_wrong_dutch_length() {
        assert_eq!(nl("061234567"), Err(PhoneError::NlLength));
        assert_eq!(nl("06123456789"), Err(PhoneError::NlLength));
    }

    #[test]
    fn refuses_wrong_belgian_length() {
        assert_eq!(e164("+32 2 123 456"), Err(PhoneError::BeLength));
        assert_eq!(e164("+32 212 345 678"), Err(PhoneError::BeLength));
        assert_eq!(e164("+32 4701 23 45 67"), Err(PhoneError::BeLength));
        // Liège landline: 8 digits starting with 4.
        assert_eq!(e164("+32 4 123 45 67"), Ok("+3241234567".into()));
    }

    #[test]
    fn refuses_wrong_general_length() {
        assert_eq!(e164("+49 301"), Err(PhoneError::Length));
        assert_eq!(e164("+49 3012 3456 7890 12"), Err(PhoneError::Length));
    }

    #[test]
    fn mobile_numbers() {
        let mobile = |s: &str| PhoneNumber::parse(s).unwrap().is_mobile();
        assert!(mobile("+31612345678"));
        assert!(!mobile("+31661234567")); // pager range
        assert!(!mobile("+31201234567"));
        assert!(!mobile("+31971234567")); // M2M
        assert!(mobile("+32470123456"));
        assert!(mobile("+32456123456"));
        assert!(!mobile("+32412345678"));
        assert!(!mobile("+3241234567"));
        assert!(!mobile("+447911123456"));
    }

    #[test]
    fn display_and_masking() {
        let p = PhoneNumber::parse("+31612345678").unwrap();
        assert_eq!(p.to_string(), "+31 6 12345678");
        assert_eq!(p.masked(), "+31 6 ••• ••• 78");
        assert_eq!(format!("{p:?}"), "PhoneNumber(\"+31 6 ••• ••• 78\")");
        assert_eq!(p.country(), Some(Country::Nl));
        assert_eq!(
            (p.country_calling_code(), p.national_number()),
            ("31", "612345678")
        );
        let be = PhoneNumber::parse("+3221234567").unwrap();
        assert_eq!(be.to_string(), "+32 2 123 45 67");
        assert_eq!(be.masked(), "+32 2 ••• •• 67");
        assert_eq!(
            PhoneNumber::parse("+3250123456").unwrap().to_string(),
            "+32 50 12 34 56"
        );
        let de = PhoneNumber::parse("+49301234567").unwrap();
        assert_eq!(
            (de.to_string(), de.country()),
            ("+49 301234567".into(), None)
        );
        assert_eq!(
            PhoneNumber::parse("+14155552671").unwrap().masked(),
            "+1 4 ••• ••• • 71"
        );
        assert_eq!(
            PhoneNumber::parse("+3531234567")
                .unwrap()
                .country_calling_code(),
            "353"
        );
    }

    #[test]
    fn serde_revalidates() {
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "+3161234567".into_deserializer();
        assert!(PhoneNumber::deserialize(bad).is_err());
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "+31 6 12345678".into_deserializer();
        assert_eq!(
            PhoneNumber::deserialize(ok).unwrap().as_str(),
            "+31612345678"
        );
    }

    proptest! {
        #[test]
        fn valid_round_trip(nl_n in 100_000_000u64..1_000_000_000, be_n in 10_000_000u64..100_000_000, m in 400_000_000u64..500_000_000) {
            for s in [format!("+31{nl_n}"), format!("+32{be_n}"), format!("+32{m}")] {
                let p = PhoneNumber::parse(&s).unwrap();
                prop_assert_eq!(p.as_str(), s.as_str());
                prop_assert_eq!(PhoneNumber::parse(&format!("{p}")), Ok(p.clone()));
                let prefix = format!("+{} ", p.country_calling_code());
                prop_assert!(p.masked().starts_with(&prefix));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = PhoneNumber::parse(&s);
            let _ = PhoneNumber::parse_with_default(&s, Country::Be);
        }

        #[test]
        fn parse_never_panics_on_number_like_input(s in "[+0-9 ()./-]{0,24}") {
            if let Ok(p) = PhoneNumber::parse_with_default(&s, Country::Nl) {
                prop_assert_eq!(PhoneNumber::parse(&format!("{p}")), Ok(p.clone()));
                let _ = p.masked();
                let _ = p.is_mobile();
            }
        }
    }
}
