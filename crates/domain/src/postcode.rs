//! Dutch and Belgian postcodes.

use crate::checks::{compact_upper, digits_value, matches_pattern};
use crate::Country;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Dutch postcode: four digits (the first not 0) and two letters, stored
/// `1234AB` and displayed `1234 AB`. The letter pairs `SA`, `SD` and `SS` are
/// not issued (PostNL) and are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NlPostcode {
    value: String,
}

/// A Belgian postcode: four digits from 1000 to 9999.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BePostcode {
    value: String,
}

/// Why a postcode was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    /// Nothing was entered.
    #[error("no postcode entered")]
    Empty,
    /// Not the country's shape (NL: `1234 AB`; BE: `1000`).
    #[error("not a postcode of this country")]
    Format,
    /// A Dutch postcode starting with 0.
    #[error("a Dutch postcode does not start with 0")]
    LeadingZero,
    /// A Dutch postcode with the letters `SA`, `SD` or `SS`.
    #[error("these postcode letters are not used")]
    ReservedLetters,
    /// A Belgian postcode below 1000.
    #[error("a Belgian postcode lies between 1000 and 9999")]
    OutOfRange,
}

error_codes!(PostcodeError {
    PostcodeError::Empty => "postcode.empty",
    PostcodeError::Format => "postcode.format",
    PostcodeError::LeadingZero => "postcode.leading_zero",
    PostcodeError::ReservedLetters => "postcode.reserved_letters",
    PostcodeError::OutOfRange => "postcode.out_of_range",
});

/// Letter pairs PostNL does not issue.
const RESERVED_NL_LETTERS: [&str; 3] = ["SA", "SD", "SS"];

impl NlPostcode {
    /// Parses `1234AB`, `1234 ab`, ` 1234  Ab ` (whitespace removed, letters
    /// uppercased).
    pub fn parse(input: &str) -> Result<NlPostcode, PostcodeError> {
        let value = compact_upper(input, &[' ', '\u{a0}']);
        if value.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if !matches_pattern(&value, "9999AA") {
            return Err(PostcodeError::Format);
        }
        if value.starts_with('0') {
            return Err(PostcodeError::LeadingZero);
        }
        if RESERVED_NL_LETTERS.contains(&&value[4..]) {
            return Err(PostcodeError::ReservedLetters);
        }
        Ok(NlPostcode { value })
    }

    /// The canonical form, `1234AB`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The four digits (the area), `1234`.
    pub fn digits(&self) -> &str {
        &self.value[..4]
    }

    /// The two letters, `AB`.
    pub fn letters(&self) -> &str {
        &self.value[4..]
    }
}

impl BePostcode {
    /// Parses four digits between 1000 and 9999 (whitespace trimmed).
    pub fn parse(input: &str) -> Result<BePostcode, PostcodeError> {
        let value = compact_upper(input, &[]);
        if value.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if !matches_pattern(&value, "9999") {
            return Err(PostcodeError::Format);
        }
        if digits_value(&value).is_none_or(|v| v < 1000) {
            return Err(PostcodeError::OutOfRange);
        }
        Ok(BePostcode { value })
    }

    /// The canonical form, `1000`.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

string_conversions!(NlPostcode, PostcodeError);
string_conversions!(BePostcode, PostcodeError);

impl fmt::Display for NlPostcode {
    /// `1234 AB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.digits(), self.letters())
    }
}

impl fmt::Display for BePostcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// A postcode of a country carfin serves. Serialized with its country:
/// `{"country": "NL", "code": "1234AB"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "country", content = "code")]
pub enum Postcode {
    /// A Dutch postcode.
    #[serde(rename = "NL")]
    Nl(NlPostcode),
    /// A Belgian postcode.
    #[serde(rename = "BE")]
    Be(BePostcode),
}

impl Postcode {
    /// Parses `input` by the rules of `country`.
    pub fn parse_for(country: Country, input: &str) -> Result<Postcode, PostcodeError> {
        match country {
            Country::Nl => NlPostcode::parse(input).map(Postcode::Nl),
            Country::Be => BePostcode::parse(input).map(Postcode::Be),
        }
    }

    /// The postcode's country.
    pub fn country(&self) -> Country {
        match self {
            Postcode::Nl(_) => Country::Nl,
            Postcode::Be(_) => Country::Be,
        }
    }

    /// The canonical form (`1234AB`, `1000`).
    pub fn as_str(&self) -> &str {
        match self {
            Postcode::Nl(p) => p.as_str(),
            Postcode::Be(p) => p.as_str(),
        }
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Postcode::Nl(p) => p.fmt(f),
            Postcode::Be(p) => p.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    #[test]
    fn parses_dutch_postcodes() {
        for s in ["1234AB", "1234ab", "1234 ab", " 1234  aB "] {
            let p = NlPostcode::parse(s).unwrap();
            assert_eq!(p.as_str(), "1234AB");
            assert_eq!(p.to_string(), "1234 AB");
        }
        assert_eq!(NlPostcode::parse("9999ZZ").unwrap().letters(), "ZZ");
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(NlPostcode::parse(""), Err(PostcodeError::Empty));
        assert_eq!(BePostcode::parse("  "), Err(PostcodeError::Empty));
    }

    #[test]
    fn refuses_wrong_shape() {
        for s in [
            "123AB",
            "12345AB",
            "1234A",
            "1234-AB",
            "ABCD12",
            "1234ÄB",
            "1234 A B1",
        ] {
            assert_eq!(NlPostcode::parse(s), Err(PostcodeError::Format), "{s}");
        }
        for s in ["100", "10000", "10a0", "B-1000"] {
            assert_eq!(BePostcode::parse(s), Err(PostcodeError::Format), "{s}");
        }
    }

    #[test]
    fn refuses_leading_zero() {
        assert_eq!(NlPostcode::parse("0123AB"), Err(PostcodeError::LeadingZero));
    }

    #[test]
    fn refuses_reserved_letters() {
        for s in ["1234SA", "1234 sd", "1234SS"] {
            assert_eq!(
                NlPostcode::parse(s),
                Err(PostcodeError::ReservedLetters),
                "{s}"
            );
        }
        assert!(NlPostcode::parse("1234SB").is_ok());
    }

    #[test]
    fn belgian_range() {
        assert_eq!(BePostcode::parse(" 1000 ").unwrap().as_str(), "1000");
        assert_eq!(BePostcode::parse("9999").unwrap().to_string(), "9999");
        assert_eq!(BePostcode::parse("0999"), Err(PostcodeError::OutOfRange));
    }

    #[test]
    fn parses_per_country() {
        let nl = Postcode::parse_for(Country::Nl, "1012 ab").unwrap();
        assert_eq!(
            (nl.country(), nl.as_str(), nl.to_string()),
            (Country::Nl, "1012AB", "1012 AB".into())
        );
        let be = Postcode::parse_for(Country::Be, "1000").unwrap();
        assert_eq!((be.country(), be.as_str()), (Country::Be, "1000"));
        assert_eq!(
            Postcode::parse_for(Country::Be, "1012AB"),
            Err(PostcodeError::Format)
        );
    }

    #[test]
    fn serde_revalidates() {
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "0123AB".into_deserializer();
        assert!(NlPostcode::deserialize(bad).is_err());
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "1234 ab".into_deserializer();
        assert_eq!(NlPostcode::deserialize(ok).unwrap().as_str(), "1234AB");
    }

    proptest! {
        #[test]
        fn valid_round_trip(digits in 1000u32..10_000, letters in "[A-Z]{2}") {
            prop_assume!(!RESERVED_NL_LETTERS.contains(&letters.as_str()));
            let p = NlPostcode::parse(&format!("{digits}{}", letters.to_lowercase())).unwrap();
            prop_assert_eq!(NlPostcode::parse(&format!("{p}")), Ok(p.clone()));
            let b = BePostcode::parse(&format!("{digits}")).unwrap();
            prop_assert_eq!(b.to_string().parse::<BePostcode>(), Ok(b));
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = NlPostcode::parse(&s);
            let _ = BePostcode::parse(&s);
        }
    }
}
