//! The languages carfin speaks. Dutch is the default (OPS-06).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A language of the product's user interface, e-mails and documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Dutch, the default.
    #[default]
    Nl,
    /// French.
    Fr,
    /// English.
    En,
}

impl Language {
    /// Every supported language, default first.
    pub const ALL: [Language; 3] = [Language::Nl, Language::Fr, Language::En];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::Fr => "fr",
            Language::En => "en",
        }
    }

    /// The language's own name for itself, as shown in a language switcher.
    pub fn endonym(self) -> &'static str {
        match self {
            Language::Nl => "Nederlands",
            Language::Fr => "Français",
            Language::En => "English",
        }
    }

    /// Picks the best supported language from an HTTP `Accept-Language`
    /// header value (RFC 9110 §12.5.4), honouring q-values; `None` when no
    /// listed language is supported.
    pub fn negotiate(accept_language: &str) -> Option<Language> {
        let mut best: Option<(u16, usize, Language)> = None;
        for (position, part) in accept_language.split(',').enumerate() {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let mut quality: u16 = 1000;
            for param in pieces {
                let param = param.trim();
                if let Some(q) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    quality = parse_quality(q).unwrap_or(0);
                }
            }
            if quality == 0 {
                continue;
            }
            let primary = tag.split('-').next().unwrap_or("");
            let Ok(language) = primary.parse::<Language>() else {
                continue;
            };
            let better = match best {
                None => true,
                Some((q, pos, _)) => quality > q || (quality == q && position < pos),
            };
            if better {
                best = Some((quality, position, language));
            }
        }
        best.map(|(_, _, language)| language)
    }
}

fn parse_quality(q: &str) -> Option<u16> {
    let value: f32 = q.trim().parse().ok()?;
    if !(0.0..=1.0).contains(&value) {
        return None;
    }
    Some((value * 1000.0).round() as u16)
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An unsupported language code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language")]
pub struct UnsupportedLanguage;

impl FromStr for Language {
    type Err = UnsupportedLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nl" => Ok(Language::Nl),
            "fr" => Ok(Language::Fr),
            "en" => Ok(Language::En),
            _ => Err(UnsupportedLanguage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // OPS-06: Dutch is the default; the header's preference order is honoured.
    #[test]
    fn negotiates_by_quality_then_order() {
        assert_eq!(
            Language::negotiate("fr-BE,fr;q=0.9,en;q=0.8"),
            Some(Language::Fr)
        );
        assert_eq!(
            Language::negotiate("de-DE, en;q=0.5, nl;q=0.7"),
            Some(Language::Nl)
        );
        assert_eq!(Language::negotiate("en-GB"), Some(Language::En));
        assert_eq!(Language::negotiate("de, es"), None);
        assert_eq!(Language::negotiate("fr;q=0, en"), Some(Language::En));
        assert_eq!(Language::negotiate(""), None);
        assert_eq!(Language::default(), Language::Nl);
    }
}
