//! Customers' files as the back office sees them (BOF-03, PRV-14): exact
//! look-ups by contract number and blind index, the openings of a file for
//! a stated purpose (`staff_file_accesses`, the note sealed by the caller
//! under the customer's key), and what a file shows of the customer's
//! contracts, vehicles and invoices (plates and VINs still sealed).

use super::Insert;
use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

fn ids(rows: &[AnyRow]) -> Result<Vec<i64>> {
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The customers party to the contract numbered `contract_number` (exact).
pub async fn customer_ids_by_contract_number(db: &Db, contract_number: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.customer_id FROM contracts c \
         JOIN contract_parties p ON p.contract_id = c.id \
         WHERE c.contract_number = $1 ORDER BY p.customer_id",
    )
    .bind(contract_number)
    .fetch_all(db.reader())
    .await?;
    ids(&rows)
}

/// The holders of the vehicles whose plate index is `plate_bidx`.
pub async fn customer_ids_by_plate_bidx(db: &Db, plate_bidx: &[u8]) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT DISTINCT subject_id FROM vehicles WHERE plate_bidx = $1 ORDER BY subject_id",
    )
    .bind(plate_bidx.to_vec())
    .fetch_all(db.reader())
    .await?;
    ids(&rows)
}

/// The customers whose blind index `column` (`email_bidx`, `phone_bidx` or
/// `name_bidx`) is `bidx`; any other column name finds nobody.
pub async fn customer_ids_by_index(db: &Db, column: &str, bidx: &[u8]) -> Result<Vec<i64>> {
    let sql = match column {
        "email_bidx" => "SELECT id FROM customers WHERE email_bidx = $1 ORDER BY id",
        "phone_bidx" => "SELECT id FROM customers WHERE phone_bidx = $1 ORDER BY id",
        "name_bidx" => "SELECT id FROM customers WHERE name_bidx = $1 ORDER BY id",
        _ => return Ok(Vec::new()),
    };
    let rows = sqlx::query(sql)
        .bind(bidx.to_vec())
        .fetch_all(db.reader())
        .await?;
    ids(&rows)
}

/// The customer number of a customer, if the customer exists.
pub async fn customer_number(db: &Db, customer_id: i64) -> Result<Option<String>> {
    Ok(
        sqlx::query("SELECT customer_number FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(db.reader())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// A customer's file opened by a staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAccessRow {
    pub id: i64,
    pub staff_id: i64,
    pub customer_id: i64,
    /// `request`, `inbound_call` or `collection_case`.
    pub purpose: String,
    pub reference: String,
    /// Sealed under the customer's key.
    pub note: Option<Vec<u8>>,
    pub opened_at: i64,
    pub expires_at: i64,
}

const ACCESS_COLUMNS: &[&str] = &[
    "id",
    "staff_id",
    "customer_id",
    "purpose",
    "reference",
    "note",
    "opened_at",
    "expires_at",
];

fn access_row(r: &AnyRow) -> Result<FileAccessRow> {
    Ok(FileAccessRow {
        id: r.try_get(0)?,
        staff_id: r.try_get(1)?,
        customer_id: r.try_get(2)?,
        purpose: r.try_get(3)?,
        reference: r.try_get(4)?,
        note: r.try_get(5)?,
        opened_at: r.try_get(6)?,
        expires_at: r.try_get(7)?,
    })
}

/// Records an opening.
pub async fn insert_access(tx: &mut AnyConnection, a: &FileAccessRow) -> Result<()> {
    let mut insert = Insert::new("staff_file_accesses", ACCESS_COLUMNS);
    insert.row(vec![
        a.id.into(),
        a.staff_id.into(),
        a.customer_id.into(),
        a.purpose.as_str().into(),
        a.reference.as_str().into(),
        a.note.clone().into(),
        a.opened_at.into(),
        a.expires_at.into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// The staff member's latest opening of the customer's file that has not
/// expired at `now`.
pub async fn active_access(
    db: &Db,
    staff_id: i64,
    customer_id: i64,
    now: i64,
) -> Result<Option<FileAccessRow>> {
    sqlx::query(&format!(
        "SELECT {} FROM staff_file_accesses \
         WHERE staff_id = $1 AND customer_id = $2 AND expires_at > $3 \
         ORDER BY opened_at DESC, id DESC LIMIT 1",
        ACCESS_COLUMNS.join(", ")
    ))
    .bind(staff_id)
    .bind(customer_id)
    .bind(now)
    .fetch_optional(db.reader())
    .await?
    .map(|r| access_row(&r))
    .transpose()
}

/// Whether request `request_id` is the customer's and still being worked
/// on (not closed).
pub async fn open_request_of(db: &Db, request_id: i64, customer_id: i64) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM requests WHERE id = $1 AND customer_id = $2 AND closed_at IS NULL \
         AND status IN ('open', 'in_progress', 'waiting')",
    )
    .bind(request_id)
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?
    .is_some())
}

/// Whether the invoice numbered `invoice_number` is in collection and on a
/// contract the customer is party to.
pub async fn invoice_in_collection_of(
    db: &Db,
    invoice_number: &str,
    customer_id: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM invoices i JOIN contract_parties p ON p.contract_id = i.contract_id \
         WHERE i.invoice_number = $1 AND p.customer_id = $2 AND i.status = 'in_collection'",
    )
    .bind(invoice_number)
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?
    .is_some())
}

/// One of a customer's contracts as the file shows it: current terms and
/// the vehicle (plate and VIN sealed under `subject_id`'s key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContract {
    pub id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    /// The customer's role: `holder`, `co_holder` or `guarantor`.
    pub role: String,
    pub start_date: String,
    pub end_date: String,
    pub monthly_instalment_cents: i64,
    pub vehicle_id: i64,
    /// The vehicle's holder, whose key seals plate and VIN.
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    /// `NL` or `BE`.
    pub plate_country: String,
    pub licence_plate: Vec<u8>,
    pub vin: Vec<u8>,
}

/// The contracts the customer is party to, by contract number.
pub async fn contracts_of(db: &Db, customer_id: i64) -> Result<Vec<FileContract>> {
    let rows = sqlx::query(
        "SELECT c.id, c.contract_number, c.contract_type, c.status, p.role, v.start_date, \
         v.end_date, v.monthly_instalment_cents, h.id, h.subject_id, h.make, h.model, \
         h.plate_country, h.licence_plate, h.vin \
         FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
         JOIN contract_versions v ON v.contract_id = c.id AND v.version = c.current_version \
         JOIN vehicles h ON h.id = c.vehicle_id \
         WHERE p.customer_id = $1 ORDER BY c.contract_number",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FileContract {
                id: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                contract_type: r.try_get(2)?,
                status: r.try_get(3)?,
                role: r.try_get(4)?,
                start_date: r.try_get(5)?,
                end_date: r.try_get(6)?,
                monthly_instalment_cents: r.try_get(7)?,
                vehicle_id: r.try_get(8)?,
                subject_id: r.try_get(9)?,
                make: r.try_get(10)?,
                model: r.try_get(11)?,
                plate_country: r.try_get(12)?,
                licence_plate: r.try_get(13)?,
                vin: r.try_get(14)?,
            })
        })
        .collect()
}

/// One of a customer's invoices as the file shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInvoice {
    pub invoice_number: String,
    pub contract_number: String,
    pub kind: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub paid_cents: i64,
    pub status: String,
}

/// The latest `limit` invoices of the contracts the customer is party to,
/// newest due date first.
pub async fn invoices_of(db: &Db, customer_id: i64, limit: i64) -> Result<Vec<FileInvoice>> {
    let rows = sqlx::query(
        "SELECT i.invoice_number, c.contract_number, i.kind, i.due_date, i.amount_cents, \
         i.paid_cents, i.status \
         FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
         JOIN invoices i ON i.contract_id = c.id \
         WHERE p.customer_id = $1 ORDER BY i.due_date DESC, i.invoice_number DESC LIMIT $2",
    )
    .bind(customer_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FileInvoice {
                invoice_number: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                kind: r.try_get(2)?,
                due_date: r.try_get(3)?,
                amount_cents: r.try_get(4)?,
                paid_cents: r.try_get(5)?,
                status: r.try_get(6)?,
            })
        })
        .collect()
}

/// A customer's unpaid invoices (open, overdue, in collection): how many
/// and the amount still due, in cents.
pub async fn unpaid_of(db: &Db, customer_id: i64) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(*), CAST(COALESCE(SUM(i.amount_cents - i.paid_cents), 0) AS BIGINT) \
         FROM contract_parties p JOIN invoices i ON i.contract_id = p.contract_id \
         WHERE p.customer_id = $1 AND i.status IN ('open', 'overdue', 'in_collection')",
    )
    .bind(customer_id)
    .fetch_one(db.reader())
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
