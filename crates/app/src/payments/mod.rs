//! Online payment of invoices and claims (PAY-01 … PAY-06, COL-05), through
//! Adyen Checkout or, in the demo and tests, carfin's own simulator of it.
//!
//! * [`adyen`] — the notification format and HMAC, the Checkout client;
//! * [`checkout`] — starting a payment, resuming it, the return page;
//! * [`notifications`] — the webhook's storing and the worker's processing;
//! * [`booking`] — booking authorised payments after N working days, and
//!   reversing booked ones (refund, chargeback);
//! * [`simulator`] — the provider simulator (PAY-05);
//! * [`reconcile`] — settlement reports and reconciliation (PAY-06).
//!
//! States (PAY-03): `initiated` → `authorised` ("payment received, being
//! processed") → `booked` (invoices paid, ledger entries written); or
//! `refused`, `cancelled`, `expired`; an authorised or booked payment can
//! end `refunded` or `charged_back`.

pub mod adyen;
pub mod booking;
pub mod checkout;
pub mod notifications;
pub mod reconcile;
pub mod simulator;

use crate::identity::activation::require_active;
use crate::identity::session::Session;
use crate::{App, AppError};
use carfin_store::repo::payments as repo;
use carfin_store::StoreError;

pub use carfin_store::repo::payments::{PaymentInvoice, PaymentRow};

/// Every payment status, in the order of the life cycle.
pub const STATUSES: [&str; 8] = [
    "initiated",
    "authorised",
    "booked",
    "refused",
    "cancelled",
    "expired",
    "refunded",
    "charged_back",
];

/// A payment with its invoices, as its customer sees it.
#[derive(Debug, Clone)]
pub struct PaymentView {
    pub payment: PaymentRow,
    pub invoices: Vec<PaymentInvoice>,
}

impl PaymentView {
    /// Whether the customer can still go to the provider's page.
    pub fn can_continue(&self, now: i64) -> bool {
        self.payment.status == "initiated"
            && self.payment.session_url.is_some()
            && self.payment.session_expires_at.is_some_and(|e| e > now)
    }

    /// Whether the provider could not be reached and a retry is possible.
    pub fn can_retry(&self) -> bool {
        self.payment.status == "initiated" && self.payment.session_url.is_none()
    }
}

/// One of the customer's payments with its invoices (404 for anybody
/// else's).
pub async fn payment(app: &App, session: &Session, id: i64) -> Result<PaymentView, AppError> {
    require_active(session)?;
    let payment = repo::of_customer(app.db(), session.customer_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut conn = app
        .db()
        .reader()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let invoices = repo::invoices_of(&mut conn, id).await?;
    Ok(PaymentView { payment, invoices })
}

/// The customer's payments, newest first (the last 100).
pub async fn payments(app: &App, session: &Session) -> Result<Vec<PaymentRow>, AppError> {
    require_active(session)?;
    Ok(repo::list_of_customer(app.db(), session.customer_id, 100).await?)
}

/// Of `invoice_ids`, those in a payment in progress: `(invoice id, payment
/// id, status)` — the invoice list shows "being processed" instead of a
/// checkbox for them.
pub async fn in_progress(
    app: &App,
    invoice_ids: &[i64],
) -> Result<Vec<(i64, i64, String)>, AppError> {
    let now = app.clock().now().timestamp();
    let mut conn = app
        .db()
        .reader()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    Ok(repo::in_progress_for(&mut conn, invoice_ids, now)
        .await?
        .into_iter()
        .map(|(payment, status, invoice)| (invoice, payment, status))
        .collect())
}
