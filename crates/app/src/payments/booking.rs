//! Booking (PAY-03): an authorised payment is booked on its booking day —
//! `payments.settlement_days` working days after the authorisation, in the
//! Dutch or Belgian calendar of the invoicing entity. Booking allocates the
//! authorised amount to the payment's invoices oldest first (a partial
//! payment leaves the youngest partly open), marks fully paid invoices paid,
//! writes one ledger entry per invoice (and one for any surplus, a credit on
//! the account), so the balance and the statement follow. A refund or
//! chargeback of a booked payment reverses the booking, youngest first.

use crate::audit::{self, AuditEntry};
use crate::{App, AppError};
use carfin_domain::allocation::{oldest_first, Outstanding};
use carfin_store::repo::payments::{self as repo, PaymentRow, Transition};
use carfin_store::StoreError;
use chrono::NaiveDate;
use sqlx::AnyConnection;

/// What a booking pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingReport {
    /// Payments booked.
    pub booked: usize,
    /// Initiated payments whose session ended unused.
    pub expired: u64,
}

/// Books every authorised payment whose booking day has come, and expires
/// checkout sessions that ended unused (the scheduled job `book_payments`).
pub async fn book_due(app: &App) -> Result<BookingReport, AppError> {
    let now = app.clock().now().timestamp();
    let today = app.clock().today().to_string();
    let mut report = BookingReport::default();
    let mut tx = app.db().begin_write().await?;
    let unseen_before = now - app.config().payments.session_minutes.max(5) * 60;
    report.expired = repo::expire_sessions(&mut tx, now, unseen_before).await?;
    tx.commit().await.map_err(StoreError::from)?;
    loop {
        let due = repo::due_for_booking(app.db(), &today, 200).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for id in due {
            if book(app, id, now, &today).await? {
                report.booked += 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    Ok(report)
}

/// Books one payment in one transaction; whether it was booked now.
async fn book(app: &App, id: i64, now: i64, today: &str) -> Result<bool, AppError> {
    let mut tx = app.db().begin_write().await?;
    let Some(payment) = repo::by_id(&mut tx, id).await? else {
        return Ok(false);
    };
    if payment.status != "authorised" {
        return Ok(false);
    }
    let invoices = repo::invoices_of(&mut tx, id).await?;
    let outstanding: Vec<Outstanding> = invoices
        .iter()
        .map(|i| Outstanding {
            invoice_id: i.invoice_id,
            due_date: NaiveDate::parse_from_str(&i.due_date, "%Y-%m-%d").unwrap_or_default(),
            open_cents: i.amount_cents - i.paid_cents,
        })
        .collect();
    let amount = payment.authorised_cents.unwrap_or(payment.amount_cents);
    let allocation = oldest_first(amount, &outstanding);
    for (invoice_id, cents) in &allocation.parts {
        let Some(invoice) = invoices.iter().find(|i| i.invoice_id == *invoice_id) else {
            continue;
        };
        repo::apply_to_invoice(&mut tx, *invoice_id, *cents, today, now).await?;
        repo::set_booked(&mut tx, id, *invoice_id, *cents).await?;
        repo::insert_ledger(
            &mut tx,
            app.ids().next(),
            invoice.contract_id,
            Some(*invoice_id),
            today,
            -cents,
            now,
        )
        .await?;
    }
    if allocation.unallocated_cents > 0 {
        // More than the invoices still needed (paid meanwhile by transfer):
        // a credit on the account of the oldest invoice's contract.
        if let Some(first) = invoices.first() {
            repo::insert_ledger(
                &mut tx,
                app.ids().next(),
                first.contract_id,
                None,
                today,
                -allocation.unallocated_cents,
                now,
            )
            .await?;
        }
    }
    repo::transition(
        &mut tx,
        id,
        &Transition {
            from: &["authorised"],
            to: "booked",
            booked_at: Some(now),
            ..Default::default()
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        app,
        AuditEntry::system(
            app,
            "payment.book",
            "process_payments",
            &[
                "payments.status",
                "invoices.paid_cents",
                "invoices.status",
                "ledger_entries.amount_cents",
            ],
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(true)
}

/// Reverses `amount` cents of a booked payment (refund, chargeback) within
/// the caller's transaction: youngest invoice first, each back to open or
/// overdue, one ledger entry per invoice; beyond what was allocated to
/// invoices, the surplus credit is reversed.
pub async fn reverse(
    app: &App,
    tx: &mut AnyConnection,
    payment: &PaymentRow,
    amount: i64,
    now: i64,
) -> Result<(), AppError> {
    let today = app.clock().today().to_string();
    let invoices = repo::invoices_of(tx, payment.id).await?;
    let mut left = amount.max(0);
    for invoice in invoices.iter().rev() {
        if left == 0 {
            break;
        }
        let take = invoice.booked_cents.min(left);
        if take <= 0 {
            continue;
        }
        repo::apply_to_invoice(tx, invoice.invoice_id, -take, &today, now).await?;
        repo::set_booked(
            tx,
            payment.id,
            invoice.invoice_id,
            invoice.booked_cents - take,
        )
        .await?;
        repo::insert_ledger(
            tx,
            app.ids().next(),
            invoice.contract_id,
            Some(invoice.invoice_id),
            &today,
            take,
            now,
        )
        .await?;
        left -= take;
    }
    if left > 0 {
        if let Some(first) = invoices.first() {
            repo::insert_ledger(
                tx,
                app.ids().next(),
                first.contract_id,
                None,
                &today,
                left,
                now,
            )
            .await?;
        }
    }
    Ok(())
}
