//! Operations endpoints (OPS-04): liveness, readiness and metrics.
//!
//! `/metrics` is not public (SECURITY 21): with `metrics.token` configured it
//! needs `Authorization: Bearer <token>`; without one it answers only
//! loopback clients that did not come through a proxy. Everyone else gets
//! the same 404 page as an unknown address.

use crate::error::{KeepBody, WebError};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut response = (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    response.extensions_mut().insert(KeepBody);
    response
}

/// `GET /healthz`: the process is up (no database call).
pub async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

/// `GET /readyz`: the database and the key store answer.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.app().ready().await {
        Ok(()) => plain(StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            plain(StatusCode::SERVICE_UNAVAILABLE, "not ready")
        }
    }
}

/// Whether this request may read the metrics.
pub(crate) fn metrics_allowed(
    token: Option<&str>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> bool {
    match token {
        Some(token) => {
            let presented = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, value)| value.trim());
            match presented {
                Some(presented) => bool::from(presented.as_bytes().ct_eq(token.as_bytes())),
                None => false,
            }
        }
        None => {
            let proxied =
                headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
            peer.is_some_and(|p| p.ip().is_loopback()) && !proxied
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, WebError> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let token = state
        .app()
        .config()
        .metrics
        .token
        .as_ref()
        .map(|t| t.expose())
        .filter(|t| !t.is_empty());
    if !metrics_allowed(token, &headers, peer) {
        tracing::warn!("metrics refused");
        return Err(WebError::NotFound);
    }
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    Ok(([(CONTENT_TYPE, content_type)], state.metrics().render()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    // SECURITY 21: metrics only for loopback without proxy headers, or with the token.
    #[test]
    fn metrics_access() {
        let none = HeaderMap::new();
        assert!(metrics_allowed(None, &none, peer("127.0.0.1:5000")));
        assert!(metrics_allowed(None, &none, peer("[::1]:5000")));
        assert!(!metrics_allowed(None, &none, peer("192.0.2.1:5000")));
        assert!(!metrics_allowed(None, &none, None));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.1"));
        assert!(!metrics_allowed(None, &proxied, peer("127.0.0.1:5000")));

        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(metrics_allowed(
            Some("s3cret"),
            &bearer,
            peer("192.0.2.1:5000")
        ));
        assert!(!metrics_allowed(
            Some("other"),
            &bearer,
            peer("127.0.0.1:5000")
        ));
        assert!(!metrics_allowed(
            Some("s3cret"),
            &none,
            peer("127.0.0.1:5000")
        ));
    }
}
