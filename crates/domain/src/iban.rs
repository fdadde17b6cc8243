//! International Bank Account Numbers (ISO 13616) for the SEPA area, with the
//! Belgian national check that generic IBAN validators skip (SECURITY 14).

use crate::checks::{compact_upper, digits_value, group, matches_pattern, mod97, mod97_or_97};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A validated IBAN of a SEPA country, stored compact and uppercase
/// (`NL91ABNA0417164300`) and displayed in groups of four
/// (`NL91 ABNA 0417 1643 00`).
///
/// `Debug` shows the [masked](Iban::masked) form so that a full IBAN never
/// ends up in a log line by accident (SECURITY 11).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban {
    value: String,
}

/// Why an IBAN was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    /// Nothing was entered.
    #[error("no IBAN entered")]
    Empty,
    /// A character other than letters, digits, spaces and dashes.
    #[error("an IBAN holds only letters and digits")]
    InvalidCharacter,
    /// The first two characters are not the code of a SEPA country.
    #[error("unsupported country")]
    UnsupportedCountry,
    /// Not the length the country prescribes.
    #[error("wrong length for this country")]
    Length,
    /// The check digits (positions 3–4) are not digits, or the account part
    /// does not have the country's structure (e.g. NL: 4 letters and 10
    /// digits).
    #[error("not the format of this country's account numbers")]
    Format,
    /// The ISO 7064 mod-97 check fails: most likely a typo.
    #[error("the IBAN check digits do not match")]
    Checksum,
    /// The national check digits inside the account number do not match
    /// (Belgium: the last two digits are the first ten mod 97).
    #[error("the account number's check digits do not match")]
    NationalChecksum,
}

error_codes!(IbanError {
    IbanError::Empty => "iban.empty",
    IbanError::InvalidCharacter => "iban.invalid_character",
    IbanError::UnsupportedCountry => "iban.unsupported_country",
    IbanError::Length => "iban.length",
    IbanError::Format => "iban.format",
    IbanError::Checksum => "iban.checksum",
    IbanError::NationalChecksum => "iban.national_checksum",
});

/// A SEPA country's IBAN length and, where known here, the shape of its
/// BBAN (`A` letter, `9` digit, `X` either; see
/// [`crate::checks::matches_pattern`]).
struct CountryFormat {
    code: &'static str,
    length: usize,
    bban: Option<&'static str>,
}

const fn fmt(code: &'static str, length: usize, bban: Option<&'static str>) -> CountryFormat {
    CountryFormat { code, length, bban }
}

/// IBAN lengths of the SEPA countries and territories with their own code
/// (SWIFT IBAN Registry). BBAN structures are checked for the countries
/// carfin deals with most.
const COUNTRIES: &[CountryFormat] = &[
    fmt("AD", 24, None),
    fmt("AT", 20, Some("9999999999999999")),
    fmt("BE", 16, Some("999999999999")),
    fmt("BG", 22, None),
    fmt("CH", 21, None),
    fmt("CY", 28, None),
    fmt("CZ", 24, Some("99999999999999999999")),
    fmt("DE", 22, Some("999999999999999999")),
    fmt("DK", 18, Some("99999999999999")),
    fmt("EE", 20, None),
    fmt("ES", 24, Some("99999999999999999999")),
    fmt("FI", 18, None),
    fmt("FO", 18, None),
    fmt("FR", 27, Some("9999999999XXXXXXXXXXX99")),
    fmt("GB", 22, Some("AAAA99999999999999")),
    fmt("GI", 23, None),
    fmt("GL", 18, None),
    fmt("GR", 27, None),
    fmt("HR", 21, None),
    fmt("HU", 28, None),
    fmt("IE", 22, Some("AAAA99999999999999")),
    fmt("IS", 26, None),
    fmt("IT", 27, Some("A9999999999XXXXXXXXXXXX")),
    fmt("LI", 21, None),
    fmt("LT", 20, None),
    fmt("LU", 20, Some("999XXXXXXXXXXXXX")),
    fmt("LV", 21, None),
    fmt("MC", 27, None),
    fmt("MT", 31, None),
    fmt("NL", 18, Some("AAAA9999999999")),
    fmt("NO", 15, None),
    fmt("PL", 28, None),
    fmt("PT", 25, None),
    fmt("RO", 24, None),
    fmt("SE", 24, None),
    fmt("SI", 19, None),
    fmt("SK", 24, None),
    fmt("SM", 27, None),
    fmt("VA", 22, None),
];

fn country_format(code: &str) -> Option<&'static CountryFormat> {
    COUNTRIES.iter().find(|c| c.code == code)
}

/// The two IBAN check digits for `country` and `bban` (ISO 13616: 98 minus
/// the mod 97 of BBAN + country + "00").
fn check_digits(country: &str, bban: &str) -> Option<u32> {
    Some(98 - mod97(&format!("{bban}{country}00"))?)
}

impl Iban {
    /// Parses an IBAN as typed or pasted: surrounding whitespace, inner
    /// spaces and dashes are removed and letters uppercased. Checks, in
    /// order: characters, country, length, structure, mod-97, and the
    /// national check digits where the country has them (Belgium).
    pub fn parse(input: &str) -> Result<Iban, IbanError> {
        let value = compact_upper(input, &[' ', '-', '\u{a0}']);
        if value.is_empty() {
            return Err(IbanError::Empty);
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(IbanError::InvalidCharacter);
        }
        let format = value
            .get(..2)
            .and_then(country_format)
            .ok_or(IbanError::UnsupportedCountry)?;
        if value.len() != format.length {
            return Err(IbanError::Length);
        }
        let (head, bban) = value.split_at(4);
        if !matches_pattern(&head[2..], "99")
            || !format.bban.is_none_or(|p| matches_pattern(bban, p))
        {
            return Err(IbanError::Format);
        }
        if mod97(&format!("{bban}{head}")) != Some(1) {
            return Err(IbanError::Checksum);
        }
        if format.code == "BE" && !belgian_bban_ok(bban) {
            return Err(IbanError::NationalChecksum);
        }
        Ok(Iban { value })
    }

    /// Builds the IBAN of `country_code` and `bban`, computing the IBAN check
    /// digits; the result passes every check of [`Iban::parse`] or is an
    /// error (e.g. a Belgian BBAN with wrong national check digits).
    pub fn from_bban(country_code: &str, bban: &str) -> Result<Iban, IbanError> {
        let country = compact_upper(country_code, &[]);
        let bban = compact_upper(bban, &[' ', '-']);
        let digits = check_digits(&country, &bban).ok_or(IbanError::InvalidCharacter)?;
        Iban::parse(&format!("{country}{digits:02}{bban}"))
    }

    /// A Dutch IBAN from a 4-letter bank code (`"ABNA"`) and an account
    /// number of at most 10 digits, for test data.
    pub fn nl_from_parts(bank_code: &str, account: u64) -> Result<Iban, IbanError> {
        let bank_code = compact_upper(bank_code, &[]);
        if account >= 10_000_000_000 || !matches_pattern(&bank_code, "AAAA") {
            return Err(IbanError::Format);
        }
        Iban::from_bban("NL", &format!("{bank_code}{account:010}"))
    }

    /// A Belgian IBAN from the 10-digit bank-and-account number (3-digit bank
    /// code and 7-digit account), computing the national check digits and
    /// the IBAN check digits, for test data.
    pub fn be_from_account(bank_and_account: u64) -> Result<Iban, IbanError> {
        if bank_and_account >= 10_000_000_000 {
            return Err(IbanError::Format);
        }
        let national = mod97_or_97(bank_and_account);
        Iban::from_bban("BE", &format!("{bank_and_account:010}{national:02}"))
    }

    /// The canonical compact form, e.g. `NL91ABNA0417164300`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The ISO 3166 country code, e.g. `NL`.
    pub fn country_code(&self) -> &str {
        &self.value[..2]
    }

    /// The two IBAN check digits.
    pub fn check_digits(&self) -> &str {
        &self.value[2..4]
    }

    /// The national account number (BBAN).
    pub fn bban(&self) -> &str {
        &self.value[4..]
    }

    /// The last four characters, e.g. to confirm an account to its holder.
    pub fn last4(&self) -> &str {
        &self.value[self.value.len() - 4..]
    }

    /// The IBAN with everything but the country code and the last four
    /// characters replaced by `•`, in groups of four:
    /// `NL•• •••• •••• ••43 00`.
    pub fn masked(&self) -> String {
        let len = self.value.len();
        let masked: String = self
            .value
            .char_indices()
            .map(|(i, c)| if i < 2 || i >= len - 4 { c } else { '•' })
            .collect();
        group(&masked, 4, " ", false)
    }
}

/// Belgium: the BBAN is 3-digit bank code, 7-digit account, and two check
/// digits equal to the first ten digits mod 97 (97 when that is 0).
fn belgian_bban_ok(bban: &str) -> bool {
    match (
        bban.get(..10).and_then(digits_value),
        bban.get(10..).and_then(digits_value),
    ) {
        (Some(base), Some(check)) => mod97_or_97(base) == check,
        _ => false,
    }
}

string_conversions!(Iban, IbanError);

impl fmt::Display for Iban {
    /// The paper format: groups of four, `NL91 ABNA 0417 1643 00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&group(&self.value, 4, " ", false))
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Iban").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    const VALID: [&str; 6] = [
        "NL91ABNA0417164300",
        "BE71096123456769",
        "BE68539007547034",
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "FR1420041010050500013M02606",
    ];

    #[test]
    fn accepts_published_examples() {
        for iban in VALID {
            assert_eq!(
                Iban::parse(iban).map(|i| i.as_str().to_owned()),
                Ok(iban.to_owned())
            );
        }
        assert_eq!(
            Iban::parse("LU280019400644750000").map(|i| i.country_code().to_owned()),
            Ok("LU".into())
        );
    }

    #[test]
    fn normalises_input() {
        let iban = Iban::parse("  nl91 abna-0417 1643 00 ").unwrap();
        assert_eq!(iban.as_str(), "NL91ABNA0417164300");
        assert_eq!(iban.to_string(), "NL91 ABNA 0417 1643 00");
        assert_eq!(iban.bban(), "ABNA0417164300");
        assert_eq!(iban.check_digits(), "91");
        assert_eq!(iban.last4(), "4300");
        assert_eq!(iban.masked(), "NL•• •••• •••• ••43 00");
        assert_eq!(format!("{iban:?}"), "Iban(\"NL•• •••• •••• ••43 00\")");
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(Iban::parse(" "), Err(IbanError::Empty));
    }

    #[test]
    fn refuses_invalid_characters() {
        assert_eq!(
            Iban::parse("NL91ABNA041716430!"),
            Err(IbanError::InvalidCharacter)
        );
        assert_eq!(
            Iban::parse("NL91ÀBNA0417164300"),
            Err(IbanError::InvalidCharacter)
        );
    }

    #[test]
    fn refuses_unsupported_countries() {
        assert_eq!(
            Iban::parse("US12345678901234"),
            Err(IbanError::UnsupportedCountry)
        );
        assert_eq!(Iban::parse("1"), Err(IbanError::UnsupportedCountry));
    }

    #[test]
    fn refuses_wrong_length() {
        assert_eq!(Iban::parse("NL91ABNA04171643001"), Err(IbanError::Length));
        assert_eq!(Iban::parse("BE7109612345676"), Err(IbanError::Length));
    }

    #[test]
    fn refuses_wrong_structure() {
        // NL: 4 letters then 10 digits.
        assert_eq!(Iban::parse("NL91AB1A0417164300"), Err(IbanError::Format));
        assert_eq!(Iban::parse("NLX1ABNA0417164300"), Err(IbanError::Format));
    }

    #[test]
    fn refuses_wrong_checksum() {
        assert_eq!(Iban::parse("NL91ABNA0417164301"), Err(IbanError::Checksum));
        assert_eq!(
            Iban::parse("GB82WEST12345698765433"),
            Err(IbanError::Checksum)
        );
    }

    // SECURITY 14: a Belgian IBAN that passes mod-97 but not the BBAN check.
    #[test]
    fn refuses_wrong_belgian_national_check() {
        let bban = "539007547035"; // valid is …34
        let iban = format!("BE{:02}{bban}", check_digits("BE", bban).unwrap());
        assert_eq!(mod97(&format!("{bban}{}", &iban[..4])), Some(1));
        assert_eq!(Iban::parse(&iban), Err(IbanError::NationalChecksum));
        assert_eq!(IbanError::NationalChecksum.code(), "iban.national_checksum");
    }

    #[test]
    fn builds_test_data() {
        assert_eq!(
            Iban::nl_from_parts("abna", 417_164_300).unwrap().as_str(),
            "NL91ABNA0417164300"
        );
        assert_eq!(
            Iban::be_from_account(961_234_567).unwrap().as_str(),
            "BE71096123456769"
        );
        assert_eq!(
            Iban::be_from_account(5_390_075_470).unwrap().as_str(),
            "BE68539007547034"
        );
        assert_eq!(Iban::nl_from_parts("AB1", 1), Err(IbanError::Format));
        assert_eq!(
            Iban::nl_from_parts("ABNA", 10_000_000_000),
            Err(IbanError::Format)
        );
        assert_eq!(
            Iban::be_from_account(10_000_000_000),
            Err(IbanError::Format)
        );
        // Zero remainder is written 97.
        assert_eq!(Iban::be_from_account(97).unwrap().bban(), "000000009797");
    }

    #[test]
    fn serde_revalidates() {
        let ok: serde::de::value::StringDeserializer<serde::de::value::Error> =
            "BE71 0961 2345 6769".to_owned().into_deserializer();
        assert_eq!(Iban::deserialize(ok).unwrap().as_str(), "BE71096123456769");
        let bad: serde::de::value::StringDeserializer<serde::de::value::Error> =
            "BE71096123456760".to_owned().into_deserializer();
        assert!(Iban::deserialize(bad).is_err());
        assert_eq!(String::from(Iban::parse(VALID[0]).unwrap()), VALID[0]);
    }

    proptest! {
        #[test]
        fn generated_round_trip(bank in "[A-Z]{4}", account in 0u64..10_000_000_000, be in 0u64..10_000_000_000) {
            for iban in [Iban::nl_from_parts(&bank, account).unwrap(), Iban::be_from_account(be).unwrap()] {
                prop_assert_eq!(Iban::parse(&format!("{iban}")), Ok(iban.clone()));
                prop_assert_eq!(iban.as_str().parse::<Iban>(), Ok(iban.clone()));
            }
        }

        #[test]
        fn single_digit_change_is_caught(account in 0u64..10_000_000_000, be in 0u64..10_000_000_000, pos in 0usize..32, delta in 1u8..10) {
            for iban in [Iban::nl_from_parts("INGB", account).unwrap(), Iban::be_from_account(be).unwrap()] {
                let mut bytes = iban.as_str().as_bytes().to_vec();
                let digits: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
                let i = digits[pos % digits.len()];
                bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
                let changed = String::from_utf8(bytes).unwrap();
                prop_assert!(Iban::parse(&changed).is_err(), "{} accepted", changed);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Iban::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_iban_like_input(s in "[A-Z]{2}[0-9A-Z •-]{0,40}") {
            let _ = Iban::parse(&s);
        }
    }
}
