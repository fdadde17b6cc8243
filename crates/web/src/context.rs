//! What every request carries through the stack: its id, its language, its
//! CSRF token and its path. The outermost middleware ([`crate::frame`]) puts
//! a [`PageContext`] into the request's extensions; handlers and templates
//! take it from there.

use crate::error::WebError;
use crate::i18n;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use carfin_domain::Language;
use rand::RngCore;
use std::fmt;

/// A random per-request id (128 bits, hex). Shown in the `x-request-id`
/// header, on error pages and in the request's log span, so a support
/// question can be matched to the logs without any personal data. An
/// incoming `x-request-id` is never trusted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id from the operating system's CSPRNG.
    pub fn random() -> RequestId {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        RequestId(hex::encode(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

/// The CSRF token of this browser (the double-submit cookie's value), to be
/// put into every form as the hidden `csrf_token` field.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(pub(crate) String);

impl CsrfToken {
    /// A fresh token: 256 bits from the operating system's CSPRNG, hex.
    pub fn random() -> CsrfToken {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        CsrfToken(hex::encode(bytes))
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken([redacted])")
    }
}

/// One entry of the language switcher.
#[derive(Debug, Clone)]
pub struct LanguageChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// The per-request context handlers and templates use.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// This request's id.
    pub request_id: RequestId,
    /// The language the response is written in.
    pub lang: Language,
    /// The CSRF token for forms.
    pub csrf_token: CsrfToken,
    /// Whether the browser sent the CSRF cookie (if not, the response sets it).
    pub(crate) csrf_cookie_present: bool,
    /// The request's path (no query), for the switcher's `next` field.
    pub path: String,
    /// Whether the browser sent a session cookie (for the menu only; pages
    /// that need a customer check the session itself).
    pub signed_in: bool,
}

impl PageContext {
    /// The message for `key` in this request's language.
    pub fn t(&self, key: &str) -> &'static str {
        i18n::t(self.lang, key)
    }

    /// The message for `key` with placeholders filled in.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::tf(self.lang, key, args)
    }

    /// An amount of euro cents in this language (`€ 1.234,56`, OPS-06).
    pub fn money(&self, cents: &i64) -> String {
        carfin_domain::Money::from_cents(*cents).format(self.lang)
    }

    /// An ISO date (`2026-11-01`) in this language (`1 november 2026`); other
    /// text as it is.
    pub fn date(&self, iso: &str) -> String {
        match chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d") {
            Ok(date) => carfin_app::messages::local_date(self.lang, date),
            Err(_) => iso.to_string(),
        }
    }

    /// `aria-current="page"` for the menu entry of this page.
    pub fn current(&self, path: &str) -> &'static str {
        if self.path == path {
            " aria-current=\"page\""
        } else {
            ""
        }
    }

    /// The language switcher's entries.
    pub fn languages(&self) -> Vec<LanguageChoice> {
        Language::ALL
            .iter()
            .map(|l| LanguageChoice {
                code: l.code(),
                name: l.endonym(),
                current: *l == self.lang,
            })
            .collect()
    }

    /// The `next` value of the language switcher: this path if it is a safe
    /// local one, else `/`.
    pub fn next(&self) -> &str {
        if crate::language::is_local_path(&self.path) {
            &self.path
        } else {
            "/"
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<PageContext>()
            .cloned()
            .ok_or_else(|| {
                tracing::error!("page context missing: the frame middleware is not installed");
                WebError::Internal
            })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        PageContext::from_request_parts(parts, state)
            .await
            .map(|c| c.request_id)
    }
}
