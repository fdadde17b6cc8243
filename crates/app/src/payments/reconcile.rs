//! Reconciliation with the provider's settlement detail report (PAY-06).
//!
//! [`import_settlement_report`] reads Adyen's "Settlement details report"
//! (CSV with a header row; columns found by name, in any order, extra
//! columns ignored) and stores its lines: the good ones in one transaction,
//! the bad ones reported with their line number and an English reason. A
//! file is imported once (by its SHA-256); a line once (by the natural key
//! merchant account, psp reference, record type, modification reference,
//! batch number), so overlapping reports add only their new lines.
//!
//! [`reconcile`] compares what carfin booked in a period with what the
//! provider reported and lists three kinds of differences for staff:
//! payments booked without a settlement, settlements without a booked
//! payment, and amounts that differ, each for a settlement, a refund or a
//! chargeback. See `docs/settlement-report.md`.

use crate::privacy::csv_cell;
use crate::{App, AppError};
use carfin_store::repo::settlements::{self as repo, LineRecord, NewLine, NewReport, PaymentFacts};
use carfin_store::StoreError;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// The columns an import needs, by their header names.
pub const REQUIRED_COLUMNS: [&str; 15] = [
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Batch Number",
];

/// The record types that take part in reconciliation.
pub const RECONCILED_TYPES: [&str; 6] = [
    "Settled",
    "Refunded",
    "RefundedReversed",
    "Chargeback",
    "SecondChargeback",
    "ChargebackReversed",
];

/// Longest file name kept for an import.
const MAX_FILE_NAME: usize = 255;
/// Longest value quoted back in a rejection reason.
const MAX_QUOTED: usize = 40;

/// Currencies accepted in a report, with their number of decimals.
const CURRENCIES: &[(&str, u32)] = &[
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("RON", 2),
    ("BGN", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("JPY", 0),
];

/// The number of decimals of a known currency.
pub fn currency_decimals(code: &str) -> Option<u32> {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, decimals)| *decimals)
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The import's row in `settlement_reports` (the earlier one when the
    /// file was already imported; none when no line could be read, in
    /// which case nothing was recorded).
    pub report_id: Option<i64>,
    /// The same file (same SHA-256) was imported before: nothing changed.
    pub already_imported: bool,
    /// When the file was first imported (Unix seconds), if it was before.
    pub imported_before_at: Option<i64>,
    /// Lines stored now.
    pub imported: u64,
    /// Good lines already stored (by an earlier file, or earlier in this one).
    pub duplicates: u64,
    /// Lines not about a payment and without a psp reference (a payout, a
    /// fee): not stored, not an error.
    pub skipped: u64,
    /// Lines refused, in file order.
    pub rejected: Vec<RejectedLine>,
}

/// A line that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// The line number in the file (the header is line 1).
    pub line: u64,
    pub reason: RejectReason,
}

impl fmt::Display for RejectedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Why an amount did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountProblem {
    /// A minus sign: the report writes debits and credits in columns of
    /// their own, never negative.
    Negative,
    /// Not digits with an optional decimal point.
    NotANumber,
    /// More decimals than the currency has.
    TooManyDecimals { allowed: u32 },
    /// Beyond what a 64-bit number of cents holds.
    TooLarge,
}

impl fmt::Display for AmountProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountProblem::Negative => write!(f, "negative amounts are not accepted"),
            AmountProblem::NotANumber => {
                write!(f, "not a number written with a decimal point, like 123.45")
            }
            AmountProblem::TooManyDecimals { allowed: 0 } => {
                write!(f, "the currency has no decimals")
            }
            AmountProblem::TooManyDecimals { allowed } => {
                write!(f, "more than {allowed} decimals")
            }
            AmountProblem::TooLarge => write!(f, "too large"),
        }
    }
}

/// Why a line was refused. Displayed in English; [`RejectReason::code`] is a
/// stable key for translations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The line has another number of fields than the header.
    FieldCount { expected: usize, found: usize },
    /// A field is not UTF-8 text.
    NotUtf8 { column: &'static str },
    /// The Type column is empty.
    MissingType,
    /// A line about a payment without its psp reference.
    MissingPspReference { record_type: String },
    /// The Creation Date does not read.
    BadDate { value: String },
    /// A currency that is empty (where an amount needs it) or unknown.
    UnknownCurrency { column: &'static str, value: String },
    /// An amount that does not read.
    BadAmount {
        column: &'static str,
        value: String,
        problem: AmountProblem,
    },
    /// The CSV reader gave up on the rest of the file.
    Unreadable { detail: String },
}

impl RejectReason {
    /// A stable message key.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::FieldCount { .. } => "settlement.field_count",
            RejectReason::NotUtf8 { .. } => "settlement.not_utf8",
            RejectReason::MissingType => "settlement.missing_type",
            RejectReason::MissingPspReference { .. } => "settlement.missing_psp_reference",
            RejectReason::BadDate { .. } => "settlement.bad_date",
            RejectReason::UnknownCurrency { .. } => "settlement.unknown_currency",
            RejectReason::BadAmount { .. } => "settlement.bad_amount",
            RejectReason::Unreadable { .. } => "settlement.unreadable",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::FieldCount { expected, found } => {
                write!(f, "has {found} fields where the header has {expected}")
            }
            RejectReason::NotUtf8 { column } => write!(f, "{column} is not UTF-8 text"),
            RejectReason::MissingType => write!(f, "Type is empty"),
            RejectReason::MissingPspReference { record_type } => {
                write!(f, "Psp Reference is empty on a {record_type} line")
            }
            RejectReason::BadDate { value } if value.is_empty() => {
                write!(f, "Creation Date is empty")
            }
            RejectReason::BadDate { value } => write!(
                f,
                "Creation Date \"{value}\" is not a date and time like 2026-03-05 10:12:33"
            ),
            RejectReason::UnknownCurrency { column, value } if value.is_empty() => {
                write!(f, "{column} is empty")
            }
            RejectReason::UnknownCurrency { column, value } => {
                write!(f, "{column} \"{value}\" is not a known currency")
            }
            RejectReason::BadAmount {
                column,
                value,
                problem,
            } => write!(f, "{column} \"{value}\" is not an amount: {problem}"),
            RejectReason::Unreadable { detail } => {
                write!(f, "the file cannot be read from here on: {detail}")
            }
        }
    }
}

/// Why a whole file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not even a header row.
    #[error("the file is empty: a settlement details report starts with a header row")]
    Empty,
    /// The header row lacks columns the import needs.
    #[error("the header row lacks the column(s): {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    /// A storage failure.
    #[error(transparent)]
    App(#[from] AppError),
}

impl ImportError {
    /// A stable message key.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Empty => "settlement.empty_file",
            ImportError::MissingColumns(_) => "settlement.missing_columns",
            ImportError::App(_) => "error.internal",
        }
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::App(AppError::Store(e))
    }
}

/// Imports a settlement details report: stores its new lines and records
/// the file, all in one transaction. The same file twice changes nothing
/// and says so; a file of which every line is refused is not recorded.
pub async fn import_settlement_report(
    app: &App,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportReport, ImportError> {
    let sha256 = Sha256::digest(bytes).to_vec();
    if let Some(earlier) = repo::find_report_by_sha256(app.db(), &sha256).await? {
        return Ok(already_imported(&earlier));
    }
    let parsed = parse_report(bytes)?;
    let mut report = ImportReport {
        report_id: None,
        already_imported: false,
        imported_before_at: None,
        imported: 0,
        duplicates: 0,
        skipped: parsed.skipped,
        rejected: parsed.rejected,
    };
    if parsed.lines.is_empty() && report.skipped == 0 && !report.rejected.is_empty() {
        return Ok(report);
    }
    let mut lines = parsed.lines;
    for line in &mut lines {
        line.id = app.ids().next();
    }
    let report_id = app.ids().next();
    let new = NewReport {
        id: report_id,
        file_name: file_name.chars().take(MAX_FILE_NAME).collect(),
        sha256: sha256.clone(),
        imported_at: app.clock().now().timestamp(),
    };
    let mut tx = app.db().begin_write().await?;
    if let Some(earlier) = repo::report_by_sha256(&mut tx, &sha256).await? {
        tx.rollback().await.map_err(StoreError::from)?;
        return Ok(already_imported(&earlier));
    }
    if let Err(e) = repo::insert_report(&mut tx, &new).await {
        // Another import of the same file committed meanwhile (PostgreSQL).
        drop(tx);
        if e.is_unique_violation() {
            if let Some(earlier) = repo::find_report_by_sha256(app.db(), &sha256).await? {
                return Ok(already_imported(&earlier));
            }
        }
        return Err(e.into());
    }
    let imported = repo::insert_new_lines(&mut tx, report_id, &lines).await?;
    let rejected = i64::try_from(report.rejected.len()).unwrap_or(i64::MAX);
    repo::set_report_counts(
        &mut tx,
        report_id,
        i64::try_from(imported).unwrap_or(i64::MAX),
        rejected,
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    report.report_id = Some(report_id);
    report.imported = imported;
    report.duplicates = (lines.len() as u64).saturating_sub(imported);
    Ok(report)
}

/// The most recent imports, newest first (for the back office).
pub async fn recent_imports(app: &App, limit: i64) -> Result<Vec<repo::ReportRecord>, AppError> {
    Ok(repo::recent_reports(app.db(), limit.clamp(1, 1000)).await?)
}

fn already_imported(earlier: &repo::ReportRecord) -> ImportReport {
    ImportReport {
        report_id: Some(earlier.id),
        already_imported: true,
        imported_before_at: Some(earlier.imported_at),
        imported: 0,
        duplicates: 0,
        skipped: 0,
        rejected: Vec::new(),
    }
}

/// A report read into lines (ids still 0).
#[derive(Debug, Default)]
struct Parsed {
    lines: Vec<NewLine>,
    skipped: u64,
    rejected: Vec<RejectedLine>,
}

/// Header positions of the required columns, in [`REQUIRED_COLUMNS`] order.
#[derive(Debug)]
struct Columns([usize; 15]);

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Columns, ImportError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| normalize_header(&String::from_utf8_lossy(h)))
            .collect();
        let mut positions = [0usize; 15];
        let mut missing = Vec::new();
        for (slot, wanted) in positions.iter_mut().zip(REQUIRED_COLUMNS) {
            match names.iter().position(|n| *n == normalize_header(wanted)) {
                Some(i) => *slot = i,
                None => missing.push(wanted.to_string()),
            }
        }
        if missing.is_empty() {
            Ok(Columns(positions))
        } else {
            Err(ImportError::MissingColumns(missing))
        }
    }
}

/// Header names compare without case and with runs of spaces as one.
fn normalize_header(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Reads the CSV: the header, then every line into a stored line, a skip
/// or a rejection.
fn parse_report(bytes: &[u8]) -> Result<Parsed, ImportError> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut header = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) | Err(_) => return Err(ImportError::Empty),
    }
    let columns = Columns::from_header(&header)?;
    let mut parsed = Parsed::default();
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::new(body);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                parsed.rejected.push(RejectedLine {
                    line,
                    reason: RejectReason::Unreadable {
                        detail: e.to_string(),
                    },
                });
                break;
            }
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        // A line of nothing but spaces is no line of the report.
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        if record.len() != header.len() {
            parsed.rejected.push(RejectedLine {
                line,
                reason: RejectReason::FieldCount {
                    expected: header.len(),
                    found: record.len(),
                },
            });
            continue;
        }
        match read_line(&columns, &record, line) {
            Ok(Some(new)) => parsed.lines.push(new),
            Ok(None) => parsed.skipped += 1,
            Err(reason) => parsed.rejected.push(RejectedLine { line, reason }),
        }
    }
    Ok(parsed)
}

/// Line numbers of records by their byte offsets (the CSV reader's own
/// count is one short after a CRLF line end). Offsets are asked in
/// increasing order, so the file is scanned once.
struct LineCounter<'a> {
    body: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(body: &'a [u8]) -> LineCounter<'a> {
        LineCounter {
            body,
            offset: 0,
            line: 1,
        }
    }

    /// The line on which the record starting at `byte` begins: line ends
    /// and blank lines before it are skipped.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.body.len());
        while self
            .body
            .get(start)
            .is_some_and(|b| *b == b'\r' || *b == b'\n')
        {
            start += 1;
        }
        if start > self.offset {
            let newlines = self.body[self.offset..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += newlines as u64;
            self.offset = start;
        }
        self.line
    }
}

/// Whether a record type is about a payment (and so needs its psp reference).
pub fn is_payment_record_type(record_type: &str) -> bool {
    ["Settled", "Refunded", "Chargeback", "SecondChargeback"]
        .iter()
        .any(|p| record_type.starts_with(p))
}

/// One line: `Ok(None)` when it is skipped (not about a payment, no psp
/// reference).
fn read_line(
    columns: &Columns,
    record: &csv::ByteRecord,
    line: u64,
) -> Result<Option<NewLine>, RejectReason> {
    let mut fields = [""; 15];
    for ((field, &position), column) in fields.iter_mut().zip(&columns.0).zip(REQUIRED_COLUMNS) {
        let raw = record.get(position).unwrap_or_default();
        *field = std::str::from_utf8(raw)
            .map_err(|_| RejectReason::NotUtf8 { column })?
            .trim();
    }
    let [merchant_account, psp_reference, merchant_reference, payment_method, creation_date, record_type, modification_reference, gross_currency, gross_debit, gross_credit, net_currency, net_debit, net_credit, commission, batch_number] =
        fields;
    if record_type.is_empty() {
        return Err(RejectReason::MissingType);
    }
    if psp_reference.is_empty() {
        if is_payment_record_type(record_type) {
            return Err(RejectReason::MissingPspReference {
                record_type: quoted(record_type),
            });
        }
        return Ok(None);
    }
    let booked_at = parse_creation_date(creation_date).ok_or_else(|| RejectReason::BadDate {
        value: quoted(creation_date),
    })?;
    let gross = currency(
        "Gross Currency",
        gross_currency,
        is_payment_record_type(record_type),
    )?;
    let net = currency("Net Currency", net_currency, false)?;
    let gross_debit_cents = amount("Gross Debit (GC)", gross_debit, gross)?;
    let gross_credit_cents = amount("Gross Credit (GC)", gross_credit, gross)?;
    let net_debit_cents = amount("Net Debit (NC)", net_debit, net)?;
    let net_credit_cents = amount("Net Credit (NC)", net_credit, net)?;
    let commission_cents = amount("Commission (NC)", commission, net)?;
    Ok(Some(NewLine {
        id: 0,
        line_no: i64::try_from(line).unwrap_or(i64::MAX),
        merchant_account: merchant_account.to_string(),
        psp_reference: psp_reference.to_string(),
        merchant_reference: merchant_reference.to_string(),
        payment_method: payment_method.to_string(),
        booked_at: booked_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        record_type: record_type.to_string(),
        modification_reference: modification_reference.to_string(),
        gross_currency: gross_currency.to_string(),
        gross_debit_cents,
        gross_credit_cents,
        net_currency: net_currency.to_string(),
        net_debit_cents,
        net_credit_cents,
        commission_cents,
        batch_number: batch_number.to_string(),
    }))
}

/// A value quoted back in a reason, shortened.
fn quoted(value: &str) -> String {
    let mut chars = value.chars();
    let mut short: String = chars.by_ref().take(MAX_QUOTED).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

/// A currency column: `Ok(None)` when empty and allowed to be, else the
/// currency's code and decimals.
fn currency(
    column: &'static str,
    value: &str,
    required: bool,
) -> Result<Option<(&'static str, u32)>, RejectReason> {
    if value.is_empty() && !required {
        return Ok(None);
    }
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == value)
        .map(|(c, d)| Some((*c, *d)))
        .ok_or_else(|| RejectReason::UnknownCurrency {
            column,
            value: quoted(value),
        })
}

/// An amount column in its currency's minor units; empty is zero. Without
/// a currency only zero is accepted.
fn amount(
    column: &'static str,
    value: &str,
    currency: Option<(&'static str, u32)>,
) -> Result<i64, RejectReason> {
    let decimals = currency.map_or(2, |(_, d)| d);
    let cents = parse_minor_units(value, decimals).map_err(|problem| RejectReason::BadAmount {
        column,
        value: quoted(value),
        problem,
    })?;
    if cents != 0 && currency.is_none() {
        let currency_column = if column.ends_with("(GC)") {
            "Gross Currency"
        } else {
            "Net Currency"
        };
        return Err(RejectReason::UnknownCurrency {
            column: currency_column,
            value: String::new(),
        });
    }
    Ok(cents)
}

/// Reads a decimal amount (`123.45`, `7`, `0.5`; empty is zero) exactly
/// into minor units with `decimals` decimals. No sign, no thousands
/// separators, no exponent, no floating point.
pub fn parse_minor_units(text: &str, decimals: u32) -> Result<i64, AmountProblem> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    if text.starts_with('-') {
        return Err(AmountProblem::Negative);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(AmountProblem::NotANumber);
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > decimals as usize {
        return Err(AmountProblem::TooManyDecimals { allowed: decimals });
    }
    let scale = 10i64.pow(decimals);
    let whole: i64 = whole.parse().map_err(|_| AmountProblem::TooLarge)?;
    let mut part: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| AmountProblem::NotANumber)?
    };
    for _ in fraction.len()..decimals as usize {
        part *= 10;
    }
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(part))
        .ok_or(AmountProblem::TooLarge)
}

/// Reads a Creation Date: `2026-03-05 10:12:33` (also with `T`, or without
/// seconds).
fn parse_creation_date(text: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

// ---------------------------------------------------------------------------
// Reconciliation
// ---------------------------------------------------------------------------

/// What a difference is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The payment itself: carfin's booking against `Settled` lines.
    Settlement,
    /// A refund: status `refunded` against `Refunded` (less
    /// `RefundedReversed`) lines.
    Refund,
    /// A chargeback: status `charged_back` against `Chargeback` and
    /// `SecondChargeback` (less `ChargebackReversed`) lines.
    Chargeback,
}

impl Kind {
    /// The kind's name in the CSV and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Settlement => "settlement",
            Kind::Refund => "refund",
            Kind::Chargeback => "chargeback",
        }
    }

    /// The kind a record type reports, if it takes part in reconciliation.
    pub fn of_record_type(record_type: &str) -> Option<Kind> {
        match record_type {
            "Settled" => Some(Kind::Settlement),
            "Refunded" | "RefundedReversed" => Some(Kind::Refund),
            "Chargeback" | "SecondChargeback" | "ChargebackReversed" => Some(Kind::Chargeback),
            _ => None,
        }
    }

    /// What a line reports for this kind: settled money coming in (credit
    /// less debit), refunded or charged-back money going out (debit less
    /// credit; a reversal counts against it).
    fn reported(self, line: &LineRecord) -> i64 {
        match self {
            Kind::Settlement => line.gross_credit_cents - line.gross_debit_cents,
            Kind::Refund | Kind::Chargeback => line.gross_debit_cents - line.gross_credit_cents,
        }
    }

    /// Whether the payment, in its state, calls for lines of this kind.
    fn expected_of(self, p: &PaymentFacts) -> bool {
        match self {
            Kind::Settlement => {
                p.booked_at.is_some()
                    && matches!(p.status.as_str(), "booked" | "refunded" | "charged_back")
            }
            Kind::Refund => p.status == "refunded",
            Kind::Chargeback => p.status == "charged_back",
        }
    }

    /// The payment's day for this kind (Unix seconds): booked, or for a
    /// refund or chargeback the day it ended (booked when that is unknown).
    fn payment_time(self, p: &PaymentFacts) -> Option<i64> {
        match self {
            Kind::Settlement => p.booked_at,
            Kind::Refund | Kind::Chargeback => p.ended_at.or(p.booked_at),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference between carfin's bookings and the provider's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: Kind,
    /// carfin's payment: the one matched, or for a settlement without a
    /// booked payment the one its merchant reference names, if any.
    pub payment_id: Option<i64>,
    pub payment_status: Option<String>,
    /// The provider's reference: the payment's, else the line's.
    pub psp_reference: Option<String>,
    /// The merchant reference the provider reported, if any line did.
    pub merchant_reference: Option<String>,
    /// The payment's currency (the line's without a payment).
    pub currency: String,
    /// What carfin expects to see settled, refunded or charged back.
    pub expected_cents: Option<i64>,
    /// The currency (or currencies, joined with `+`) of the lines.
    pub reported_currency: Option<String>,
    /// What the provider reported (the sum of the lines).
    pub reported_cents: Option<i64>,
    /// The day carfin booked the payment (for a refund or chargeback: the
    /// day the payment ended), UTC.
    pub booked_on: Option<NaiveDate>,
    /// The first Creation Date of the provider's lines.
    pub reported_on: Option<NaiveDate>,
    /// The record types of the provider's lines, joined with `+`.
    pub record_type: Option<String>,
    /// The batch numbers of the provider's lines, joined with `+`.
    pub batch_number: Option<String>,
}

impl Difference {
    /// Reported less expected, when both are known.
    pub fn difference_cents(&self) -> Option<i64> {
        Some(self.reported_cents? - self.expected_cents?)
    }

    fn sort_key(&self) -> (Option<NaiveDate>, Option<i64>, Option<String>, Kind) {
        (
            self.booked_on.or(self.reported_on),
            self.payment_id,
            self.psp_reference.clone(),
            self.kind,
        )
    }
}

/// The differences of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Booked (refunded, charged back) in carfin; nothing in the report.
    pub booked_without_settlement: Vec<Difference>,
    /// In the report; no payment in carfin in the state that explains it.
    pub settlements_without_booking: Vec<Difference>,
    /// Both sides present; amounts or currencies differ.
    pub amount_differences: Vec<Difference>,
}

impl Reconciliation {
    /// The CSV header.
    pub const CSV_HEADER: [&'static str; 16] = [
        "category",
        "kind",
        "payment_id",
        "payment_status",
        "psp_reference",
        "merchant_reference",
        "currency",
        "expected_cents",
        "reported_currency",
        "reported_cents",
        "difference_cents",
        "booked_on",
        "reported_on",
        "record_type",
        "batch_number",
        "period",
    ];

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.booked_without_settlement.is_empty()
            && self.settlements_without_booking.is_empty()
            && self.amount_differences.is_empty()
    }

    /// Every difference with its category name, in output order.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Difference)> {
        self.booked_without_settlement
            .iter()
            .map(|d| ("booked_without_settlement", d))
            .chain(
                self.settlements_without_booking
                    .iter()
                    .map(|d| ("settlement_without_booking", d)),
            )
            .chain(
                self.amount_differences
                    .iter()
                    .map(|d| ("amount_difference", d)),
            )
    }

    /// RFC 4180 CSV (CRLF line ends): a header, then one row per
    /// difference; text guarded against formula injection, amounts in
    /// cents as plain integers.
    pub fn to_csv(&self) -> String {
        let mut out = Self::CSV_HEADER.join(",");
        out.push_str("\r\n");
        let period = format!("{}..{}", self.from, self.to);
        let text = |v: Option<&str>| csv_cell(v.unwrap_or(""));
        let number = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        let date = |v: Option<NaiveDate>| v.map(|d| d.to_string()).unwrap_or_default();
        for (category, d) in self.all() {
            let row = [
                category.to_string(),
                d.kind.as_str().to_string(),
                number(d.payment_id),
                text(d.payment_status.as_deref()),
                text(d.psp_reference.as_deref()),
                text(d.merchant_reference.as_deref()),
                csv_cell(&d.currency),
                number(d.expected_cents),
                text(d.reported_currency.as_deref()),
                number(d.reported_cents),
                number(d.difference_cents()),
                date(d.booked_on),
                date(d.reported_on),
                text(d.record_type.as_deref()),
                text(d.batch_number.as_deref()),
                period.clone(),
            ];
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// Which lines a group holds: those matched to a payment, or those of one
/// psp reference that match none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Owner {
    Payment(i64),
    Unmatched(String),
}

/// The lines of one kind about one payment (or psp reference).
#[derive(Debug, Default)]
struct Group<'a> {
    lines: Vec<&'a LineRecord>,
    in_period: bool,
}

impl Group<'_> {
    fn reported(&self, kind: Kind) -> i64 {
        self.lines.iter().map(|l| kind.reported(l)).sum()
    }

    fn joined(&self, field: impl Fn(&LineRecord) -> &str) -> Option<String> {
        let mut seen = BTreeSet::new();
        let values: Vec<&str> = self
            .lines
            .iter()
            .map(|l| field(l))
            .filter(|v| !v.is_empty() && seen.insert(*v))
            .collect();
        (!values.is_empty()).then(|| values.join("+"))
    }

    fn currencies(&self) -> BTreeSet<&str> {
        self.lines
            .iter()
            .map(|l| l.gross_currency.as_str())
            .collect()
    }

    fn first_day(&self) -> Option<NaiveDate> {
        self.lines
            .iter()
            .filter_map(|l| l.booked_at.get(..10))
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .min()
    }
}

/// The amount carfin expects the provider to settle, refund or charge
/// back: what the provider authorised, else what the customer was asked.
fn expected_amount(p: &PaymentFacts) -> i64 {
    p.authorised_cents.unwrap_or(p.amount_cents)
}

fn day_of(unix: Option<i64>) -> Option<NaiveDate> {
    unix.and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| t.date_naive())
}

fn difference(
    kind: Kind,
    payment: Option<&PaymentFacts>,
    group: Option<&Group<'_>>,
    expected: bool,
) -> Difference {
    let first = group.and_then(|g| g.lines.first());
    Difference {
        kind,
        payment_id: payment.map(|p| p.id),
        payment_status: payment.map(|p| p.status.clone()),
        psp_reference: payment
            .and_then(|p| p.psp_reference.clone())
            .or_else(|| first.map(|l| l.psp_reference.clone())),
        merchant_reference: first
            .map(|l| l.merchant_reference.clone())
            .filter(|r| !r.is_empty()),
        currency: payment
            .map(|p| p.currency.clone())
            .or_else(|| first.map(|l| l.gross_currency.clone()))
            .unwrap_or_default(),
        expected_cents: payment.filter(|_| expected).map(expected_amount),
        reported_currency: group.and_then(|g| g.joined(|l| &l.gross_currency)),
        reported_cents: group.map(|g| g.reported(kind)),
        booked_on: payment
            .filter(|_| expected)
            .and_then(|p| day_of(kind.payment_time(p))),
        reported_on: group.and_then(Group::first_day),
        record_type: group.and_then(|g| g.joined(|l| &l.record_type)),
        batch_number: group.and_then(|g| g.joined(|l| &l.batch_number)),
    }
}

/// Compares the payments carfin booked, refunded or charged back from
/// `from` to `to` (inclusive, UTC days) with the provider's lines.
///
/// A line belongs to the payment with its psp reference; failing that, to
/// the payment its merchant reference names, provided carfin knows no psp
/// reference for that payment (a different one means another attempt).
/// Lines are looked at when their Creation Date falls in the period or when
/// they belong to a payment that does.
pub async fn reconcile(
    app: &App,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Reconciliation, AppError> {
    if from > to {
        return Err(AppError::Invalid(vec![(
            "to".into(),
            "settlement.range_reversed".into(),
        )]));
    }
    let until = to.succ_opt().ok_or_else(|| {
        AppError::Invalid(vec![("to".into(), "settlement.range_reversed".into())])
    })?;
    let start = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    let (from_ts, until_ts) = (start(from), start(until));
    let in_period = |t: Option<i64>| t.is_some_and(|t| t >= from_ts && t < until_ts);
    let db = app.db();

    // The provider's lines of the period, and the payments carfin has
    // for the period.
    let period_lines = repo::lines_between(
        db,
        &RECONCILED_TYPES,
        &from.format("%Y-%m-%d").to_string(),
        &until.format("%Y-%m-%d").to_string(),
    )
    .await?;
    let expected = repo::payments_to_reconcile(db, from_ts, until_ts).await?;
    let expected_ids: HashSet<i64> = expected.iter().map(|p| p.id).collect();
    let mut payments: BTreeMap<i64, PaymentFacts> =
        expected.into_iter().map(|p| (p.id, p)).collect();
    // The payments those lines name.
    let psps: BTreeSet<String> = period_lines
        .iter()
        .map(|l| l.psp_reference.clone())
        .collect();
    let named: BTreeSet<i64> = period_lines
        .iter()
        .filter_map(|l| l.merchant_reference.trim().parse().ok())
        .collect();
    let psps: Vec<String> = psps.into_iter().collect();
    let named: Vec<i64> = named.into_iter().collect();
    for p in repo::payments_by_references(db, &psps, &named).await? {
        payments.entry(p.id).or_insert(p);
    }
    // Every line about those payments, whenever reported.
    let payment_psps: Vec<String> = payments
        .values()
        .filter_map(|p| p.psp_reference.clone())
        .collect();
    let payment_refs: Vec<String> = payments.keys().map(i64::to_string).collect();
    let period_ids: HashSet<i64> = period_lines.iter().map(|l| l.id).collect();
    let mut lines: BTreeMap<i64, LineRecord> =
        period_lines.into_iter().map(|l| (l.id, l)).collect();
    for l in repo::lines_for_references(db, &RECONCILED_TYPES, &payment_psps, &payment_refs).await?
    {
        lines.entry(l.id).or_insert(l);
    }

    // Each line to its payment.
    let mut by_psp: HashMap<&str, i64> = HashMap::new();
    for p in payments.values() {
        if let Some(psp) = p.psp_reference.as_deref() {
            by_psp.entry(psp).or_insert(p.id);
        }
    }
    let mut ordered: Vec<&LineRecord> = lines.values().collect();
    ordered.sort_by(|a, b| (&a.booked_at, a.id).cmp(&(&b.booked_at, b.id)));
    let mut groups: BTreeMap<(Owner, Kind), Group<'_>> = BTreeMap::new();
    for line in ordered {
        let Some(kind) = Kind::of_record_type(&line.record_type) else {
            continue;
        };
        let owner = match by_psp.get(line.psp_reference.as_str()) {
            Some(id) => Owner::Payment(*id),
            None => match named_payment(line, &payments) {
                Some(p) if p.psp_reference.is_none() => Owner::Payment(p.id),
                _ => Owner::Unmatched(line.psp_reference.clone()),
            },
        };
        let group = groups.entry((owner, kind)).or_default();
        group.in_period |= period_ids.contains(&line.id);
        group.lines.push(line);
    }

    let mut result = Reconciliation {
        from,
        to,
        booked_without_settlement: Vec::new(),
        settlements_without_booking: Vec::new(),
        amount_differences: Vec::new(),
    };
    let differs = |p: &PaymentFacts, g: &Group<'_>, kind: Kind| {
        g.reported(kind) != expected_amount(p)
            || g.currencies() != BTreeSet::from([p.currency.as_str()])
    };

    // What carfin expects for the period.
    let mut consumed: HashSet<(Owner, Kind)> = HashSet::new();
    for p in payments.values().filter(|p| expected_ids.contains(&p.id)) {
        for kind in [Kind::Settlement, Kind::Refund, Kind::Chargeback] {
            if !kind.expected_of(p) || !in_period(kind.payment_time(p)) {
                continue;
            }
            let key = (Owner::Payment(p.id), kind);
            match groups.get(&key) {
                None => {
                    result
                        .booked_without_settlement
                        .push(difference(kind, Some(p), None, true))
                }
                Some(g) if differs(p, g, kind) => {
                    result
                        .amount_differences
                        .push(difference(kind, Some(p), Some(g), true))
                }
                Some(_) => {}
            }
            consumed.insert(key);
        }
    }
    // What the provider reported in the period and carfin did not expect.
    for ((owner, kind), g) in &groups {
        if !g.in_period || consumed.contains(&(owner.clone(), *kind)) {
            continue;
        }
        match owner {
            Owner::Payment(id) => {
                let Some(p) = payments.get(id) else { continue };
                if kind.expected_of(p) {
                    // Booked outside the period, reported inside it.
                    if differs(p, g, *kind) {
                        result
                            .amount_differences
                            .push(difference(*kind, Some(p), Some(g), true));
                    }
                } else if g.reported(*kind) != 0 {
                    result.settlements_without_booking.push(difference(
                        *kind,
                        Some(p),
                        Some(g),
                        false,
                    ));
                }
            }
            Owner::Unmatched(_) => {
                if g.reported(*kind) != 0 {
                    let named = g.lines.first().and_then(|l| named_payment(l, &payments));
                    let mut d = difference(*kind, named, Some(g), false);
                    // The psp reference is the line's: the named payment's
                    // (if any) is another one.
                    d.psp_reference = g.lines.first().map(|l| l.psp_reference.clone());
                    result.settlements_without_booking.push(d);
                }
            }
        }
    }
    for list in [
        &mut result.booked_without_settlement,
        &mut result.settlements_without_booking,
        &mut result.amount_differences,
    ] {
        list.sort_by_key(Difference::sort_key);
    }
    Ok(result)
}

/// The payment a line's merchant reference names, if carfin has it.
fn named_payment<'p>(
    line: &LineRecord,
    payments: &'p BTreeMap<i64, PaymentFacts>,
) -> Option<&'p PaymentFacts> {
    let id: i64 = line.merchant_reference.trim().parse().ok()?;
    payments.get(&id)
}

/// An amount in minor units as text with its decimals (`-12.34`).
pub fn format_minor_units(cents: i64, currency: &str) -> String {
    let decimals = currency_decimals(currency).unwrap_or(2);
    if decimals == 0 {
        return cents.to_string();
    }
    let scale = 10u64.pow(decimals);
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // PAY-06: amounts read exactly into cents; signs, separators, extra
    // decimals and words are refused.
    #[test]
    fn amounts_read_exactly_into_minor_units() {
        assert_eq!(parse_minor_units("123.45", 2), Ok(12345));
        assert_eq!(parse_minor_units("123.4", 2), Ok(12340));
        assert_eq!(parse_minor_units("7", 2), Ok(700));
        assert_eq!(parse_minor_units("", 2), Ok(0));
        assert_eq!(parse_minor_units(" 0.05 ", 2), Ok(5));
        assert_eq!(parse_minor_units("1500", 0), Ok(1500));
        assert_eq!(parse_minor_units("0.1", 2), Ok(10));
        // 0.1 + 0.2 in floating point is not 0.3; here it is.
        assert_eq!(
            parse_minor_units("0.1", 2).unwrap_or(0) + parse_minor_units("0.2", 2).unwrap_or(0),
            30
        );
        assert_eq!(
            parse_minor_units("1.234", 2),
            Err(AmountProblem::TooManyDecimals { allowed: 2 })
        );
        assert_eq!(
            parse_minor_units("15.5", 0),
            Err(AmountProblem::TooManyDecimals { allowed: 0 })
        );
        assert_eq!(parse_minor_units("-1.00", 2), Err(AmountProblem::Negative));
        for bad in ["1,00", "abc", "1.", ".5", "+1", "1e3", "1 000", "1.2.3"] {
            assert_eq!(
                parse_minor_units(bad, 2),
                Err(AmountProblem::NotANumber),
                "{bad}"
            );
        }
        assert_eq!(
            parse_minor_units("99999999999999999999", 2),
            Err(AmountProblem::TooLarge)
        );
        assert_eq!(parse_minor_units("92233720368547758.07", 2), Ok(i64::MAX));
        assert_eq!(
            parse_minor_units("92233720368547758.08", 2),
            Err(AmountProblem::TooLarge)
        );
    }

    #[test]
    fn creation_dates_read_in_the_documented_format() {
        let d = parse_creation_date("2026-03-05 10:12:33").map(|d| d.to_string());
        assert_eq!(d.as_deref(), Some("2026-03-05 10:12:33"));
        assert!(parse_creation_date("2026-03-05T10:12:33").is_some());
        assert!(parse_creation_date("05-03-2026 10:12:33").is_none());
        assert!(parse_creation_date("2026-02-30 10:00:00").is_none());
        assert!(parse_creation_date("").is_none());
    }

    #[test]
    fn amounts_format_with_their_decimals() {
        assert_eq!(format_minor_units(12345, "EUR"), "123.45");
        assert_eq!(format_minor_units(-5, "EUR"), "-0.05");
        assert_eq!(format_minor_units(1500, "JPY"), "1500");
    }

    // PAY-06: refused lines are named by their line in the file, with LF
    // or CRLF line ends, after blank lines and quoted fields spanning lines.
    #[test]
    fn rejected_lines_carry_their_line_numbers() {
        let header = REQUIRED_COLUMNS.join(",");
        let good = "M,PSP1,1,\"ideal\nsecond line\",2026-03-05 10:12:33,Settled,,EUR,,1.00,EUR,,1.00,0.10,7";
        let bad = "M,PSP2,2,ideal,2026-03-05 10:12:33,Settled,,EUR,,x,EUR,,1.00,0.10,7";
        for end in ["\n", "\r\n"] {
            let file = [header.as_str(), good, "", bad, bad].join(end);
            let parsed = parse_report(file.as_bytes()).map_err(|e| e.to_string());
            let Ok(parsed) = parsed else {
                panic!("{parsed:?}")
            };
            assert_eq!(parsed.lines.len(), 1);
            assert_eq!(parsed.lines[0].line_no, 2);
            let lines: Vec<u64> = parsed.rejected.iter().map(|r| r.line).collect();
            assert_eq!(lines, [5, 6], "{end:?}");
        }
    }

    // PAY-06: columns are found by name in any order; a header without a
    // needed column is refused naming it.
    #[test]
    fn header_columns_are_found_by_name() {
        let mut header = csv::ByteRecord::new();
        let mut names: Vec<&str> = REQUIRED_COLUMNS.to_vec();
        names.reverse();
        names.insert(3, "Reserved4");
        for n in &names {
            header.push_field(n.to_uppercase().as_bytes());
        }
        let columns = Columns::from_header(&header).map_err(|e| e.to_string());
        let Ok(columns) = columns else {
            panic!("{columns:?}")
        };
        assert_eq!(names[columns.0[0]], "Merchant Account");
        let mut short = csv::ByteRecord::new();
        short.push_field(b"Psp Reference");
        match Columns::from_header(&short) {
            Err(ImportError::MissingColumns(missing)) => {
                assert!(missing.contains(&"Gross Credit (GC)".to_string()));
                assert!(!missing.contains(&"Psp Reference".to_string()));
            }
            _ => panic!("accepted a header without columns"),
        }
    }
}
