//! Imports from the core system and monthly invoice runs (BOF-04): the
//! look-ups by natural key (customer, contract and invoice number) that
//! make an import idempotent, the contracts an invoice run bills, and the
//! bookkeeping of both kinds of run (`import_runs`, `invoice_runs`).
//!
//! Look-ups take at most [`LOOKUP_CHUNK`] keys per statement
//! (`WHERE invoice_number IN (…)`); callers pass any number.

use super::Insert;
use crate::crypto::FieldRef;
use crate::error::{Result, StoreError};
use crate::keystore::{KeyState, KeyStore};
use crate::repo::customers::Personal;
use crate::repo::finance::ContractTerms;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{HashMap, HashSet};

/// Keys per look-up statement.
pub const LOOKUP_CHUNK: usize = 500;

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/// An import run as it starts.
#[derive(Debug, Clone)]
pub struct NewImportRun {
    pub id: i64,
    pub file_name: String,
    pub sha256: Vec<u8>,
    /// `csv` or `json`.
    pub format: String,
    pub started_at: i64,
    pub rows_total: i64,
}

/// Records the start of an import run in its own transaction, so a run
/// that dies half-way stays visible (without `finished_at`).
pub async fn insert_import_run(db: &Db, run: &NewImportRun) -> Result<()> {
    let mut insert = Insert::new(
        "import_runs",
        &[
            "id",
            "file_name",
            "sha256",
            "format",
            "started_at",
            "rows_total",
            "rows_imported",
            "rows_unchanged",
            "rows_rejected",
        ],
    );
    insert.row(vec![
        run.id.into(),
        run.file_name.as_str().into(),
        run.sha256.clone().into(),
        run.format.as_str().into(),
        run.started_at.into(),
        run.rows_total.into(),
        0_i64.into(),
        0_i64.into(),
        0_i64.into(),
    ]);
    let mut tx = db.begin_write().await?;
    insert.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The counts of a finished import run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub imported: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// Records the end of an import run with its counts.
pub async fn finish_import_run(
    tx: &mut AnyConnection,
    id: i64,
    counts: ImportCounts,
    finished_at: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE import_runs SET finished_at = $2, rows_imported = $3, rows_unchanged = $4, \
         rows_rejected = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(finished_at)
    .bind(counts.imported)
    .bind(counts.unchanged)
    .bind(counts.rejected)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A stored import run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRunRecord {
    pub id: i64,
    pub file_name: String,
    pub sha256: Vec<u8>,
    pub format: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub rows_total: i64,
    pub counts: ImportCounts,
}

/// The most recent import runs, newest first.
pub async fn recent_import_runs(db: &Db, limit: i64) -> Result<Vec<ImportRunRecord>> {
    let rows = sqlx::query(
        "SELECT id, file_name, sha256, format, started_at, finished_at, rows_total, \
         rows_imported, rows_unchanged, rows_rejected FROM import_runs \
         ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ImportRunRecord {
                id: r.try_get(0)?,
                file_name: r.try_get(1)?,
                sha256: r.try_get(2)?,
                format: r.try_get(3)?,
                started_at: r.try_get(4)?,
                finished_at: r.try_get(5)?,
                rows_total: r.try_get(6)?,
                counts: ImportCounts {
                    imported: r.try_get(7)?,
                    unchanged: r.try_get(8)?,
                    rejected: r.try_get(9)?,
                },
            })
        })
        .collect()
}

/// Records the start of an invoice run for `period` (`YYYY-MM`).
pub async fn insert_invoice_run(db: &Db, id: i64, period: &str, started_at: i64) -> Result<()> {
    let mut insert = Insert::new(
        "invoice_runs",
        &["id", "period", "started_at", "invoices_created"],
    );
    insert.row(vec![
        id.into(),
        period.into(),
        started_at.into(),
        0_i64.into(),
    ]);
    let mut tx = db.begin_write().await?;
    insert.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Records the end of an invoice run with what it created.
pub async fn finish_invoice_run(
    tx: &mut AnyConnection,
    id: i64,
    invoices_created: i64,
    finished_at: i64,
) -> Result<()> {
    sqlx::query("UPDATE invoice_runs SET finished_at = $2, invoices_created = $3 WHERE id = $1")
        .bind(id)
        .bind(finished_at)
        .bind(invoices_created)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A stored invoice run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRunRecord {
    pub id: i64,
    pub period: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub invoices_created: i64,
}

/// The most recent invoice runs, newest first.
pub async fn recent_invoice_runs(db: &Db, limit: i64) -> Result<Vec<InvoiceRunRecord>> {
    let rows = sqlx::query(
        "SELECT id, period, started_at, finished_at, invoices_created FROM invoice_runs \
         ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InvoiceRunRecord {
                id: r.try_get(0)?,
                period: r.try_get(1)?,
                started_at: r.try_get(2)?,
                finished_at: r.try_get(3)?,
                invoices_created: r.try_get(4)?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Look-ups by natural key
// ---------------------------------------------------------------------------

/// Ids of the customers with these numbers: `customer_number → id`.
pub async fn customer_ids_by_number(db: &Db, numbers: &[String]) -> Result<HashMap<String, i64>> {
    let mut out = HashMap::with_capacity(numbers.len());
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT customer_number, id FROM customers WHERE customer_number IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for n in chunk {
            query = query.bind(n.as_str());
        }
        for row in query.fetch_all(db.reader()).await? {
            out.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(out)
}

/// A stored vehicle with its plate and VIN opened (or erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingVehicle {
    pub id: i64,
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    pub fuel: String,
    pub plate_country: String,
    pub first_registration: String,
    pub licence_plate: Personal<String>,
    pub vin: Personal<String>,
}

/// A stored contract as an import compares it: its columns, holder,
/// current terms and vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingContract {
    pub id: i64,
    pub contract_number: String,
    pub entity_id: i64,
    pub brand_id: i64,
    pub contract_type: String,
    pub status: String,
    pub ended_on: Option<String>,
    pub closed_on: Option<String>,
    /// The holder's customer id.
    pub holder_id: Option<i64>,
    /// The current version's terms.
    pub terms: ContractTerms,
    pub vehicle: ExistingVehicle,
}

const CONTRACT_SELECT: &str = "SELECT c.id, c.contract_number, c.entity_id, c.brand_id, \
     c.contract_type, c.status, c.ended_on, c.closed_on, \
     (SELECT MIN(p.customer_id) FROM contract_parties p WHERE p.contract_id = c.id AND p.role = 'holder'), \
     v.version, v.valid_from, v.start_date, v.end_date, v.term_months, v.financed_amount_cents, \
     v.down_payment_cents, v.balloon_cents, v.nominal_rate_bp, v.apr_bp, \
     v.monthly_instalment_cents, v.km_per_year, v.excess_km_price_cents, v.change_reason, \
     h.id, h.subject_id, h.make, h.model, h.fuel, h.plate_country, h.first_registration, \
     h.licence_plate, h.vin \
     FROM contracts c \
     JOIN contract_versions v ON v.contract_id = c.id AND v.version = c.current_version \
     JOIN vehicles h ON h.id = c.vehicle_id";

fn terms_at(r: &AnyRow, at: usize) -> Result<ContractTerms> {
    Ok(ContractTerms {
        version: r.try_get(at)?,
        valid_from: r.try_get(at + 1)?,
        start_date: r.try_get(at + 2)?,
        end_date: r.try_get(at + 3)?,
        term_months: r.try_get(at + 4)?,
        financed_amount_cents: r.try_get(at + 5)?,
        down_payment_cents: r.try_get(at + 6)?,
        balloon_cents: r.try_get(at + 7)?,
        nominal_rate_bp: r.try_get(at + 8)?,
        apr_bp: r.try_get(at + 9)?,
        monthly_instalment_cents: r.try_get(at + 10)?,
        km_per_year: r.try_get(at + 11)?,
        excess_km_price_cents: r.try_get(at + 12)?,
        change_reason: r.try_get(at + 13)?,
    })
}

fn open_vehicle_field(
    key: &KeyState,
    column: &'static str,
    row: i64,
    sealed: &[u8],
) -> Result<Personal<String>> {
    match key {
        KeyState::Live(key) => Ok(Personal::Known(key.open(
            FieldRef {
                table: "vehicles",
                column,
                row,
            },
            sealed,
        )?)),
        KeyState::Shredded(_) => Ok(Personal::Erased),
        KeyState::Missing => Err(StoreError::Crypto(format!(
            "no key for the holder of vehicle {row}"
        ))),
    }
}

/// The contracts with these numbers, with their current terms and their
/// vehicle's plate and VIN opened under the holder's key.
pub async fn contracts_by_number(
    db: &Db,
    keys: &KeyStore,
    numbers: &[String],
) -> Result<Vec<ExistingContract>> {
    let mut out = Vec::with_capacity(numbers.len());
    let mut subject_keys: HashMap<i64, KeyState> = HashMap::new();
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "{CONTRACT_SELECT} WHERE c.contract_number IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for n in chunk {
            query = query.bind(n.as_str());
        }
        for r in query.fetch_all(db.reader()).await? {
            let vehicle_id: i64 = r.try_get(23)?;
            let subject_id: i64 = r.try_get(24)?;
            let key = match subject_keys.entry(subject_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(keys.get(subject_id).await?)
                }
            };
            let plate: Vec<u8> = r.try_get(30)?;
            let vin: Vec<u8> = r.try_get(31)?;
            out.push(ExistingContract {
                id: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                entity_id: r.try_get(2)?,
                brand_id: r.try_get(3)?,
                contract_type: r.try_get(4)?,
                status: r.try_get(5)?,
                ended_on: r.try_get(6)?,
                closed_on: r.try_get(7)?,
                holder_id: r.try_get(8)?,
                terms: terms_at(&r, 9)?,
                vehicle: ExistingVehicle {
                    id: vehicle_id,
                    subject_id,
                    make: r.try_get(25)?,
                    model: r.try_get(26)?,
                    fuel: r.try_get(27)?,
                    plate_country: r.try_get(28)?,
                    first_registration: r.try_get(29)?,
                    licence_plate: open_vehicle_field(key, "licence_plate", vehicle_id, &plate)?,
                    vin: open_vehicle_field(key, "vin", vehicle_id, &vin)?,
                },
            });
        }
    }
    Ok(out)
}

/// What an invoice needs of its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRef {
    pub id: i64,
    pub contract_number: String,
    pub entity_id: i64,
    /// The entity's country (`NL`, `BE`): the payment reference's format.
    pub country: String,
}

/// The contracts with these numbers, as invoices refer to them.
pub async fn contract_refs_by_number(db: &Db, numbers: &[String]) -> Result<Vec<ContractRef>> {
    let mut out = Vec::with_capacity(numbers.len());
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT c.id, c.contract_number, c.entity_id, e.country FROM contracts c \
             JOIN legal_entities e ON e.id = c.entity_id WHERE c.contract_number IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for n in chunk {
            query = query.bind(n.as_str());
        }
        for r in query.fetch_all(db.reader()).await? {
            out.push(ContractRef {
                id: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                entity_id: r.try_get(2)?,
                country: r.try_get(3)?,
            });
        }
    }
    Ok(out)
}

/// A stored invoice as an import compares it (the payment state —
/// status, amount paid — is carfin's own after the first import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingInvoice {
    pub id: i64,
    pub invoice_number: String,
    pub contract_id: i64,
    pub kind: String,
    pub period: Option<String>,
    pub issue_date: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub payment_reference: String,
}

/// The invoices with these numbers.
pub async fn invoices_by_number(db: &Db, numbers: &[String]) -> Result<Vec<ExistingInvoice>> {
    let mut out = Vec::with_capacity(numbers.len());
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT id, invoice_number, contract_id, kind, period, issue_date, due_date, \
             amount_cents, payment_reference FROM invoices WHERE invoice_number IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for n in chunk {
            query = query.bind(n.as_str());
        }
        for r in query.fetch_all(db.reader()).await? {
            out.push(ExistingInvoice {
                id: r.try_get(0)?,
                invoice_number: r.try_get(1)?,
                contract_id: r.try_get(2)?,
                kind: r.try_get(3)?,
                period: r.try_get(4)?,
                issue_date: r.try_get(5)?,
                due_date: r.try_get(6)?,
                amount_cents: r.try_get(7)?,
                payment_reference: r.try_get(8)?,
            })
        }
    }
    Ok(out)
}

/// The invoices already there for any of `contract_ids` in any of
/// `periods`: `(contract id, kind, period) → invoice number` (the unique
/// index `invoices_contract_period` allows one per key).
pub async fn invoices_in_periods(
    db: &Db,
    contract_ids: &[i64],
    periods: &[String],
) -> Result<HashMap<(i64, String, String), String>> {
    let mut out = HashMap::new();
    for contracts in contract_ids.chunks(LOOKUP_CHUNK / 2) {
        for chunk in periods.chunks(LOOKUP_CHUNK / 2) {
            let sql = format!(
                "SELECT contract_id, kind, period, invoice_number FROM invoices \
                 WHERE contract_id IN ({}) AND period IN ({})",
                placeholders(1, contracts.len()),
                placeholders(contracts.len() + 1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in contracts {
                query = query.bind(*id);
            }
            for p in chunk {
                query = query.bind(p.as_str());
            }
            for r in query.fetch_all(db.reader()).await? {
                let period: Option<String> = r.try_get(2)?;
                if let Some(period) = period {
                    out.insert((r.try_get(0)?, r.try_get(1)?, period), r.try_get(3)?);
                }
            }
        }
    }
    Ok(out)
}

/// Which of `ids` are rows of `invoices`, read within the transaction
/// (after a multi-row insert that skipped conflicts: the rows it stored).
pub async fn invoice_ids_present(tx: &mut AnyConnection, ids: &[i64]) -> Result<HashSet<i64>> {
    let mut out = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT id FROM invoices WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for r in query.fetch_all(&mut *tx).await? {
            out.insert(r.try_get(0)?);
        }
    }
    Ok(out)
}

/// Which of these invoice numbers are taken, read within the transaction.
pub async fn invoice_numbers_taken(
    tx: &mut AnyConnection,
    numbers: &[String],
) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT invoice_number FROM invoices WHERE invoice_number IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for n in chunk {
            query = query.bind(n.as_str());
        }
        for r in query.fetch_all(&mut *tx).await? {
            out.insert(r.try_get(0)?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Invoice runs
// ---------------------------------------------------------------------------

/// An active contract an invoice run may bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillableContract {
    pub id: i64,
    pub contract_number: String,
    pub entity_id: i64,
    /// The entity's country (`NL`, `BE`).
    pub country: String,
    pub contract_type: String,
    /// The current version's terms.
    pub terms: ContractTerms,
}

/// Active contracts whose current terms overlap `first_day ..= last_day`
/// (ISO dates), after contract id `after`, at most `limit`, by id (the
/// caller decides which month of the schedule falls in the period).
pub async fn active_contracts_overlapping(
    db: &Db,
    first_day: &str,
    last_day: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<BillableContract>> {
    let rows = sqlx::query(
        "SELECT c.id, c.contract_number, c.entity_id, e.country, c.contract_type, \
         v.version, v.valid_from, v.start_date, v.end_date, v.term_months, v.financed_amount_cents, \
         v.down_payment_cents, v.balloon_cents, v.nominal_rate_bp, v.apr_bp, \
         v.monthly_instalment_cents, v.km_per_year, v.excess_km_price_cents, v.change_reason \
         FROM contracts c \
         JOIN contract_versions v ON v.contract_id = c.id AND v.version = c.current_version \
         JOIN legal_entities e ON e.id = c.entity_id \
         WHERE c.status = 'active' AND c.id > $1 AND v.start_date <= $2 AND v.end_date >= $3 \
         ORDER BY c.id LIMIT $4",
    )
    .bind(after)
    .bind(last_day)
    .bind(first_day)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BillableContract {
                id: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                entity_id: r.try_get(2)?,
                country: r.try_get(3)?,
                contract_type: r.try_get(4)?,
                terms: terms_at(r, 5)?,
            })
        })
        .collect()
}

/// Invoices of `kind` for `period` among `contract_ids`: their contract ids.
pub async fn contracts_invoiced(
    tx: &mut AnyConnection,
    contract_ids: &[i64],
    kind: &str,
    period: &str,
) -> Result<HashSet<i64>> {
    let mut out = HashSet::new();
    for chunk in contract_ids.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT contract_id FROM invoices WHERE kind = $1 AND period = $2 AND contract_id IN ({})",
            placeholders(3, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(kind).bind(period);
        for id in chunk {
            query = query.bind(*id);
        }
        for r in query.fetch_all(&mut *tx).await? {
            out.insert(r.try_get(0)?);
        }
    }
    Ok(out)
}

/// The contract an amendment is made to: its number, type, status, holder
/// and every version, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendableContract {
    pub id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub current_version: i64,
    pub holder_id: Option<i64>,
    pub make: String,
    pub model: String,
}

/// One contract for the amendment form.
pub async fn amendable_contract(db: &Db, contract_id: i64) -> Result<Option<AmendableContract>> {
    let row = sqlx::query(
        "SELECT c.id, c.contract_number, c.contract_type, c.status, c.current_version, \
         (SELECT MIN(p.customer_id) FROM contract_parties p WHERE p.contract_id = c.id AND p.role = 'holder'), \
         h.make, h.model FROM contracts c JOIN vehicles h ON h.id = c.vehicle_id WHERE c.id = $1",
    )
    .bind(contract_id)
    .fetch_optional(db.reader())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(AmendableContract {
        id: r.try_get(0)?,
        contract_number: r.try_get(1)?,
        contract_type: r.try_get(2)?,
        status: r.try_get(3)?,
        current_version: r.try_get(4)?,
        holder_id: r.try_get(5)?,
        make: r.try_get(6)?,
        model: r.try_get(7)?,
    }))
}

/// The id of the contract with this number.
pub async fn contract_id_by_number(db: &Db, number: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT id FROM contracts WHERE contract_number = $1")
        .bind(number)
        .fetch_optional(db.reader())
        .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// The current version number of a contract, read within the transaction
/// that amends it.
pub async fn current_version(tx: &mut AnyConnection, contract_id: i64) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT current_version FROM contracts WHERE id = $1")
        .bind(contract_id)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(1, 0), "");
    }
}
