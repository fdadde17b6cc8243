//! Language selection (OPS-06).
//!
//! The language of a response is, in this order: the `lang` cookie (set by
//! the switcher), the `?lang=` query parameter, the browser's
//! `Accept-Language` header, and Dutch. The switcher in every page's footer
//! is a small POST form to `/language` (CSRF-protected like every other
//! form) that sets the cookie for a year and sends the browser back to the
//! page it came from — only ever to a local path, never to another site.

use crate::cookies::{self, Lifetime, SameSite};
use crate::error::WebError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::{ACCEPT_LANGUAGE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use carfin_domain::Language;
use serde::Deserialize;

/// The cookie that remembers the chosen language. Not secret, not personal.
pub const COOKIE: &str = "lang";
/// How long the choice is remembered: one year.
pub const COOKIE_MAX_AGE: u64 = 365 * 24 * 60 * 60;

/// The language for a request with these headers and this query string.
pub fn select(headers: &HeaderMap, query: Option<&str>) -> Language {
    if let Some(language) = cookies::get(headers, COOKIE).and_then(|v| v.parse().ok()) {
        return language;
    }
    if let Some(query) = query {
        let from_query = form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "lang")
            .and_then(|(_, value)| value.parse().ok());
        if let Some(language) = from_query {
            return language;
        }
    }
    headers
        .get_all(ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Language::negotiate)
        .unwrap_or_default()
}

/// Whether `path` is a path on this site: it begins with exactly one `/`,
/// has no backslash (browsers read `/\host` as `//host`) and no control
/// characters. Anything else could redirect to another site.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && path.len() <= 2048
}

/// The switcher's form.
#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
}

/// `POST /language`: remember the language and go back to `next`.
pub async fn switch(
    State(state): State<AppState>,
    Form(form): Form<LanguageForm>,
) -> Result<Response, WebError> {
    let language: Language = form.lang.parse().map_err(|_| WebError::BadRequest)?;
    let next = if is_local_path(&form.next) {
        form.next.as_str()
    } else {
        "/"
    };
    let cookie = cookies::set_cookie(
        COOKIE,
        language.code(),
        Lifetime::MaxAge(COOKIE_MAX_AGE),
        SameSite::Lax,
        state.secure_cookies(),
        true,
    )
    .ok_or(WebError::Internal)?;
    let location = HeaderValue::from_str(next).map_err(|_| WebError::BadRequest)?;
    Ok((
        StatusCode::SEE_OTHER,
        [(LOCATION, location), (SET_COOKIE, cookie)],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE as COOKIE_HEADER;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    // OPS-06: cookie, then query, then Accept-Language, then Dutch.
    #[test]
    fn selection_order() {
        assert_eq!(select(&headers(&[]), None), Language::Nl);
        assert_eq!(
            select(&headers(&[("accept-language", "fr-BE,fr;q=0.9")]), None),
            Language::Fr
        );
        assert_eq!(
            select(&headers(&[("accept-language", "de")]), None),
            Language::Nl
        );
        assert_eq!(
            select(&headers(&[("accept-language", "fr")]), Some("a=1&lang=en")),
            Language::En
        );
        assert_eq!(
            select(&headers(&[("accept-language", "fr")]), Some("lang=xx")),
            Language::Fr
        );
        let with_cookie = headers(&[
            (COOKIE_HEADER.as_str(), "lang=en"),
            ("accept-language", "fr"),
        ]);
        assert_eq!(select(&with_cookie, Some("lang=nl")), Language::En);
        let bad_cookie = headers(&[(COOKIE_HEADER.as_str(), "lang=zz")]);
        assert_eq!(select(&bad_cookie, Some("lang=fr")), Language::Fr);
    }

    // No open redirect through `next`.
    #[test]
    fn only_local_paths_are_followed() {
        for ok in ["/", "/legal", "/brands/autovia", "/a?b=c"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "legal",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a b",
            "/\r\nx",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
