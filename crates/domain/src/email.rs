//! E-mail addresses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An e-mail address in the practical subset of RFC 5321/5322 that mail
/// systems accept: an unquoted ASCII local part and a DNS domain, stored with
/// the local part as typed and the domain lowercased.
///
/// Whitespace and control characters are refused anywhere; CR and LF get
/// their own error because they are the tell-tale of header injection
/// (SECURITY 14). Internationalised domains must be given in punycode
/// (`xn--…`). `Debug` shows the [masked](EmailAddress::masked) form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    value: String,
    at: usize,
}

/// Why an e-mail address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was entered.
    #[error("no e-mail address entered")]
    Empty,
    /// A carriage return or line feed.
    #[error("an e-mail address cannot contain a line break")]
    LineBreak,
    /// Whitespace or another control character inside the address.
    #[error("an e-mail address cannot contain spaces or control characters")]
    Whitespace,
    /// Longer than 254 characters.
    #[error("the e-mail address is too long")]
    TooLong,
    /// No `@`.
    #[error("an e-mail address contains an @")]
    MissingAt,
    /// More than one `@`.
    #[error("an e-mail address contains only one @")]
    MultipleAt,
    /// The part before `@` is empty or longer than 64 characters.
    #[error("the part before the @ must have 1 to 64 characters")]
    LocalPartLength,
    /// The part before `@` holds a character outside letters, digits and
    /// ``!#$%&'*+/=?^_`{|}~.-``, or a dot at its start, its end or next to
    /// another dot.
    #[error("the part before the @ is not valid")]
    LocalPart,
    /// The domain has no dot.
    #[error("the domain must contain a dot")]
    DomainWithoutDot,
    /// A domain label is empty, longer than 63 characters, holds characters
    /// other than letters, digits and hyphens, or starts or ends with a
    /// hyphen.
    #[error("the domain is not valid")]
    DomainLabel,
    /// The last label is not at least two letters (or `xn--` punycode).
    #[error("the domain does not end in a valid top-level domain")]
    TopLevelDomain,
}

error_codes!(EmailError {
    EmailError::Empty => "email.empty",
    EmailError::LineBreak => "email.line_break",
    EmailError::Whitespace => "email.whitespace",
    EmailError::TooLong => "email.too_long",
    EmailError::MissingAt => "email.missing_at",
    EmailError::MultipleAt => "email.multiple_at",
    EmailError::LocalPartLength => "email.local_part_length",
    EmailError::LocalPart => "email.local_part",
    EmailError::DomainWithoutDot => "email.domain_without_dot",
    EmailError::DomainLabel => "email.domain_label",
    EmailError::TopLevelDomain => "email.top_level_domain",
});

fn local_char_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

fn label_ok(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn tld_ok(label: &str) -> bool {
    match label.strip_prefix("xn--") {
        Some(puny) => !puny.is_empty(),
        None => label.len() >= 2 && label.bytes().all(|b| b.is_ascii_alphabetic()),
    }
}

impl EmailAddress {
    /// Parses an address: surrounding whitespace is trimmed, the domain
    /// lowercased.
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        if input.contains(['\r', '\n']) {
            return Err(EmailError::LineBreak);
        }
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Whitespace);
        }
        if trimmed.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.split_once('@').ok_or(EmailError::MissingAt)?;
        if domain.contains('@') {
            return Err(EmailError::MultipleAt);
        }
        if !(1..=64).contains(&local.chars().count()) {
            return Err(EmailError::LocalPartLength);
        }
        if !local.bytes().all(local_char_ok)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::LocalPart);
        }
        let domain = domain.to_ascii_lowercase();
        if !domain.contains('.') {
            return Err(EmailError::DomainWithoutDot);
        }
        if !domain.split('.').all(label_ok) {
            return Err(EmailError::DomainLabel);
        }
        if !domain.rsplit('.').next().is_some_and(tld_ok) {
            return Err(EmailError::TopLevelDomain);
        }
        Ok(EmailAddress {
            value: format!("{local}@{domain}"),
            at: local.len(),
        })
    }

    /// The canonical stored form: local part as typed, domain lowercased.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }

    /// The domain, lowercased.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }

    /// The whole address lowercased: the form to compute blind indexes and
    /// uniqueness on, so `Jan@X.nl` and `jan@x.nl` are one account.
    pub fn normalized(&self) -> String {
        self.value.to_ascii_lowercase()
    }

    /// The address with the local part hidden but for its first character:
    /// `j•••@example.nl`; for confirmations and logs.
    pub fn masked(&self) -> String {
        let first = self.local_part().chars().next().unwrap_or('•');
        format!("{first}•••@{}", self.domain())
    }
}

string_conversions!(EmailAddress, EmailError);

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    fn parse(s: &str) -> Result<EmailAddress, EmailError> {
        EmailAddress::parse(s)
    }

    #[test]
    fn accepts_and_normalises() {
        let e = parse("  Jan.de.Vries+lease@Example.NL ").unwrap();
        assert_eq!(e.as_str(), "Jan.de.Vries+lease@example.nl");
        assert_eq!(e.local_part(), "Jan.de.Vries+lease");
        assert_eq!(e.domain(), "example.nl");
        assert_eq!(e.normalized(), "jan.de.vries+lease@example.nl");
        assert_eq!(e.masked(), "J•••@example.nl");
        assert_eq!(format!("{e:?}"), "EmailAddress(\"J•••@example.nl\")");
        for ok in [
            "a@b.co",
            "x@sub-domain.example.be",
            "info@xn--bcher-kva.example",
            "p@example.xn--p1ai",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(parse("  "), Err(EmailError::Empty));
    }

    // SECURITY 14: header injection.
    #[test]
    fn refuses_line_breaks() {
        assert_eq!(
            parse("jan@example.nl\r\nBcc: x@evil.example"),
            Err(EmailError::LineBreak)
        );
        assert_eq!(parse("jan@example.nl\n"), Err(EmailError::LineBreak));
        assert_eq!(parse("jan@exa\rmple.nl"), Err(EmailError::LineBreak));
    }

    #[test]
    fn refuses_whitespace_and_controls() {
        for s in [
            "jan de@example.nl",
            "jan@example\t.nl",
            "jan\u{0}@example.nl",
            "jan@exam\u{a0}ple.nl",
        ] {
            assert_eq!(parse(s), Err(EmailError::Whitespace), "{s:?}");
        }
    }

    #[test]
    fn refuses_too_long() {
        let s = format!(
            "{}@{}.{}.{}.nl",
            "a".repeat(64),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(60)
        );
        assert_eq!(parse(&s), Err(EmailError::TooLong));
    }

    #[test]
    fn refuses_missing_or_multiple_at() {
        assert_eq!(parse("jan.example.nl"), Err(EmailError::MissingAt));
        assert_eq!(parse("jan@piet@example.nl"), Err(EmailError::MultipleAt));
    }

    #[test]
    fn refuses_local_part_length() {
        assert_eq!(parse("@example.nl"), Err(EmailError::LocalPartLength));
        assert_eq!(
            parse(&format!("{}@example.nl", "a".repeat(65))),
            Err(EmailError::LocalPartLength)
        );
        assert!(parse(&format!("{}@example.nl", "a".repeat(64))).is_ok());
    }

    #[test]
    fn refuses_bad_local_part() {
        for s in [
            ".jan@example.nl",
            "jan.@example.nl",
            "j..an@example.nl",
            "\"jan\"@example.nl",
            "jän@example.nl",
            "<jan>@example.nl",
            "jan,piet@example.nl",
        ] {
            assert_eq!(parse(s), Err(EmailError::LocalPart), "{s}");
        }
    }

    #[test]
    fn refuses_domain_without_dot() {
        assert_eq!(parse("jan@localhost"), Err(EmailError::DomainWithoutDot));
    }

    #[test]
    fn refuses_bad_labels() {
        for s in [
            "jan@-example.nl",
            "jan@example-.nl",
            "jan@exa_mple.nl",
            "jan@example..nl",
            "jan@.example.nl",
            "jan@bücher.de",
        ] {
            assert_eq!(parse(s), Err(EmailError::DomainLabel), "{s}");
        }
        assert_eq!(
            parse(&format!("jan@{}.nl", "a".repeat(64))),
            Err(EmailError::DomainLabel)
        );
    }

    #[test]
    fn refuses_bad_top_level_domain() {
        for s in ["jan@example.n", "jan@example.123", "jan@example.n1"] {
            assert_eq!(parse(s), Err(EmailError::TopLevelDomain), "{s}");
        }
    }

    #[test]
    fn serde_revalidates() {
        let bad: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "jan@example.nl\r\nBcc: x@y.z".into_deserializer();
        assert!(EmailAddress::deserialize(bad).is_err());
        let ok: serde::de::value::StrDeserializer<serde::de::value::Error> =
            "Jan@X.NL".into_deserializer();
        assert_eq!(EmailAddress::deserialize(ok).unwrap().as_str(), "Jan@x.nl");
    }

    proptest! {
        #[test]
        fn valid_round_trip(local in "[a-zA-Z0-9_+-]{1,20}(\\.[a-z0-9]{1,5}){0,2}", domain in "[a-z0-9]{1,10}(-[a-z0-9]{1,5})?\\.[a-z]{2,6}") {
            let e = parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(parse(&format!("{e}")), Ok(e.clone()));
            prop_assert_eq!(e.normalized(), e.as_str().to_lowercase());
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse(&s);
        }

        #[test]
        fn anything_with_a_line_break_is_refused(a in "\\PC{0,20}", b in "\\PC{0,20}", br in "[\r\n]") {
            prop_assert_eq!(parse(&format!("{a}{br}{b}")), Err(EmailError::LineBreak));
        }
    }
}
