//! Paying invoices online (PAY-01, PAY-03, PAY-04, COL-05) and the payment
//! provider's webhook (PAY-02).
//!
//! * `POST /my/payments` — the selected invoices (`invoice` fields) are
//!   paid: 303 to the provider's hosted page, or the payment's page with a
//!   clear message when the provider cannot be reached;
//! * `GET /my/payments`, `GET /my/payments/{id}` — the customer's payments
//!   and their states;
//! * `POST /my/payments/{id}/retry` — ask the provider again (same
//!   idempotency key: never a second charge);
//! * `GET /my/payments/{id}/return` — back from the hosted page;
//! * `POST /webhooks/adyen` — notifications: optional HTTP Basic, then the
//!   HMAC of every item; stored, then `[accepted]`, then processed.

use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::{Client, Customer};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use carfin_app::payments::adyen::NotificationRequest;
use carfin_app::payments::checkout::{self, Returned, Started};
use carfin_app::payments::notifications::{self, Refused};
use carfin_app::payments::{self, PaymentRow, PaymentView};
use carfin_app::AppError;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// Lets a page's forms go on to the provider's hosted payment page: the
/// content security policy's `form-action` also applies to the redirect
/// after a form is sent, so it names the provider's origins (PAY-01).
pub(crate) fn allow_hosted_page(state: &AppState, mut response: Response) -> Response {
    let origins = state.app().config().payments.hosted_page_origins();
    if origins.is_empty() {
        return response;
    }
    let policy = crate::frame::CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", origins.join(" ")),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/my/payments", get(list).post(start))
        .route("/my/payments/{id}", get(show))
        .route("/my/payments/{id}/retry", post(retry))
        .route("/my/payments/{id}/return", get(returned))
        .route("/webhooks/adyen", post(webhook))
}

/// A payment as a list line or page shows it.
#[derive(Debug, Clone)]
pub struct PaymentLine {
    pub id: i64,
    pub created: String,
    pub amount: String,
    pub status: &'static str,
    pub explanation: String,
    pub attention: bool,
}

fn date_of(ctx: &PageContext, unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| ctx.date(&t.date_naive().to_string()))
        .unwrap_or_default()
}

/// The status's name and what it means for the customer.
fn line(ctx: &PageContext, p: &PaymentRow) -> PaymentLine {
    let status = status_code(&p.status);
    let explanation = match status {
        "authorised" => ctx.tf(
            "payments.explain.authorised",
            &[(
                "date",
                &p.book_on
                    .as_deref()
                    .map(|d| ctx.date(d))
                    .unwrap_or_default(),
            )],
        ),
        "booked" => ctx.tf(
            "payments.explain.booked",
            &[(
                "date",
                &p.booked_at.map(|t| date_of(ctx, t)).unwrap_or_default(),
            )],
        ),
        "refused" => ctx.t("payments.explain.refused").to_string(),
        other => ctx.t(&format!("payments.explain.{other}")).to_string(),
    };
    PaymentLine {
        id: p.id,
        created: date_of(ctx, p.created_at),
        amount: ctx.money(&p.authorised_cents.unwrap_or(p.amount_cents)),
        status: ctx.t(&format!("payments.status.{status}")),
        explanation,
        attention: matches!(status, "refused" | "refunded" | "charged_back"),
    }
}

/// The catalogue code of a payment status.
fn status_code(status: &str) -> &'static str {
    payments::STATUSES
        .iter()
        .find(|s| **s == status)
        .copied()
        .unwrap_or("initiated")
}

#[derive(Template)]
#[template(path = "my/payments.html")]
struct PaymentsPage {
    ctx: PageContext,
    payments: Vec<PaymentLine>,
}

/// `GET /my/payments`: the customer's payments, newest first.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    let rows = payments::payments(state.app(), &session).await?;
    let payments = rows.iter().map(|p| line(&ctx, p)).collect();
    render(&PaymentsPage { ctx, payments })
}

/// An invoice of a payment as its page lists it.
#[derive(Debug, Clone)]
pub struct PaidInvoice {
    pub id: i64,
    pub number: String,
    pub due: String,
    pub requested: String,
    pub booked: String,
}

#[derive(Template)]
#[template(path = "my/payment.html")]
struct PaymentPage {
    ctx: PageContext,
    payment: PaymentLine,
    invoices: Vec<PaidInvoice>,
    /// A message at the top (the return from the provider, a failure).
    headline: Option<Headline>,
    /// The hosted page can still be used.
    continue_url: Option<String>,
    can_retry: bool,
    method: String,
    booked: bool,
}

/// A message at the top of the payment page.
#[derive(Debug, Clone)]
pub struct Headline {
    pub kind: &'static str,
    pub text: String,
}

fn payment_page(
    state: &AppState,
    ctx: PageContext,
    view: &PaymentView,
    headline: Option<Headline>,
    now: i64,
) -> Result<Response, WebError> {
    let invoices = view
        .invoices
        .iter()
        .map(|i| PaidInvoice {
            id: i.invoice_id,
            number: i.invoice_number.clone(),
            due: ctx.date(&i.due_date),
            requested: ctx.money(&i.requested_cents),
            booked: ctx.money(&i.booked_cents),
        })
        .collect();
    let payment = line(&ctx, &view.payment);
    let response = render(&PaymentPage {
        payment,
        invoices,
        headline,
        continue_url: view
            .can_continue(now)
            .then(|| view.payment.session_url.clone())
            .flatten(),
        can_retry: view.can_retry(),
        method: method_name(view.payment.payment_method.as_deref().unwrap_or_default()),
        booked: view.payment.booked_at.is_some(),
        ctx,
    })?;
    Ok(allow_hosted_page(state, response))
}

/// A payment method's brand name as the customer knows it.
fn method_name(code: &str) -> String {
    match code {
        "ideal" => "iDEAL".into(),
        "bcmc" | "bcmc_mobile" => "Bancontact".into(),
        "visa" => "Visa".into(),
        "mc" => "Mastercard".into(),
        "amex" => "American Express".into(),
        other => other.to_string(),
    }
}

/// The message of a provider failure (PAY-04).
fn provider_down(ctx: &PageContext, code: &str) -> Headline {
    let key = match code {
        "timeout" => "payments.provider.timeout",
        "malformed" => "payments.provider.malformed",
        "refused" => "payments.provider.refused",
        _ => "payments.provider.unavailable",
    };
    Headline {
        kind: "error",
        text: ctx.t(key).to_string(),
    }
}

/// `?error=` on a payment page: the provider could not be reached.
#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    provider: Option<String>,
}

/// `GET /my/payments/{id}`.
pub async fn show(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, WebError> {
    let view = payments::payment(state.app(), &session, id).await?;
    let headline = match (&query.provider, &view.payment.provider_error) {
        (Some(_), Some(code)) if view.can_retry() => Some(provider_down(&ctx, code)),
        _ => None,
    };
    let now = state.app().clock().now().timestamp();
    payment_page(&state, ctx, &view, headline, now)
}

/// Where a started payment goes next.
fn after_start(started: Started) -> Response {
    match started {
        Started::Redirect { url, .. } => Redirect::to(&url).into_response(),
        Started::ProviderDown { payment_id, .. } => {
            Redirect::to(&format!("/my/payments/{payment_id}?provider=down")).into_response()
        }
    }
}

/// `POST /my/payments` with one or more `invoice` fields (PAY-01, COL-05).
pub async fn start(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    body: Bytes,
) -> Result<Response, WebError> {
    let mut ids = Vec::new();
    let mut malformed = false;
    for (name, value) in form_urlencoded::parse(&body) {
        if name == "invoice" {
            match value.trim().parse::<i64>() {
                Ok(id) => ids.push(id),
                Err(_) => malformed = true,
            }
        }
    }
    if malformed {
        return Err(WebError::NotFound);
    }
    match checkout::start(state.app(), &session, &ids, ctx.lang, &client.request_id).await {
        Ok(started) => Ok(after_start(started)),
        Err(AppError::Invalid(problems)) => {
            // Back to the invoices to pay, with the selection kept and the
            // reason at the top.
            let key = problems
                .first()
                .map(|(_, k)| k.clone())
                .unwrap_or_else(|| "payments.error.not_payable".into());
            crate::invoices::payable_page(state, ctx, session, &ids, Some(key)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /my/payments/{id}/retry` (PAY-04).
pub async fn retry(
    State(state): State<AppState>,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    match checkout::resume(state.app(), &session, id).await {
        Ok(started) => Ok(after_start(started)),
        Err(AppError::Invalid(_)) => {
            Ok(Redirect::to(&format!("/my/payments/{id}")).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The provider's redirect back: `?sessionId=…&sessionResult=…`.
#[derive(Debug, Default, Deserialize)]
pub struct ReturnQuery {
    #[serde(default, rename = "sessionId")]
    session_id: String,
    #[serde(default, rename = "sessionResult")]
    session_result: String,
}

/// `GET /my/payments/{id}/return`: the state carfin knows, never the
/// redirect's word alone (PAY-01, PAY-03).
pub async fn returned(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
    Query(query): Query<ReturnQuery>,
) -> Result<Response, WebError> {
    let (view, outcome) = checkout::returned(
        state.app(),
        &session,
        id,
        &query.session_id,
        &query.session_result,
    )
    .await?;
    let (kind, key) = match outcome {
        Returned::Received => ("success", "payments.return.received"),
        Returned::Cancelled => ("info", "payments.return.cancelled"),
        Returned::Refused => ("error", "payments.return.refused"),
        Returned::Pending => ("info", "payments.return.pending"),
    };
    let headline = Some(Headline {
        kind,
        text: ctx.t(key).to_string(),
    });
    let now = state.app().clock().now().timestamp();
    payment_page(&state, ctx, &view, headline, now)
}

/// Whether the request carries the configured HTTP Basic credentials
/// (compared in constant time); true when none are configured.
fn basic_auth_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let config = &state.app().config().payments;
    if config.webhook_username.is_empty() {
        return true;
    }
    let expected = format!(
        "{}:{}",
        config.webhook_username,
        config.webhook_password.expose()
    );
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .unwrap_or_default();
    // Equal lengths first, then the bytes, without an early exit.
    let same_length = given.len() == expected.len();
    let padded: Vec<u8> = given
        .iter()
        .copied()
        .chain(std::iter::repeat(0))
        .take(expected.len())
        .collect();
    bool::from(padded.ct_eq(expected.as_bytes())) && same_length
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `POST /webhooks/adyen` (PAY-02).
pub async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let app = state.app().clone();
    if !app.config().payments.enabled() {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    if !basic_auth_ok(&state, &headers) {
        tracing::warn!(
            security = true,
            event = "payment_webhook_refused",
            reason = "basic_auth",
            "payment notification refused"
        );
        return plain(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Ok(request) = serde_json::from_slice::<NotificationRequest>(&body) else {
        tracing::warn!(
            security = true,
            event = "payment_webhook_refused",
            reason = "malformed",
            "payment notification refused"
        );
        return plain(StatusCode::BAD_REQUEST, "malformed notification");
    };
    match notifications::receive(&app, &request).await {
        Ok(Ok(received)) => {
            if !received.stored.is_empty() {
                // Processed after the answer; the worker catches anything a
                // crash leaves behind.
                tokio::spawn(async move {
                    if let Err(error) = notifications::process_pending(&app, 100).await {
                        tracing::error!(%error, "payment notifications not processed yet");
                    }
                });
            }
            tracing::info!(
                stored = received.stored.len(),
                duplicates = received.duplicates,
                "payment notifications accepted"
            );
            plain(StatusCode::OK, "[accepted]")
        }
        Ok(Err(Refused::Signature(problem))) => {
            tracing::warn!(
                security = true,
                event = "payment_webhook_refused",
                reason = problem.code(),
                "payment notification refused"
            );
            plain(StatusCode::UNAUTHORIZED, "invalid signature")
        }
        Ok(Err(Refused::NotConfigured)) => plain(StatusCode::NOT_FOUND, "not found"),
        Err(error) => {
            // Not stored: Adyen retries.
            tracing::error!(%error, "payment notifications not stored");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}
