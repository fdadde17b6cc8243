//! The countries carfin operates in.

use crate::Language;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A country carfin serves: the Netherlands or Belgium. Serialized as its
/// ISO 3166-1 alpha-2 code (`"NL"`, `"BE"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Country {
    /// The Netherlands.
    #[serde(rename = "NL")]
    Nl,
    /// Belgium.
    #[serde(rename = "BE")]
    Be,
}

impl Country {
    /// Every supported country.
    pub const ALL: [Country; 2] = [Country::Nl, Country::Be];

    /// The ISO 3166-1 alpha-2 code, `"NL"` or `"BE"`.
    pub fn code(self) -> &'static str {
        match self {
            Country::Nl => "NL",
            Country::Be => "BE",
        }
    }

    /// The international calling code without `+`: `"31"` or `"32"`.
    pub fn calling_code(self) -> &'static str {
        match self {
            Country::Nl => "31",
            Country::Be => "32",
        }
    }

    /// The country's name in `language`.
    pub fn name(self, language: Language) -> &'static str {
        match (self, language) {
            (Country::Nl, Language::Nl) => "Nederland",
            (Country::Nl, Language::Fr) => "Pays-Bas",
            (Country::Nl, Language::En) => "the Netherlands",
            (Country::Be, Language::Nl) => "België",
            (Country::Be, Language::Fr) => "Belgique",
            (Country::Be, Language::En) => "Belgium",
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A country code carfin does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    /// Not `NL` or `BE`.
    #[error("unsupported country")]
    Unsupported,
}

error_codes!(CountryError {
    CountryError::Unsupported => "country.unsupported",
});

impl FromStr for Country {
    type Err = CountryError;

    /// Accepts `NL`/`BE` in any case, surrounded by whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NL" => Ok(Country::Nl),
            "BE" => Ok(Country::Be),
            _ => Err(CountryError::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;

    #[test]
    fn parses_codes_case_insensitively() {
        assert_eq!(" nl ".parse::<Country>(), Ok(Country::Nl));
        assert_eq!("BE".parse::<Country>(), Ok(Country::Be));
        assert_eq!("DE".parse::<Country>(), Err(CountryError::Unsupported));
        assert_eq!(Country::Be.to_string(), "BE");
        assert_eq!(Country::Be.name(Language::Fr), "Belgique");
        assert_eq!(CountryError::Unsupported.code(), "country.unsupported");
    }

    #[test]
    fn serde_uses_the_iso_code() {
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            "BE".into_deserializer();
        assert_eq!(Country::deserialize(de), Ok(Country::Be));
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            "Be".into_deserializer();
        assert!(Country::deserialize(de).is_err());
    }
}
