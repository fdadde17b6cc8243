//! Message catalogues (OPS-06).
//!
//! Every string the user interface shows lives in `locales/{nl,fr,en}.toml`
//! and, per part of the product, `locales/{part}/{nl,fr,en}.toml`: flat
//! `key = "text"` pairs, `{name}` for placeholders. The files are embedded
//! at compile time and parsed once, on first use; a key defined in two files
//! of one language is an error. A unit test keeps the three catalogues on
//! exactly the same keys and checks that every key a template uses exists.

use carfin_domain::Language;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One part of the catalogues: its Dutch, French and English files.
struct Part {
    nl: &'static str,
    fr: &'static str,
    en: &'static str,
}

macro_rules! part {
    ($dir:literal) => {
        Part {
            nl: include_str!(concat!("../locales/", $dir, "nl.toml")),
            fr: include_str!(concat!("../locales/", $dir, "fr.toml")),
            en: include_str!(concat!("../locales/", $dir, "en.toml")),
        }
    };
}

/// The parts: the general catalogue first, then one per part of the portal.
const PARTS: &[Part] = &[
    part!(""),
    part!("portal/"),
    part!("documents/"),
    part!("privacy/"),
    part!("payments/"),
    part!("simulator/"),
    part!("staff/"),
    part!("staff_sso/"),
    part!("staff_customers/"),
    part!("staff_queues/"),
    part!("staff_imports/"),
    part!("staff_review/"),
    part!("staff_reconciliation/"),
];

/// One language's messages.
#[derive(Debug, Default)]
pub struct Catalogue {
    messages: HashMap<String, String>,
}

impl Catalogue {
    /// Parses a catalogue. Keys are written flat (`home.title = "…"`); TOML
    /// reads the dots as nesting, so the tables are flattened back into
    /// dotted keys.
    pub fn parse(source: &str) -> Result<Catalogue, String> {
        Catalogue::parse_all(&[source])
    }

    /// Parses several files into one catalogue; a key in two files is an
    /// error.
    pub fn parse_all(sources: &[&str]) -> Result<Catalogue, String> {
        let mut messages = HashMap::new();
        for source in sources {
            let table: toml::Table = source.parse().map_err(|e: toml::de::Error| e.to_string())?;
            let mut part = HashMap::new();
            flatten("", table, &mut part)?;
            for (key, text) in part {
                if messages.insert(key.clone(), text).is_some() {
                    return Err(format!("{key}: defined twice"));
                }
            }
        }
        Ok(Catalogue { messages })
    }

    /// The message for `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.messages.get(key).map(String::as_str)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.messages.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }
}

fn flatten(
    prefix: &str,
    table: toml::Table,
    into: &mut HashMap<String, String>,
) -> Result<(), String> {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(text) => {
                into.insert(key, text);
            }
            toml::Value::Table(inner) => flatten(&key, inner, into)?,
            _ => return Err(format!("{key}: expected text")),
        }
    }
    Ok(())
}

struct Catalogues {
    nl: Catalogue,
    fr: Catalogue,
    en: Catalogue,
}

fn load(language: Language) -> Catalogue {
    Catalogue::parse_all(&sources(language)).unwrap_or_else(|error| {
        // Unreachable in a tested build: a unit test parses every catalogue.
        tracing::error!(language = language.code(), %error, "message catalogue does not parse");
        Catalogue::default()
    })
}

fn catalogues() -> &'static Catalogues {
    static CATALOGUES: OnceLock<Catalogues> = OnceLock::new();
    CATALOGUES.get_or_init(|| Catalogues {
        nl: load(Language::Nl),
        fr: load(Language::Fr),
        en: load(Language::En),
    })
}

/// The catalogue of a language.
pub fn catalogue(language: Language) -> &'static Catalogue {
    let all = catalogues();
    match language {
        Language::Nl => &all.nl,
        Language::Fr => &all.fr,
        Language::En => &all.en,
    }
}

/// The embedded files of a language's catalogue (for tests and tooling).
pub fn sources(language: Language) -> Vec<&'static str> {
    PARTS
        .iter()
        .map(|part| match language {
            Language::Nl => part.nl,
            Language::Fr => part.fr,
            Language::En => part.en,
        })
        .collect()
}

/// The message for `key` in `language`; the key itself when it is missing
/// (a test makes sure none is).
pub fn t(language: Language, key: &str) -> &'static str {
    match catalogue(language).get(key) {
        Some(text) => text,
        None => {
            tracing::warn!(language = language.code(), key, "missing message");
            // A leaked copy of a key is impossible to need more than once per
            // key; fall back to the Dutch text or a fixed marker instead.
            catalogue(Language::Nl).get(key).unwrap_or("…")
        }
    }
}

/// Every key used as `t("…")` or `tf("…")` in the files under `dirs`
/// (recursively): the catalogue tests of each crate check that these exist.
pub fn keys_used_in(dirs: &[std::path::PathBuf]) -> std::collections::BTreeSet<String> {
    let mut used = std::collections::BTreeSet::new();
    let mut stack: Vec<std::path::PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for marker in ["t(\"", "tf(\""] {
            for (start, _) in text.match_indices(marker) {
                let before = text[..start].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue; // `get("…")`, `format("…")`, …
                }
                let rest = &text[start + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let key = &rest[..end];
                    let is_key = |c: char| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
                    };
                    if !key.is_empty() && key.chars().all(is_key) && key.contains('.') {
                        used.insert(key.to_string());
                    }
                }
            }
        }
    }
    used
}

/// The message for `key` with `{name}` placeholders filled in.
pub fn tf(language: Language, key: &str, args: &[(&str, &str)]) -> String {
    let mut text = t(language, key).to_string();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(language: Language) -> BTreeSet<String> {
        Catalogue::parse_all(&sources(language))
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", language.code()))
            .keys()
            .into_iter()
            .map(String::from)
            .collect()
    }

    // OPS-06: the three catalogues have exactly the same keys.
    #[test]
    fn catalogues_have_the_same_keys() {
        let nl = keys(Language::Nl);
        assert!(!nl.is_empty());
        for language in [Language::Fr, Language::En] {
            let other = keys(language);
            let missing: Vec<_> = nl.difference(&other).collect();
            let extra: Vec<_> = other.difference(&nl).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}: missing {missing:?}, extra {extra:?}",
                language.code()
            );
        }
    }

    // OPS-06: every key the application layer uses (messages) exists.
    #[test]
    fn every_key_used_by_the_app_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let used = keys_used_in(&[root.join("src"), root.join("templates")]);
        for language in Language::ALL {
            let available = keys(language);
            let missing: Vec<_> = used.iter().filter(|k| !available.contains(*k)).collect();
            assert!(
                missing.is_empty(),
                "{}: missing {missing:?}",
                language.code()
            );
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let text = tf(
            Language::En,
            "brand.trading_name_of",
            &[("brand", "B"), ("entity", "E")],
        );
        assert!(
            text.contains('B') && text.contains('E') && !text.contains('{'),
            "{text}"
        );
    }

    // The placeholders of a message are the same in every language.
    #[test]
    fn placeholders_agree_between_languages() {
        let placeholders = |text: &str| -> BTreeSet<String> {
            text.split('{')
                .skip(1)
                .filter_map(|s| s.split_once('}'))
                .map(|(n, _)| n.to_string())
                .collect()
        };
        for key in keys(Language::Nl) {
            let nl = placeholders(t(Language::Nl, &key));
            for language in [Language::Fr, Language::En] {
                assert_eq!(
                    nl,
                    placeholders(t(language, &key)),
                    "{key} in {}",
                    language.code()
                );
            }
        }
    }
}
