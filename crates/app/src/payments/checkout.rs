//! Checkout (PAY-01, PAY-04, COL-05): the customer selects open, overdue or
//! in-collection invoices and pays them on the provider's hosted page.
//!
//! 1. In one write transaction the selection is checked (every invoice the
//!    customer's, on an activated contract, still to pay, of one legal
//!    entity, not in another payment in progress) and the payment recorded
//!    as `initiated`, with an audit record.
//! 2. Outside the transaction the provider is asked for a checkout session
//!    with the idempotency key `carfin-payment-{id}`: a retry after a
//!    timeout gets the same session, never a second one (PAY-04).
//! 3. The customer goes to the session's hosted page. Back at the return
//!    URL carfin asks the provider for the session's result server to
//!    server and shows the state it knows; only a signed notification
//!    authorises a payment.

use super::adyen::{Checkout, ProviderError, SessionAmount, SessionRequest};
use super::PaymentView;
use crate::audit::{self, ActorKind, AuditEntry};
use crate::identity::activation::require_active;
use crate::identity::session::Session;
use crate::{App, AppError};
use carfin_domain::Language;
use carfin_store::repo::payments as repo;
use carfin_store::StoreError;
use chrono::{Duration, SecondsFormat, TimeZone, Utc};
use std::collections::BTreeSet;

/// The most invoices one payment may cover.
pub const MAX_INVOICES: usize = 100;

/// What the customer's click on "pay" led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Go to the provider's hosted payment page.
    Redirect { payment_id: i64, url: String },
    /// The provider could not be reached: the payment waits for a retry
    /// (code: `timeout`, `unavailable`, `malformed`, `refused`).
    ProviderDown { payment_id: i64, code: String },
}

fn invalid(key: &str) -> AppError {
    AppError::Invalid(vec![("invoice".into(), key.into())])
}

fn customer_audit(session: &Session, request_id: &str, action: &str) -> AuditEntry {
    AuditEntry {
        actor_kind: ActorKind::Customer,
        actor_id: Some(session.customer_id),
        role: "customer".into(),
        action: action.into(),
        subject_id: Some(session.customer_id),
        purpose: "process_payments".into(),
        fields: vec!["payments.amount_cents".into(), "payments.status".into()],
        request_id: if request_id.is_empty() {
            "none".into()
        } else {
            request_id.into()
        },
    }
}

/// The Checkout client for the configuration in force.
pub fn client(app: &App) -> Result<Checkout, AppError> {
    let config = &app.config().payments;
    Checkout::new(
        &config.checkout_base(&app.config().server.public_url),
        config.api_key.expose(),
        std::time::Duration::from_secs(config.timeout_secs.max(1)),
    )
    .map_err(|e| AppError::Config(e.to_string()))
}

/// Starts paying `invoice_ids` (PAY-01). Invoices that are not the
/// customer's answer [`AppError::NotFound`], as everywhere; a selection that
/// cannot be paid answers [`AppError::Invalid`] with a message key.
pub async fn start(
    app: &App,
    session: &Session,
    invoice_ids: &[i64],
    language: Language,
    request_id: &str,
) -> Result<Started, AppError> {
    require_active(session)?;
    if !app.config().payments.enabled() {
        return Err(AppError::NotFound);
    }
    let ids: BTreeSet<i64> = invoice_ids.iter().copied().collect();
    if ids.is_empty() {
        return Err(invalid("payments.error.none_selected"));
    }
    if ids.len() > MAX_INVOICES {
        return Err(invalid("payments.error.too_many"));
    }
    let ids: Vec<i64> = ids.into_iter().collect();
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let invoices =
        repo::customer_invoices(&mut tx, session.customer_id, session.account_id, &ids).await?;
    if invoices.len() != ids.len() {
        return Err(AppError::NotFound);
    }
    if invoices
        .iter()
        .any(|i| !repo::PAYABLE.contains(&i.status.as_str()) || i.open_cents() <= 0)
    {
        return Err(invalid("payments.error.not_payable"));
    }
    let entity_id = invoices[0].entity_id;
    if invoices.iter().any(|i| i.entity_id != entity_id) {
        return Err(invalid("payments.error.one_entity"));
    }
    let busy = repo::in_progress_for(&mut tx, &ids, now).await?;
    if busy.iter().any(|(_, status, _)| status == "authorised") {
        return Err(invalid("payments.error.being_processed"));
    }
    // The same selection with a session still open: back to that session,
    // so one payment never has two (PAY-04).
    let busy: BTreeSet<i64> = busy.iter().map(|(id, _, _)| *id).collect();
    let mut open = 0;
    for payment_id in busy {
        if repo::invoice_ids_of(&mut tx, payment_id).await? == ids {
            tx.commit().await.map_err(StoreError::from)?;
            return resume(app, session, payment_id).await;
        }
        // A payment whose session never reached the customer (the provider
        // failed) cannot be paid by anybody: the new selection replaces it.
        let unseen = repo::by_id(&mut tx, payment_id)
            .await?
            .is_some_and(|p| p.session_url.is_none());
        if unseen {
            repo::transition(
                &mut tx,
                payment_id,
                &repo::Transition {
                    from: &["initiated"],
                    to: "cancelled",
                    ended_at: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
        } else {
            open += 1;
        }
    }
    if open > 0 {
        return Err(invalid("payments.error.in_progress"));
    }
    let payment_id = app.ids().next();
    let amount: i64 = invoices.iter().map(|i| i.open_cents()).sum();
    repo::insert(
        &mut tx,
        &repo::NewPayment {
            id: payment_id,
            customer_id: session.customer_id,
            entity_id,
            amount_cents: amount,
            currency: "EUR".into(),
            language: language.code().into(),
            created_at: now,
            invoices: invoices.iter().map(|i| (i.id, i.open_cents())).collect(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        app,
        customer_audit(session, request_id, "payment.start"),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    open_session(app, payment_id).await
}

/// Asks the provider again for the session of an initiated payment (the
/// "try again" after a failure, or the same selection paid again): the
/// idempotency key is the payment's, so this never opens a second one.
pub async fn resume(app: &App, session: &Session, payment_id: i64) -> Result<Started, AppError> {
    require_active(session)?;
    let payment = repo::of_customer(app.db(), session.customer_id, payment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if payment.status != "initiated" {
        return Err(invalid("payments.error.not_open"));
    }
    let now = app.clock().now().timestamp();
    match (&payment.session_url, payment.session_expires_at) {
        (Some(url), Some(expires)) if expires > now => Ok(Started::Redirect {
            payment_id,
            url: url.clone(),
        }),
        (Some(_), _) => Err(invalid("payments.error.not_open")),
        _ => open_session(app, payment_id).await,
    }
}

/// The two-letter country of the legal entity and the shopper locale.
fn locale(language: &str, country: &str) -> String {
    match (language, country) {
        ("fr", "BE") => "fr-BE".into(),
        ("fr", _) => "fr-FR".into(),
        ("nl", "BE") => "nl-BE".into(),
        ("nl", _) => "nl-NL".into(),
        _ => "en-GB".into(),
    }
}

/// Creates the provider's session of an initiated payment and stores it.
async fn open_session(app: &App, payment_id: i64) -> Result<Started, AppError> {
    let mut conn = app.db().begin_write().await?;
    let payment = repo::by_id(&mut conn, payment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    conn.commit().await.map_err(StoreError::from)?;
    let directory = app.directory().await?;
    let country = directory
        .entity_by_id(payment.entity_id)
        .map(|e| e.country.clone())
        .unwrap_or_else(|| "NL".into());
    let config = &app.config().payments;
    let minutes = config.session_minutes.max(5);
    // The session's expiry counts from its first request: a retry with the
    // same idempotency key sends the same body.
    let expires = payment.created_at + minutes * 60;
    let expires_at = Utc
        .timestamp_opt(expires, 0)
        .single()
        .unwrap_or_else(|| app.clock().now() + Duration::minutes(minutes));
    let request = SessionRequest {
        merchant_account: config.merchant_account.clone(),
        amount: SessionAmount {
            currency: payment.currency.clone(),
            value: payment.amount_cents,
        },
        reference: payment.id.to_string(),
        return_url: format!(
            "{}/my/payments/{}/return",
            app.config().server.public_url.trim_end_matches('/'),
            payment.id
        ),
        shopper_locale: locale(&payment.language, &country),
        country_code: country,
        mode: "hosted".into(),
        expires_at: expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        shopper_statement: String::new(),
    };
    let now = app.clock().now().timestamp();
    let outcome = match client(app) {
        Ok(client) => {
            client
                .create_session(&request, &idempotency_key(payment.id))
                .await
        }
        Err(_) => Err(ProviderError::Malformed),
    };
    let mut tx = app.db().begin_write().await?;
    let started = match outcome {
        Ok(session) => {
            repo::set_session(&mut tx, payment.id, &session.id, &session.url, expires, now).await?;
            Started::Redirect {
                payment_id: payment.id,
                url: session.url,
            }
        }
        Err(error) => {
            tracing::warn!(payment_id = payment.id, error = %error, "checkout session not created");
            repo::set_provider_error(&mut tx, payment.id, error.code(), now).await?;
            Started::ProviderDown {
                payment_id: payment.id,
                code: error.code().into(),
            }
        }
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(started)
}

/// The idempotency key of a payment's session request.
pub fn idempotency_key(payment_id: i64) -> String {
    format!("carfin-payment-{payment_id}")
}

/// What the return page says (never more than carfin knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// The provider reports the payment done; the notification will make it
    /// authorised ("payment received, being processed").
    Received,
    /// The customer cancelled on the provider's page; the invoices are free.
    Cancelled,
    /// The provider refused the payment.
    Refused,
    /// Nothing final yet (or the provider could not be asked).
    Pending,
}

/// Back from the hosted page (`?sessionId=…&sessionResult=…`): asks the
/// provider for the session's result, server to server, and records what
/// can be recorded (a cancellation or expiry frees the invoices).
pub async fn returned(
    app: &App,
    session: &Session,
    payment_id: i64,
    session_id: &str,
    session_result: &str,
) -> Result<(PaymentView, Returned), AppError> {
    require_active(session)?;
    let payment = repo::of_customer(app.db(), session.customer_id, payment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut outcome = Returned::Pending;
    let ours = payment.session_id.as_deref() == Some(session_id) && !session_result.is_empty();
    if ours {
        match client(app)?
            .session_status(session_id, session_result)
            .await
        {
            Ok(status) => {
                outcome = match status.status.as_str() {
                    "completed" => Returned::Received,
                    "canceled" | "expired" => Returned::Cancelled,
                    "refused" => Returned::Refused,
                    _ => Returned::Pending,
                };
                if outcome == Returned::Cancelled {
                    let now = app.clock().now().timestamp();
                    let mut tx = app.db().begin_write().await?;
                    let to = if status.status == "expired" {
                        "expired"
                    } else {
                        "cancelled"
                    };
                    repo::transition(
                        &mut tx,
                        payment_id,
                        &repo::Transition {
                            from: &["initiated"],
                            to,
                            ended_at: Some(now),
                            ..Default::default()
                        },
                        now,
                    )
                    .await?;
                    tx.commit().await.map_err(StoreError::from)?;
                }
            }
            Err(error) => {
                tracing::warn!(payment_id, error = %error, "session result not available");
            }
        }
    }
    let view = super::payment(app, session, payment_id).await?;
    // What carfin stored wins over what the provider said just now.
    let outcome = match view.payment.status.as_str() {
        "authorised" | "booked" => Returned::Received,
        "refused" => Returned::Refused,
        "cancelled" | "expired" => Returned::Cancelled,
        _ => outcome,
    };
    Ok((view, outcome))
}

#[cfg(test)]
mod tests {
    use super::locale;

    #[test]
    fn shopper_locales() {
        assert_eq!(locale("fr", "BE"), "fr-BE");
        assert_eq!(locale("nl", "BE"), "nl-BE");
        assert_eq!(locale("nl", "NL"), "nl-NL");
        assert_eq!(locale("en", "BE"), "en-GB");
    }
}
