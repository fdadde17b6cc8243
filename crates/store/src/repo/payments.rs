//! Online payments (PAY-01 … PAY-04, COL-05): payments and the invoices
//! they pay, the provider's notifications, and the booking of authorised
//! payments onto invoices and the ledger.

use super::Insert;
use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Invoice statuses that can be paid online: open, overdue, and claims in
/// collection (COL-05).
pub const PAYABLE: [&str; 3] = ["open", "overdue", "in_collection"];

/// Payment statuses during which the invoices are taken: a second payment
/// of them is refused until the first ends.
pub const IN_PROGRESS: [&str; 2] = ["initiated", "authorised"];

/// An invoice the customer selected, as checked for payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayableInvoice {
    pub id: i64,
    pub entity_id: i64,
    pub contract_id: i64,
    pub invoice_number: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub paid_cents: i64,
    pub status: String,
}

impl PayableInvoice {
    /// What is still to pay.
    pub fn open_cents(&self) -> i64 {
        self.amount_cents - self.paid_cents
    }
}

/// The customer's invoices among `ids` on contracts this account activated
/// (others are simply not returned: the caller answers 404).
pub async fn customer_invoices(
    conn: &mut AnyConnection,
    customer_id: i64,
    account_id: i64,
    ids: &[i64],
) -> Result<Vec<PayableInvoice>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT i.id, i.entity_id, i.contract_id, i.invoice_number, i.due_date, i.amount_cents, \
         i.paid_cents, i.status \
         FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
         JOIN contract_activations a ON a.contract_id = c.id AND a.account_id = $2 \
         JOIN invoices i ON i.contract_id = c.id \
         WHERE p.customer_id = $1 AND p.role IN ('holder', 'co_holder') AND c.status <> 'pending' \
         AND i.id IN ({}) ORDER BY i.due_date, i.id",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(customer_id).bind(account_id);
    for id in ids {
        query = query.bind(*id);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(PayableInvoice {
                id: r.try_get(0)?,
                entity_id: r.try_get(1)?,
                contract_id: r.try_get(2)?,
                invoice_number: r.try_get(3)?,
                due_date: r.try_get(4)?,
                amount_cents: r.try_get(5)?,
                paid_cents: r.try_get(6)?,
                status: r.try_get(7)?,
            })
        })
        .collect()
}

/// Payments in progress (initiated with a session still open, or
/// authorised and waiting to be booked) that include any of `invoice_ids`:
/// `(payment id, status, invoice id)`.
pub async fn in_progress_for(
    conn: &mut AnyConnection,
    invoice_ids: &[i64],
    now: i64,
) -> Result<Vec<(i64, String, i64)>> {
    if invoice_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..invoice_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let sql = format!(
        "SELECT p.id, p.status, pi.invoice_id FROM payment_invoices pi \
         JOIN payments p ON p.id = pi.payment_id \
         WHERE pi.invoice_id IN ({}) AND (p.status = 'authorised' \
         OR (p.status = 'initiated' AND (p.session_expires_at IS NULL OR p.session_expires_at > $1)))",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(now);
    for id in invoice_ids {
        query = query.bind(*id);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// The invoices of a payment: `invoice_id`s in order.
pub async fn invoice_ids_of(conn: &mut AnyConnection, payment_id: i64) -> Result<Vec<i64>> {
    sqlx::query("SELECT invoice_id FROM payment_invoices WHERE payment_id = $1 ORDER BY invoice_id")
        .bind(payment_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

/// A new payment.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: i64,
    pub customer_id: i64,
    pub entity_id: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub language: String,
    pub created_at: i64,
    /// `(invoice id, cents outstanding at checkout)`.
    pub invoices: Vec<(i64, i64)>,
}

/// Records a new payment (`initiated`) and its invoices.
pub async fn insert(tx: &mut AnyConnection, p: &NewPayment) -> Result<()> {
    let mut payment = Insert::new(
        "payments",
        &[
            "id",
            "customer_id",
            "entity_id",
            "amount_cents",
            "currency",
            "status",
            "language",
            "created_at",
            "updated_at",
        ],
    );
    payment.row(vec![
        p.id.into(),
        p.customer_id.into(),
        p.entity_id.into(),
        p.amount_cents.into(),
        p.currency.as_str().into(),
        "initiated".into(),
        p.language.as_str().into(),
        p.created_at.into(),
        p.created_at.into(),
    ]);
    payment.execute(tx).await?;
    let mut items = Insert::new(
        "payment_invoices",
        &["payment_id", "invoice_id", "requested_cents"],
    );
    for (invoice_id, cents) in &p.invoices {
        items.row(vec![p.id.into(), (*invoice_id).into(), (*cents).into()]);
    }
    items.execute(tx).await?;
    Ok(())
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub id: i64,
    pub customer_id: i64,
    pub entity_id: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub language: String,
    pub session_id: Option<String>,
    pub session_url: Option<String>,
    pub session_expires_at: Option<i64>,
    pub provider_error: Option<String>,
    pub psp_reference: Option<String>,
    pub authorised_cents: Option<i64>,
    pub payment_method: Option<String>,
    pub refusal_reason: Option<String>,
    pub authorised_at: Option<i64>,
    pub book_on: Option<String>,
    pub booked_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const PAYMENT_COLUMNS: &str = "id, customer_id, entity_id, amount_cents, currency, status, \
     language, session_id, session_url, session_expires_at, provider_error, psp_reference, \
     authorised_cents, payment_method, refusal_reason, authorised_at, book_on, booked_at, \
     ended_at, created_at, updated_at";

fn payment_row(r: &AnyRow) -> Result<PaymentRow> {
    Ok(PaymentRow {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        entity_id: r.try_get(2)?,
        amount_cents: r.try_get(3)?,
        currency: r.try_get(4)?,
        status: r.try_get(5)?,
        language: r.try_get(6)?,
        session_id: r.try_get(7)?,
        session_url: r.try_get(8)?,
        session_expires_at: r.try_get(9)?,
        provider_error: r.try_get(10)?,
        psp_reference: r.try_get(11)?,
        authorised_cents: r.try_get(12)?,
        payment_method: r.try_get(13)?,
        refusal_reason: r.try_get(14)?,
        authorised_at: r.try_get(15)?,
        book_on: r.try_get(16)?,
        booked_at: r.try_get(17)?,
        ended_at: r.try_get(18)?,
        created_at: r.try_get(19)?,
        updated_at: r.try_get(20)?,
    })
}

/// A payment by id (within a transaction).
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<PaymentRow>> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(payment_row)
        .transpose()
}

/// A payment by the provider's reference.
pub async fn by_psp_reference(
    conn: &mut AnyConnection,
    psp_reference: &str,
) -> Result<Option<PaymentRow>> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE psp_reference = $1");
    sqlx::query(&sql)
        .bind(psp_reference)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(payment_row)
        .transpose()
}

/// One of the customer's payments (none for anybody else's).
pub async fn of_customer(db: &Db, customer_id: i64, id: i64) -> Result<Option<PaymentRow>> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND customer_id = $2");
    sqlx::query(&sql)
        .bind(id)
        .bind(customer_id)
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(payment_row)
        .transpose()
}

/// The customer's payments, newest first.
pub async fn list_of_customer(db: &Db, customer_id: i64, limit: i64) -> Result<Vec<PaymentRow>> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE customer_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    sqlx::query(&sql)
        .bind(customer_id)
        .bind(limit)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(payment_row)
        .collect()
}

/// Every payment of the customer, oldest first (the data export).
pub async fn all_of_customer(db: &Db, customer_id: i64) -> Result<Vec<PaymentRow>> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE customer_id = $1 ORDER BY created_at, id"
    );
    sqlx::query(&sql)
        .bind(customer_id)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(payment_row)
        .collect()
}

/// An invoice of a payment, as shown and booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInvoice {
    pub invoice_id: i64,
    pub contract_id: i64,
    pub invoice_number: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub paid_cents: i64,
    pub status: String,
    pub requested_cents: i64,
    pub booked_cents: i64,
}

/// The invoices of a payment, oldest due date first.
pub async fn invoices_of(conn: &mut AnyConnection, payment_id: i64) -> Result<Vec<PaymentInvoice>> {
    sqlx::query(
        "SELECT i.id, i.contract_id, i.invoice_number, i.due_date, i.amount_cents, i.paid_cents, \
         i.status, pi.requested_cents, pi.booked_cents \
         FROM payment_invoices pi JOIN invoices i ON i.id = pi.invoice_id \
         WHERE pi.payment_id = $1 ORDER BY i.due_date, i.id",
    )
    .bind(payment_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(PaymentInvoice {
            invoice_id: r.try_get(0)?,
            contract_id: r.try_get(1)?,
            invoice_number: r.try_get(2)?,
            due_date: r.try_get(3)?,
            amount_cents: r.try_get(4)?,
            paid_cents: r.try_get(5)?,
            status: r.try_get(6)?,
            requested_cents: r.try_get(7)?,
            booked_cents: r.try_get(8)?,
        })
    })
    .collect()
}

/// Stores the provider's session of a payment and clears any earlier error.
pub async fn set_session(
    conn: &mut AnyConnection,
    id: i64,
    session_id: &str,
    url: &str,
    expires_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE payments SET session_id = $2, session_url = $3, session_expires_at = $4, \
         provider_error = NULL, updated_at = $5 WHERE id = $1 AND status = 'initiated'",
    )
    .bind(id)
    .bind(session_id)
    .bind(url)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records why the provider could not be reached (PAY-04).
pub async fn set_provider_error(
    conn: &mut AnyConnection,
    id: i64,
    code: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE payments SET provider_error = $2, updated_at = $3 WHERE id = $1 AND status = 'initiated'",
    )
    .bind(id)
    .bind(code)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A change of a payment's state, applied only from the expected state(s).
#[derive(Debug, Clone, Default)]
pub struct Transition<'a> {
    pub from: &'a [&'a str],
    pub to: &'a str,
    pub psp_reference: Option<&'a str>,
    pub authorised_cents: Option<i64>,
    pub payment_method: Option<&'a str>,
    pub refusal_reason: Option<&'a str>,
    pub authorised_at: Option<i64>,
    pub book_on: Option<&'a str>,
    pub booked_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// Applies `t` to payment `id` if it is in one of `t.from`; returns
/// whether it was.
pub async fn transition(
    conn: &mut AnyConnection,
    id: i64,
    t: &Transition<'_>,
    now: i64,
) -> Result<bool> {
    let marks: Vec<String> = (0..t.from.len()).map(|i| format!("${}", i + 12)).collect();
    let sql = format!(
        "UPDATE payments SET status = $2, \
         psp_reference = COALESCE($3, psp_reference), \
         authorised_cents = COALESCE($4, authorised_cents), \
         payment_method = COALESCE($5, payment_method), \
         refusal_reason = COALESCE($6, refusal_reason), \
         authorised_at = COALESCE($7, authorised_at), \
         book_on = COALESCE($8, book_on), \
         booked_at = COALESCE($9, booked_at), \
         ended_at = COALESCE($10, ended_at), \
         updated_at = $11 \
         WHERE id = $1 AND status IN ({})",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql)
        .bind(id)
        .bind(t.to)
        .bind(t.psp_reference)
        .bind(t.authorised_cents)
        .bind(t.payment_method)
        .bind(t.refusal_reason)
        .bind(t.authorised_at)
        .bind(t.book_on)
        .bind(t.booked_at)
        .bind(t.ended_at)
        .bind(now);
    for from in t.from {
        query = query.bind(*from);
    }
    Ok(query.execute(&mut *conn).await?.rows_affected() == 1)
}

/// Initiated payments whose session expired before `now`, or that never
/// got a session and were created before `unseen_before`: marked expired;
/// returns how many.
pub async fn expire_sessions(
    conn: &mut AnyConnection,
    now: i64,
    unseen_before: i64,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE payments SET status = 'expired', ended_at = $1, updated_at = $1 \
         WHERE status = 'initiated' AND ((session_expires_at IS NOT NULL AND session_expires_at <= $1) \
         OR (session_expires_at IS NULL AND created_at <= $2))",
    )
    .bind(now)
    .bind(unseen_before)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Authorised payments whose booking day has come.
pub async fn due_for_booking(db: &Db, today: &str, limit: i64) -> Result<Vec<i64>> {
    sqlx::query(
        "SELECT id FROM payments WHERE status = 'authorised' AND book_on <= $1 \
         ORDER BY book_on, id LIMIT $2",
    )
    .bind(today)
    .bind(limit)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| Ok(r.try_get(0)?))
    .collect()
}

/// Adds `delta` cents to an invoice's paid amount (negative: a reversal)
/// and sets its status: paid when nothing is left, else back to open or
/// overdue by its due date (a claim in collection stays in collection).
pub async fn apply_to_invoice(
    conn: &mut AnyConnection,
    invoice_id: i64,
    delta: i64,
    today: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE invoices SET paid_cents = paid_cents + $2, \
         status = CASE \
           WHEN paid_cents + $2 >= amount_cents THEN 'paid' \
           WHEN status = 'in_collection' THEN 'in_collection' \
           WHEN due_date < $3 THEN 'overdue' \
           ELSE 'open' END, \
         updated_at = $4 WHERE id = $1",
    )
    .bind(invoice_id)
    .bind(delta)
    .bind(today)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records what the booking allocated to one invoice of a payment.
pub async fn set_booked(
    conn: &mut AnyConnection,
    payment_id: i64,
    invoice_id: i64,
    cents: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE payment_invoices SET booked_cents = $3 WHERE payment_id = $1 AND invoice_id = $2",
    )
    .bind(payment_id)
    .bind(invoice_id)
    .bind(cents)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A ledger entry of a payment (negative: money received; positive: a
/// reversal by refund or chargeback).
pub async fn insert_ledger(
    conn: &mut AnyConnection,
    id: i64,
    contract_id: i64,
    invoice_id: Option<i64>,
    entry_date: &str,
    amount_cents: i64,
    now: i64,
) -> Result<()> {
    let mut insert = Insert::new(
        "ledger_entries",
        &[
            "id",
            "contract_id",
            "invoice_id",
            "entry_date",
            "kind",
            "amount_cents",
            "created_at",
        ],
    );
    insert.row(vec![
        id.into(),
        contract_id.into(),
        invoice_id.into(),
        entry_date.into(),
        "payment".into(),
        amount_cents.into(),
        now.into(),
    ]);
    insert.execute(conn).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------

/// A notification item to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub id: i64,
    pub psp_reference: String,
    pub original_reference: String,
    pub merchant_account: String,
    pub merchant_reference: String,
    pub amount_value: Option<i64>,
    pub currency: String,
    pub event_code: String,
    pub success: bool,
    pub live: bool,
    pub event_date: String,
    pub payment_method: String,
    pub reason: String,
    pub received_at: i64,
}

/// Stores a notification unless one with the same (pspReference,
/// eventCode, success) is there; returns whether it was new.
pub async fn insert_notification(conn: &mut AnyConnection, n: &NewNotification) -> Result<bool> {
    let mut insert = Insert::new(
        "payment_notifications",
        &[
            "id",
            "psp_reference",
            "original_reference",
            "merchant_account",
            "merchant_reference",
            "amount_value",
            "currency",
            "event_code",
            "success",
            "live",
            "event_date",
            "payment_method",
            "reason",
            "received_at",
        ],
    )
    .ignore_conflicts("(psp_reference, event_code, success)");
    insert.row(vec![
        n.id.into(),
        n.psp_reference.as_str().into(),
        n.original_reference.as_str().into(),
        n.merchant_account.as_str().into(),
        n.merchant_reference.as_str().into(),
        n.amount_value.into(),
        n.currency.as_str().into(),
        n.event_code.as_str().into(),
        i64::from(n.success).into(),
        i64::from(n.live).into(),
        n.event_date.as_str().into(),
        n.payment_method.as_str().into(),
        n.reason.as_str().into(),
        n.received_at.into(),
    ]);
    Ok(insert.execute(conn).await? == 1)
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub psp_reference: String,
    pub original_reference: String,
    pub merchant_account: String,
    pub merchant_reference: String,
    pub amount_value: Option<i64>,
    pub currency: String,
    pub event_code: String,
    pub success: bool,
    pub event_date: String,
    pub payment_method: String,
    pub reason: String,
    pub received_at: i64,
    pub attempts: i64,
    pub processed_at: Option<i64>,
    pub outcome: Option<String>,
    pub needs_review: bool,
    pub payment_id: Option<i64>,
}

const NOTIFICATION_COLUMNS: &str = "id, psp_reference, original_reference, merchant_account, \
     merchant_reference, amount_value, currency, event_code, success, event_date, payment_method, \
     reason, received_at, attempts, processed_at, outcome, needs_review, payment_id";

fn notification_row(r: &AnyRow) -> Result<NotificationRow> {
    Ok(NotificationRow {
        id: r.try_get(0)?,
        psp_reference: r.try_get(1)?,
        original_reference: r.try_get(2)?,
        merchant_account: r.try_get(3)?,
        merchant_reference: r.try_get(4)?,
        amount_value: r.try_get(5)?,
        currency: r.try_get(6)?,
        event_code: r.try_get(7)?,
        success: r.try_get::<i64, _>(8)? != 0,
        event_date: r.try_get(9)?,
        payment_method: r.try_get(10)?,
        reason: r.try_get(11)?,
        received_at: r.try_get(12)?,
        attempts: r.try_get(13)?,
        processed_at: r.try_get(14)?,
        outcome: r.try_get(15)?,
        needs_review: r.try_get::<i64, _>(16)? != 0,
        payment_id: r.try_get(17)?,
    })
}

/// Claims up to `limit` unprocessed notifications whose claim (if any)
/// expired: each gets `claimed_until = lease_until` and one more attempt.
/// Returns the ids claimed, oldest first. A worker that dies leaves its
/// claims to expire; another (or it, restarted) claims them again.
pub async fn claim_pending(db: &Db, now: i64, lease_until: i64, limit: i64) -> Result<Vec<i64>> {
    let mut tx = db.begin_write().await?;
    let ids: Vec<i64> = sqlx::query(
        "SELECT id FROM payment_notifications WHERE processed_at IS NULL \
         AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY received_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<std::result::Result<_, _>>()?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let changed = sqlx::query(
            "UPDATE payment_notifications SET claimed_until = $2, attempts = attempts + 1 \
             WHERE id = $1 AND processed_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(id)
        .bind(lease_until)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            claimed.push(id);
        }
    }
    tx.commit().await?;
    Ok(claimed)
}

/// A notification by id, within a transaction; `None` once processed.
pub async fn unprocessed_notification(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<NotificationRow>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM payment_notifications WHERE id = $1 AND processed_at IS NULL"
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(notification_row)
        .transpose()
}

/// Marks a notification processed with its outcome.
pub async fn finish_notification(
    conn: &mut AnyConnection,
    id: i64,
    payment_id: Option<i64>,
    outcome: &str,
    needs_review: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE payment_notifications SET processed_at = $2, outcome = $3, needs_review = $4, \
         payment_id = $5, claimed_until = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(outcome)
    .bind(i64::from(needs_review))
    .bind(payment_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored notification by id.
pub async fn notification_by_id(db: &Db, id: i64) -> Result<Option<NotificationRow>> {
    let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM payment_notifications WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(notification_row)
        .transpose()
}

/// Notifications that staff must look at (unknown merchant reference,
/// amount differences, events a payment could not take), newest first.
pub async fn needing_review(db: &Db, limit: i64) -> Result<Vec<NotificationRow>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM payment_notifications WHERE needs_review = 1 \
         ORDER BY received_at DESC, id DESC LIMIT $1"
    );
    sqlx::query(&sql)
        .bind(limit)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(notification_row)
        .collect()
}

/// The notifications of a payment, in the order received.
pub async fn notifications_of(db: &Db, payment_id: i64) -> Result<Vec<NotificationRow>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM payment_notifications WHERE payment_id = $1 \
         ORDER BY received_at, id"
    );
    sqlx::query(&sql)
        .bind(payment_id)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(notification_row)
        .collect()
}
