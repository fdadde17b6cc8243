//! The provider's settlement detail reports and their lines (PAY-06), and
//! the reads that reconcile them with the payments carfin booked.
//!
//! A report file is recorded once (`settlement_reports.sha256` is unique);
//! a line once per natural key (merchant account, psp reference, record
//! type, modification reference, batch number): lines a later file repeats
//! are ignored (`ON CONFLICT DO NOTHING`, the same on SQLite and
//! PostgreSQL), so overlapping reports add only what is new.

use super::Insert;
use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A report file to record.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub id: i64,
    pub file_name: String,
    pub sha256: Vec<u8>,
    pub imported_at: i64,
}

/// An imported report file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    pub id: i64,
    pub file_name: String,
    pub sha256: Vec<u8>,
    pub imported_at: i64,
    /// Lines stored by this import (not those already known).
    pub imported_lines: i64,
    pub rejected_lines: i64,
}

/// A settlement line to store. Amounts are in minor units of their
/// currency (cents for EUR); `booked_at` is the report's Creation Date as
/// `YYYY-MM-DD HH:MM:SS` (so text order is time order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub id: i64,
    pub line_no: i64,
    pub merchant_account: String,
    pub psp_reference: String,
    pub merchant_reference: String,
    pub payment_method: String,
    pub booked_at: String,
    pub record_type: String,
    pub modification_reference: String,
    pub gross_currency: String,
    pub gross_debit_cents: i64,
    pub gross_credit_cents: i64,
    pub net_currency: String,
    pub net_debit_cents: i64,
    pub net_credit_cents: i64,
    pub commission_cents: i64,
    pub batch_number: String,
}

/// A stored settlement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    pub id: i64,
    pub report_id: i64,
    pub line_no: i64,
    pub merchant_account: String,
    pub psp_reference: String,
    pub merchant_reference: String,
    pub payment_method: String,
    pub booked_at: String,
    pub record_type: String,
    pub modification_reference: String,
    pub gross_currency: String,
    pub gross_debit_cents: i64,
    pub gross_credit_cents: i64,
    pub net_currency: String,
    pub net_debit_cents: i64,
    pub net_credit_cents: i64,
    pub commission_cents: i64,
    pub batch_number: String,
}

/// The facts of a payment that reconciliation compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    pub id: i64,
    pub status: String,
    pub currency: String,
    pub amount_cents: i64,
    pub authorised_cents: Option<i64>,
    pub psp_reference: Option<String>,
    pub booked_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub(crate) const LINE_COLUMNS: &[&str] = &[
    "id",
    "report_id",
    "line_no",
    "merchant_account",
    "psp_reference",
    "merchant_reference",
    "payment_method",
    "booked_at",
    "record_type",
    "modification_reference",
    "gross_currency",
    "gross_debit_cents",
    "gross_credit_cents",
    "net_currency",
    "net_debit_cents",
    "net_credit_cents",
    "commission_cents",
    "batch_number",
];

const REPORT_SELECT: &str =
    "SELECT id, file_name, sha256, imported_at, imported_lines, rejected_lines FROM settlement_reports";

const PAYMENT_SELECT: &str = "SELECT id, status, currency, amount_cents, authorised_cents, \
     psp_reference, booked_at, ended_at FROM payments";

/// Values per `IN (…)` list.
const IN_CHUNK: usize = 500;

fn report_from_row(row: &AnyRow) -> Result<ReportRecord> {
    Ok(ReportRecord {
        id: row.try_get("id")?,
        file_name: row.try_get("file_name")?,
        sha256: row.try_get("sha256")?,
        imported_at: row.try_get("imported_at")?,
        imported_lines: row.try_get("imported_lines")?,
        rejected_lines: row.try_get("rejected_lines")?,
    })
}

pub(crate) fn line_from_row(row: &AnyRow) -> Result<LineRecord> {
    Ok(LineRecord {
        id: row.try_get("id")?,
        report_id: row.try_get("report_id")?,
        line_no: row.try_get("line_no")?,
        merchant_account: row.try_get("merchant_account")?,
        psp_reference: row.try_get("psp_reference")?,
        merchant_reference: row.try_get("merchant_reference")?,
        payment_method: row.try_get("payment_method")?,
        booked_at: row.try_get("booked_at")?,
        record_type: row.try_get("record_type")?,
        modification_reference: row.try_get("modification_reference")?,
        gross_currency: row.try_get("gross_currency")?,
        gross_debit_cents: row.try_get("gross_debit_cents")?,
        gross_credit_cents: row.try_get("gross_credit_cents")?,
        net_currency: row.try_get("net_currency")?,
        net_debit_cents: row.try_get("net_debit_cents")?,
        net_credit_cents: row.try_get("net_credit_cents")?,
        commission_cents: row.try_get("commission_cents")?,
        batch_number: row.try_get("batch_number")?,
    })
}

fn payment_from_row(row: &AnyRow) -> Result<PaymentFacts> {
    Ok(PaymentFacts {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        currency: row.try_get("currency")?,
        amount_cents: row.try_get("amount_cents")?,
        authorised_cents: row.try_get("authorised_cents")?,
        psp_reference: row.try_get("psp_reference")?,
        booked_at: row.try_get("booked_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// The report imported from a file with this SHA-256, if any.
pub async fn report_by_sha256(
    conn: &mut AnyConnection,
    sha256: &[u8],
) -> Result<Option<ReportRecord>> {
    let row = sqlx::query(&format!("{REPORT_SELECT} WHERE sha256 = $1"))
        .bind(sha256.to_vec())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(report_from_row).transpose()
}

/// The report imported from a file with this SHA-256, if any (outside a
/// transaction).
pub async fn find_report_by_sha256(db: &Db, sha256: &[u8]) -> Result<Option<ReportRecord>> {
    let row = sqlx::query(&format!("{REPORT_SELECT} WHERE sha256 = $1"))
        .bind(sha256.to_vec())
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(report_from_row).transpose()
}

/// The most recent imports, newest first.
pub async fn recent_reports(db: &Db, limit: i64) -> Result<Vec<ReportRecord>> {
    let rows = sqlx::query(&format!(
        "{REPORT_SELECT} ORDER BY imported_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(report_from_row).collect()
}

/// Records a report file with no lines counted yet. Fails with a unique
/// violation when a file with the same SHA-256 was recorded meanwhile.
pub async fn insert_report(tx: &mut AnyConnection, report: &NewReport) -> Result<()> {
    sqlx::query(
        "INSERT INTO settlement_reports (id, file_name, sha256, imported_at, imported_lines, rejected_lines) \
         VALUES ($1, $2, $3, $4, 0, 0)",
    )
    .bind(report.id)
    .bind(report.file_name.as_str())
    .bind(report.sha256.clone())
    .bind(report.imported_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sets how many lines an import stored and rejected.
pub async fn set_report_counts(
    tx: &mut AnyConnection,
    report_id: i64,
    imported_lines: i64,
    rejected_lines: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE settlement_reports SET imported_lines = $1, rejected_lines = $2 WHERE id = $3",
    )
    .bind(imported_lines)
    .bind(rejected_lines)
    .bind(report_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Stores the lines of a report, ignoring every line whose natural key is
/// already stored (or repeated earlier in `lines`); answers how many were
/// stored.
pub async fn insert_new_lines(
    tx: &mut AnyConnection,
    report_id: i64,
    lines: &[NewLine],
) -> Result<u64> {
    let mut insert = Insert::new("settlement_lines", LINE_COLUMNS).ignore_conflicts(
        "(merchant_account, psp_reference, record_type, modification_reference, batch_number)",
    );
    for line in lines {
        insert.row(vec![
            line.id.into(),
            report_id.into(),
            line.line_no.into(),
            line.merchant_account.as_str().into(),
            line.psp_reference.as_str().into(),
            line.merchant_reference.as_str().into(),
            line.payment_method.as_str().into(),
            line.booked_at.as_str().into(),
            line.record_type.as_str().into(),
            line.modification_reference.as_str().into(),
            line.gross_currency.as_str().into(),
            line.gross_debit_cents.into(),
            line.gross_credit_cents.into(),
            line.net_currency.as_str().into(),
            line.net_debit_cents.into(),
            line.net_credit_cents.into(),
            line.commission_cents.into(),
            line.batch_number.as_str().into(),
        ]);
    }
    insert.execute(tx).await
}

/// `$first, $first+1, …` for an `IN` list of `count` values.
fn in_list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The lines of the given record types whose Creation Date falls on or
/// after `from` and before `until` (both `YYYY-MM-DD`), oldest first.
pub async fn lines_between(
    db: &Db,
    record_types: &[&str],
    from: &str,
    until: &str,
) -> Result<Vec<LineRecord>> {
    if record_types.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM settlement_lines WHERE booked_at >= $1 AND booked_at < $2 \
         AND record_type IN ({}) ORDER BY booked_at, id",
        LINE_COLUMNS.join(", "),
        in_list(3, record_types.len())
    );
    let mut query = sqlx::query(&sql).bind(from).bind(until);
    for t in record_types {
        query = query.bind(*t);
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter().map(line_from_row).collect()
}

/// The lines of the given record types that carry one of these psp
/// references or merchant references.
pub async fn lines_for_references(
    db: &Db,
    record_types: &[&str],
    psp_references: &[String],
    merchant_references: &[String],
) -> Result<Vec<LineRecord>> {
    let mut lines = Vec::new();
    if record_types.is_empty() {
        return Ok(lines);
    }
    for (column, values) in [
        ("psp_reference", psp_references),
        ("merchant_reference", merchant_references),
    ] {
        for chunk in values.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {} FROM settlement_lines WHERE {column} IN ({}) AND record_type IN ({}) \
                 ORDER BY booked_at, id",
                LINE_COLUMNS.join(", "),
                in_list(1, chunk.len()),
                in_list(chunk.len() + 1, record_types.len())
            );
            let mut query = sqlx::query(&sql);
            for v in chunk {
                query = query.bind(v.as_str());
            }
            for t in record_types {
                query = query.bind(*t);
            }
            for row in query.fetch_all(db.reader()).await? {
                lines.push(line_from_row(&row)?);
            }
        }
    }
    lines.sort_by(|a, b| (&a.booked_at, a.id).cmp(&(&b.booked_at, b.id)));
    lines.dedup_by_key(|l| l.id);
    Ok(lines)
}

/// The payments reconciliation expects in the provider's report for the
/// period `[from, until)` (Unix seconds): those booked in it, and those
/// refunded or charged back in it (by `ended_at`, or `booked_at` when it
/// is not set).
pub async fn payments_to_reconcile(db: &Db, from: i64, until: i64) -> Result<Vec<PaymentFacts>> {
    let rows = sqlx::query(&format!(
        "{PAYMENT_SELECT} WHERE \
         (status IN ('booked', 'refunded', 'charged_back') AND booked_at >= $1 AND booked_at < $2) \
         OR (status IN ('refunded', 'charged_back') AND COALESCE(ended_at, booked_at) >= $1 \
             AND COALESCE(ended_at, booked_at) < $2) \
         ORDER BY id"
    ))
    .bind(from)
    .bind(until)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(payment_from_row).collect()
}

/// The payments with one of these psp references or ids, whatever their status.
pub async fn payments_by_references(
    db: &Db,
    psp_references: &[String],
    ids: &[i64],
) -> Result<Vec<PaymentFacts>> {
    let mut payments = Vec::new();
    for chunk in psp_references.chunks(IN_CHUNK) {
        let sql = format!(
            "{PAYMENT_SELECT} WHERE psp_reference IN ({})",
            in_list(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for v in chunk {
            query = query.bind(v.as_str());
        }
        for row in query.fetch_all(db.reader()).await? {
            payments.push(payment_from_row(&row)?);
        }
    }
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!("{PAYMENT_SELECT} WHERE id IN ({})", in_list(1, chunk.len()));
        let mut query = sqlx::query(&sql);
        for v in chunk {
            query = query.bind(*v);
        }
        for row in query.fetch_all(db.reader()).await? {
            payments.push(payment_from_row(&row)?);
        }
    }
    payments.sort_by_key(|p| p.id);
    payments.dedup_by_key(|p| p.id);
    Ok(payments)
}

/// Every stored line of a report, in file order (for a back-office view).
pub async fn lines_of_report(db: &Db, report_id: i64) -> Result<Vec<LineRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM settlement_lines WHERE report_id = $1 ORDER BY line_no",
        LINE_COLUMNS.join(", ")
    ))
    .bind(report_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(line_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_number_each_parameter() {
        assert_eq!(in_list(3, 2), "$3,$4");
    }
}
