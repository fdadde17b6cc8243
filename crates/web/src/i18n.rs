//! Message catalogues (OPS-06): the application's catalogues
//! ([`carfin_app::i18n`]), shared by pages and by e-mail and SMS texts.

pub use carfin_app::i18n::*;

#[cfg(test)]
mod tests {
    use super::*;
    use carfin_domain::Language;

    // OPS-06: every key used in templates (and code) exists in every catalogue.
    #[test]
    fn every_used_key_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let used = keys_used_in(&[root.join("templates"), root.join("src")]);
        assert!(used.len() > 20, "the scan found too few keys: {used:?}");
        for language in Language::ALL {
            let missing: Vec<_> = used
                .iter()
                .filter(|k| catalogue(language).get(k).is_none())
                .collect();
            assert!(
                missing.is_empty(),
                "{}: missing {missing:?}",
                language.code()
            );
        }
    }

    // Keys chosen at run time (error pages) exist too.
    #[test]
    fn error_page_keys_exist() {
        for code in [400, 403, 404, 405, 408, 413, 422, 500, 503] {
            let status = axum::http::StatusCode::from_u16(code).unwrap();
            let (title, text) = crate::error::page_keys(status);
            for language in Language::ALL {
                assert!(catalogue(language).get(title).is_some(), "{title}");
                assert!(catalogue(language).get(text).is_some(), "{text}");
            }
        }
    }
}
