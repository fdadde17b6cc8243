//! Cross-site request forgery protection (OPS-08, SECURITY 6, ASVS 3.5.1 /
//! 3.5.3).
//!
//! Double submit, with fetch-metadata and origin checks on top:
//!
//! * Every browser gets a random 256-bit token in a cookie
//!   (`__Host-carfin-csrf` when cookies are secure, else `carfin-csrf`;
//!   HttpOnly, SameSite=Strict, Path=/). The frame middleware sets it on any
//!   HTML response when the request did not carry it, and every form carries
//!   the same value in a hidden `csrf_token` field ([`crate::PageContext`]).
//! * Every POST, PUT, PATCH and DELETE must present that value, either in
//!   the urlencoded form field `csrf_token` (the body is buffered, at most
//!   [`FORM_LIMIT`] bytes, and handed on to the handler unchanged), in an
//!   `x-csrf-token` header, or — for a multipart file upload only — in the
//!   `csrf_token` query parameter of the form's action. The comparison is
//!   constant-time.
//! * Independently of the token, a request is refused when its
//!   `Sec-Fetch-Site` is `cross-site`, or when it has an `Origin` that is not
//!   this site's own (`server.public_url`, or the `Host` it was sent to).
//!
//! Refusals answer 403 with the localized error page and are logged (no
//! token values). The only way around the check is [`EXEMPT_PATHS`].

use crate::context::PageContext;
use crate::error::WebError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The CSRF cookie's name when cookies are `Secure`: the `__Host-` prefix
/// makes browsers refuse it from a sibling domain or without `Secure`.
pub const SECURE_COOKIE: &str = "__Host-carfin-csrf";
/// The CSRF cookie's name on plain-HTTP development setups.
pub const PLAIN_COOKIE: &str = "carfin-csrf";
/// The form field that carries the token.
pub const FORM_FIELD: &str = "csrf_token";
/// The header that may carry the token instead (progressive enhancements).
pub const HEADER: &str = "x-csrf-token";
/// The largest urlencoded body buffered for the check (64 KiB).
pub const FORM_LIMIT: usize = 64 * 1024;

/// Path prefixes exempt from the CSRF check. Each entry must authenticate
/// its requests another way and must never rely on a browser's cookies.
///
/// * `/webhooks/adyen`: the payment provider's notifications, each
///   authenticated by its HMAC signature (and optionally HTTP Basic) (PAY-02);
/// * `/simulator/adyen/checkout/`: the simulator's server-to-server Checkout
///   API, authenticated by the API key like Adyen's (PAY-05; only served
///   when `payments.provider = "simulator"`).
pub const EXEMPT_PATHS: &[&str] = &["/webhooks/adyen", "/simulator/adyen/checkout/"];

/// The CSRF cookie's name for this configuration.
pub fn cookie_name(secure_cookies: bool) -> &'static str {
    if secure_cookies {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// Whether a cookie value looks like one of our tokens.
pub(crate) fn is_well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_state_changing(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn is_exempt(path: &str) -> bool {
    EXEMPT_PATHS.iter().any(|prefix| path.starts_with(prefix))
}

/// Whether `Origin` (if present) is this site's own origin.
fn origin_allowed(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().to_ascii_lowercase();
    if public_origin == Some(origin.as_str()) {
        return true;
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match (origin.split_once("://"), host) {
        (Some(("http" | "https", authority)), Some(host)) => authority == host,
        _ => false,
    }
}

fn refuse(reason: &'static str) -> Response {
    // Names the reason only: never the token, cookie or body.
    tracing::warn!(reason, "csrf check failed");
    WebError::Forbidden.into_response()
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"))
}

fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The middleware: lets safe methods and exempt paths through, checks the
/// rest. Runs inside the frame middleware, which provides the token.
pub(crate) async fn verify(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !is_state_changing(request.method()) || is_exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cross-site"));
    if cross_site {
        return refuse("cross-site fetch");
    }
    if !origin_allowed(headers, state.web.public_origin.as_deref()) {
        return refuse("foreign origin");
    }
    let Some(context) = request.extensions().get::<PageContext>().cloned() else {
        return refuse("no context");
    };
    if !context.csrf_cookie_present {
        return refuse("no csrf cookie");
    }
    let expected = context.csrf_token.as_str().as_bytes().to_vec();

    let header_token = headers.get(HEADER).map(|v| v.as_bytes().to_vec());
    let (submitted, request) = match header_token {
        Some(token) => (Some(token), request),
        None if is_urlencoded(headers) => {
            let declared = headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            if declared.is_some_and(|n| n > FORM_LIMIT) {
                return crate::error::error_page(StatusCode::PAYLOAD_TOO_LARGE);
            }
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
                return crate::error::error_page(StatusCode::PAYLOAD_TOO_LARGE);
            };
            let token = form_urlencoded::parse(&bytes)
                .find(|(key, _)| key == FORM_FIELD)
                .map(|(_, value)| value.into_owned().into_bytes());
            (token, Request::from_parts(parts, Body::from(bytes)))
        }
        // A file upload (multipart) carries the token in its action URL's
        // query: the body is not buffered here (the referrer policy keeps
        // the URL on this site, and logs record route patterns only).
        None if is_multipart(headers) => {
            let token = request.uri().query().and_then(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key == FORM_FIELD)
                    .map(|(_, value)| value.into_owned().into_bytes())
            });
            (token, request)
        }
        None => (None, request),
    };
    let Some(submitted) = submitted else {
        return refuse("no csrf token");
    };
    if !bool::from(submitted.ct_eq(&expected)) {
        return refuse("csrf token mismatch");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn origin_must_be_our_own() {
        let public = Some("https://portal.example");
        assert!(origin_allowed(&headers(&[]), public));
        assert!(origin_allowed(
            &headers(&[("origin", "https://portal.example")]),
            public
        ));
        assert!(origin_allowed(
            &headers(&[("origin", "http://127.0.0.1:9"), ("host", "127.0.0.1:9")]),
            public
        ));
        assert!(!origin_allowed(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "portal.example")
            ]),
            public
        ));
        assert!(!origin_allowed(
            &headers(&[("origin", "null"), ("host", "portal.example")]),
            public
        ));
        assert!(!origin_allowed(
            &headers(&[("origin", "https://portal.example.evil")]),
            public
        ));
    }

    #[test]
    fn token_shape_and_exemptions() {
        assert!(is_well_formed(&"a".repeat(64)));
        assert!(!is_well_formed("abc"));
        assert!(!is_well_formed(&"g".repeat(64)));
        assert!(!is_exempt("/language"));
        assert!(is_state_changing(&Method::DELETE) && !is_state_changing(&Method::GET));
    }
}
