//! The outermost middleware: what every request and response goes through.
//!
//! Before the handler: a fresh request id, the language, the CSRF token (from
//! the cookie, or a new one), all put into a [`PageContext`] in the request's
//! extensions, and a log span carrying the request id, method and route.
//!
//! After the handler: error responses become the localized error page (with
//! the request id); the CSRF cookie is set on HTML responses that lacked it;
//! the security headers and `x-request-id` are added; the request is counted
//! in the metrics and logged as one event — method, route pattern, status,
//! latency and request id only: never the raw path, query string, headers,
//! cookies or body (OPS-04, SECURITY 11).

use crate::context::{CsrfToken, PageContext, RequestId};
use crate::cookies::{self, Lifetime, SameSite};
use crate::error::{page_keys, ErrorPage, KeepBody};
use crate::state::AppState;
use crate::{csrf, language, pages};
use askama::Template;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// The content security policy: everything from this origin only, no inline
/// script or style, no plugins, no `<base>`, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every response carries (OPS-08, SECURITY 9).
pub const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The route label of requests no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub(crate) async fn frame(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = RequestId::random();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
    );

    let cookie_name = csrf::cookie_name(state.secure_cookies());
    let (csrf_token, csrf_cookie_present) = match cookies::get(request.headers(), cookie_name) {
        Some(token) if csrf::is_well_formed(token) => (CsrfToken(token.to_string()), true),
        _ => (CsrfToken::random(), false),
    };
    let context = PageContext {
        request_id: request_id.clone(),
        lang: language::select(request.headers(), request.uri().query()),
        csrf_token,
        csrf_cookie_present,
        path: request.uri().path().to_string(),
        signed_in: cookies::get(
            request.headers(),
            crate::session::cookie_name(state.secure_cookies()),
        )
        .is_some(),
    };
    request.extensions_mut().insert(context.clone());

    let mut response = next.run(request).instrument(span.clone()).await;

    if wants_error_page(&response) {
        response = error_page(&context, response);
    }
    let headers = response.headers_mut();
    if !csrf_cookie_present && is_html(headers) {
        let cookie = cookies::set_cookie(
            cookie_name,
            context.csrf_token.as_str(),
            Lifetime::Session,
            SameSite::Strict,
            state.secure_cookies(),
            true,
        );
        if let Some(cookie) = cookie {
            headers.append(header::SET_COOKIE, cookie);
        }
    }
    add_security_headers(headers);
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics().record(&method, &route, status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    tracing::info!(
        parent: &span,
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        latency_ms,
        "request"
    );
    response
}

/// Adds the security headers; `Cache-Control: no-store` unless the response
/// chose its own caching (static assets).
pub(crate) fn add_security_headers(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        // A page that posts to the payment provider's hosted page widens
        // `form-action` to that origin and sets its own policy (PAY-01).
        if name == "content-security-policy" && headers.contains_key(name) {
            continue;
        }
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Error responses become the localized page, unless they are already HTML
/// or are meant for machines ([`KeepBody`]). This also covers axum's own
/// rejections, the timeout and the body limit.
fn wants_error_page(response: &Response) -> bool {
    let extensions = response.extensions();
    if extensions.get::<ErrorPage>().is_some() {
        return true;
    }
    let status = response.status();
    (status.is_client_error() || status.is_server_error())
        && extensions.get::<KeepBody>().is_none()
        && !is_html(response.headers())
}

fn error_page(context: &PageContext, response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    let status = parts.status;
    let (title, text) = page_keys(status);
    let page = pages::ErrorPage {
        ctx: context.clone(),
        status: status.as_u16(),
        title: context.t(title),
        text: context.t(text),
    };
    let (body, content_type) = match page.render() {
        Ok(html) => (Body::from(html), "text/html; charset=utf-8"),
        Err(error) => {
            tracing::error!(%error, "error page failed");
            let text = format!(
                "{} {}\n{}\n",
                status.as_u16(),
                context.t(title),
                context.request_id
            );
            (Body::from(text), "text/plain; charset=utf-8")
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.extensions.remove::<ErrorPage>();
    Response::from_parts(parts, body)
}

/// The status a timed-out request is answered with.
pub const TIMEOUT_STATUS: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
