//! Reading request cookies and writing `Set-Cookie` values. Cookie values
//! are never logged.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// The value of the first cookie called `name` in the request's `Cookie`
/// header(s).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// How long a cookie lives.
#[derive(Debug, Clone, Copy)]
pub enum Lifetime {
    /// Until the browser closes.
    Session,
    /// This many seconds.
    MaxAge(u64),
}

/// Which sites may send the cookie.
#[derive(Debug, Clone, Copy)]
pub enum SameSite {
    Strict,
    Lax,
}

/// A `Set-Cookie` header value with `Path=/`. `value` must be a cookie-safe
/// token (hex, a language code); anything else yields `None`.
pub fn set_cookie(
    name: &str,
    value: &str,
    lifetime: Lifetime,
    same_site: SameSite,
    secure: bool,
    http_only: bool,
) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; Path=/");
    if let Lifetime::MaxAge(seconds) = lifetime {
        text.push_str(&format!("; Max-Age={seconds}"));
    }
    text.push_str(match same_site {
        SameSite::Strict => "; SameSite=Strict",
        SameSite::Lax => "; SameSite=Lax",
    });
    if secure {
        text.push_str("; Secure");
    }
    if http_only {
        text.push_str("; HttpOnly");
    }
    let safe = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !safe(name.trim_start_matches("__Host-")) || !safe(value) {
        return None;
    }
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookies_among_several_headers() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; lang=fr"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&headers, "lang"), Some("fr"));
        assert_eq!(get(&headers, "b"), Some("2"));
        assert_eq!(get(&headers, "c"), None);
    }

    #[test]
    fn builds_set_cookie_values() {
        let v = set_cookie(
            "__Host-x",
            "ab12",
            Lifetime::Session,
            SameSite::Strict,
            true,
            true,
        )
        .unwrap();
        assert_eq!(
            v,
            "__Host-x=ab12; Path=/; SameSite=Strict; Secure; HttpOnly"
        );
        let v = set_cookie(
            "lang",
            "fr",
            Lifetime::MaxAge(60),
            SameSite::Lax,
            false,
            true,
        )
        .unwrap();
        assert_eq!(v, "lang=fr; Path=/; Max-Age=60; SameSite=Lax; HttpOnly");
        assert!(set_cookie(
            "lang",
            "fr; Domain=evil",
            Lifetime::Session,
            SameSite::Lax,
            false,
            true
        )
        .is_none());
    }
}
