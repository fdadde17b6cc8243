//! The Adyen-compatible provider simulator's pages and API (PAY-05),
//! mounted only when `payments.provider = "simulator"` (`carfin demo`,
//! tests). The logic and the in-memory state are in
//! [`carfin_app::payments::simulator`]; these handlers translate HTTP.
//!
//! * `POST {API}/sessions`, `GET {API}/sessions/{id}`,
//!   `POST {API}/payments/{pspReference}/refunds`,
//!   `POST {API}/payments/{pspReference}/cancels` and the simulator's own
//!   `POST {API}/chargebacks/{pspReference}`: JSON, `X-API-Key`,
//!   `Idempotency-Key`, as Adyen's Checkout API v71 (`{API}` is
//!   `/simulator/adyen/checkout/v71`, exempt from the CSRF check);
//! * `GET` and `POST /simulator/adyen/pay/{id}`: the hosted payment page, in
//!   the session's `shopperLocale`; its form carries the CSRF token like
//!   every other form.

use crate::context::PageContext;
use crate::error::{KeepBody, WebError};
use crate::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use carfin_app::payments::simulator::{
    ActError, Action, PageView, PaymentMethod, Reply, SessionStatus, Simulator, API_PATH, PAGE_PATH,
};
use serde::Deserialize;

/// The simulator's routes, sharing one [`Simulator`] built from the
/// configuration.
pub fn routes(state: &AppState) -> Router<AppState> {
    let simulator = Simulator::from_config(state.app().config());
    Router::new()
        .route(&format!("{API_PATH}/sessions"), post(create_session))
        .route(&format!("{API_PATH}/sessions/{{id}}"), get(session_status))
        .route(
            &format!("{API_PATH}/payments/{{psp_reference}}/refunds"),
            post(refund),
        )
        .route(
            &format!("{API_PATH}/payments/{{psp_reference}}/cancels"),
            post(cancel),
        )
        .route(
            &format!("{API_PATH}/chargebacks/{{psp_reference}}"),
            post(chargeback),
        )
        .route(&format!("{PAGE_PATH}/{{id}}"), get(page).post(act))
        .layer(Extension(simulator))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn api_key(headers: &HeaderMap) -> Option<&str> {
    header_text(headers, "x-api-key")
}

fn idempotency_key(headers: &HeaderMap) -> Option<&str> {
    header_text(headers, "idempotency-key")
}

/// A JSON answer, kept as it is (no error page).
fn json(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
        .into_response();
    response.extensions_mut().insert(KeepBody);
    response
}

/// `POST {API}/sessions`.
pub async fn create_session(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.app().clock().now();
    json(simulator.create_session(api_key(&headers), idempotency_key(&headers), &body, now))
}

/// `GET {API}/sessions/{id}?sessionResult=…`.
pub async fn session_status(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = state.app().clock().now();
    json(simulator.session_status(api_key(&headers), &id, now))
}

/// `POST {API}/payments/{pspReference}/refunds`.
pub async fn refund(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    Path(psp_reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.app().clock().now();
    json(simulator.refund(
        api_key(&headers),
        idempotency_key(&headers),
        &psp_reference,
        &body,
        now,
    ))
}

/// `POST {API}/payments/{pspReference}/cancels`.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    Path(psp_reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.app().clock().now();
    json(simulator.cancel(
        api_key(&headers),
        idempotency_key(&headers),
        &psp_reference,
        &body,
        now,
    ))
}

/// `POST {API}/chargebacks/{pspReference}` (the simulator's own).
pub async fn chargeback(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    Path(psp_reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.app().clock().now();
    json(simulator.chargeback(
        api_key(&headers),
        idempotency_key(&headers),
        &psp_reference,
        &body,
        now,
    ))
}

#[derive(Template)]
#[template(path = "simulator/pay.html")]
struct PayPage {
    ctx: PageContext,
    view: PageView,
    amount: String,
    pay_label: String,
    /// The method selected: `ideal`, `bcmc` or `visa`.
    method: &'static str,
    /// Why the shopper cannot act (closed sessions).
    closed: String,
}

/// The page for `view`, in the session's language.
fn render_page(ctx: PageContext, view: PageView, status: StatusCode) -> Result<Response, WebError> {
    let mut ctx = ctx;
    ctx.lang = view.language;
    let amount = view.amount_text();
    let finished = |outcome: &str| ctx.tf("simulator.finished", &[("outcome", outcome)]);
    let closed = match view.status {
        SessionStatus::Active => String::new(),
        SessionStatus::Expired => ctx.t("simulator.expired").to_string(),
        SessionStatus::Completed => finished(ctx.t("simulator.outcome_completed")),
        SessionStatus::Refused => finished(ctx.t("simulator.outcome_refused")),
        SessionStatus::Canceled => finished(ctx.t("simulator.outcome_canceled")),
    };
    let pay_label = ctx.tf("simulator.pay", &[("amount", &amount)]);
    let method = view.default_method.code();
    let mut response = render(&PayPage {
        ctx,
        view,
        amount,
        pay_label,
        method,
        closed,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /simulator/adyen/pay/{id}`: the hosted payment page.
pub async fn page(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    ctx: PageContext,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let now = state.app().clock().now();
    let view = simulator.page(&id, now).ok_or(WebError::NotFound)?;
    render_page(ctx, view, StatusCode::OK)
}

/// The page's form.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    method: String,
}

/// `POST /simulator/adyen/pay/{id}`: pay, refuse or cancel; then back to
/// the session's `returnUrl` (303). A finished or expired session shows the
/// page again, saying so (409).
pub async fn act(
    State(state): State<AppState>,
    Extension(simulator): Extension<Simulator>,
    ctx: PageContext,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Result<Response, WebError> {
    let action = Action::parse(&form.action).ok_or(WebError::BadRequest)?;
    let method = match (PaymentMethod::parse(&form.method), action) {
        (Some(method), _) => method,
        // Cancelling needs no method.
        (None, Action::Cancel) if form.method.is_empty() => PaymentMethod::Visa,
        (None, _) => return Err(WebError::BadRequest),
    };
    let now = state.app().clock().now();
    match simulator.act(&id, action, method, now) {
        Ok(return_url) => {
            let location = HeaderValue::from_str(&return_url).map_err(|_| WebError::Internal)?;
            Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
        }
        Err(ActError::NotFound) => Err(WebError::NotFound),
        Err(ActError::Closed(_)) => {
            let view = simulator.page(&id, now).ok_or(WebError::NotFound)?;
            render_page(ctx, view, StatusCode::CONFLICT)
        }
    }
}
