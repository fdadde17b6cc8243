//! Licence plates (CON-02): Dutch plates by side code, Belgian plates.
//!
//! Sources for the Dutch rules (RDW, as reported by nummerborden.info
//! "Uitgesloten lettercombinaties", kentekenkennis.nl/sidecode, RTL Nieuws
//! 2019-08 and NRC 2018-05-23):
//!
//! * every plate since 1951 is six characters whose letter/digit pattern
//!   is one of the side codes 1–14 (see [`NlPlate::side_code`]);
//! * side codes 1–3 (1951–1978) used almost all letters; we accept A–Z;
//! * from side code 4 (1978) on the RDW uses no vowels and no C, Q or Y:
//!   letters come from `B D F G H J K L N P R S T V X Z`; as the *first*
//!   letter of a plate, `M` (motorcycles), `W` (trailers) and `O`
//!   (semi-trailers) also occur and are accepted;
//! * the combinations `GVD KKK KVT LPF NSB PKK PSV PVV SGP TBS VVD FPK` and
//!   the pairs `SA SD SS` are not issued; we refuse them anywhere inside a
//!   letter group (a dash-separated group of the side code) of any side code.
//!
//! Not covered: special series outside the side-code system (royal `AA`
//! plates, diplomatic `CD` plates, defence plates, personalised plates).

use crate::checks::{compact_upper, matches_pattern};
use crate::Country;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Side codes 1–14 in `A` = letter, `9` = digit notation, with their dashes.
const SIDE_CODES: [&str; 14] = [
    "AA-99-99", "99-99-AA", "99-AA-99", "AA-99-AA", "AA-AA-99", "99-AA-AA", "99-AAA-9", "9-AAA-99",
    "AA-999-A", "A-999-AA", "AAA-99-A", "A-99-AAA", "9-AA-999", "999-AA-9",
];

/// Letters the RDW uses from side code 4 on.
const MODERN_LETTERS: &str = "BDFGHJKLNPRSTVXZ";
/// Extra letters allowed as the first letter of a plate from side code 4 on:
/// motorcycles (M), trailers (W), semi-trailers (O).
const MODERN_FIRST_LETTERS: &str = "MWO";
/// Letter combinations the RDW does not issue.
const FORBIDDEN_COMBINATIONS: [&str; 15] = [
    "GVD", "KKK", "KVT", "LPF", "NSB", "PKK", "PSV", "PVV", "SGP", "TBS", "VVD", "FPK", "SA", "SD",
    "SS",
];
/// Letters used by [`NlPlate::generate`]: modern letters without S, V, K and
/// F, so no forbidden combination can arise.
const GENERATOR_LETTERS: &[u8] = b"BDGHJLNPRTXZ";

/// A Dutch licence plate (kenteken), stored as six uppercase characters
/// without dashes (`GBN12X`) and displayed with its side code's dashes
/// (`GBN-12-X`). See the module documentation for the rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NlPlate {
    value: String,
    side_code: u8,
}

/// A Belgian licence plate: the current `1-ABC-123` format (stored
/// `1ABC123`), or the older `ABC-123` and `123-ABC`.
///
/// A Belgian plate follows its holder, not the car (SECURITY 14): it moves
/// to the holder's next car, so it identifies a registration, never a
/// vehicle; key vehicles on their [`crate::Vin`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BePlate {
    value: String,
}

/// Why a licence plate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    /// Nothing was entered.
    #[error("no licence plate entered")]
    Empty,
    /// A character other than letters, digits, spaces and dashes.
    #[error("a licence plate holds only letters and digits")]
    InvalidCharacter,
    /// No side code (NL) or format (BE) has this letter/digit pattern.
    #[error("not a licence plate of this country")]
    Format,
    /// A letter that is not used in this series (e.g. a vowel after 1978).
    #[error("this letter is not used on licence plates of this series")]
    Letter,
    /// A letter combination that is not issued (e.g. `NSB`, `SS`).
    #[error("this letter combination is not issued")]
    ForbiddenCombination,
}

error_codes!(PlateError {
    PlateError::Empty => "plate.empty",
    PlateError::InvalidCharacter => "plate.invalid_character",
    PlateError::Format => "plate.format",
    PlateError::Letter => "plate.letter",
    PlateError::ForbiddenCombination => "plate.forbidden_combination",
});

/// Trims, uppercases and removes spaces and dashes; refuses empty input and
/// characters other than ASCII letters and digits.
fn normalise(input: &str) -> Result<String, PlateError> {
    let value = compact_upper(input, &[' ', '-', '\u{a0}']);
    if value.is_empty() {
        return Err(PlateError::Empty);
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(PlateError::InvalidCharacter);
    }
    Ok(value)
}

/// Inserts the dashes of `pattern` into the dash-free `value`.
fn with_dashes(value: &str, pattern: &str) -> String {
    let mut chars = value.chars();
    pattern
        .chars()
        .filter_map(|p| if p == '-' { Some('-') } else { chars.next() })
        .collect()
}

impl NlPlate {
    /// Parses a Dutch plate with or without dashes or spaces, in any case.
    pub fn parse(input: &str) -> Result<NlPlate, PlateError> {
        let value = normalise(input)?;
        let index = SIDE_CODES
            .iter()
            .position(|p| matches_pattern(&value, &p.replace('-', "")))
            .ok_or(PlateError::Format)?;
        let side_code = u8::try_from(index + 1).map_err(|_| PlateError::Format)?;
        let letters_ok = value
            .chars()
            .filter(char::is_ascii_alphabetic)
            .enumerate()
            .all(|(i, c)| {
                side_code <= 3
                    || MODERN_LETTERS.contains(c)
                    || (i == 0 && MODERN_FIRST_LETTERS.contains(c))
            });
        if !letters_ok {
            return Err(PlateError::Letter);
        }
        let plate = NlPlate { value, side_code };
        let displayed = plate.to_string();
        if displayed
            .split('-')
            .any(|group| FORBIDDEN_COMBINATIONS.iter().any(|f| group.contains(f)))
        {
            return Err(PlateError::ForbiddenCombination);
        }
        Ok(plate)
    }

    /// The canonical form: six characters, no dashes (`GBN12X`).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The side code (1–14): which letter/digit pattern the plate has.
    pub fn side_code(&self) -> u8 {
        self.side_code
    }

    /// How many distinct plates [`NlPlate::generate`] produces for
    /// `side_code`; `None` for a side code outside 1–14.
    pub fn generated_capacity(side_code: u8) -> Option<u64> {
        let pattern = SIDE_CODES.get(usize::from(side_code).checked_sub(1)?)?;
        pattern.chars().try_fold(1u64, |acc, p| match p {
            'A' => acc.checked_mul(GENERATOR_LETTERS.len() as u64),
            '9' => acc.checked_mul(10),
            _ => Some(acc),
        })
    }

    /// A valid plate of `side_code` built deterministically from `n`, for
    /// test data: distinct `n` give distinct plates (1.4 to 2.1 million per
    /// side code). `None` for a side code outside 1–14 or `n` at or beyond
    /// [`NlPlate::generated_capacity`]. Letters come from a subset that
    /// cannot form a forbidden combination.
    pub fn generate(side_code: u8, n: u64) -> Option<NlPlate> {
        if n >= NlPlate::generated_capacity(side_code)? {
            return None;
        }
        let pattern = SIDE_CODES.get(usize::from(side_code).checked_sub(1)?)?;
        let mut rest = n;
        let mut chars: Vec<char> = Vec::with_capacity(6);
        for p in pattern.chars().rev().filter(|&p| p != '-') {
            let radix = if p == 'A' {
                GENERATOR_LETTERS.len() as u64
            } else {
                10
            };
            let digit = usize::try_from(rest % radix).ok()?;
            rest /= radix;
            chars.push(if p == 'A' {
                char::from(*GENERATOR_LETTERS.get(digit)?)
            } else {
                char::from_digit(u32::try_from(digit).ok()?, 10)?
            });
        }
        let value: String = chars.into_iter().rev().collect();
        NlPlate::parse(&value).ok()
    }
}

impl fmt::Display for NlPlate {
    /// With the side code's dashes: `GBN-12-X`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern = SIDE_CODES
            .get(usize::from(self.side_code).saturating_sub(1))
            .copied()
            .unwrap_or("");
        f.write_str(&with_dashes(&self.value, pattern))
    }
}

/// Belgian formats, current first.
const BE_FORMATS: [&str; 3] = ["9-AAA-999", "AAA-999", "999-AAA"];

impl BePlate {
    /// Parses `1-ABC-123` (first digit 1–9), `ABC-123` or `123-ABC`, with or
    /// without dashes or spaces, in any case.
    pub fn parse(input: &str) -> Result<BePlate, PlateError> {
        let value = normalise(input)?;
        if value.starts_with('0') && value.len() == 7 {
            return Err(PlateError::Format);
        }
        if BE_FORMATS
            .iter()
            .any(|p| matches_pattern(&value, &p.replace('-', "")))
        {
            Ok(BePlate { value })
        } else {
            Err(PlateError::Format)
        }
    }

    /// The canonical form without dashes (`1ABC123`).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether the plate has the current (since 2010) `1-ABC-123` format.
    pub fn is_current_format(&self) -> bool {
        self.value.len() == 7
    }

    /// How many distinct plates [`BePlate::generate`] produces.
    pub const GENERATED_CAPACITY: u64 = 9 * 26 * 26 * 26 * 1000;

    /// A valid plate of the current format built deterministically from `n`,
    /// for test data: distinct `n` give distinct plates. `None` when `n` is
    /// at or beyond [`BePlate::GENERATED_CAPACITY`].
    pub fn generate(n: u64) -> Option<BePlate> {
        if n >= BePlate::GENERATED_CAPACITY {
            return None;
        }
        let digits = n % 1000;
        let mut rest = n / 1000;
        let mut letters = [b'A'; 3];
        for letter in letters.iter_mut().rev() {
            *letter = b'A' + u8::try_from(rest % 26).ok()?;
            rest /= 26;
        }
        let letters = std::str::from_utf8(&letters).ok()?;
        BePlate::parse(&format!("{}{letters}{digits:03}", rest + 1)).ok()
    }
}

impl fmt::Display for BePlate {
    /// With dashes: `1-ABC-123`, `ABC-123`, `123-ABC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern = BE_FORMATS
            .iter()
            .find(|p| matches_pattern(&self.value, &p.replace('-', "")))
            .copied()
            .unwrap_or("");
        f.write_str(&with_dashes(&self.value, pattern))
    }
}

string_conversions!(NlPlate, PlateError);
string_conversions!(BePlate, PlateError);

/// A licence plate of a country carfin serves (CON-02: validated per
/// country). Serialized with its country:
/// `{"country": "NL", "plate": "GBN12X"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "country", content = "plate")]
pub enum LicencePlate {
    /// A Dutch plate.
    #[serde(rename = "NL")]
    Nl(NlPlate),
    /// A Belgian plate.
    #[serde(rename = "BE")]
    Be(BePlate),
}

impl LicencePlate {
    /// Parses `input` by the rules of `country`.
    pub fn parse_for(country: Country, input: &str) -> Result<LicencePlate, PlateError> {
        match country {
            Country::Nl => NlPlate::parse(input).map(LicencePlate::Nl),
            Country::Be => BePlate::parse(input).map(LicencePlate::Be),
        }
    }

    /// The plate's country.
    pub fn country(&self) -> Country {
        match self {
            LicencePlate::Nl(_) => Country::Nl,
            LicencePlate::Be(_) => Country::Be,
        }
    }

    /// The canonical form without dashes.
    pub fn as_str(&self) -> &str {
        match self {
            LicencePlate::Nl(p) => p.as_str(),
            LicencePlate::Be(p) => p.as_str(),
        }
    }
}

impl fmt::Display for LicencePlate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LicencePlate::Nl(p) => p.fmt(f),
            LicencePlate::Be(p) => p.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    // CON-02: one example per Dutch side code.
    #[test]
    fn recognises_all_side_codes() {
        let examples = [
            "AB-12-34", "12-34-AB", "12-AB-34", "GB-12-NX", "GB-NX-12", "12-GB-NX", "12-GBN-3",
            "1-GBN-23", "GB-123-N", "N-001-SB", "GBN-12-X", "G-12-BNX", "1-GB-234", "123-GB-4",
        ];
        for (i, example) in examples.iter().enumerate() {
            let plate = NlPlate::parse(example).unwrap();
            assert_eq!(usize::from(plate.side_code()), i + 1, "{example}");
            assert_eq!(plate.to_string(), *example);
            assert_eq!(plate.as_str(), example.replace('-', ""));
        }
    }

    // CON-02
    #[test]
    fn normalises_input() {
        let plate = NlPlate::parse(" gbn 12x ").unwrap();
        assert_eq!(
            (plate.as_str(), plate.to_string()),
            ("GBN12X", "GBN-12-X".to_owned())
        );
    }

    // CON-02
    #[test]
    fn refuses_empty() {
        assert_eq!(NlPlate::parse(" - "), Err(PlateError::Empty));
        assert_eq!(BePlate::parse(""), Err(PlateError::Empty));
    }

    // CON-02
    #[test]
    fn refuses_invalid_characters() {
        assert_eq!(
            NlPlate::parse("GB.12.NX"),
            Err(PlateError::InvalidCharacter)
        );
        assert_eq!(
            NlPlate::parse("GB-12-ÑX"),
            Err(PlateError::InvalidCharacter)
        );
    }

    // CON-02: no side code matches.
    #[test]
    fn refuses_unknown_patterns() {
        for s in [
            "A1B2C3",
            "GB-12-N",
            "GB-12-NXX",
            "123456",
            "ABCDEF",
            "1-2-3",
        ] {
            assert_eq!(NlPlate::parse(s), Err(PlateError::Format), "{s}");
        }
    }

    // CON-02: vowels, C, Q and Y are not used from side code 4 on.
    #[test]
    fn refuses_unused_letters_in_modern_series() {
        for s in [
            "12-AB-BB", "12-BE-BB", "12-CB-BB", "12-QB-BB", "12-YB-BB", "BO-12-BB", "G-123-BU",
        ] {
            assert_eq!(NlPlate::parse(s), Err(PlateError::Letter), "{s}");
        }
        // Old series used vowels.
        assert_eq!(NlPlate::parse("AE-12-34").map(|p| p.side_code()), Ok(1));
        // M, W and O as the first letter (motorcycles, trailers, semi-trailers).
        for s in ["MB-12-BB", "W-123-BB", "OB-12-BB"] {
            assert!(NlPlate::parse(s).is_ok(), "{s}");
        }
    }

    // CON-02: combinations the RDW does not issue.
    #[test]
    fn refuses_forbidden_combinations() {
        for s in [
            "12-GVD-3", "12-KKK-3", "12-KVT-3", "12-LPF-3", "NSB-12-B", "1-PKK-23", "1-PSV-23",
            "12-PVV-3", "12-SGP-3", "12-TBS-3", "12-VVD-3", "12-FPK-3", "12-SS-BB", "1-SD-234",
            "SA-12-34", "12-BSS-3", "G-12-NSB",
        ] {
            assert_eq!(
                NlPlate::parse(s),
                Err(PlateError::ForbiddenCombination),
                "{s}"
            );
        }
        // Letters in different groups do not combine.
        assert!(NlPlate::parse("GS-SB-12").is_ok());
    }

    // CON-02: Belgian formats.
    #[test]
    fn parses_belgian_plates() {
        for (input, stored, shown) in [
            ("1-abc-123", "1ABC123", "1-ABC-123"),
            ("2ABC123", "2ABC123", "2-ABC-123"),
            ("ABC-123", "ABC123", "ABC-123"),
            ("123 abc", "123ABC", "123-ABC"),
        ] {
            let plate = BePlate::parse(input).unwrap();
            assert_eq!(
                (plate.as_str(), plate.to_string()),
                (stored, shown.to_owned())
            );
        }
        assert!(BePlate::parse("1-ABC-123").unwrap().is_current_format());
        assert!(!BePlate::parse("ABC-123").unwrap().is_current_format());
        for s in ["0-ABC-123", "1-AB-123", "AB-1234", "1ABC12", "12-ABC-123"] {
            assert_eq!(BePlate::parse(s), Err(PlateError::Format), "{s}");
        }
    }

    #[test]
    fn parses_per_country() {
        let be = LicencePlate::parse_for(Country::Be, "1-ABC-123").unwrap();
        assert_eq!(
            (be.country(), be.as_str(), be.to_string()),
            (Country::Be, "1ABC123", "1-ABC-123".into())
        );
        assert_eq!(
            LicencePlate::parse_for(Country::Nl, "1-ABC-123"),
            Err(PlateError::Format)
        );
        let nl = LicencePlate::parse_for(Country::Nl, "n001sb").unwrap();
        assert_eq!(
            (nl.country(), nl.to_string()),
            (Country::Nl, "N-001-SB".into())
        );
    }

    #[test]
    fn serde_revalidates() {
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "N-001-SB".into_deserializer();
        assert_eq!(NlPlate::deserialize(ok).unwrap().as_str(), "N001SB");
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "NSB-12-B".into_deserializer();
        assert!(NlPlate::deserialize(bad).is_err());
    }

    #[test]
    fn generator_limits() {
        assert_eq!(NlPlate::generate(0, 0), None);
        assert_eq!(NlPlate::generate(15, 0), None);
        assert_eq!(NlPlate::generated_capacity(5), Some(12u64.pow(4) * 100));
        let cap = NlPlate::generated_capacity(10).unwrap();
        assert!(NlPlate::generate(10, cap - 1).is_some());
        assert_eq!(NlPlate::generate(10, cap), None);
        assert_eq!(BePlate::generate(0).unwrap().to_string(), "1-AAA-000");
        assert!(BePlate::generate(BePlate::GENERATED_CAPACITY - 1)
            .unwrap()
            .as_str()
            .starts_with('9'));
        assert_eq!(BePlate::generate(BePlate::GENERATED_CAPACITY), None);
    }

    proptest! {
        // CON-02: generated plates are valid, round-trip and are distinct.
        #[test]
        fn generated_nl_plates_round_trip(side_code in 1u8..=14, a in any::<u64>(), b in any::<u64>()) {
            let cap = NlPlate::generated_capacity(side_code).unwrap();
            let (a, b) = (a % cap, b % cap);
            let plate = NlPlate::generate(side_code, a).unwrap();
            prop_assert_eq!(plate.side_code(), side_code);
            prop_assert_eq!(NlPlate::parse(&format!("{plate}")), Ok(plate.clone()));
            prop_assert_eq!(plate.as_str().parse::<NlPlate>(), Ok(plate.clone()));
            if a != b {
                prop_assert_ne!(NlPlate::generate(side_code, b), Some(plate));
            }
        }

        #[test]
        fn generated_be_plates_round_trip(a in 0..BePlate::GENERATED_CAPACITY, b in 0..BePlate::GENERATED_CAPACITY) {
            let plate = BePlate::generate(a).unwrap();
            prop_assert_eq!(BePlate::parse(&format!("{plate}")), Ok(plate.clone()));
            if a != b {
                prop_assert_ne!(BePlate::generate(b), Some(plate));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = NlPlate::parse(&s);
            let _ = BePlate::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_plate_like_input(s in "[A-Z0-9-]{0,9}") {
            if let Ok(p) = NlPlate::parse(&s) {
                prop_assert_eq!(NlPlate::parse(&format!("{p}")), Ok(p));
            }
            let _ = BePlate::parse(&s);
        }
    }
}
