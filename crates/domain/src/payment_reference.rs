//! Payment references in the customer's country's format (CON-03): the
//! Belgian structured communication and the Dutch betalingskenmerk.

use crate::checks::{compact_upper, digits_value, group, is_digits, mod97_or_97};
use crate::Country;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Belgian structured communication (OGM/VCS, gestructureerde mededeling /
/// communication structurée): twelve digits, the last two being the first
/// ten mod 97 (97 when that is 0). Stored `123456789002`, displayed
/// `+++123/4567/89002+++`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BeStructuredReference {
    value: String,
}

/// A Dutch payment reference (betalingskenmerk, Betaalvereniging Nederland
/// specification): 7, 9–14 or 16 digits.
///
/// * 16 digits: a check digit followed by 15 digits;
/// * 9–14 digits: a check digit, a length code (the number of digits that
///   follow, mod 10) and 7–12 digits;
/// * 7 digits: no check digit at all.
///
/// The check digit is `11 − (Σ digit × weight mod 11)` over everything after
/// it, with weights 2, 4, 8, 5, 10, 9, 7, 3, 6, 1 repeating from the right;
/// 10 is written 1 and 11 is written 0. Displayed in groups of four from the
/// right (`5000 0567 8901 2345`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NlPaymentReference {
    value: String,
}

/// Why a payment reference was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaymentReferenceError {
    /// Nothing was entered.
    #[error("no payment reference entered")]
    Empty,
    /// Characters other than digits and the allowed separators.
    #[error("a payment reference holds only digits")]
    Format,
    /// Not a length the format allows (BE: 12; NL: 7, 9–14 or 16).
    #[error("the payment reference has the wrong number of digits")]
    Length,
    /// A Dutch reference of 9–14 digits whose length code does not match.
    #[error("the payment reference's length code does not match")]
    LengthCode,
    /// The check digits do not match.
    #[error("the payment reference's check digits do not match")]
    Checksum,
}

error_codes!(PaymentReferenceError {
    PaymentReferenceError::Empty => "payment_reference.empty",
    PaymentReferenceError::Format => "payment_reference.format",
    PaymentReferenceError::Length => "payment_reference.length",
    PaymentReferenceError::LengthCode => "payment_reference.length_code",
    PaymentReferenceError::Checksum => "payment_reference.checksum",
});

/// Removes whitespace, and the given separators, refusing what is left if it
/// is empty or holds anything but digits.
fn digits_only(input: &str, separators: &[char]) -> Result<String, PaymentReferenceError> {
    let value = compact_upper(input, separators);
    if value.is_empty() {
        return Err(PaymentReferenceError::Empty);
    }
    if !is_digits(&value) {
        return Err(PaymentReferenceError::Format);
    }
    Ok(value)
}

impl BeStructuredReference {
    /// Parses `+++123/4567/89002+++`, `***123/4567/89002***`,
    /// `123/4567/89002` or `123456789002` (spaces ignored).
    pub fn parse(input: &str) -> Result<BeStructuredReference, PaymentReferenceError> {
        let trimmed = input.trim();
        let inner = ["+++", "***"]
            .iter()
            .find_map(|m| trimmed.strip_prefix(m).and_then(|r| r.strip_suffix(m)))
            .unwrap_or(trimmed);
        let value = digits_only(inner, &[' ', '/', '\u{a0}'])?;
        if value.len() != 12 {
            return Err(PaymentReferenceError::Length);
        }
        match (digits_value(&value[..10]), digits_value(&value[10..])) {
            (Some(base), Some(check)) if mod97_or_97(base) == check => {
                Ok(BeStructuredReference { value })
            }
            _ => Err(PaymentReferenceError::Checksum),
        }
    }

    /// The reference for the ten-digit number `base` (an invoice number, for
    /// instance); `None` when `base` ≥ 10¹⁰.
    pub fn from_base(base: u64) -> Option<BeStructuredReference> {
        (base < 10_000_000_000).then(|| BeStructuredReference {
            value: format!("{base:010}{:02}", mod97_or_97(base)),
        })
    }

    /// The canonical form, twelve digits.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for BeStructuredReference {
    /// `+++123/4567/89002+++`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.value;
        write!(f, "+++{}/{}/{}+++", &v[..3], &v[3..7], &v[7..])
    }
}

/// Weighted mod-11 check digit of the Dutch betalingskenmerk over `digits`.
fn nl_check_digit(digits: &str) -> u8 {
    const WEIGHTS: [u32; 10] = [2, 4, 8, 5, 10, 9, 7, 3, 6, 1];
    let sum: u32 = digits
        .bytes()
        .rev()
        .zip(WEIGHTS.iter().cycle())
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    match 11 - sum % 11 {
        10 => 1,
        11 => 0,
        c => u8::try_from(c).unwrap_or(0),
    }
}

impl NlPaymentReference {
    /// Parses a betalingskenmerk; spaces, dots and dashes are ignored.
    pub fn parse(input: &str) -> Result<NlPaymentReference, PaymentReferenceError> {
        let value = digits_only(input, &[' ', '.', '-', '\u{a0}'])?;
        let len = value.len();
        let checked = match len {
            7 => None,
            16 => Some(&value[1..]),
            9..=14 => {
                if usize::from(value.as_bytes()[1] - b'0') != (len - 2) % 10 {
                    return Err(PaymentReferenceError::LengthCode);
                }
                Some(&value[1..])
            }
            _ => return Err(PaymentReferenceError::Length),
        };
        if let Some(rest) = checked {
            if value.as_bytes()[0] - b'0' != nl_check_digit(rest) {
                return Err(PaymentReferenceError::Checksum);
            }
        }
        Ok(NlPaymentReference { value })
    }

    /// The 16-digit reference for the 15-digit number `base`; `None` when
    /// `base` ≥ 10¹⁵.
    pub fn from_base(base: u64) -> Option<NlPaymentReference> {
        (base < 1_000_000_000_000_000).then(|| {
            let digits = format!("{base:015}");
            NlPaymentReference {
                value: format!("{}{digits}", nl_check_digit(&digits)),
            }
        })
    }

    /// The canonical form: the digits without separators.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for NlPaymentReference {
    /// Groups of four from the right: `5000 0567 8901 2345`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&group(&self.value, 4, " ", true))
    }
}

string_conversions!(BeStructuredReference, PaymentReferenceError);
string_conversions!(NlPaymentReference, PaymentReferenceError);

/// A payment reference in the format of the customer's country (CON-03).
/// Serialized with its country: `{"country": "BE", "reference": "123456789002"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "country", content = "reference")]
pub enum PaymentReference {
    /// A Belgian structured communication.
    #[serde(rename = "BE")]
    Be(BeStructuredReference),
    /// A Dutch betalingskenmerk.
    #[serde(rename = "NL")]
    Nl(NlPaymentReference),
}

impl PaymentReference {
    /// The reference for `base` in `country`'s format: a Belgian structured
    /// communication (`base` < 10¹⁰) or a 16-digit Dutch betalingskenmerk
    /// (`base` < 10¹⁵); `None` when `base` is too large.
    pub fn for_country(country: Country, base: u64) -> Option<PaymentReference> {
        match country {
            Country::Be => BeStructuredReference::from_base(base).map(PaymentReference::Be),
            Country::Nl => NlPaymentReference::from_base(base).map(PaymentReference::Nl),
        }
    }

    /// Parses `input` in `country`'s format.
    pub fn parse_for(
        country: Country,
        input: &str,
    ) -> Result<PaymentReference, PaymentReferenceError> {
        match country {
            Country::Be => BeStructuredReference::parse(input).map(PaymentReference::Be),
            Country::Nl => NlPaymentReference::parse(input).map(PaymentReference::Nl),
        }
    }

    /// The reference's country.
    pub fn country(&self) -> Country {
        match self {
            PaymentReference::Be(_) => Country::Be,
            PaymentReference::Nl(_) => Country::Nl,
        }
    }

    /// The canonical digits.
    pub fn as_str(&self) -> &str {
        match self {
            PaymentReference::Be(r) => r.as_str(),
            PaymentReference::Nl(r) => r.as_str(),
        }
    }
}

impl fmt::Display for PaymentReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentReference::Be(r) => r.fmt(f),
            PaymentReference::Nl(r) => r.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    type E = PaymentReferenceError;

    // CON-03: the example of the requirements.
    #[test]
    fn parses_belgian_notations() {
        for s in [
            "+++123/4567/89002+++",
            "***123/4567/89002***",
            "123/4567/89002",
            " 123456789002 ",
            "+++ 123 / 4567 / 89002 +++",
        ] {
            let r = BeStructuredReference::parse(s).unwrap();
            assert_eq!(r.as_str(), "123456789002", "{s}");
            assert_eq!(r.to_string(), "+++123/4567/89002+++");
        }
        assert_eq!(
            BeStructuredReference::from_base(1_234_567_890)
                .unwrap()
                .as_str(),
            "123456789002"
        );
        // Remainder 0 is written 97.
        assert_eq!(
            BeStructuredReference::from_base(97).unwrap().to_string(),
            "+++000/0000/09797+++"
        );
        assert_eq!(BeStructuredReference::from_base(10_000_000_000), None);
    }

    // CON-03
    #[test]
    fn refuses_empty() {
        assert_eq!(BeStructuredReference::parse("+++ +++"), Err(E::Empty));
        assert_eq!(NlPaymentReference::parse(""), Err(E::Empty));
    }

    // CON-03
    #[test]
    fn refuses_non_digits() {
        assert_eq!(
            BeStructuredReference::parse("+++123/4567/8900a+++"),
            Err(E::Format)
        );
        assert_eq!(
            BeStructuredReference::parse("+++123/4567/89002"),
            Err(E::Format)
        );
        assert_eq!(
            NlPaymentReference::parse("5000 0567 8901 234x"),
            Err(E::Format)
        );
    }

    // CON-03
    #[test]
    fn refuses_wrong_length() {
        assert_eq!(BeStructuredReference::parse("12345678900"), Err(E::Length));
        for s in ["123456", "12345678", "123456789012345", "12345678901234567"] {
            assert_eq!(NlPaymentReference::parse(s), Err(E::Length), "{s}");
        }
    }

    // CON-03
    #[test]
    fn refuses_wrong_checksum() {
        assert_eq!(
            BeStructuredReference::parse("+++123/4567/89003+++"),
            Err(E::Checksum)
        );
        assert_eq!(
            NlPaymentReference::parse("4000 0567 8901 2345"),
            Err(E::Checksum)
        );
        assert_eq!(
            NlPaymentReference::parse("02 2345 3462 2567"),
            Err(E::Checksum)
        );
    }

    // CON-03: Betaalvereniging examples: (5)000 0567 8901 2345 (16 digits)
    // and 12 2345 3462 2567 (check 1, length code 2, twelve digits).
    #[test]
    fn dutch_references_per_specification() {
        let r = NlPaymentReference::parse("5000 0567 8901 2345").unwrap();
        assert_eq!(
            (r.as_str(), r.to_string()),
            ("5000056789012345", "5000 0567 8901 2345".into())
        );
        assert_eq!(NlPaymentReference::from_base(56_789_012_345).unwrap(), r);
        let short = NlPaymentReference::parse("12 2345 3462 2567").unwrap();
        assert_eq!(short.to_string(), "12 2345 3462 2567");
        // Seven digits carry no check digit.
        assert!(NlPaymentReference::parse("1234567").is_ok());
        assert_eq!(NlPaymentReference::from_base(1_000_000_000_000_000), None);
    }

    // CON-03
    #[test]
    fn refuses_wrong_length_code() {
        assert_eq!(
            NlPaymentReference::parse("13 2345 3462 2567"),
            Err(E::LengthCode)
        );
    }

    #[test]
    fn per_country() {
        let be = PaymentReference::for_country(Country::Be, 1_234_567_890).unwrap();
        assert_eq!(
            (be.country(), be.to_string()),
            (Country::Be, "+++123/4567/89002+++".into())
        );
        let nl = PaymentReference::for_country(Country::Nl, 56_789_012_345).unwrap();
        assert_eq!(
            (nl.country(), nl.as_str()),
            (Country::Nl, "5000056789012345")
        );
        assert_eq!(
            PaymentReference::parse_for(Country::Nl, "5000056789012345"),
            Ok(nl)
        );
        assert!(PaymentReference::for_country(Country::Be, 10_000_000_000).is_none());
    }

    #[test]
    fn serde_revalidates() {
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "123456789003".into_deserializer();
        assert!(BeStructuredReference::deserialize(bad).is_err());
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "5000056789012345".into_deserializer();
        assert!(NlPaymentReference::deserialize(ok).is_ok());
    }

    proptest! {
        // CON-03
        #[test]
        fn generated_round_trip(be in 0u64..10_000_000_000, nl in 0u64..1_000_000_000_000_000) {
            let b = BeStructuredReference::from_base(be).unwrap();
            prop_assert_eq!(BeStructuredReference::parse(&format!("{b}")), Ok(b.clone()));
            let n = NlPaymentReference::from_base(nl).unwrap();
            prop_assert_eq!(NlPaymentReference::parse(&format!("{n}")), Ok(n.clone()));
        }

        // CON-03: a single changed digit is caught (for the Dutch check digit
        // except where 10 and 1 share the written digit 1).
        #[test]
        fn single_digit_change_is_caught(be in 0u64..10_000_000_000, nl in 0u64..1_000_000_000_000_000, pos in 0usize..16, delta in 1u8..10) {
            let b = BeStructuredReference::from_base(be).unwrap();
            let mut bytes = b.as_str().as_bytes().to_vec();
            let i = pos % 12;
            bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
            prop_assert!(BeStructuredReference::parse(std::str::from_utf8(&bytes).unwrap()).is_err());

            let n = NlPaymentReference::from_base(nl).unwrap();
            let mut bytes = n.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            let raw = |s: &str| 11 - s[1..].bytes().rev().zip([2u32, 4, 8, 5, 10, 9, 7, 3, 6, 1].iter().cycle()).map(|(b, w)| u32::from(b - b'0') * w).sum::<u32>() % 11;
            let collision = pos > 0 && [raw(n.as_str()), raw(&changed)].iter().all(|c| *c == 1 || *c == 10);
            prop_assert!(collision || NlPaymentReference::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = BeStructuredReference::parse(&s);
            let _ = NlPaymentReference::parse(&s);
        }
    }
}
