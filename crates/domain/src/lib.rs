//! carfin's domain: types that cannot hold invalid values, parsed once at the
//! edge, and pure rules (contract maths, check digits). No I/O, no async, no
//! clock: time is passed in.
//!
//! Every identifier type follows the same shape: private fields, a
//! `parse(&str)` (also `FromStr`) that normalises user input, `as_str()` for
//! the canonical stored form, `Display` for the human form, and serde through
//! the canonical string with re-validation on deserialization. Every error
//! enum has a `code()` returning a stable message key (also available through
//! the [`ErrorCode`] trait) for the web layer to localise.

#![warn(missing_docs)]

#[macro_use]
mod macros;
mod checks;

pub mod allocation;
pub mod calendar;
pub mod company;
pub mod country;
pub mod email;
pub mod finance;
pub mod iban;
pub mod locale;
pub mod money;
pub mod payment_reference;
pub mod phone;
pub mod plate;
pub mod postcode;
pub mod settlement;
pub mod vin;

pub use company::{KboError, KboNumber, KvkError, KvkNumber};
pub use country::{Country, CountryError};
pub use email::{EmailAddress, EmailError};
pub use finance::{amortization_schedule, annuity_instalment, apr_bp, ScheduleLine, MAX_MONTHS};
pub use iban::{Iban, IbanError};
pub use locale::Language;
pub use money::{Money, MoneyError};
pub use payment_reference::{
    BeStructuredReference, NlPaymentReference, PaymentReference, PaymentReferenceError,
};
pub use phone::{PhoneError, PhoneNumber};
pub use plate::{BePlate, LicencePlate, NlPlate, PlateError};
pub use postcode::{BePostcode, NlPostcode, Postcode, PostcodeError};
pub use vin::{Vin, VinError};

/// A validation error with a stable snake_case message key (e.g.
/// `"iban.checksum"`) that the web layer translates.
pub trait ErrorCode {
    /// The message key.
    fn code(&self) -> &'static str;
}

/// Every message key any error of this crate can return, so the web layer can
/// test that each has a translation in every language.
pub fn all_error_codes() -> impl Iterator<Item = &'static str> {
    [
        CountryError::CODES,
        MoneyError::CODES,
        IbanError::CODES,
        PostcodeError::CODES,
        PlateError::CODES,
        VinError::CODES,
        EmailError::CODES,
        PhoneError::CODES,
        KboError::CODES,
        KvkError::CODES,
        PaymentReferenceError::CODES,
    ]
    .into_iter()
    .flatten()
    .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn error_codes_are_unique_snake_case_keys() {
        let codes: Vec<&str> = all_error_codes().collect();
        let unique: HashSet<&str> = codes.iter().copied().collect();
        assert_eq!(codes.len(), unique.len());
        for code in codes {
            let (prefix, key) = code.split_once('.').unwrap();
            assert!(!prefix.is_empty() && !key.is_empty(), "{code}");
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "{code}"
            );
        }
        let error: &dyn ErrorCode = &IbanError::Checksum;
        assert_eq!(error.code(), "iban.checksum");
    }
}
