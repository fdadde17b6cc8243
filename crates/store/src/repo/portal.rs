//! Reads for the customer portal (CON-01 … CON-06): the dashboard, contract
//! versions, the vehicle with its odometer readings, invoices and the
//! ledger. Every query that starts from a customer joins the customer's
//! party rows and portal activations, so another customer's ids and
//! contracts not yet activated (ACC-03) find nothing; the application layer
//! turns "nothing" into 404.
//!
//! Query plans start from indexed columns (`contract_parties_customer`,
//! `contract_activations` primary key, `invoices_contract_period`,
//! `ledger_contract_date`, `odometer_vehicle`): their cost depends on one
//! customer's rows, never on the number of customers.

use crate::error::Result;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The contracts a customer's account may see in detail: holder or
/// co-holder, not pending, activated by this account (`$1` the customer,
/// `$2` the account).
const ACTIVATED_FROM: &str = "contract_parties p \
     JOIN contracts c ON c.id = p.contract_id \
     JOIN contract_activations a ON a.contract_id = c.id AND a.account_id = $2";
const ACTIVATED_WHERE: &str =
    "WHERE p.customer_id = $1 AND p.role IN ('holder', 'co_holder') AND c.status <> 'pending'";

/// Invoice statuses that are still to be paid.
pub const UNPAID: [&str; 3] = ["open", "overdue", "in_collection"];

/// One of the customer's contracts on the dashboard. Contracts not
/// activated by this account (ACC-03) carry their number, type and status
/// only: the vehicle and the money figures are NULL in SQL already.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    pub contract_id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub brand_id: i64,
    pub ended_on: Option<String>,
    pub activated_at: Option<i64>,
    pub vehicle: Option<DashboardVehicle>,
    /// Sum of the ledger (debits positive).
    pub balance_cents: i64,
    /// Unpaid amount of overdue invoices and invoices in collection.
    pub overdue_cents: i64,
    pub overdue_count: i64,
    /// The earliest open (not yet due) invoice.
    pub next_due_date: Option<String>,
    pub next_amount_cents: Option<i64>,
}

/// The vehicle of an activated contract on the dashboard.
#[derive(Debug, Clone)]
pub struct DashboardVehicle {
    pub id: i64,
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    /// Sealed under `subject_id`'s key.
    pub licence_plate: Vec<u8>,
}

/// The dashboard: every contract the customer holds or co-holds (not
/// pending), with the vehicle and money figures of the activated ones, in
/// one statement. The figures are correlated sub-queries per contract on
/// the contract indexes (covering indexes from migration 0005), evaluated
/// only for activated contracts; nothing is queried per contract from the
/// application.
pub async fn dashboard(
    db: &crate::Db,
    customer_id: i64,
    account_id: i64,
) -> Result<Vec<DashboardRow>> {
    let sql = "SELECT c.id, c.contract_number, c.contract_type, c.status, c.brand_id, c.ended_on, \
         a.activated_at, h.id, h.subject_id, h.make, h.model, h.licence_plate, \
         CASE WHEN a.activated_at IS NULL THEN 0 ELSE \
           CAST((SELECT COALESCE(SUM(l.amount_cents), 0) FROM ledger_entries l \
             WHERE l.contract_id = c.id) AS BIGINT) END, \
         CASE WHEN a.activated_at IS NULL THEN 0 ELSE \
           CAST((SELECT COALESCE(SUM(i.amount_cents - i.paid_cents), 0) FROM invoices i \
             WHERE i.contract_id = c.id AND i.status IN ('overdue', 'in_collection')) AS BIGINT) END, \
         CASE WHEN a.activated_at IS NULL THEN 0 ELSE \
           (SELECT COUNT(*) FROM invoices i \
             WHERE i.contract_id = c.id AND i.status IN ('overdue', 'in_collection')) END, \
         n.due_date, n.amount_cents \
         FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id \
         LEFT JOIN contract_activations a ON a.contract_id = c.id AND a.account_id = $2 \
         LEFT JOIN vehicles h ON h.id = c.vehicle_id AND a.activated_at IS NOT NULL \
         LEFT JOIN invoices n ON a.activated_at IS NOT NULL AND n.id = (SELECT i.id FROM invoices i \
            WHERE i.contract_id = c.id AND i.status = 'open' ORDER BY i.due_date, i.id LIMIT 1) \
         WHERE p.customer_id = $1 AND p.role IN ('holder', 'co_holder') AND c.status <> 'pending' \
         ORDER BY c.contract_number";
    let rows = sqlx::query(sql)
        .bind(customer_id)
        .bind(account_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| {
            let vehicle_id: Option<i64> = r.try_get(7)?;
            let vehicle = match vehicle_id {
                Some(id) => Some(DashboardVehicle {
                    id,
                    subject_id: r.try_get(8)?,
                    make: r.try_get(9)?,
                    model: r.try_get(10)?,
                    licence_plate: r.try_get(11)?,
                }),
                None => None,
            };
            Ok(DashboardRow {
                contract_id: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                contract_type: r.try_get(2)?,
                status: r.try_get(3)?,
                brand_id: r.try_get(4)?,
                ended_on: r.try_get(5)?,
                activated_at: r.try_get(6)?,
                vehicle,
                balance_cents: r.try_get(12)?,
                overdue_cents: r.try_get(13)?,
                overdue_count: r.try_get(14)?,
                next_due_date: r.try_get(15)?,
                next_amount_cents: r.try_get(16)?,
            })
        })
        .collect()
}

/// A vehicle as its page shows it (CON-02).
#[derive(Debug, Clone)]
pub struct VehicleRow {
    pub id: i64,
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    pub fuel: String,
    pub plate_country: String,
    /// Sealed under `subject_id`'s key.
    pub licence_plate: Vec<u8>,
    /// Sealed under `subject_id`'s key.
    pub vin: Vec<u8>,
    pub first_registration: String,
}

/// One odometer reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub date: String,
    pub kilometres: i64,
    pub source: String,
}

/// A vehicle and its readings, oldest first.
pub async fn vehicle(
    db: &crate::Db,
    vehicle_id: i64,
) -> Result<Option<(VehicleRow, Vec<Reading>)>> {
    let Some(r) = sqlx::query(
        "SELECT id, subject_id, make, model, fuel, plate_country, licence_plate, vin, \
         first_registration FROM vehicles WHERE id = $1",
    )
    .bind(vehicle_id)
    .fetch_optional(db.reader())
    .await?
    else {
        return Ok(None);
    };
    let vehicle = VehicleRow {
        id: r.try_get(0)?,
        subject_id: r.try_get(1)?,
        make: r.try_get(2)?,
        model: r.try_get(3)?,
        fuel: r.try_get(4)?,
        plate_country: r.try_get(5)?,
        licence_plate: r.try_get(6)?,
        vin: r.try_get(7)?,
        first_registration: r.try_get(8)?,
    };
    let readings = sqlx::query(
        "SELECT reading_date, kilometres, source FROM odometer_readings \
         WHERE vehicle_id = $1 ORDER BY reading_date, id",
    )
    .bind(vehicle_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok(Reading {
            date: r.try_get(0)?,
            kilometres: r.try_get(1)?,
            source: r.try_get(2)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(Some((vehicle, readings)))
}

/// An invoice as the portal shows it (CON-03).
#[derive(Debug, Clone)]
pub struct InvoiceRow {
    pub id: i64,
    pub entity_id: i64,
    pub contract_id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub brand_id: i64,
    pub invoice_number: String,
    pub kind: String,
    pub period: Option<String>,
    pub issue_date: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub paid_cents: i64,
    pub status: String,
    pub payment_reference: String,
}

const INVOICE_COLUMNS: &str = "i.id, i.entity_id, i.contract_id, c.contract_number, \
     c.contract_type, c.brand_id, i.invoice_number, i.kind, i.period, i.issue_date, i.due_date, \
     i.amount_cents, i.paid_cents, i.status, i.payment_reference";

fn invoice_row(r: &AnyRow) -> Result<InvoiceRow> {
    Ok(InvoiceRow {
        id: r.try_get(0)?,
        entity_id: r.try_get(1)?,
        contract_id: r.try_get(2)?,
        contract_number: r.try_get(3)?,
        contract_type: r.try_get(4)?,
        brand_id: r.try_get(5)?,
        invoice_number: r.try_get(6)?,
        kind: r.try_get(7)?,
        period: r.try_get(8)?,
        issue_date: r.try_get(9)?,
        due_date: r.try_get(10)?,
        amount_cents: r.try_get(11)?,
        paid_cents: r.try_get(12)?,
        status: r.try_get(13)?,
        payment_reference: r.try_get(14)?,
    })
}

/// Which invoices a list shows.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<String>,
    /// Only this contract.
    pub contract_id: Option<i64>,
}

/// A value bound after the customer and account.
enum Bound {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_all<'q>(mut query: AnyQuery<'q>, values: &'q [Bound]) -> AnyQuery<'q> {
    for value in values {
        query = match value {
            Bound::Text(text) => query.bind(text.as_str()),
            Bound::Int(n) => query.bind(*n),
        };
    }
    query
}

impl InvoiceFilter {
    /// The extra conditions and their values, numbered from `$3`.
    fn conditions(&self) -> (String, Vec<Bound>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        if !self.statuses.is_empty() {
            let marks: Vec<String> = self
                .statuses
                .iter()
                .map(|s| {
                    values.push(Bound::Text(s.clone()));
                    format!("${}", values.len() + 2)
                })
                .collect();
            sql.push_str(&format!(" AND i.status IN ({})", marks.join(", ")));
        }
        if let Some(contract) = self.contract_id {
            values.push(Bound::Int(contract));
            sql.push_str(&format!(" AND c.id = ${}", values.len() + 2));
        }
        (sql, values)
    }
}

/// A page of the customer's invoices over all activated contracts, newest
/// due date first, and how many match in all.
pub async fn invoices(
    db: &crate::Db,
    customer_id: i64,
    account_id: i64,
    filter: &InvoiceFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InvoiceRow>, i64)> {
    let (conditions, values) = filter.conditions();
    let from = format!(
        "FROM {ACTIVATED_FROM} JOIN invoices i ON i.contract_id = c.id {ACTIVATED_WHERE}{conditions}"
    );
    // A count and a page: on SQLite a window count (`COUNT(*) OVER ()`) in
    // the page's statement cost more than the two statements (it
    // materialises every match; bench/portal: ~800 µs against ~530 µs of
    // server CPU per invoice list).
    let count_sql = format!("SELECT COUNT(*) {from}");
    let count = bind_all(
        sqlx::query(&count_sql).bind(customer_id).bind(account_id),
        &values,
    );
    let total: i64 = count.fetch_one(db.reader()).await?.try_get(0)?;
    let n = values.len() + 3;
    let list_sql = format!(
        "SELECT {INVOICE_COLUMNS} {from} ORDER BY i.due_date DESC, i.id DESC LIMIT ${n} OFFSET ${}",
        n + 1
    );
    let list = bind_all(
        sqlx::query(&list_sql).bind(customer_id).bind(account_id),
        &values,
    );
    let rows = list.bind(limit).bind(offset).fetch_all(db.reader()).await?;
    Ok((
        rows.iter().map(invoice_row).collect::<Result<Vec<_>>>()?,
        total,
    ))
}

/// One of the customer's invoices on an activated contract.
pub async fn invoice(
    db: &crate::Db,
    customer_id: i64,
    account_id: i64,
    invoice_id: i64,
) -> Result<Option<InvoiceRow>> {
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM {ACTIVATED_FROM} JOIN invoices i ON i.contract_id = c.id \
         {ACTIVATED_WHERE} AND i.id = $3"
    );
    sqlx::query(&sql)
        .bind(customer_id)
        .bind(account_id)
        .bind(invoice_id)
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(invoice_row)
        .transpose()
}

/// One ledger entry with the number of the invoice it concerns.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub id: i64,
    pub entry_date: String,
    pub kind: String,
    pub amount_cents: i64,
    pub invoice_number: Option<String>,
}

/// A contract's ledger in date order (CON-04).
pub async fn ledger(db: &crate::Db, contract_id: i64) -> Result<Vec<LedgerRow>> {
    let rows = sqlx::query(
        "SELECT l.id, l.entry_date, l.kind, l.amount_cents, i.invoice_number \
         FROM ledger_entries l LEFT JOIN invoices i ON i.id = l.invoice_id \
         WHERE l.contract_id = $1 ORDER BY l.entry_date, l.id",
    )
    .bind(contract_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LedgerRow {
                id: r.try_get(0)?,
                entry_date: r.try_get(1)?,
                kind: r.try_get(2)?,
                amount_cents: r.try_get(3)?,
                invoice_number: r.try_get(4)?,
            })
        })
        .collect()
}

/// A document issued for a contract (CON-06: documents on file).
#[derive(Debug, Clone)]
pub struct IssuedRow {
    pub reference: String,
    pub kind: String,
    pub period: Option<String>,
    pub generated_at: i64,
}

/// The documents issued to `customer_id` for `contract_id`, newest first.
pub async fn issued_for_contract(
    db: &crate::Db,
    customer_id: i64,
    contract_id: i64,
) -> Result<Vec<IssuedRow>> {
    let rows = sqlx::query(
        "SELECT reference, kind, period, generated_at FROM issued_documents \
         WHERE customer_id = $1 AND contract_id = $2 ORDER BY generated_at DESC, id DESC LIMIT 50",
    )
    .bind(customer_id)
    .bind(contract_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IssuedRow {
                reference: r.try_get(0)?,
                kind: r.try_get(1)?,
                period: r.try_get(2)?,
                generated_at: r.try_get(3)?,
            })
        })
        .collect()
}
