//! Contract administration (BOF-04): imports of customers, contracts (each
//! with its vehicle) and invoices from the core system, from the command
//! line (`carfin import FILE`) or an upload in the back office; and
//! contract amendments.
//!
//! The file formats are described in `docs/import-format.md`: CSV (a
//! header row, `;` or `,`, UTF-8 with or without a byte-order mark) or a
//! JSON array of objects; every row names its kind in `record`.
//!
//! An import is idempotent on the natural keys (customer, contract and
//! invoice number): a row whose key is stored with the same content is
//! counted as unchanged; a row whose key is stored with other content is
//! reported (`exists_different`) and changes nothing — an import never
//! overwrites. A bad row is reported with its row number (data rows from
//! 1, the header not counted; CSV rows also with their line in the file)
//! and a reason with a stable code, and the good rows are imported.
//!
//! Rows are written kind by kind — customers, then contracts, then
//! invoices — so a row may refer to a customer or contract earlier or
//! later in the same file or already in the database. Each kind is written
//! in batches, one transaction each (sealing the personal data under each
//! new customer's own key on the way); a crash leaves whole batches, and
//! importing the file again completes it. Every batch and every run is
//! audited; every run is recorded in `import_runs`.

use crate::audit::{self, ActorKind, AuditEntry};
use crate::i18n;
use crate::staff::{Role, StaffSession};
use crate::{App, AppError};
use carfin_domain::{
    Country, EmailAddress, Iban, KboNumber, KvkNumber, Language, LicencePlate, Money,
    PaymentReference, PhoneNumber, Postcode, Vin,
};
use carfin_store::crypto::SubjectKey;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{
    self, CustomerInsert, CustomerPersonal, NewCustomer, Personal,
};
use carfin_store::repo::entities;
use carfin_store::repo::finance::{
    self, registration_index, ContractTerms, FinanceInsert, NewContract, NewInvoice,
    NewLedgerEntry, NewParty, NewVehicle,
};
use carfin_store::repo::imports::{self as repo, ContractRef, ExistingContract, ImportCounts};
use carfin_store::repo::Insert;
use carfin_store::StoreError;
use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Customers per write transaction (each is sealed under a new key).
const CUSTOMER_BATCH: usize = 1_000;
/// Contracts per write transaction.
const CONTRACT_BATCH: usize = 1_000;
/// Invoices per write transaction.
const INVOICE_BATCH: usize = 5_000;
/// Times a batch is tried again when a concurrent import stored one of its
/// keys between the look-up and the write.
const ATTEMPTS: usize = 3;
/// Longest natural key (customer, contract or invoice number).
const MAX_KEY: usize = 40;
/// Longest text value.
const MAX_TEXT: usize = 200;
/// Longest file name kept in `import_runs`.
const MAX_FILE_NAME: usize = 200;
/// The purpose imports, invoice runs and amendments serve (privacy register).
pub const PURPOSE: &str = "perform_contract";
/// The roles that may import, run invoices and amend contracts.
pub const ROLES: &[Role] = &[Role::ContractAdministration, Role::Administrator];

// ---------------------------------------------------------------------------
// Columns and record kinds
// ---------------------------------------------------------------------------

macro_rules! columns {
    ($($name:ident = $text:literal,)*) => {
        /// A column of an import file.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Col { $($name,)* }

        impl Col {
            /// Every column.
            pub const ALL: &'static [Col] = &[$(Col::$name,)*];

            /// The column's name in a file.
            pub fn name(self) -> &'static str {
                match self { $(Col::$name => $text,)* }
            }

            /// The column of that name (lower case, no surrounding spaces).
            pub fn from_name(name: &str) -> Option<Col> {
                match name { $($text => Some(Col::$name),)* _ => None }
            }
        }
    };
}

columns! {
    Record = "record",
    CustomerNumber = "customer_number",
    Entity = "entity",
    Kind = "kind",
    Language = "language",
    Initials = "initials",
    GivenNames = "given_names",
    NamePrefix = "name_prefix",
    Surname = "surname",
    DateOfBirth = "date_of_birth",
    CompanyName = "company_name",
    CompanyNumber = "company_number",
    Street = "street",
    HouseNumber = "house_number",
    Postcode = "postcode",
    City = "city",
    Email = "email",
    Phone = "phone",
    Iban = "iban",
    ContractNumber = "contract_number",
    Brand = "brand",
    ContractType = "contract_type",
    Status = "status",
    StartDate = "start_date",
    EndDate = "end_date",
    TermMonths = "term_months",
    FinancedAmount = "financed_amount",
    DownPayment = "down_payment",
    Balloon = "balloon",
    NominalRateBp = "nominal_rate_bp",
    AprBp = "apr_bp",
    MonthlyInstalment = "monthly_instalment",
    KmPerYear = "km_per_year",
    ExcessKmPrice = "excess_km_price",
    EndedOn = "ended_on",
    ClosedOn = "closed_on",
    Vin = "vin",
    LicencePlate = "licence_plate",
    Make = "make",
    Model = "model",
    Fuel = "fuel",
    FirstRegistration = "first_registration",
    InvoiceNumber = "invoice_number",
    Period = "period",
    IssueDate = "issue_date",
    DueDate = "due_date",
    Amount = "amount",
    PaidAmount = "paid_amount",
    PaymentReference = "payment_reference",
}

impl Col {
    /// Whether the column holds personal data whose value a report never
    /// repeats (only the column's name and what is wrong with it).
    fn is_personal(self) -> bool {
        matches!(
            self,
            Col::Initials
                | Col::GivenNames
                | Col::NamePrefix
                | Col::Surname
                | Col::DateOfBirth
                | Col::CompanyName
                | Col::CompanyNumber
                | Col::Street
                | Col::HouseNumber
                | Col::Postcode
                | Col::City
                | Col::Email
                | Col::Phone
                | Col::Iban
                | Col::Vin
                | Col::LicencePlate
        )
    }
}

/// The kind of a row (`record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Customer,
    Contract,
    Invoice,
}

impl RecordKind {
    /// Every kind, in the order they are written.
    pub const ALL: [RecordKind; 3] = [
        RecordKind::Customer,
        RecordKind::Contract,
        RecordKind::Invoice,
    ];

    /// The value of `record`.
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Contract => "contract",
            RecordKind::Invoice => "invoice",
        }
    }

    fn parse(text: &str) -> Option<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.code().eq_ignore_ascii_case(text))
    }

    /// The column holding the natural key.
    fn key_column(self) -> Col {
        match self {
            RecordKind::Customer => Col::CustomerNumber,
            RecordKind::Contract => Col::ContractNumber,
            RecordKind::Invoice => Col::InvoiceNumber,
        }
    }

    /// The columns a row of this kind may fill.
    fn columns(self) -> &'static [Col] {
        match self {
            RecordKind::Customer => &[
                Col::Record,
                Col::CustomerNumber,
                Col::Entity,
                Col::Kind,
                Col::Language,
                Col::Initials,
                Col::GivenNames,
                Col::NamePrefix,
                Col::Surname,
                Col::DateOfBirth,
                Col::CompanyName,
                Col::CompanyNumber,
                Col::Street,
                Col::HouseNumber,
                Col::Postcode,
                Col::City,
                Col::Email,
                Col::Phone,
                Col::Iban,
            ],
            RecordKind::Contract => &[
                Col::Record,
                Col::ContractNumber,
                Col::CustomerNumber,
                Col::Brand,
                Col::ContractType,
                Col::Status,
                Col::StartDate,
                Col::EndDate,
                Col::TermMonths,
                Col::FinancedAmount,
                Col::DownPayment,
                Col::Balloon,
                Col::NominalRateBp,
                Col::AprBp,
                Col::MonthlyInstalment,
                Col::KmPerYear,
                Col::ExcessKmPrice,
                Col::EndedOn,
                Col::ClosedOn,
                Col::Vin,
                Col::LicencePlate,
                Col::Make,
                Col::Model,
                Col::Fuel,
                Col::FirstRegistration,
            ],
            RecordKind::Invoice => &[
                Col::Record,
                Col::InvoiceNumber,
                Col::ContractNumber,
                Col::Kind,
                Col::Period,
                Col::IssueDate,
                Col::DueDate,
                Col::Amount,
                Col::Status,
                Col::PaidAmount,
                Col::PaymentReference,
            ],
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// `csv` or `json`.
    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

/// Every code a row can be rejected with (message key
/// `staff_imports.reason.{code}`).
pub const REJECTION_CODES: &[&str] = &[
    "malformed",
    "unknown_field",
    "unknown_record",
    "missing_field",
    "field_not_allowed",
    "invalid_value",
    "inconsistent",
    "duplicate_in_file",
    "unknown_entity",
    "unknown_brand",
    "unknown_customer",
    "customer_rejected",
    "unknown_contract",
    "contract_rejected",
    "exists_different",
    "erased",
    "period_taken",
];

/// Every code a whole file can be refused with (message key
/// `staff_imports.file.{code}`).
pub const FILE_CODES: &[&str] = &[
    "empty",
    "unknown_column",
    "duplicate_column",
    "no_record_column",
    "json_syntax",
    "json_not_array",
    "no_reference_data",
];

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The data row, from 1 (a CSV file's header is not counted).
    pub row: u64,
    /// For CSV, the line of the file the row starts on.
    pub line: Option<u64>,
    /// The row's kind, when it names a known one.
    pub record: Option<RecordKind>,
    /// The row's natural key, when it has one.
    pub key: Option<String>,
    /// The stable code of the reason ([`REJECTION_CODES`]).
    pub code: &'static str,
    /// The reason's details (`field`, `value`, `detail`, `key`, `row`,
    /// `fields`); never the value of a personal field.
    pub args: Vec<(&'static str, String)>,
}

impl Rejection {
    /// The reason in `language`.
    pub fn reason(&self, language: Language) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        i18n::tf(
            language,
            &format!("staff_imports.reason.{}", self.code),
            &args,
        )
    }
}

impl fmt::Display for Rejection {
    /// `row 12 (line 13), invoice F-1: the reason (code)`, in English.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        match (&self.record, &self.key) {
            (Some(kind), Some(key)) => write!(f, ", {kind} {key}")?,
            (Some(kind), None) => write!(f, ", {kind}")?,
            _ => {}
        }
        write!(f, ": {} ({})", self.reason(Language::En), self.code)
    }
}

/// Why a whole file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The stable code ([`FILE_CODES`]).
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl FileProblem {
    fn new(code: &'static str, args: Vec<(&'static str, String)>) -> FileProblem {
        FileProblem { code, args }
    }

    /// The problem in `language`.
    pub fn message(&self, language: Language) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        i18n::tf(
            language,
            &format!("staff_imports.file.{}", self.code),
            &args,
        )
    }
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(Language::En), self.code)
    }
}

/// What can stop an import as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as an import file.
    #[error("{0}")]
    File(FileProblem),
    /// Not allowed, or storage failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for ImportError {
    fn from(error: StoreError) -> ImportError {
        ImportError::App(AppError::Store(error))
    }
}

/// The counts of one kind of row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindCounts {
    pub imported: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The `import_runs` row.
    pub run_id: i64,
    pub file_name: String,
    pub format: Format,
    /// Data rows in the file.
    pub rows: u64,
    pub imported: u64,
    pub unchanged: u64,
    /// Every rejected row, by row number.
    pub rejected: Vec<Rejection>,
    /// Counts per kind, in [`RecordKind::ALL`] order (rows whose kind is
    /// unknown count only in the totals).
    pub kinds: [(RecordKind, KindCounts); 3],
}

/// Told how far an import is (the command line shows a progress bar).
pub trait Progress: Send + Sync {
    /// The number of data rows, once the file is read.
    fn start(&self, rows: u64);
    /// Rows dealt with so far.
    fn done(&self, rows: u64);
}

/// No progress reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _rows: u64) {}
    fn done(&self, _rows: u64) {}
}

/// Who acts: carfin itself (the command line, a job) or a staff member.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    System,
    Staff(&'a StaffSession),
}

impl Actor<'_> {
    /// An audit record of this actor.
    pub(crate) fn entry(
        &self,
        action: &str,
        subject_id: Option<i64>,
        fields: &[&str],
        purpose: &str,
        request_id: &str,
    ) -> AuditEntry {
        let (actor_kind, actor_id, role) = match self {
            Actor::System => (ActorKind::System, None, "system"),
            Actor::Staff(staff) => (
                ActorKind::Staff,
                Some(staff.staff_id),
                ROLES
                    .iter()
                    .find(|r| staff.has(**r))
                    .map_or(staff.audit_role(), |r| r.code()),
            ),
        };
        AuditEntry {
            actor_kind,
            actor_id,
            role: role.to_string(),
            action: action.to_string(),
            subject_id,
            purpose: purpose.to_string(),
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            request_id: request_id.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// Reading a file
// ---------------------------------------------------------------------------

/// One data row: its number, its line (CSV) and the values it fills.
#[derive(Debug, Clone)]
struct Row {
    n: u64,
    line: Option<u64>,
    fields: Vec<(Col, String)>,
}

impl Row {
    fn get(&self, col: Col) -> Option<&str> {
        self.fields
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, v)| v.as_str())
    }

    fn rejection(
        &self,
        record: Option<RecordKind>,
        code: &'static str,
        args: Vec<(&'static str, String)>,
    ) -> Rejection {
        let key = record
            .and_then(|k| self.get(k.key_column()))
            .map(|k| k.chars().take(MAX_KEY + 10).collect());
        Rejection {
            row: self.n,
            line: self.line,
            record,
            key,
            code,
            args,
        }
    }
}

/// A file read into rows.
#[derive(Debug)]
struct Parsed {
    format: Format,
    rows: Vec<Row>,
    /// Rows that could not be read at all.
    malformed: Vec<Rejection>,
    total: u64,
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// JSON when the name ends in `.json`, CSV when in `.csv`; otherwise JSON
/// when the first character is `[` or `{`.
fn detect_format(file_name: &str, body: &[u8]) -> Format {
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        return Format::Json;
    }
    if lower.ends_with(".csv") {
        return Format::Csv;
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[' | b'{') => Format::Json,
        _ => Format::Csv,
    }
}

/// `;` when the header line has more semicolons than commas (outside
/// quotes), else `,`.
fn detect_delimiter(body: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for &b in body {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

fn parse(file_name: &str, bytes: &[u8]) -> Result<Parsed, FileProblem> {
    let body = strip_bom(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FileProblem::new("empty", vec![]));
    }
    match detect_format(file_name, body) {
        Format::Csv => parse_csv(body),
        Format::Json => parse_json(body),
    }
}

fn column_of(name: &str) -> Result<Col, FileProblem> {
    let normalized = name.trim().to_ascii_lowercase();
    Col::from_name(&normalized).ok_or_else(|| {
        FileProblem::new(
            "unknown_column",
            vec![("column", name.trim().chars().take(60).collect())],
        )
    })
}

/// The line a record starting at a byte offset is on (from 1), counted
/// forwards from the previous call. The reader may place a record's start
/// on the line break that ends the previous one (after `\r` of `\r\n`,
/// or before blank lines it skips): those breaks are skipped first.
#[derive(Debug, Default)]
struct LineCounter {
    offset: usize,
    breaks: u64,
}

impl LineCounter {
    fn line_at(&mut self, body: &[u8], offset: u64) -> u64 {
        let mut at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(body.len());
        while body.get(at).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            at += 1;
        }
        if at > self.offset {
            self.breaks += body[self.offset..at]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.offset = at;
        }
        self.breaks + 1
    }
}

fn parse_csv(body: &[u8]) -> Result<Parsed, FileProblem> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(body))
        .flexible(true)
        .has_headers(true)
        .from_reader(body);
    let header = reader
        .byte_headers()
        .map_err(|_| FileProblem::new("empty", vec![]))?
        .clone();
    let mut columns = Vec::with_capacity(header.len());
    for name in header.iter() {
        let name = String::from_utf8_lossy(name);
        let col = column_of(&name)?;
        if columns.contains(&col) {
            return Err(FileProblem::new(
                "duplicate_column",
                vec![("column", col.name().to_string())],
            ));
        }
        columns.push(col);
    }
    if !columns.contains(&Col::Record) {
        return Err(FileProblem::new("no_record_column", vec![]));
    }
    let mut parsed = Parsed {
        format: Format::Csv,
        rows: Vec::new(),
        malformed: Vec::new(),
        total: 0,
    };
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let line = lines.line_at(body, reader.position().byte());
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(_) => {
                parsed.total += 1;
                let row = Row {
                    n: parsed.total,
                    line: Some(line),
                    fields: Vec::new(),
                };
                parsed.malformed.push(row.rejection(
                    None,
                    "malformed",
                    vec![("detail", "the CSV quoting is broken".to_string())],
                ));
                // The reader cannot go on after a broken record.
                break;
            }
        };
        if !more {
            break;
        }
        parsed.total += 1;
        let mut row = Row {
            n: parsed.total,
            line: Some(
                record
                    .position()
                    .map_or(line, |p| lines.line_at(body, p.byte())),
            ),
            fields: Vec::with_capacity(12),
        };
        if record.len() > columns.len() {
            let detail = format!(
                "it has {} fields where the header has {}",
                record.len(),
                columns.len()
            );
            parsed
                .malformed
                .push(row.rejection(None, "malformed", vec![("detail", detail)]));
            continue;
        }
        let mut bad = None;
        for (col, value) in columns.iter().zip(record.iter()) {
            match std::str::from_utf8(value) {
                Ok(text) => {
                    let text = text.trim();
                    if !text.is_empty() {
                        row.fields.push((*col, text.to_string()));
                    }
                }
                Err(_) => {
                    bad = Some(*col);
                    break;
                }
            }
        }
        if let Some(col) = bad {
            let detail = format!("{} is not UTF-8 text", col.name());
            parsed
                .malformed
                .push(row.rejection(None, "malformed", vec![("detail", detail)]));
            continue;
        }
        row.fields.shrink_to_fit();
        parsed.rows.push(row);
    }
    Ok(parsed)
}

fn parse_json(body: &[u8]) -> Result<Parsed, FileProblem> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        FileProblem::new(
            "json_syntax",
            vec![
                ("line", e.line().to_string()),
                ("column", e.column().to_string()),
            ],
        )
    })?;
    let serde_json::Value::Array(items) = value else {
        return Err(FileProblem::new("json_not_array", vec![]));
    };
    let mut parsed = Parsed {
        format: Format::Json,
        rows: Vec::with_capacity(items.len()),
        malformed: Vec::new(),
        total: 0,
    };
    for item in items {
        parsed.total += 1;
        let mut row = Row {
            n: parsed.total,
            line: None,
            fields: Vec::with_capacity(12),
        };
        let serde_json::Value::Object(map) = item else {
            parsed.malformed.push(row.rejection(
                None,
                "malformed",
                vec![("detail", "it is not a JSON object".to_string())],
            ));
            continue;
        };
        let mut problem = None;
        for (name, value) in map {
            let Some(col) = Col::from_name(&name.trim().to_ascii_lowercase()) else {
                problem = Some((
                    "unknown_field",
                    vec![("field", name.chars().take(60).collect::<String>())],
                ));
                break;
            };
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    problem = Some((
                        "malformed",
                        vec![(
                            "detail",
                            format!("{} must be text, a number or null", col.name()),
                        )],
                    ));
                    break;
                }
            };
            if row.fields.iter().any(|(c, _)| *c == col) {
                problem = Some((
                    "malformed",
                    vec![("detail", format!("{} is given twice", col.name()))],
                ));
                break;
            }
            if !text.is_empty() {
                row.fields.push((col, text));
            }
        }
        match problem {
            Some((code, args)) => {
                let kind = row.get(Col::Record).and_then(RecordKind::parse);
                parsed.malformed.push(row.rejection(kind, code, args));
            }
            None => {
                row.fields.shrink_to_fit();
                parsed.rows.push(row);
            }
        }
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------
// Validating values
// ---------------------------------------------------------------------------

/// A reason a row is refused, before its row is attached.
#[derive(Debug)]
struct Problem {
    code: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Problem {
    fn new(code: &'static str, args: Vec<(&'static str, String)>) -> Problem {
        Problem { code, args }
    }

    fn missing(col: Col) -> Problem {
        Problem::new("missing_field", vec![("field", col.name().to_string())])
    }

    /// A value that does not parse: the field, the value (unless
    /// personal) and what is wrong.
    fn invalid(col: Col, value: &str, detail: impl fmt::Display) -> Problem {
        let shown = if col.is_personal() {
            String::new()
        } else {
            format!(" \"{}\"", value.chars().take(60).collect::<String>())
        };
        Problem::new(
            "invalid_value",
            vec![
                ("field", col.name().to_string()),
                ("value", shown),
                ("detail", detail.to_string()),
            ],
        )
    }

    fn inconsistent(detail: impl Into<String>) -> Problem {
        Problem::new("inconsistent", vec![("detail", detail.into())])
    }
}

/// A domain error with its stable code: `the IBAN check digits do not
/// match [iban.checksum]`.
fn domain<E: fmt::Display + carfin_domain::ErrorCode>(error: E) -> String {
    format!("{error} [{}]", error.code())
}

fn required(row: &Row, col: Col) -> Result<&str, Problem> {
    row.get(col).ok_or_else(|| Problem::missing(col))
}

fn text(row: &Row, col: Col, max: usize) -> Result<Option<String>, Problem> {
    let Some(value) = row.get(col) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(Problem::invalid(
            col,
            value,
            format!("longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Problem::invalid(col, value, "contains a control character"));
    }
    Ok(Some(value.to_string()))
}

fn required_text(row: &Row, col: Col, max: usize) -> Result<String, Problem> {
    text(row, col, max)?.ok_or_else(|| Problem::missing(col))
}

/// A customer, contract or invoice number: 1 to 40 letters, digits and
/// `-`, `_`, `.`, `/`.
fn natural_key(row: &Row, col: Col) -> Result<String, Problem> {
    let value = required(row, col)?;
    let ok = value.len() <= MAX_KEY
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(Problem::invalid(
            col,
            value,
            "a number has 1 to 40 letters, digits, '-', '_', '.' or '/'",
        ))
    }
}

fn parse_date(col: Col, value: &str) -> Result<NaiveDate, Problem> {
    let ok = value.len() == 10 && value.as_bytes().get(4) == Some(&b'-');
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|d| ok && (1900..=2200).contains(&d.year()))
        .ok_or_else(|| Problem::invalid(col, value, "not a date like 2026-03-01"))
}

fn date(row: &Row, col: Col) -> Result<NaiveDate, Problem> {
    parse_date(col, required(row, col)?)
}

fn optional_date(row: &Row, col: Col) -> Result<Option<NaiveDate>, Problem> {
    row.get(col).map(|v| parse_date(col, v)).transpose()
}

fn parse_money(col: Col, value: &str) -> Result<i64, Problem> {
    value
        .parse::<Money>()
        .map(Money::cents)
        .map_err(|e| Problem::invalid(col, value, format!("not an amount like 1234.56: {e}")))
}

fn money(row: &Row, col: Col) -> Result<i64, Problem> {
    parse_money(col, required(row, col)?)
}

fn optional_money(row: &Row, col: Col) -> Result<Option<i64>, Problem> {
    row.get(col).map(|v| parse_money(col, v)).transpose()
}

fn parse_int(col: Col, value: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, Problem> {
    match value.parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(Problem::invalid(
            col,
            value,
            format!(
                "not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn int(row: &Row, col: Col, range: std::ops::RangeInclusive<i64>) -> Result<i64, Problem> {
    parse_int(col, required(row, col)?, range)
}

fn one_of<'a>(row: &Row, col: Col, allowed: &[&'a str]) -> Result<&'a str, Problem> {
    let value = required(row, col)?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| Problem::invalid(col, value, format!("one of {}", allowed.join(", "))))
}

/// Refuses values in columns the kind does not use.
fn only_own_columns(row: &Row, kind: RecordKind) -> Result<(), Problem> {
    let allowed = kind.columns();
    match row.fields.iter().find(|(c, _)| !allowed.contains(c)) {
        Some((col, _)) => Err(Problem::new(
            "field_not_allowed",
            vec![
                ("field", col.name().to_string()),
                ("record", kind.code().to_string()),
            ],
        )),
        None => Ok(()),
    }
}

fn not_filled(row: &Row, cols: &[Col], kind: &str) -> Result<(), Problem> {
    match cols.iter().find(|c| row.get(**c).is_some()) {
        Some(col) => Err(Problem::new(
            "field_not_allowed",
            vec![
                ("field", col.name().to_string()),
                ("record", kind.to_string()),
            ],
        )),
        None => Ok(()),
    }
}

/// The names of the fields whose values differ.
fn differing(pairs: &[(&'static str, bool)]) -> Vec<&'static str> {
    pairs
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect()
}

fn exists_different(fields: &[&str]) -> Problem {
    Problem::new("exists_different", vec![("fields", fields.join(", "))])
}

// ---------------------------------------------------------------------------
// The import
// ---------------------------------------------------------------------------

/// What a run knows about the reference data.
struct Reference {
    /// slug → (entity id, country, default language).
    entities: HashMap<String, (i64, Country, String)>,
    /// slug → (brand id, entity id).
    brands: HashMap<String, (i64, i64)>,
}

async fn reference(app: &App) -> Result<Reference, ImportError> {
    let mut out = Reference {
        entities: HashMap::new(),
        brands: HashMap::new(),
    };
    for e in entities::list_entities(app.db()).await? {
        let country = if e.country == "BE" {
            Country::Be
        } else {
            Country::Nl
        };
        out.entities
            .insert(e.slug.clone(), (e.id, country, e.default_language.clone()));
    }
    for b in entities::list_brands(app.db()).await? {
        out.brands.insert(b.slug.clone(), (b.id, b.entity_id));
    }
    if out.entities.is_empty() {
        return Err(ImportError::File(FileProblem::new(
            "no_reference_data",
            vec![],
        )));
    }
    Ok(out)
}

/// A customer's facts a contract needs.
#[derive(Clone)]
struct Holder {
    id: i64,
    entity_id: i64,
    country: Country,
    /// None once the customer's key is destroyed (erased).
    key: Option<SubjectKey>,
    /// Date of birth or company number, and postcode (registration proof).
    fact: String,
    postcode: String,
}

/// What a committed batch changes in the run's state.
#[derive(Default)]
struct BatchOutcome {
    imported: u64,
    unchanged: u64,
    rejected: Vec<Rejection>,
    /// (contract id, kind, period) → row, of invoices stored now.
    periods: Vec<((i64, String, String), u64)>,
}

/// Why a batch must be tried again.
enum BatchError {
    /// A key was stored by someone else in between: look up again.
    Retry,
    Fatal(ImportError),
}

impl From<StoreError> for BatchError {
    fn from(error: StoreError) -> BatchError {
        if error.is_unique_violation() {
            BatchError::Retry
        } else {
            BatchError::Fatal(error.into())
        }
    }
}

impl From<AppError> for BatchError {
    fn from(error: AppError) -> BatchError {
        match error {
            AppError::Store(e) => BatchError::from(e),
            other => BatchError::Fatal(other.into()),
        }
    }
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> BatchError {
        BatchError::from(StoreError::from(error))
    }
}

/// The state of one run.
struct Run<'a> {
    app: &'a App,
    actor: Actor<'a>,
    request_id: String,
    reference: Reference,
    counts: HashMap<RecordKind, KindCounts>,
    rejected: Vec<Rejection>,
    /// Natural keys rejected in this file: (kind, key) → row.
    rejected_keys: HashMap<(RecordKind, String), u64>,
    /// Holders looked up, by customer number.
    holders: HashMap<String, Option<Holder>>,
    /// Contracts looked up, by contract number.
    contracts: HashMap<String, Option<ContractRef>>,
    /// Invoices stored by this run: (contract id, kind, period) → row.
    periods: HashMap<(i64, String, String), u64>,
    now: i64,
}

impl Run<'_> {
    fn reject(&mut self, rejection: Rejection) {
        if let (Some(kind), Some(key)) = (rejection.record, rejection.key.clone()) {
            self.rejected_keys
                .entry((kind, key))
                .or_insert(rejection.row);
        }
        if let Some(kind) = rejection.record {
            self.counts.entry(kind).or_default().rejected += 1;
        }
        self.rejected.push(rejection);
    }

    fn merge(&mut self, kind: RecordKind, outcome: BatchOutcome) {
        let counts = self.counts.entry(kind).or_default();
        counts.imported += outcome.imported;
        counts.unchanged += outcome.unchanged;
        for r in outcome.rejected {
            self.reject(r);
        }
        self.periods.extend(outcome.periods);
    }

    fn audit(&self, action: &str, fields: &[&str]) -> AuditEntry {
        self.actor
            .entry(action, None, fields, PURPOSE, &self.request_id)
    }
}

/// Imports a file for `actor` (see the module documentation); `progress`
/// is told how far it is.
pub async fn import_file(
    app: &App,
    actor: Actor<'_>,
    file_name: &str,
    bytes: &[u8],
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    if let Actor::Staff(staff) = actor {
        staff.require_any(ROLES)?;
    }
    let parsed = parse(file_name, bytes).map_err(ImportError::File)?;
    let reference = reference(app).await?;
    progress.start(parsed.total);
    let run_id = app.ids().next();
    let started_at = app.clock().now().timestamp();
    let file_name: String = file_name.chars().take(MAX_FILE_NAME).collect();
    repo::insert_import_run(
        app.db(),
        &repo::NewImportRun {
            id: run_id,
            file_name: file_name.clone(),
            sha256: Sha256::digest(bytes).to_vec(),
            format: parsed.format.code().to_string(),
            started_at,
            rows_total: i64::try_from(parsed.total).unwrap_or(i64::MAX),
        },
    )
    .await?;
    let mut run = Run {
        app,
        actor,
        request_id: format!("import-{run_id}"),
        reference,
        counts: HashMap::new(),
        rejected: Vec::new(),
        rejected_keys: HashMap::new(),
        holders: HashMap::new(),
        contracts: HashMap::new(),
        periods: HashMap::new(),
        now: started_at,
    };
    for r in parsed.malformed {
        run.reject(r);
    }
    let mut done = run.rejected.len() as u64;
    progress.done(done);

    // Sort by kind; the first row of a natural key wins, later ones are refused.
    let mut by_kind: HashMap<RecordKind, Vec<Row>> = HashMap::new();
    let mut first_row: HashMap<(RecordKind, String), u64> = HashMap::new();
    for row in parsed.rows {
        let kind = match row.get(Col::Record) {
            None => {
                let r = row.rejection(None, "missing_field", vec![("field", "record".into())]);
                run.reject(r);
                continue;
            }
            Some(value) => match RecordKind::parse(value) {
                Some(kind) => kind,
                None => {
                    let value = value.chars().take(40).collect();
                    run.reject(row.rejection(None, "unknown_record", vec![("value", value)]));
                    continue;
                }
            },
        };
        if let Some(key) = row.get(kind.key_column()) {
            if let Some(first) = first_row.get(&(kind, key.to_string())) {
                let r = row.rejection(
                    Some(kind),
                    "duplicate_in_file",
                    vec![("row", first.to_string())],
                );
                run.reject(r);
                continue;
            }
            first_row.insert((kind, key.to_string()), row.n);
        }
        by_kind.entry(kind).or_default().push(row);
    }
    drop(first_row);
    done = run.rejected.len() as u64;
    progress.done(done);

    for kind in RecordKind::ALL {
        let rows = by_kind.remove(&kind).unwrap_or_default();
        let size = match kind {
            RecordKind::Customer => CUSTOMER_BATCH,
            RecordKind::Contract => CONTRACT_BATCH,
            RecordKind::Invoice => INVOICE_BATCH,
        };
        for batch in rows.chunks(size) {
            let mut attempt = 0;
            let outcome = loop {
                attempt += 1;
                let result = match kind {
                    RecordKind::Customer => customers_batch(&mut run, batch).await,
                    RecordKind::Contract => contracts_batch(&mut run, batch).await,
                    RecordKind::Invoice => invoices_batch(&mut run, batch).await,
                };
                match result {
                    Ok(outcome) => break outcome,
                    Err(BatchError::Retry) if attempt < ATTEMPTS => {
                        // Someone else stored a key meanwhile: look again.
                        run.holders.clear();
                        run.contracts.clear();
                    }
                    Err(BatchError::Retry) => {
                        return Err(ImportError::App(AppError::Config(
                            "the import kept colliding with another import; run it again".into(),
                        )))
                    }
                    Err(BatchError::Fatal(error)) => return Err(error),
                }
            };
            run.merge(kind, outcome);
            done += batch.len() as u64;
            progress.done(done);
        }
    }

    let mut rejected = std::mem::take(&mut run.rejected);
    rejected.sort_by_key(|r| r.row);
    let kinds = RecordKind::ALL.map(|k| (k, run.counts.get(&k).copied().unwrap_or_default()));
    let imported: u64 = kinds.iter().map(|(_, c)| c.imported).sum();
    let unchanged: u64 = kinds.iter().map(|(_, c)| c.unchanged).sum();
    let counts = ImportCounts {
        imported: i64::try_from(imported).unwrap_or(i64::MAX),
        unchanged: i64::try_from(unchanged).unwrap_or(i64::MAX),
        rejected: i64::try_from(rejected.len()).unwrap_or(i64::MAX),
    };
    let mut tx = app.db().begin_write().await?;
    repo::finish_import_run(&mut tx, run_id, counts, app.clock().now().timestamp()).await?;
    audit::record(&mut tx, app, run.audit("import.run", &["import_runs"])).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(ImportReport {
        run_id,
        file_name,
        format: parsed.format,
        rows: parsed.total,
        imported,
        unchanged,
        rejected,
        kinds,
    })
}

/// An upload in the back office: the same as `carfin import`, by a staff
/// member of contract administration (or an administrator).
pub async fn upload(
    app: &App,
    staff: &StaffSession,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportReport, ImportError> {
    staff.require_any(ROLES)?;
    import_file(app, Actor::Staff(staff), file_name, bytes, &NoProgress).await
}

/// The most recent import runs, for contract administration.
pub async fn recent_runs(
    app: &App,
    staff: &StaffSession,
    limit: i64,
) -> Result<Vec<repo::ImportRunRecord>, AppError> {
    staff.require_any(ROLES)?;
    Ok(repo::recent_import_runs(app.db(), limit.clamp(1, 100)).await?)
}

// ---------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------

struct CustomerRow {
    number: String,
    entity_id: i64,
    country: Country,
    kind: &'static str,
    language: String,
    personal: CustomerPersonal,
}

const PERSON_ONLY: &[Col] = &[
    Col::Initials,
    Col::GivenNames,
    Col::NamePrefix,
    Col::Surname,
    Col::DateOfBirth,
];
const COMPANY_ONLY: &[Col] = &[Col::CompanyName, Col::CompanyNumber];

fn customer_row(
    reference: &Reference,
    row: &Row,
    today: NaiveDate,
) -> Result<CustomerRow, Problem> {
    only_own_columns(row, RecordKind::Customer)?;
    let number = natural_key(row, Col::CustomerNumber)?;
    let slug = required(row, Col::Entity)?;
    let (entity_id, country, default_language) =
        reference.entities.get(slug).cloned().ok_or_else(|| {
            Problem::new(
                "unknown_entity",
                vec![("value", slug.chars().take(60).collect())],
            )
        })?;
    let kind = one_of(row, Col::Kind, &["person", "company"])?;
    let language = match row.get(Col::Language) {
        None => default_language,
        Some(_) => one_of(row, Col::Language, &["nl", "fr", "en"])?.to_string(),
    };
    let mut personal = CustomerPersonal {
        street: required_text(row, Col::Street, MAX_TEXT)?,
        house_number: required_text(row, Col::HouseNumber, 20)?,
        city: required_text(row, Col::City, MAX_TEXT)?,
        ..CustomerPersonal::default()
    };
    let postcode = required(row, Col::Postcode)?;
    personal.postcode = Postcode::parse_for(country, postcode)
        .map_err(|e| Problem::invalid(Col::Postcode, postcode, domain(e)))?
        .as_str()
        .to_string();
    if kind == "person" {
        not_filled(row, COMPANY_ONLY, "person")?;
        personal.initials = text(row, Col::Initials, 20)?;
        personal.given_names = text(row, Col::GivenNames, MAX_TEXT)?;
        personal.name_prefix = text(row, Col::NamePrefix, 40)?;
        personal.surname = Some(required_text(row, Col::Surname, MAX_TEXT)?);
        let birth = date(row, Col::DateOfBirth)?;
        if birth >= today {
            return Err(Problem::invalid(
                Col::DateOfBirth,
                "",
                "a date of birth lies in the past",
            ));
        }
        personal.date_of_birth = Some(birth.to_string());
    } else {
        not_filled(row, PERSON_ONLY, "company")?;
        personal.company_name = Some(required_text(row, Col::CompanyName, MAX_TEXT)?);
        let number = required(row, Col::CompanyNumber)?;
        let canonical = match country {
            Country::Nl => KvkNumber::parse(number)
                .map(|k| k.as_str().to_string())
                .map_err(domain),
            Country::Be => KboNumber::parse(number)
                .map(|k| k.as_str().to_string())
                .map_err(domain),
        };
        personal.company_number =
            Some(canonical.map_err(|e| Problem::invalid(Col::CompanyNumber, number, e))?);
    }
    if let Some(email) = row.get(Col::Email) {
        let parsed = EmailAddress::parse(email)
            .map_err(|e| Problem::invalid(Col::Email, email, domain(e)))?;
        personal.email = Some(parsed.normalized());
    }
    if let Some(phone) = row.get(Col::Phone) {
        let parsed = PhoneNumber::parse_with_default(phone, country)
            .map_err(|e| Problem::invalid(Col::Phone, phone, domain(e)))?;
        personal.phone = Some(parsed.as_str().to_string());
    }
    if let Some(iban) = row.get(Col::Iban) {
        let parsed = Iban::parse(iban).map_err(|e| Problem::invalid(Col::Iban, iban, domain(e)))?;
        personal.iban = Some(parsed.as_str().to_string());
    }
    Ok(CustomerRow {
        number,
        entity_id,
        country,
        kind,
        language,
        personal,
    })
}

fn compare_customer(
    new: &CustomerRow,
    old: &customers::CustomerRecord,
    p: &CustomerPersonal,
) -> Vec<&'static str> {
    let n = &new.personal;
    differing(&[
        ("entity", new.entity_id == old.entity_id),
        ("kind", new.kind == old.kind),
        ("language", new.language == old.language),
        ("initials", n.initials == p.initials),
        ("given_names", n.given_names == p.given_names),
        ("name_prefix", n.name_prefix == p.name_prefix),
        ("surname", n.surname == p.surname),
        ("date_of_birth", n.date_of_birth == p.date_of_birth),
        ("company_name", n.company_name == p.company_name),
        ("company_number", n.company_number == p.company_number),
        ("street", n.street == p.street),
        ("house_number", n.house_number == p.house_number),
        ("postcode", n.postcode == p.postcode),
        ("city", n.city == p.city),
        ("email", n.email == p.email),
        ("phone", n.phone == p.phone),
        ("iban", n.iban == p.iban),
    ])
}

async fn customers_batch(run: &mut Run<'_>, rows: &[Row]) -> Result<BatchOutcome, BatchError> {
    let app = run.app;
    let today = app.clock().today();
    let mut outcome = BatchOutcome::default();
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        match customer_row(&run.reference, row, today) {
            Ok(c) => valid.push((row, c)),
            Err(p) => {
                outcome
                    .rejected
                    .push(row.rejection(Some(RecordKind::Customer), p.code, p.args))
            }
        }
    }
    let numbers: Vec<String> = valid.iter().map(|(_, c)| c.number.clone()).collect();
    let existing = repo::customer_ids_by_number(app.db(), &numbers).await?;
    let mut insert = CustomerInsert::default();
    let mut keys = Vec::new();
    for (row, c) in valid {
        if let Some(id) = existing.get(&c.number) {
            let problem = match customers::get(app.db(), app.keys(), *id).await? {
                None => Some(Problem::new(
                    "exists_different",
                    vec![("fields", String::new())],
                )),
                Some(old) => match &old.personal {
                    Personal::Erased => Some(Problem::new("erased", vec![])),
                    Personal::Known(p) => {
                        let fields = compare_customer(&c, &old, p);
                        (!fields.is_empty()).then(|| exists_different(&fields))
                    }
                },
            };
            match problem {
                None => outcome.unchanged += 1,
                Some(p) => {
                    outcome
                        .rejected
                        .push(row.rejection(Some(RecordKind::Customer), p.code, p.args))
                }
            }
            continue;
        }
        let id = app.ids().next();
        let key = SubjectKey::generate();
        let new = NewCustomer {
            id,
            entity_id: c.entity_id,
            customer_number: c.number.clone(),
            kind: c.kind.to_string(),
            language: c.language.clone(),
            country: c.country.code().to_string(),
            personal: c.personal,
            created_at: run.now,
        };
        insert.add(&new, &key, app.blind_index())?;
        keys.push((id, key));
    }
    if !keys.is_empty() {
        // Keys first: a crash in between leaves only unused keys.
        app.keys().insert_many(&keys, run.now).await?;
        let mut tx = app.db().begin_write().await?;
        let written = insert.execute(&mut tx).await?;
        if written != keys.len() as u64 {
            return Err(BatchError::Retry);
        }
        let entry = run.audit("import.customers", &["customers"]);
        audit::record(&mut tx, app, entry).await?;
        tx.commit().await?;
        outcome.imported = written;
    }
    Ok(outcome)
}

// ---------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------

/// The contract types, as stored.
const CONTRACT_TYPES: [&str; 3] = ["financial_lease", "operational_lease", "consumer_credit"];
/// The contract statuses, as stored.
const CONTRACT_STATUSES: [&str; 4] = ["pending", "active", "ended", "closed"];
/// The fuels the portal names.
const FUELS: [&str; 4] = ["petrol", "diesel", "hybrid", "electric"];

struct ContractRow {
    number: String,
    holder: String,
    brand: String,
    contract_type: &'static str,
    status: &'static str,
    ended_on: Option<String>,
    closed_on: Option<String>,
    terms: ContractTerms,
    vin: String,
    plate: String,
    make: String,
    model: String,
    fuel: &'static str,
    first_registration: String,
}

fn contract_row(row: &Row) -> Result<ContractRow, Problem> {
    only_own_columns(row, RecordKind::Contract)?;
    let number = natural_key(row, Col::ContractNumber)?;
    let holder = natural_key(row, Col::CustomerNumber)?;
    let brand = required(row, Col::Brand)?.to_string();
    let contract_type = one_of(row, Col::ContractType, &CONTRACT_TYPES)?;
    let status = one_of(row, Col::Status, &CONTRACT_STATUSES)?;
    let start = date(row, Col::StartDate)?;
    let end = date(row, Col::EndDate)?;
    if end <= start {
        return Err(Problem::inconsistent("end_date is not after start_date"));
    }
    let term = int(
        row,
        Col::TermMonths,
        1..=i64::from(carfin_domain::MAX_MONTHS),
    )?;
    let non_negative = |col: Col, cents: i64| -> Result<i64, Problem> {
        if cents < 0 {
            Err(Problem::invalid(
                col,
                &Money::from_cents(cents).to_decimal_string(),
                "below zero",
            ))
        } else {
            Ok(cents)
        }
    };
    let financed = non_negative(Col::FinancedAmount, money(row, Col::FinancedAmount)?)?;
    let down = non_negative(
        Col::DownPayment,
        optional_money(row, Col::DownPayment)?.unwrap_or(0),
    )?;
    let balloon = non_negative(
        Col::Balloon,
        optional_money(row, Col::Balloon)?.unwrap_or(0),
    )?;
    let rate = int(row, Col::NominalRateBp, 0..=10_000)?;
    let apr = int(row, Col::AprBp, 0..=10_000)?;
    let instalment = non_negative(Col::MonthlyInstalment, money(row, Col::MonthlyInstalment)?)?;
    let km = row
        .get(Col::KmPerYear)
        .map(|v| parse_int(Col::KmPerYear, v, 1..=1_000_000))
        .transpose()?;
    let excess = optional_money(row, Col::ExcessKmPrice)?
        .map(|c| non_negative(Col::ExcessKmPrice, c))
        .transpose()?;
    let ended_on = optional_date(row, Col::EndedOn)?;
    let closed_on = optional_date(row, Col::ClosedOn)?;
    match status {
        "ended" | "closed" if ended_on.is_none() => {
            return Err(Problem::inconsistent(format!(
                "a contract with status {status} needs ended_on"
            )))
        }
        "pending" | "active" if ended_on.is_some() || closed_on.is_some() => {
            return Err(Problem::inconsistent(format!(
                "a contract with status {status} has no ended_on or closed_on"
            )))
        }
        "closed" if closed_on.is_none() => {
            return Err(Problem::inconsistent("a closed contract needs closed_on"))
        }
        "ended" if closed_on.is_some() => {
            return Err(Problem::inconsistent(
                "an ended contract has no closed_on (its status would be closed)",
            ))
        }
        _ => {}
    }
    let vin_text = required(row, Col::Vin)?;
    let vin = Vin::parse(vin_text).map_err(|e| Problem::invalid(Col::Vin, vin_text, domain(e)))?;
    let plate = required(row, Col::LicencePlate)?.to_string();
    let first_registration = date(row, Col::FirstRegistration)?;
    Ok(ContractRow {
        number,
        holder,
        brand,
        contract_type,
        status,
        ended_on: ended_on.map(|d| d.to_string()),
        closed_on: closed_on.map(|d| d.to_string()),
        terms: ContractTerms {
            version: 1,
            valid_from: start.to_string(),
            start_date: start.to_string(),
            end_date: end.to_string(),
            term_months: term,
            financed_amount_cents: financed,
            down_payment_cents: down,
            balloon_cents: balloon,
            nominal_rate_bp: rate,
            apr_bp: apr,
            monthly_instalment_cents: instalment,
            km_per_year: km,
            excess_km_price_cents: excess,
            change_reason: "origination".into(),
        },
        vin: vin.as_str().to_string(),
        plate,
        make: required_text(row, Col::Make, 100)?,
        model: required_text(row, Col::Model, 100)?,
        fuel: one_of(row, Col::Fuel, &FUELS)?,
        first_registration: first_registration.to_string(),
    })
}

fn compare_contract(
    new: &ContractRow,
    plate: &str,
    brand_id: i64,
    holder_id: i64,
    old: &ExistingContract,
) -> Vec<&'static str> {
    let (n, o) = (&new.terms, &old.terms);
    let v = &old.vehicle;
    differing(&[
        ("customer_number", old.holder_id == Some(holder_id)),
        ("brand", old.brand_id == brand_id),
        ("contract_type", new.contract_type == old.contract_type),
        ("status", new.status == old.status),
        ("ended_on", new.ended_on == old.ended_on),
        ("closed_on", new.closed_on == old.closed_on),
        ("start_date", n.start_date == o.start_date),
        ("end_date", n.end_date == o.end_date),
        ("term_months", n.term_months == o.term_months),
        (
            "financed_amount",
            n.financed_amount_cents == o.financed_amount_cents,
        ),
        ("down_payment", n.down_payment_cents == o.down_payment_cents),
        ("balloon", n.balloon_cents == o.balloon_cents),
        ("nominal_rate_bp", n.nominal_rate_bp == o.nominal_rate_bp),
        ("apr_bp", n.apr_bp == o.apr_bp),
        (
            "monthly_instalment",
            n.monthly_instalment_cents == o.monthly_instalment_cents,
        ),
        ("km_per_year", n.km_per_year == o.km_per_year),
        (
            "excess_km_price",
            n.excess_km_price_cents == o.excess_km_price_cents,
        ),
        ("make", new.make == v.make),
        ("model", new.model == v.model),
        ("fuel", new.fuel == v.fuel),
        (
            "first_registration",
            new.first_registration == v.first_registration,
        ),
        (
            "licence_plate",
            matches!(&v.licence_plate, Personal::Known(p) if p == plate),
        ),
        ("vin", matches!(&v.vin, Personal::Known(p) if *p == new.vin)),
    ])
}

/// Looks up the holders named by `numbers` that are not known yet.
async fn load_holders(run: &mut Run<'_>, numbers: Vec<String>) -> Result<(), BatchError> {
    let app = run.app;
    let missing: Vec<String> = numbers
        .into_iter()
        .filter(|n| !run.holders.contains_key(n))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let ids = repo::customer_ids_by_number(app.db(), &missing).await?;
    for number in missing {
        let Some(id) = ids.get(&number) else {
            run.holders.insert(number, None);
            continue;
        };
        let Some(record) = customers::get(app.db(), app.keys(), *id).await? else {
            run.holders.insert(number, None);
            continue;
        };
        let country = if record.country == "BE" {
            Country::Be
        } else {
            Country::Nl
        };
        let (key, fact, postcode) = match (&record.personal, app.keys().get(*id).await?) {
            (Personal::Known(p), KeyState::Live(key)) => (
                Some(*key),
                p.date_of_birth
                    .clone()
                    .or_else(|| p.company_number.clone())
                    .unwrap_or_default(),
                p.postcode.clone(),
            ),
            _ => (None, String::new(), String::new()),
        };
        run.holders.insert(
            number,
            Some(Holder {
                id: *id,
                entity_id: record.entity_id,
                country,
                key,
                fact,
                postcode,
            }),
        );
    }
    Ok(())
}

async fn contracts_batch(run: &mut Run<'_>, rows: &[Row]) -> Result<BatchOutcome, BatchError> {
    let app = run.app;
    let mut outcome = BatchOutcome::default();
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        match contract_row(row) {
            Ok(c) => valid.push((row, c)),
            Err(p) => {
                outcome
                    .rejected
                    .push(row.rejection(Some(RecordKind::Contract), p.code, p.args))
            }
        }
    }
    load_holders(run, valid.iter().map(|(_, c)| c.holder.clone()).collect()).await?;
    let numbers: Vec<String> = valid.iter().map(|(_, c)| c.number.clone()).collect();
    let existing: HashMap<String, ExistingContract> =
        repo::contracts_by_number(app.db(), app.keys(), &numbers)
            .await?
            .into_iter()
            .map(|c| (c.contract_number.clone(), c))
            .collect();
    let mut insert = FinanceInsert::default();
    let mut expected = 0_u64;
    for (row, c) in valid {
        let checked = check_contract(run, &c, existing.get(&c.number));
        let (holder, brand_id, plate) = match checked {
            Ok(Checked::New {
                holder,
                brand_id,
                plate,
            }) => (holder, brand_id, plate),
            Ok(Checked::Unchanged) => {
                outcome.unchanged += 1;
                continue;
            }
            Err(p) => {
                outcome
                    .rejected
                    .push(row.rejection(Some(RecordKind::Contract), p.code, p.args));
                continue;
            }
        };
        let Some(key) = holder.key.as_ref() else {
            continue;
        };
        let vehicle_id = app.ids().next();
        let contract_id = app.ids().next();
        insert.vehicle(
            &NewVehicle {
                id: vehicle_id,
                entity_id: holder.entity_id,
                subject_id: holder.id,
                make: c.make.clone(),
                model: c.model.clone(),
                fuel: c.fuel.to_string(),
                plate_country: holder.country.code().to_string(),
                licence_plate: plate,
                vin: c.vin.clone(),
                first_registration: c.first_registration.clone(),
                created_at: run.now,
            },
            key,
            app.blind_index(),
        )?;
        insert.contract(&NewContract {
            id: contract_id,
            entity_id: holder.entity_id,
            brand_id,
            dealer_id: None,
            vehicle_id,
            contract_number: c.number.clone(),
            contract_type: c.contract_type.to_string(),
            status: c.status.to_string(),
            ended_on: c.ended_on.clone(),
            closed_on: c.closed_on.clone(),
            created_at: run.now,
            terms: c.terms.clone(),
            parties: vec![NewParty {
                customer_id: holder.id,
                role: "holder".into(),
                registration_bidx: Some(registration_index(
                    app.blind_index(),
                    &c.number,
                    &holder.fact,
                    &holder.postcode,
                )),
            }],
        });
        expected += 1;
    }
    if expected > 0 {
        let mut tx = app.db().begin_write().await?;
        insert.execute(&mut tx).await?;
        let entry = run.audit(
            "import.contracts",
            &[
                "vehicles",
                "contracts",
                "contract_versions",
                "contract_parties",
            ],
        );
        audit::record(&mut tx, app, entry).await?;
        tx.commit().await?;
        outcome.imported = expected;
    }
    Ok(outcome)
}

enum Checked {
    New {
        holder: Box<Holder>,
        brand_id: i64,
        plate: String,
    },
    Unchanged,
}

fn check_contract(
    run: &Run<'_>,
    c: &ContractRow,
    existing: Option<&ExistingContract>,
) -> Result<Checked, Problem> {
    let holder = match run.holders.get(&c.holder).cloned().flatten() {
        Some(holder) => holder,
        None => {
            return Err(
                match run
                    .rejected_keys
                    .get(&(RecordKind::Customer, c.holder.clone()))
                {
                    Some(row) => Problem::new(
                        "customer_rejected",
                        vec![("key", c.holder.clone()), ("row", row.to_string())],
                    ),
                    None => Problem::new("unknown_customer", vec![("key", c.holder.clone())]),
                },
            )
        }
    };
    if holder.key.is_none() {
        return Err(Problem::new("erased", vec![]));
    }
    let brand_id = match run.reference.brands.get(&c.brand) {
        Some((id, entity)) if *entity == holder.entity_id => *id,
        _ => {
            return Err(Problem::new(
                "unknown_brand",
                vec![("value", c.brand.chars().take(60).collect())],
            ))
        }
    };
    let plate = LicencePlate::parse_for(holder.country, &c.plate)
        .map_err(|e| Problem::invalid(Col::LicencePlate, &c.plate, domain(e)))?
        .as_str()
        .to_string();
    match existing {
        None => Ok(Checked::New {
            holder: Box::new(holder),
            brand_id,
            plate,
        }),
        Some(old) => {
            if matches!(old.vehicle.vin, Personal::Erased) {
                return Err(Problem::new("erased", vec![]));
            }
            let fields = compare_contract(c, &plate, brand_id, holder.id, old);
            if fields.is_empty() {
                Ok(Checked::Unchanged)
            } else {
                Err(exists_different(&fields))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------

/// Invoice kinds, as stored.
const INVOICE_KINDS: [&str; 4] = ["instalment", "excess_km", "fee", "credit"];
/// Invoice statuses, as stored.
const INVOICE_STATUSES: [&str; 5] = ["open", "paid", "overdue", "in_collection", "written_off"];

struct InvoiceRow {
    number: String,
    contract: String,
    kind: &'static str,
    period: Option<String>,
    issue_date: String,
    due_date: String,
    amount: i64,
    status: &'static str,
    paid: i64,
    reference: Option<String>,
}

/// A `YYYY-MM` period.
pub fn parse_period(text: &str) -> Option<NaiveDate> {
    let ok = text.len() == 7 && text.as_bytes().get(4) == Some(&b'-');
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .filter(|d| ok && (1900..=2200).contains(&d.year()))
}

fn invoice_row(row: &Row) -> Result<InvoiceRow, Problem> {
    only_own_columns(row, RecordKind::Invoice)?;
    let number = natural_key(row, Col::InvoiceNumber)?;
    let contract = natural_key(row, Col::ContractNumber)?;
    let kind = one_of(row, Col::Kind, &INVOICE_KINDS)?;
    let period = match row.get(Col::Period) {
        Some(p) => Some(
            parse_period(p)
                .map(|d| format!("{:04}-{:02}", d.year(), d.month()))
                .ok_or_else(|| Problem::invalid(Col::Period, p, "not a month like 2026-03"))?,
        ),
        None if kind == "instalment" => return Err(Problem::missing(Col::Period)),
        None => None,
    };
    let issue = date(row, Col::IssueDate)?;
    let due = date(row, Col::DueDate)?;
    if due < issue {
        return Err(Problem::inconsistent("due_date is before issue_date"));
    }
    let amount = money(row, Col::Amount)?;
    let amount_text = || Money::from_cents(amount).to_decimal_string();
    if kind == "credit" && amount >= 0 {
        return Err(Problem::invalid(
            Col::Amount,
            &amount_text(),
            "a credit invoice's amount is below zero",
        ));
    }
    if kind != "credit" && amount <= 0 {
        return Err(Problem::invalid(
            Col::Amount,
            &amount_text(),
            "an invoice's amount is above zero (credits have kind credit)",
        ));
    }
    let status = match row.get(Col::Status) {
        None => "open",
        Some(_) => one_of(row, Col::Status, &INVOICE_STATUSES)?,
    };
    let paid = match optional_money(row, Col::PaidAmount)? {
        Some(paid) => paid,
        None if status == "paid" => amount.max(0),
        None => 0,
    };
    if paid < 0 || paid > amount.max(0) {
        return Err(Problem::inconsistent(
            "paid_amount lies between 0 and the amount",
        ));
    }
    if status == "paid" && paid != amount.max(0) {
        return Err(Problem::inconsistent(
            "a paid invoice's paid_amount is its amount",
        ));
    }
    Ok(InvoiceRow {
        number,
        contract,
        kind,
        period,
        issue_date: issue.to_string(),
        due_date: due.to_string(),
        amount,
        status,
        paid,
        reference: row.get(Col::PaymentReference).map(str::to_string),
    })
}

/// A payment reference in `country`'s format derived from an invoice
/// number (the same number always gives the same reference).
pub fn derived_reference(country: Country, invoice_number: &str) -> Option<String> {
    let hash = Sha256::digest(invoice_number.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(hash.get(..8)?);
    let n = u64::from_be_bytes(first);
    let base = match country {
        Country::Be => n % 10_000_000_000,
        Country::Nl => n % 1_000_000_000_000_000,
    };
    PaymentReference::for_country(country, base).map(|r| r.as_str().to_string())
}

fn country_of(code: &str) -> Country {
    if code == "BE" {
        Country::Be
    } else {
        Country::Nl
    }
}

/// The ledger kind of an invoice of `kind`.
fn ledger_kind(kind: &str) -> &'static str {
    if kind == "credit" {
        "credit"
    } else {
        "invoice"
    }
}

async fn invoices_batch(run: &mut Run<'_>, rows: &[Row]) -> Result<BatchOutcome, BatchError> {
    let app = run.app;
    let mut outcome = BatchOutcome::default();
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        match invoice_row(row) {
            Ok(i) => valid.push((row, i)),
            Err(p) => {
                outcome
                    .rejected
                    .push(row.rejection(Some(RecordKind::Invoice), p.code, p.args))
            }
        }
    }
    // Contracts, by number (cached for the run).
    let wanted: Vec<String> = valid
        .iter()
        .map(|(_, i)| i.contract.clone())
        .filter(|n| !run.contracts.contains_key(n))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if !wanted.is_empty() {
        let found = repo::contract_refs_by_number(app.db(), &wanted).await?;
        for n in wanted {
            let c = found.iter().find(|c| c.contract_number == n).cloned();
            run.contracts.insert(n, c);
        }
    }
    let numbers: Vec<String> = valid.iter().map(|(_, i)| i.number.clone()).collect();
    let existing: HashMap<String, repo::ExistingInvoice> =
        repo::invoices_by_number(app.db(), &numbers)
            .await?
            .into_iter()
            .map(|i| (i.invoice_number.clone(), i))
            .collect();
    // Periods already invoiced, for the new ones.
    let mut contract_ids = HashSet::new();
    let mut periods = HashSet::new();
    for (_, i) in &valid {
        if existing.contains_key(&i.number) {
            continue;
        }
        if let (Some(c), Some(p)) = (run.contracts.get(&i.contract).cloned().flatten(), &i.period) {
            contract_ids.insert(c.id);
            periods.insert(p.clone());
        }
    }
    let taken = repo::invoices_in_periods(
        app.db(),
        &contract_ids.into_iter().collect::<Vec<_>>(),
        &periods.into_iter().collect::<Vec<_>>(),
    )
    .await?;

    let mut invoices =
        Insert::new("invoices", INVOICE_COLUMNS).ignore_conflicts("(invoice_number)");
    let mut new: Vec<(i64, &InvoiceRow, i64)> = Vec::new();
    let mut batch_periods: HashMap<(i64, String, String), u64> = HashMap::new();
    for (row, i) in &valid {
        match check_invoice(run, i, existing.get(&i.number), &taken, &batch_periods) {
            Ok(None) => outcome.unchanged += 1,
            Ok(Some((contract, reference))) => {
                let id = app.ids().next();
                invoices.row(invoice_values(&NewInvoice {
                    id,
                    entity_id: contract.entity_id,
                    contract_id: contract.id,
                    invoice_number: i.number.clone(),
                    kind: i.kind.to_string(),
                    period: i.period.clone(),
                    issue_date: i.issue_date.clone(),
                    due_date: i.due_date.clone(),
                    amount_cents: i.amount,
                    paid_cents: i.paid,
                    status: i.status.to_string(),
                    payment_reference: reference,
                    created_at: run.now,
                }));
                if let Some(p) = &i.period {
                    let key = (contract.id, i.kind.to_string(), p.clone());
                    batch_periods.insert(key.clone(), row.n);
                    outcome.periods.push((key, row.n));
                }
                new.push((id, i, contract.id));
            }
            Err(p) => {
                outcome
                    .rejected
                    .push(row.rejection(Some(RecordKind::Invoice), p.code, p.args))
            }
        }
    }
    if !new.is_empty() {
        let mut tx = app.db().begin_write().await?;
        let written = invoices.execute(&mut tx).await?;
        if written != new.len() as u64 {
            // Another import stored some of these numbers meanwhile.
            return Err(BatchError::Retry);
        }
        let mut ledger = FinanceInsert::default();
        for (invoice_id, i, contract_id) in &new {
            ledger.ledger(&NewLedgerEntry {
                id: app.ids().next(),
                contract_id: *contract_id,
                invoice_id: Some(*invoice_id),
                entry_date: i.issue_date.clone(),
                kind: ledger_kind(i.kind).into(),
                amount_cents: i.amount,
                created_at: run.now,
            });
            if i.paid > 0 {
                ledger.ledger(&NewLedgerEntry {
                    id: app.ids().next(),
                    contract_id: *contract_id,
                    invoice_id: Some(*invoice_id),
                    entry_date: i.due_date.clone(),
                    kind: "payment".into(),
                    amount_cents: -i.paid,
                    created_at: run.now,
                });
            }
        }
        ledger.execute(&mut tx).await?;
        let entry = run.audit("import.invoices", &["invoices", "ledger_entries"]);
        audit::record(&mut tx, app, entry).await?;
        tx.commit().await?;
        outcome.imported = written;
    }
    Ok(outcome)
}

pub(crate) use carfin_store::repo::finance::{invoice_values, INVOICE_COLUMNS};

/// `Ok(None)`: stored with the same content; `Ok(Some)`: new, with its
/// contract and payment reference.
fn check_invoice(
    run: &Run<'_>,
    i: &InvoiceRow,
    existing: Option<&repo::ExistingInvoice>,
    taken: &HashMap<(i64, String, String), String>,
    batch_periods: &HashMap<(i64, String, String), u64>,
) -> Result<Option<(ContractRef, String)>, Problem> {
    let Some(contract) = run.contracts.get(&i.contract).cloned().flatten() else {
        return Err(
            match run
                .rejected_keys
                .get(&(RecordKind::Contract, i.contract.clone()))
            {
                Some(row) => Problem::new(
                    "contract_rejected",
                    vec![("key", i.contract.clone()), ("row", row.to_string())],
                ),
                None => Problem::new("unknown_contract", vec![("key", i.contract.clone())]),
            },
        );
    };
    let country = country_of(&contract.country);
    let reference = match &i.reference {
        Some(text) => Some(
            PaymentReference::parse_for(country, text)
                .map_err(|e| Problem::invalid(Col::PaymentReference, text, domain(e)))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    if let Some(old) = existing {
        let fields = differing(&[
            ("contract_number", old.contract_id == contract.id),
            ("kind", old.kind == i.kind),
            ("period", old.period == i.period),
            ("issue_date", old.issue_date == i.issue_date),
            ("due_date", old.due_date == i.due_date),
            ("amount", old.amount_cents == i.amount),
            (
                "payment_reference",
                reference
                    .as_ref()
                    .is_none_or(|r| *r == old.payment_reference),
            ),
        ]);
        return if fields.is_empty() {
            Ok(None)
        } else {
            Err(exists_different(&fields))
        };
    }
    if let Some(period) = &i.period {
        let key = (contract.id, i.kind.to_string(), period.clone());
        if let Some(number) = taken.get(&key) {
            return Err(Problem::new(
                "period_taken",
                vec![("period", period.clone()), ("key", number.clone())],
            ));
        }
        if let Some(row) = batch_periods.get(&key).or_else(|| run.periods.get(&key)) {
            return Err(Problem::new(
                "period_taken",
                vec![("period", period.clone()), ("key", format!("row {row}"))],
            ));
        }
    }
    let reference = match reference {
        Some(r) => r,
        None => derived_reference(country, &i.number).ok_or_else(|| {
            Problem::invalid(Col::InvoiceNumber, &i.number, "no payment reference")
        })?,
    };
    Ok(Some((contract, reference)))
}

// ---------------------------------------------------------------------------
// Contract amendments
// ---------------------------------------------------------------------------

/// The reasons an amendment can give (message keys `portal.reason.{code}`,
/// shown to the customer).
pub const AMEND_REASONS: [&str; 5] = [
    "mileage_change",
    "term_extension",
    "rate_change",
    "restructuring",
    "correction",
];

/// A contract with every version, for the amendment form.
#[derive(Debug, Clone)]
pub struct AmendView {
    pub contract: repo::AmendableContract,
    /// Every version, oldest first (the last is the current one).
    pub versions: Vec<ContractTerms>,
}

impl AmendView {
    /// The current terms.
    pub fn current(&self) -> Option<&ContractTerms> {
        self.versions.last()
    }

    /// Whether the contract has kilometre terms (a lease).
    pub fn is_lease(&self) -> bool {
        self.contract.contract_type != "consumer_credit"
    }
}

/// The fields shown by the amendment form (audited as read).
const AMEND_FIELDS_SHOWN: &[&str] = &[
    "contracts.contract_number",
    "contract_versions.start_date",
    "contract_versions.end_date",
    "contract_versions.monthly_instalment_cents",
    "contract_versions.km_per_year",
    "contract_versions.excess_km_price_cents",
    "contract_versions.change_reason",
];

/// A contract's versions for the amendment form (contract administration);
/// the read is audited with the purpose.
pub async fn amendment_form(
    app: &App,
    staff: &StaffSession,
    contract_id: i64,
    request_id: &str,
) -> Result<AmendView, AppError> {
    staff.require_any(ROLES)?;
    let contract = repo::amendable_contract(app.db(), contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let versions = carfin_store::repo::documents::contract_versions(app.db(), contract_id).await?;
    let mut tx = app.db().begin_write().await?;
    let entry = Actor::Staff(staff).entry(
        "contract.read_for_amendment",
        contract.holder_id,
        AMEND_FIELDS_SHOWN,
        PURPOSE,
        request_id,
    );
    audit::record(&mut tx, app, entry).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(AmendView { contract, versions })
}

/// The id of the contract with this number (contract administration).
pub async fn find_contract(
    app: &App,
    staff: &StaffSession,
    number: &str,
) -> Result<Option<i64>, AppError> {
    staff.require_any(ROLES)?;
    Ok(repo::contract_id_by_number(app.db(), number.trim()).await?)
}

/// An amendment as typed in the form.
#[derive(Debug, Clone, Default)]
pub struct AmendmentInput {
    /// The first day of the new terms (`YYYY-MM-DD`).
    pub valid_from: String,
    /// Kilometres per year (leases).
    pub km_per_year: String,
    /// Price per excess kilometre (leases), in the staff member's language.
    pub excess_km_price: String,
    /// Monthly instalment, in the staff member's language.
    pub monthly_instalment: String,
    /// One of [`AMEND_REASONS`].
    pub reason: String,
}

/// Amends a contract (BOF-04, CON-01): a new version with the changed
/// terms becomes the current one; earlier versions stay. Audited in the
/// same transaction. Refusals are `AppError::Invalid` with message keys.
pub async fn amend(
    app: &App,
    staff: &StaffSession,
    contract_id: i64,
    input: &AmendmentInput,
    language: Language,
    request_id: &str,
) -> Result<i64, AppError> {
    staff.require_any(ROLES)?;
    let contract = repo::amendable_contract(app.db(), contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let versions = carfin_store::repo::documents::contract_versions(app.db(), contract_id).await?;
    let current = versions.last().cloned().ok_or(AppError::NotFound)?;
    let lease = contract.contract_type != "consumer_credit";
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |field: &str, key: &str| problems.push((field.into(), key.into()));
    if !matches!(contract.status.as_str(), "active" | "pending") {
        problem("valid_from", "staff_imports.amend.error.not_running");
    }
    let mut terms = current.clone();
    match NaiveDate::parse_from_str(input.valid_from.trim(), "%Y-%m-%d") {
        Ok(d) if d.to_string() >= current.valid_from && d.to_string() < current.end_date => {
            terms.valid_from = d.to_string();
        }
        _ => problem("valid_from", "staff_imports.amend.error.valid_from"),
    }
    let instalment = input.monthly_instalment.trim();
    if !instalment.is_empty() {
        match Money::parse(instalment, language) {
            Ok(m) if !m.is_negative() => terms.monthly_instalment_cents = m.cents(),
            _ => problem("monthly_instalment", "staff_imports.amend.error.instalment"),
        }
    }
    let km = input.km_per_year.trim();
    if !km.is_empty() {
        let digits: String = km
            .chars()
            .filter(|c| !matches!(c, '.' | ' ' | ','))
            .collect();
        match digits.parse::<i64>() {
            Ok(n) if lease && (1..=1_000_000).contains(&n) => terms.km_per_year = Some(n),
            _ if !lease => problem("km_per_year", "staff_imports.amend.error.not_a_lease"),
            _ => problem("km_per_year", "staff_imports.amend.error.km"),
        }
    }
    let excess = input.excess_km_price.trim();
    if !excess.is_empty() {
        match Money::parse(excess, language) {
            Ok(m) if lease && !m.is_negative() => terms.excess_km_price_cents = Some(m.cents()),
            _ if !lease => problem("excess_km_price", "staff_imports.amend.error.not_a_lease"),
            _ => problem("excess_km_price", "staff_imports.amend.error.excess"),
        }
    }
    if AMEND_REASONS.contains(&input.reason.as_str()) {
        terms.change_reason = input.reason.clone();
    } else {
        problem("reason", "staff_imports.amend.error.reason");
    }
    let mut changed = Vec::new();
    if terms.monthly_instalment_cents != current.monthly_instalment_cents {
        changed.push("contract_versions.monthly_instalment_cents");
    }
    if terms.km_per_year != current.km_per_year {
        changed.push("contract_versions.km_per_year");
    }
    if terms.excess_km_price_cents != current.excess_km_price_cents {
        changed.push("contract_versions.excess_km_price_cents");
    }
    if problems.is_empty() && changed.is_empty() {
        problems.push((
            "monthly_instalment".into(),
            "staff_imports.amend.error.unchanged".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    changed.extend([
        "contract_versions.valid_from",
        "contract_versions.change_reason",
    ]);
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    // The version is read again under the write lock: two amendments at
    // once give versions n+1 and n+2, or the primary key refuses the second.
    let version = repo::current_version(&mut tx, contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if version != current.version {
        return Err(AppError::Invalid(vec![(
            "valid_from".into(),
            "staff_imports.amend.error.stale".into(),
        )]));
    }
    terms.version = version + 1;
    finance::amend(&mut tx, contract_id, &terms, now).await?;
    let entry = Actor::Staff(staff).entry(
        "contract.amend",
        contract.holder_id,
        &changed,
        PURPOSE,
        request_id,
    );
    audit::record(&mut tx, app, entry).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(terms.version)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    // OPS-06: every reason and file problem has its message in every language.
    #[test]
    fn every_code_has_a_message() {
        for language in Language::ALL {
            let catalogue = i18n::catalogue(language);
            for code in REJECTION_CODES {
                let key = format!("staff_imports.reason.{code}");
                assert!(
                    catalogue.get(&key).is_some(),
                    "{key} in {}",
                    language.code()
                );
            }
            for code in FILE_CODES {
                let key = format!("staff_imports.file.{code}");
                assert!(
                    catalogue.get(&key).is_some(),
                    "{key} in {}",
                    language.code()
                );
            }
            for reason in AMEND_REASONS {
                assert!(catalogue.get(&format!("portal.reason.{reason}")).is_some());
            }
        }
    }

    // BOF-04: `;` or `,` from the header; a BOM and the extension or first
    // character choose the format.
    #[test]
    fn formats_and_delimiters_are_detected() {
        assert_eq!(detect_delimiter(b"record;amount\ninvoice;1,50"), b';');
        assert_eq!(detect_delimiter(b"record,amount\n"), b',');
        assert_eq!(detect_delimiter(b"\"a;b\",c\n"), b',');
        assert_eq!(detect_format("x.json", b"record"), Format::Json);
        assert_eq!(detect_format("x.csv", b"[1]"), Format::Csv);
        assert_eq!(detect_format("upload", b"  [ ]"), Format::Json);
        assert_eq!(detect_format("upload", b"record,kind"), Format::Csv);
        assert_eq!(strip_bom(b"\xEF\xBB\xBFrecord"), b"record");
    }

    // BOF-04: CSV rows are numbered from 1 after the header, with their
    // line; too many fields or an unknown column are reported.
    #[test]
    fn csv_rows_carry_numbers_and_lines() {
        let parsed = parse(
            "f.csv",
            "\u{feff}Record;Invoice_Number;Amount\ninvoice;A-1;\"1.50\"\n\ninvoice;A-2;2;extra\ninvoice;\"A\n3\";3\ninvoice;A-4;4\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(parsed.total, 4);
        assert_eq!(parsed.rows.len(), 3);
        assert_eq!(parsed.rows[0].get(Col::Amount), Some("1.50"));
        assert_eq!(parsed.rows[0].line, Some(2));
        assert_eq!(parsed.malformed.len(), 1);
        assert_eq!(parsed.malformed[0].row, 2);
        assert_eq!(parsed.malformed[0].line, Some(4));
        assert_eq!((parsed.rows[2].n, parsed.rows[2].line), (4, Some(7)));
        let unknown = parse("f.csv", b"record,amout\ninvoice,1\n").unwrap_err();
        assert_eq!(unknown.code, "unknown_column");
        assert!(unknown.to_string().contains("amout"), "{unknown}");
        assert_eq!(
            parse("f.csv", b"kind\nfee\n").unwrap_err().code,
            "no_record_column"
        );
        assert_eq!(parse("f.csv", b" \n").unwrap_err().code, "empty");
    }

    // BOF-04: JSON is an array of objects; numbers are read as text.
    #[test]
    fn json_rows_are_objects() {
        let parsed = parse(
            "f.json",
            br#"[{"record":"invoice","amount":12.5,"period":null},7,{"record":"invoice","colour":"red"}]"#,
        )
        .unwrap();
        assert_eq!(parsed.total, 3);
        assert_eq!(parsed.rows[0].get(Col::Amount), Some("12.5"));
        assert_eq!(parsed.rows[0].get(Col::Period), None);
        let codes: Vec<_> = parsed.malformed.iter().map(|r| (r.row, r.code)).collect();
        assert_eq!(codes, vec![(2, "malformed"), (3, "unknown_field")]);
        assert_eq!(parse("f.json", b"{}").unwrap_err().code, "json_not_array");
        let syntax = parse("f.json", b"[\n{\"record\": }]").unwrap_err();
        assert_eq!(syntax.code, "json_syntax");
        assert!(syntax.to_string().contains("line 2"), "{syntax}");
    }

    // BOF-04: a personal value never appears in a reason.
    #[test]
    fn personal_values_are_not_repeated() {
        let p = Problem::invalid(Col::Iban, "NL00SECRET", "bad");
        assert!(p.args.iter().all(|(_, v)| !v.contains("SECRET")));
        let p = Problem::invalid(Col::Amount, "12,5", "bad");
        assert!(p.args.iter().any(|(_, v)| v.contains("12,5")));
    }

    #[test]
    fn derived_references_follow_the_country() {
        let nl = derived_reference(Country::Nl, "INV-1").unwrap();
        let be = derived_reference(Country::Be, "INV-1").unwrap();
        assert_eq!(nl.len(), 16);
        assert_eq!(be.len(), 12);
        assert!(PaymentReference::parse_for(Country::Nl, &nl).is_ok());
        assert!(PaymentReference::parse_for(Country::Be, &be).is_ok());
        assert_eq!(derived_reference(Country::Nl, "INV-1").unwrap(), nl);
        assert_eq!(parse_period("2026-02"), NaiveDate::from_ymd_opt(2026, 2, 1));
        assert_eq!(parse_period("2026-13"), None);
        assert_eq!(parse_period("2026-2"), None);
    }
}
