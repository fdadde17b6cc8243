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
pub mod auth;
pub mod chart;
pub mod client_addr;
pub mod context;
pub mod contracts;
pub mod cookies;
pub mod csrf;
pub mod dev;
pub mod documents;
pub mod error;
pub mod form;
pub mod frame;
pub mod i18n;
pub mod invoices;
pub mod language;
pub mod metrics;
pub mod my_privacy;
pub mod ops;
pub mod pages;
pub mod payments;
pub mod portal;
pub mod session;
pub mod simulator;
pub mod staff;
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
    let dev_outbox = app.config().dev.outbox;
    let simulator = app.config().payments.simulator();
    let state = AppState::new(app);
    let mut routes = Router::new()
        .route("/", get(pages::index))
        .route("/brands/{slug}", get(pages::brand))
        .route("/legal", get(pages::legal))
        .route("/language", post(language::switch))
        .route("/terms", get(auth::terms))
        .route("/register", get(auth::register_form).post(auth::register))
        .route(
            "/register/verify/{token}",
            get(auth::verify_form).post(auth::verify),
        )
        .route("/login", get(auth::login_form).post(auth::login))
        .route(
            "/login/verify",
            get(auth::second_factor_form).post(auth::second_factor),
        )
        .route("/login/verify/resend", post(auth::resend_login_code))
        .route(
            "/login/terms",
            get(auth::terms_form).post(auth::accept_terms),
        )
        .route("/logout", post(auth::logout))
        .route(
            "/password/forgot",
            get(auth::forgot_form).post(auth::forgot),
        )
        .route(
            "/password/reset/{token}",
            get(auth::reset_form).post(auth::reset),
        )
        .route(
            "/email/confirm/{token}",
            get(auth::email_confirm_form).post(auth::email_confirm),
        )
        .route("/report/{token}", get(auth::report_form).post(auth::report))
        .route("/my", get(contracts::dashboard))
        .route("/my/contracts/{id}", get(contracts::contract))
        .route("/my/contracts/{id}/vehicle", get(contracts::vehicle))
        .route("/my/contracts/{id}/statement", get(contracts::statement))
        .route(
            "/my/contracts/{id}/statement.csv",
            get(contracts::statement_csv),
        )
        .route(
            "/my/contracts/{id}/statement.pdf",
            get(contracts::statement_pdf),
        )
        .route("/my/contracts/{id}/schedule", get(contracts::schedule))
        .route("/my/invoices", get(invoices::list))
        .route("/my/invoices/{id}", get(invoices::show))
        .route("/my/invoices/{id}/invoice.pdf", get(invoices::pdf))
        .route(
            "/my/contracts/{id}/activate",
            get(portal::activate_form).post(portal::activate),
        )
        .route(
            "/my/contracts/{id}/activate/send",
            post(portal::send_activation_code),
        )
        .route("/my/security", get(portal::security))
        .route("/my/security/password", post(portal::change_password))
        .route("/my/security/email", post(portal::change_email))
        .route("/my/security/sessions/{id}/end", post(portal::end_session))
        .route(
            "/my/security/sessions/end-others",
            post(portal::end_other_sessions),
        )
        .route(
            "/my/security/two-factor/totp",
            get(portal::totp_form).post(portal::totp_confirm),
        )
        .route("/my/security/two-factor/sms", post(portal::sms_enable))
        .route("/my/security/two-factor/off", post(portal::two_factor_off))
        .route("/my/security/report", post(portal::report))
        .route("/my/account/close", post(portal::close_account))
        .route("/static/carfin.css", get(assets::stylesheet))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));
    // My privacy: data export and access history (PRV-04, PRV-08, PRV-16).
    routes = routes.merge(my_privacy::routes());
    // The back office (BOF-01 … BOF-06).
    routes = routes.merge(staff::routes());
    // Documents on request (SRV-05).
    routes = routes.merge(documents::routes());
    // Paying invoices online and the provider's webhook (PAY-01 … PAY-04).
    routes = routes.merge(payments::routes());
    if simulator {
        // The Adyen-compatible provider simulator (PAY-05): demo and tests only.
        routes = routes.merge(simulator::routes(&state));
    }
    if dev_outbox {
        // `carfin demo` only: every e-mail and SMS, readable in the browser.
        routes = routes.merge(dev::routes());
    }
    routes
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
