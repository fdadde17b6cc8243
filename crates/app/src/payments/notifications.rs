//! The provider's notifications (PAY-02, PAY-03, PAY-04).
//!
//! [`receive`] is the webhook's part: every item's HMAC is checked (one bad
//! item refuses the whole request, nothing stored); the items are stored in
//! one transaction, at most once per (pspReference, eventCode, success); only
//! then does the webhook answer `[accepted]`. Processing comes after:
//! [`process_pending`] claims stored items with a lease and applies each in
//! its own transaction, which also marks it processed — a crash before the
//! commit leaves the item unprocessed, to be claimed again once the lease
//! expires; a crash after leaves it done. Either way nothing is lost and
//! nothing happens twice.

use super::adyen::{self, NotificationRequest, SignatureProblem};
use super::booking;
use crate::audit::{self, AuditEntry};
use crate::{App, AppError};
use carfin_domain::calendar;
use carfin_domain::Country;
use carfin_store::repo::payments::{self as repo, NewNotification, NotificationRow, Transition};
use carfin_store::StoreError;
use sqlx::AnyConnection;

/// Seconds a worker holds a claimed notification before another may take it.
pub const LEASE_SECS: i64 = 60;

/// Why the webhook refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// An item's signature is missing, empty or wrong (401).
    Signature(SignatureProblem),
    /// No HMAC key is configured (payments off): nothing can be verified.
    NotConfigured,
}

/// What the webhook stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// Ids of items stored now (to process at once).
    pub stored: Vec<i64>,
    /// Items that were there already (retries, duplicates).
    pub duplicates: usize,
}

/// Verifies and stores a notification request (PAY-02).
pub async fn receive(
    app: &App,
    request: &NotificationRequest,
) -> Result<Result<Received, Refused>, AppError> {
    let Some(key) = app.config().payments.hmac_key_bytes() else {
        return Ok(Err(Refused::NotConfigured));
    };
    for wrapper in &request.items {
        if let Err(problem) = adyen::verify(&key, &wrapper.item) {
            return Ok(Err(Refused::Signature(problem)));
        }
    }
    let now = app.clock().now().timestamp();
    let live = request.live.eq_ignore_ascii_case("true");
    let mut received = Received::default();
    let mut tx = app.db().begin_write().await?;
    for wrapper in &request.items {
        let item = &wrapper.item;
        let success = item.succeeded();
        let id = app.ids().next();
        let stored = repo::insert_notification(
            &mut tx,
            &NewNotification {
                id,
                psp_reference: item.psp_reference.clone(),
                original_reference: item.original_reference.clone(),
                merchant_account: item.merchant_account_code.clone(),
                merchant_reference: item.merchant_reference.clone(),
                amount_value: item.amount.as_ref().and_then(|a| a.value),
                currency: item
                    .amount
                    .as_ref()
                    .map(|a| a.currency.clone())
                    .unwrap_or_default(),
                event_code: item.event_code.clone(),
                success,
                live,
                event_date: item.event_date.clone(),
                payment_method: item.payment_method.clone(),
                // A successful authorisation's reason holds card details
                // (auth code, last digits, expiry): kept only for failures.
                reason: if success {
                    String::new()
                } else {
                    item.reason.chars().take(200).collect()
                },
                received_at: now,
            },
        )
        .await?;
        if stored {
            received.stored.push(id);
        } else {
            received.duplicates += 1;
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Ok(received))
}

/// What a processing pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    pub applied: usize,
    pub flagged: usize,
}

/// Claims and processes up to `limit` stored notifications (the worker,
/// the webhook right after storing, and tests).
pub async fn process_pending(app: &App, limit: i64) -> Result<Processed, AppError> {
    let now = app.clock().now().timestamp();
    let ids = repo::claim_pending(app.db(), now, now + LEASE_SECS, limit).await?;
    let mut done = Processed::default();
    for id in ids {
        match process_one(app, id).await {
            Ok(Some(flagged)) => {
                done.applied += 1;
                if flagged {
                    done.flagged += 1;
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(notification = id, %error, "notification not processed; retried after the lease");
            }
        }
    }
    Ok(done)
}

/// Processes one claimed notification in one transaction; `Some(flagged)`
/// if it was processed now.
pub async fn process_one(app: &App, id: i64) -> Result<Option<bool>, AppError> {
    let mut tx = app.db().begin_write().await?;
    let Some(n) = repo::unprocessed_notification(&mut tx, id).await? else {
        return Ok(None);
    };
    let now = app.clock().now().timestamp();
    let (payment_id, outcome, flagged) = apply(app, &mut tx, &n, now).await?;
    repo::finish_notification(&mut tx, n.id, payment_id, outcome, flagged, now).await?;
    if flagged {
        // Staff's queue gets it, once per notification (BOF-02).
        crate::staff::queues::open_unknown_payment(&mut tx, app, n.id, now).await?;
    }
    if payment_id.is_some() {
        let entry = AuditEntry::system(
            app,
            &format!("payment.notification.{}", n.event_code.to_ascii_lowercase()),
            "process_payments",
            &["payments.status"],
        );
        if audit::validate(&entry).is_ok() {
            audit::record(&mut tx, app, entry).await?;
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    if flagged {
        tracing::warn!(notification = n.id, event = %n.event_code, outcome, "payment notification needs review");
    }
    Ok(Some(flagged))
}

/// The payment a notification is about: by merchant reference (our id),
/// else by the provider reference of the original payment.
async fn payment_of(
    tx: &mut AnyConnection,
    n: &NotificationRow,
) -> Result<Option<repo::PaymentRow>, AppError> {
    if let Ok(id) = n.merchant_reference.trim().parse::<i64>() {
        if let Some(p) = repo::by_id(tx, id).await? {
            return Ok(Some(p));
        }
    }
    if !n.original_reference.is_empty() {
        return Ok(repo::by_psp_reference(tx, &n.original_reference).await?);
    }
    Ok(None)
}

/// The country whose calendar books the payment: the legal entity's.
async fn country_of(app: &App, entity_id: i64) -> Country {
    match app.directory().await {
        Ok(directory) => directory
            .entity_by_id(entity_id)
            .and_then(|e| e.country.parse().ok())
            .unwrap_or(Country::Nl),
        Err(_) => Country::Nl,
    }
}

/// Applies a notification: `(payment id, outcome, needs review)`.
async fn apply(
    app: &App,
    tx: &mut AnyConnection,
    n: &NotificationRow,
    now: i64,
) -> Result<(Option<i64>, &'static str, bool), AppError> {
    let config = &app.config().payments;
    let Some(payment) = payment_of(tx, n).await? else {
        // Stored, acknowledged, and left for staff (PAY-02).
        return Ok((None, "unknown_reference", true));
    };
    let pid = Some(payment.id);
    if !config.merchant_account.is_empty() && n.merchant_account != config.merchant_account {
        return Ok((pid, "other_merchant_account", true));
    }
    let status = payment.status.as_str();
    let amount_differs = n.amount_value.is_some_and(|v| v != payment.amount_cents)
        || (!n.currency.is_empty() && n.currency != payment.currency);
    match (n.event_code.as_str(), n.success) {
        ("AUTHORISATION", true) => {
            if matches!(
                status,
                "authorised" | "booked" | "refunded" | "charged_back"
            ) {
                // A second authorisation of one payment: the customer paid
                // twice (two tabs); staff refund one.
                let same = payment.psp_reference.as_deref() == Some(n.psp_reference.as_str());
                return Ok((pid, "already_authorised", !same));
            }
            if n.currency != payment.currency {
                return Ok((pid, "other_currency", true));
            }
            let today = app.clock().today();
            let country = country_of(app, payment.entity_id).await;
            let book_on =
                calendar::add_working_days(country, today, config.settlement_days).to_string();
            let authorised = n.amount_value.unwrap_or(payment.amount_cents);
            repo::transition(
                tx,
                payment.id,
                &Transition {
                    from: &["initiated", "cancelled", "expired", "refused"],
                    to: "authorised",
                    psp_reference: Some(&n.psp_reference),
                    authorised_cents: Some(authorised),
                    payment_method: Some(&n.payment_method),
                    authorised_at: Some(now),
                    book_on: Some(&book_on),
                    ..Default::default()
                },
                now,
            )
            .await?;
            Ok((pid, "authorised", amount_differs))
        }
        ("AUTHORISATION", false) => {
            let changed = repo::transition(
                tx,
                payment.id,
                &Transition {
                    from: &["initiated"],
                    to: "refused",
                    refusal_reason: Some(&n.reason),
                    ended_at: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
            Ok((pid, "refused", !changed && status != "refused"))
        }
        ("CANCELLATION", true) => {
            let changed = repo::transition(
                tx,
                payment.id,
                &Transition {
                    from: &["initiated", "authorised"],
                    to: "cancelled",
                    ended_at: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
            Ok((pid, "cancelled", !changed && status != "cancelled"))
        }
        ("REFUND", true) | ("CHARGEBACK", true) => {
            let to = if n.event_code == "REFUND" {
                "refunded"
            } else {
                "charged_back"
            };
            let amount = n
                .amount_value
                .unwrap_or(payment.authorised_cents.unwrap_or(payment.amount_cents));
            match status {
                "booked" => {
                    booking::reverse(app, tx, &payment, amount, now).await?;
                }
                "authorised" | "refunded" | "charged_back" => {}
                _ => return Ok((pid, "nothing_to_reverse", true)),
            }
            repo::transition(
                tx,
                payment.id,
                &Transition {
                    from: &["authorised", "booked", "refunded", "charged_back"],
                    to,
                    ended_at: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
            let partial = amount < payment.authorised_cents.unwrap_or(payment.amount_cents);
            Ok((pid, to, partial))
        }
        ("CAPTURE", true) => Ok((pid, "captured", false)),
        ("CAPTURE", false) | ("REFUND", false) | ("CANCELLATION", false) => {
            Ok((pid, "failed_modification", true))
        }
        ("CHARGEBACK_REVERSED", true) => Ok((pid, "chargeback_reversed", true)),
        _ => Ok((pid, "ignored", false)),
    }
}

/// The notifications staff must look at (PAY-02: unknown references and
/// events a payment could not take), newest first.
pub async fn needing_review(app: &App, limit: i64) -> Result<Vec<NotificationRow>, AppError> {
    Ok(repo::needing_review(app.db(), limit).await?)
}

/// The background worker: processes stored notifications every few
/// seconds (the webhook processes new ones at once; this catches those a
/// crash or an error left behind). Stops when `stop` turns true.
pub fn spawn_worker(
    app: App,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(error) = process_pending(&app, 100).await {
                tracing::error!(%error, "payment notification pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}
