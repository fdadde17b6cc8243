//! Documents on request (SRV-05, CON-06): the register of issued documents
//! and the contract facts the documents are built from — every version of
//! the terms, the parties, the vehicle, the dealer, the invoices and the
//! ledger of one contract.

use super::Insert;
use crate::crypto::FieldRef;
use crate::error::{Result, StoreError};
use crate::keystore::{KeyState, KeyStore};
use crate::repo::customers::Personal;
use crate::repo::finance::ContractTerms;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A document issued to a customer, to record.
#[derive(Debug, Clone)]
pub struct NewIssuedDocument {
    pub id: i64,
    /// The reference printed on the document.
    pub reference: String,
    pub customer_id: i64,
    pub contract_id: Option<i64>,
    pub invoice_id: Option<i64>,
    /// `invoice`, `statement`, `annual_statement`, `tax_certificate`,
    /// `settlement_quote`, `contract_copy`, `schedule` or `data_export`.
    pub kind: String,
    /// The year or period covered (`2025`, `2025-03`), if any.
    pub period: Option<String>,
    pub language: String,
    /// SHA-256 of the bytes issued.
    pub sha256: Vec<u8>,
    pub generated_at: i64,
}

/// Records an issued document.
pub async fn insert_issued(tx: &mut AnyConnection, d: &NewIssuedDocument) -> Result<()> {
    let mut insert = Insert::new(
        "issued_documents",
        &[
            "id",
            "reference",
            "customer_id",
            "contract_id",
            "invoice_id",
            "kind",
            "period",
            "language",
            "sha256",
            "generated_at",
        ],
    );
    insert.row(vec![
        d.id.into(),
        d.reference.as_str().into(),
        d.customer_id.into(),
        d.contract_id.into(),
        d.invoice_id.into(),
        d.kind.as_str().into(),
        d.period.clone().into(),
        d.language.as_str().into(),
        d.sha256.clone().into(),
        d.generated_at.into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// A document issued before, as listed to its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDocumentRow {
    pub id: i64,
    pub reference: String,
    pub customer_id: i64,
    pub contract_id: Option<i64>,
    /// The contract's number, when the document concerns a contract.
    pub contract_number: Option<String>,
    pub invoice_id: Option<i64>,
    pub kind: String,
    pub period: Option<String>,
    pub language: String,
    pub sha256: Vec<u8>,
    pub generated_at: i64,
}

const ISSUED_SELECT: &str = "SELECT d.id, d.reference, d.customer_id, d.contract_id, \
     c.contract_number, d.invoice_id, d.kind, d.period, d.language, d.sha256, d.generated_at \
     FROM issued_documents d LEFT JOIN contracts c ON c.id = d.contract_id";

fn issued_row(r: &AnyRow) -> Result<IssuedDocumentRow> {
    Ok(IssuedDocumentRow {
        id: r.try_get(0)?,
        reference: r.try_get(1)?,
        customer_id: r.try_get(2)?,
        contract_id: r.try_get(3)?,
        contract_number: r.try_get(4)?,
        invoice_id: r.try_get(5)?,
        kind: r.try_get(6)?,
        period: r.try_get(7)?,
        language: r.try_get(8)?,
        sha256: r.try_get(9)?,
        generated_at: r.try_get(10)?,
    })
}

/// The documents issued to a customer, newest first, at most `limit`.
pub async fn issued_for_customer(
    db: &Db,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<IssuedDocumentRow>> {
    let rows = sqlx::query(&format!(
        "{ISSUED_SELECT} WHERE d.customer_id = $1 ORDER BY d.generated_at DESC, d.id DESC LIMIT $2"
    ))
    .bind(customer_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(issued_row).collect()
}

/// An issued document by its printed reference.
pub async fn issued_by_reference(db: &Db, reference: &str) -> Result<Option<IssuedDocumentRow>> {
    let row = sqlx::query(&format!("{ISSUED_SELECT} WHERE d.reference = $1"))
        .bind(reference)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(issued_row).transpose()
}

/// Every version of a contract's terms, oldest first (CON-01: amendments
/// add versions, earlier ones stay).
pub async fn contract_versions(db: &Db, contract_id: i64) -> Result<Vec<ContractTerms>> {
    let rows = sqlx::query(
        "SELECT version, valid_from, start_date, end_date, term_months, financed_amount_cents, \
         down_payment_cents, balloon_cents, nominal_rate_bp, apr_bp, monthly_instalment_cents, \
         km_per_year, excess_km_price_cents, change_reason \
         FROM contract_versions WHERE contract_id = $1 ORDER BY version",
    )
    .bind(contract_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ContractTerms {
                version: r.try_get(0)?,
                valid_from: r.try_get(1)?,
                start_date: r.try_get(2)?,
                end_date: r.try_get(3)?,
                term_months: r.try_get(4)?,
                financed_amount_cents: r.try_get(5)?,
                down_payment_cents: r.try_get(6)?,
                balloon_cents: r.try_get(7)?,
                nominal_rate_bp: r.try_get(8)?,
                apr_bp: r.try_get(9)?,
                monthly_instalment_cents: r.try_get(10)?,
                km_per_year: r.try_get(11)?,
                excess_km_price_cents: r.try_get(12)?,
                change_reason: r.try_get(13)?,
            })
        })
        .collect()
}

/// A party to a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRow {
    pub customer_id: i64,
    /// `holder`, `co_holder` or `guarantor`.
    pub role: String,
    /// `person` or `company`.
    pub kind: String,
}

/// The parties to a contract: holders first, then co-holders, then
/// guarantors.
pub async fn contract_parties(db: &Db, contract_id: i64) -> Result<Vec<PartyRow>> {
    let rows = sqlx::query(
        "SELECT p.customer_id, p.role, cu.kind FROM contract_parties p \
         JOIN customers cu ON cu.id = p.customer_id WHERE p.contract_id = $1 \
         ORDER BY CASE p.role WHEN 'holder' THEN 0 WHEN 'co_holder' THEN 1 ELSE 2 END, p.customer_id",
    )
    .bind(contract_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PartyRow {
                customer_id: r.try_get(0)?,
                role: r.try_get(1)?,
                kind: r.try_get(2)?,
            })
        })
        .collect()
}

/// What a contract copy shows besides the terms: the entity, the dealer,
/// the vehicle's registration facts and its VIN (opened with the holder's
/// key), and when the contract was entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFacts {
    pub entity_id: i64,
    pub dealer_name: Option<String>,
    pub dealer_city: Option<String>,
    pub plate_country: String,
    pub first_registration: String,
    pub vin: Personal<String>,
    pub closed_on: Option<String>,
    pub created_at: i64,
}

/// The facts of one contract; `None` if there is no such contract.
pub async fn contract_facts(
    db: &Db,
    keys: &KeyStore,
    contract_id: i64,
) -> Result<Option<ContractFacts>> {
    let row = sqlx::query(
        "SELECT c.entity_id, d.name, d.city, v.plate_country, v.first_registration, v.id, \
         v.subject_id, v.vin, c.closed_on, c.created_at FROM contracts c \
         JOIN vehicles v ON v.id = c.vehicle_id LEFT JOIN dealers d ON d.id = c.dealer_id \
         WHERE c.id = $1",
    )
    .bind(contract_id)
    .fetch_optional(db.reader())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let vehicle_id: i64 = r.try_get(5)?;
    let subject_id: i64 = r.try_get(6)?;
    let sealed: Vec<u8> = r.try_get(7)?;
    let vin = match keys.get(subject_id).await? {
        KeyState::Live(key) => Personal::Known(key.open(
            FieldRef {
                table: "vehicles",
                column: "vin",
                row: vehicle_id,
            },
            &sealed,
        )?),
        KeyState::Shredded(_) => Personal::Erased,
        KeyState::Missing => {
            return Err(StoreError::Crypto(format!(
                "no key for subject {subject_id}"
            )))
        }
    };
    Ok(Some(ContractFacts {
        entity_id: r.try_get(0)?,
        dealer_name: r.try_get(1)?,
        dealer_city: r.try_get(2)?,
        plate_country: r.try_get(3)?,
        first_registration: r.try_get(4)?,
        vin,
        closed_on: r.try_get(8)?,
        created_at: r.try_get(9)?,
    }))
}

/// One invoice of a contract, as the documents use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub id: i64,
    pub invoice_number: String,
    /// `instalment`, `excess_km`, `fee` or `credit`.
    pub kind: String,
    /// `YYYY-MM` for instalments.
    pub period: Option<String>,
    pub issue_date: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub paid_cents: i64,
    /// `open`, `paid`, `overdue`, `in_collection` or `written_off`.
    pub status: String,
}

/// Every invoice of a contract, by due date.
pub async fn contract_invoices(db: &Db, contract_id: i64) -> Result<Vec<InvoiceRow>> {
    let rows = sqlx::query(
        "SELECT id, invoice_number, kind, period, issue_date, due_date, amount_cents, paid_cents, \
         status FROM invoices WHERE contract_id = $1 ORDER BY due_date, id",
    )
    .bind(contract_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InvoiceRow {
                id: r.try_get(0)?,
                invoice_number: r.try_get(1)?,
                kind: r.try_get(2)?,
                period: r.try_get(3)?,
                issue_date: r.try_get(4)?,
                due_date: r.try_get(5)?,
                amount_cents: r.try_get(6)?,
                paid_cents: r.try_get(7)?,
                status: r.try_get(8)?,
            })
        })
        .collect()
}

/// One ledger entry (debits positive, credits negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub entry_date: String,
    /// `invoice`, `payment`, `credit`, `write_off` or `fee`.
    pub kind: String,
    pub amount_cents: i64,
    pub invoice_id: Option<i64>,
}

/// A contract's ledger entries dated from `from` to `to` (ISO dates,
/// inclusive), in order.
pub async fn ledger_between(
    db: &Db,
    contract_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<LedgerRow>> {
    let rows = sqlx::query(
        "SELECT entry_date, kind, amount_cents, invoice_id FROM ledger_entries \
         WHERE contract_id = $1 AND entry_date >= $2 AND entry_date <= $3 ORDER BY entry_date, id",
    )
    .bind(contract_id)
    .bind(from)
    .bind(to)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LedgerRow {
                entry_date: r.try_get(0)?,
                kind: r.try_get(1)?,
                amount_cents: r.try_get(2)?,
                invoice_id: r.try_get(3)?,
            })
        })
        .collect()
}
