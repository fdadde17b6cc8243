//! carfin's web layer: server-rendered HTML that works without JavaScript,
//! localized in Dutch, French and English, behind one frame of security
//! headers, request ids, CSRF protection, logs and metrics.
//!
//! Request path, outermost first:
//! 1. [`frame`] — request id, language, CSRF token, log span; afterwards the
//!    localized error page, CSRF cookie, security headers, `x-request-id`,
//!    metrics and the one log event per request;
//! 2. a timeout (`server.request_timeout_secs`, answered 503);
//! 3. a body size limit ([`BODY_LIMIT`]);
//! 4. [`csrf::verify`] on POST, PUT, PATCH and DELETE;
//! 5. the handler, which extracts, calls the application and renders.

pub mod assets;
pub mod client_addr;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod frame;
pub mod i18n;
pub mod language;
pub mod metrics;
pub mod ops;
pub mod pages;
pub mod state;

pub use client_addr::ClientAddr;
pub use context::{CsrfToken, PageContext, RequestId};
pub use error::WebError;
pub use state::AppState;

use axum::routing::{get, post};
use axum::Router;
use carfin_app::App;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The largest request body accepted anywhere (1 MiB). Forms are further
/// limited to [`csrf::FORM_LIMIT`]; uploads will set their own limit.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole web application for `app`.
pub fn router(app: App) -> Router {
    let timeout = Duration::from_secs(app.config().server.request_timeout_secs.max(1));
    let state = AppState::new(app);
    Router::new()
        .route("/", get(pages::index))
        .route("/brands/{slug}", get(pages::brand))
        .route("/legal", get(pages::legal))
        .route("/language", post(language::switch))
        .route("/static/carfin.css", get(assets::stylesheet))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::verify,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            frame::TIMEOUT_STATUS,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            frame::frame,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting connections and lets requests in flight finish, for at most
/// `server.shutdown_grace_secs`.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(app.config().server.shutdown_grace_secs);
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections");
        let _ = stopping_tx.send(true);
    };
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let deadline = async move {
        // Completes only once shutdown began and the grace period is over.
        if stopping_rx.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over: dropping requests in flight");
            Ok(())
        }
    }
}
