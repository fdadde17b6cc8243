//! My data: the customer's copy of everything held about them (PRV-04,
//! right of access; PRV-08, portability) and "who accessed my data"
//! (PRV-16).
//!
//! * [`export`] builds a ZIP with `data.json` (the versioned schema
//!   `carfin.export` v1, documented in `docs/data-export.md`), one CSV per
//!   kind of record, `report.html` and `report.pdf` (human-readable, in the
//!   customer's language, with the purposes, legal bases, recipients,
//!   sources and retention periods of the processing register), records it
//!   in the audit log and in `issued_documents` (with the ZIP's SHA-256) in
//!   one transaction, and returns the bytes.
//! * Contracts the customer has not activated in the portal (ACC-03) are
//!   listed with number, type, status and role only: activation proves
//!   possession of the contract's phone, and the export reveals no more
//!   than the portal does.
//! * Secrets are never exported (GDPR Art. 15(4) and security): of the
//!   password hash, the TOTP secret, the hashes of codes, links, sessions
//!   and recovery codes, the blind indexes and the subject key the export
//!   says only that they exist and, where known, when they were set.
//! * [`access_history`] lists staff reads and changes of the customer's
//!   data from the audit log (the staff member's role, never their name or
//!   id) and disclosures to recipients from the disclosure log.
//! * [`seed_demo_access`] gives the demo's portal customers a few staff
//!   reads, one change and two disclosures to look at.

use crate::audit::{self, ActorKind, AuditEntry};
use crate::disclosure::{self, Disclosure};
use crate::i18n;
use crate::identity::session::{Session, SessionState};
use crate::identity::{secret_hash, throttle, ClientInfo};
use crate::messages::{local_date, local_time};
use crate::outbox::rfc3339;
use crate::privacy::{self, ActivityRecord, ControllerRecord, Register, Store};
use crate::{App, AppError};
use askama::Template;
use carfin_domain::{Language, Money};
use carfin_store::crypto::{FieldRef, SubjectKey};
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{self, CustomerRecord, Personal};
use carfin_store::repo::entities::{self, EntityRow};
use carfin_store::repo::export as repo;
use carfin_store::repo::outbox as outbox_repo;
use carfin_store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;

/// The `schema` of `data.json`.
pub const EXPORT_SCHEMA: &str = "carfin.export";
/// The `version` of `data.json`; raised on any incompatible change.
pub const EXPORT_VERSION: u32 = 1;
/// Lines per page of the access history.
pub const ACCESS_PAGE_SIZE: i64 = 50;
/// How far back the access history page looks (the export has everything).
pub const ACCESS_MONTHS: u32 = 24;
/// The audit action of an export.
pub const EXPORT_ACTION: &str = "privacy.export";
/// The register purpose an export serves ("answer requests, including
/// data-subject rights").
pub const EXPORT_PURPOSE: &str = "answer_requests";

fn register() -> Result<&'static Register, AppError> {
    privacy::register().map_err(|e| AppError::Config(e.to_string()))
}

fn lookup(lang: Language, key: &str) -> Option<&'static str> {
    i18n::catalogue(lang).get(key)
}

// ---------------------------------------------------------------------------
// Names of codes, in the customer's language
// ---------------------------------------------------------------------------

/// A staff role's name (`privacy.role.{role}`), or a generic "staff
/// member" for a role without one; never the employee.
pub fn role_name(lang: Language, role: &str) -> String {
    lookup(lang, &format!("privacy.role.{role}"))
        .unwrap_or_else(|| i18n::t(lang, "privacy.role.other"))
        .to_string()
}

/// A purpose's name from the processing register, or a generic label.
pub fn purpose_name(lang: Language, purpose: &str) -> String {
    register()
        .ok()
        .and_then(|r| r.purposes.iter().find(|p| p.id.get_ref() == purpose))
        .map(|p| p.name.get(lang).to_string())
        .unwrap_or_else(|| i18n::t(lang, "privacy.purpose.other").to_string())
}

/// A data category's name from the register, or a generic label.
pub fn category_name(lang: Language, category: &str) -> String {
    register()
        .ok()
        .and_then(|r| {
            r.data_categories
                .iter()
                .find(|c| c.id.get_ref() == category)
        })
        .map(|c| c.name.get(lang).to_string())
        .unwrap_or_else(|| i18n::t(lang, "privacy.category.other").to_string())
}

/// A recipient's name from the register (its id if unknown).
pub fn recipient_name(lang: Language, recipient: &str) -> String {
    register()
        .ok()
        .and_then(|r| r.recipients.iter().find(|x| x.id.get_ref() == recipient))
        .map_or_else(|| recipient.to_string(), |x| x.name.get(lang).to_string())
}

/// A legal basis's name and article from the register (its id if unknown).
pub fn legal_basis_name(lang: Language, basis: &str) -> String {
    register()
        .ok()
        .and_then(|r| r.legal_bases.iter().find(|b| b.id.get_ref() == basis))
        .map_or_else(
            || basis.to_string(),
            |b| format!("{} ({})", b.name.get(lang), b.article),
        )
}

/// What an audit action did, as the customer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    /// Looked at data.
    Read,
    /// Changed data.
    Change,
    /// Handed data to a recipient.
    Disclosure,
}

impl AccessKind {
    /// The kind of an action code: `….read`, `….viewed`, `….opened`,
    /// `….searched`, `….export` and `…_read`/`…_opened` (the back office's
    /// `staff.customer_read`, `staff.customer_file_opened`) read;
    /// `disclosure` discloses; anything else changed something.
    pub fn of(action: &str) -> AccessKind {
        let last = action.rsplit('.').next().unwrap_or(action);
        if action == "disclosure" {
            AccessKind::Disclosure
        } else if matches!(last, "read" | "viewed" | "opened" | "searched" | "export")
            || last.ends_with("_read")
            || last.ends_with("_opened")
            || last.ends_with("_viewed")
        {
            AccessKind::Read
        } else {
            AccessKind::Change
        }
    }

    /// Its name in `lang`.
    pub fn name(self, lang: Language) -> &'static str {
        match self {
            AccessKind::Read => i18n::t(lang, "privacy.access.read"),
            AccessKind::Change => i18n::t(lang, "privacy.access.change"),
            AccessKind::Disclosure => i18n::t(lang, "privacy.access.disclosure"),
        }
    }
}

/// The register's data categories of audit field names (`table.column`),
/// through the column classification; data-category ids (disclosures)
/// stand for themselves; `other` for a name the register does not know.
pub fn field_categories(fields: &str) -> Vec<String> {
    let Ok(register) = register() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for field in fields.split(',').filter(|f| !f.is_empty()) {
        let category = match field.split_once('.') {
            Some((table, column)) => register
                .column(Store::Main, table, column)
                .and_then(|c| c.category.as_ref())
                .map(|c| c.get_ref().clone()),
            None => register
                .data_categories
                .iter()
                .find(|c| c.id.get_ref() == field)
                .map(|c| c.id.get_ref().clone()),
        }
        .unwrap_or_else(|| "other".to_string());
        if !out.contains(&category) {
            out.push(category);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Who accessed my data (PRV-16)
// ---------------------------------------------------------------------------

/// One staff read or change of the customer's data.
#[derive(Debug, Clone)]
pub struct AccessLine {
    /// Local time.
    pub when: String,
    /// The staff member's role.
    pub role: String,
    /// Why, from the register.
    pub purpose: String,
    /// Read or change.
    pub action: &'static str,
    /// The kinds of data, from the register.
    pub data: Vec<String>,
}

/// One disclosure to a recipient.
#[derive(Debug, Clone)]
pub struct DisclosureLine {
    pub when: String,
    pub recipient: String,
    pub categories: Vec<String>,
    pub legal_basis: String,
}

/// The "who accessed my data" part of the page.
#[derive(Debug, Clone)]
pub struct AccessHistory {
    pub lines: Vec<AccessLine>,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    /// The first day the page looks at.
    pub since: String,
    /// Disclosures in the same period, newest first.
    pub disclosures: Vec<DisclosureLine>,
}

fn window_start(app: &App) -> i64 {
    let now = app.clock().now();
    now.checked_sub_months(chrono::Months::new(ACCESS_MONTHS))
        .unwrap_or(now)
        .timestamp()
}

/// Staff reads and changes of the signed-in customer's data in the last
/// [`ACCESS_MONTHS`] months, newest first, [`ACCESS_PAGE_SIZE`] per page,
/// and the disclosures of the same period.
pub async fn access_history(
    app: &App,
    session: &Session,
    lang: Language,
    page: i64,
) -> Result<AccessHistory, AppError> {
    require_active(session)?;
    let subject = session.customer_id;
    let since = window_start(app);
    let total = repo::count_staff_access(app.db(), subject, since).await?;
    let pages = ((total + ACCESS_PAGE_SIZE - 1) / ACCESS_PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let rows = repo::staff_access(
        app.db(),
        subject,
        since,
        ACCESS_PAGE_SIZE,
        (page - 1) * ACCESS_PAGE_SIZE,
    )
    .await?;
    let lines = rows
        .iter()
        .map(|r| AccessLine {
            when: local_time(lang, r.at),
            role: role_name(lang, &r.role),
            purpose: purpose_name(lang, &r.purpose),
            action: AccessKind::of(&r.action).name(lang),
            data: field_categories(&r.fields)
                .iter()
                .map(|c| category_name(lang, c))
                .collect(),
        })
        .collect();
    let disclosures = disclosure::list_for_subject(app, subject)
        .await?
        .iter()
        .filter(|d| d.at >= since)
        .map(|d| DisclosureLine {
            when: local_time(lang, d.at),
            recipient: recipient_name(lang, &d.recipient),
            categories: d
                .categories
                .split(',')
                .filter(|c| !c.is_empty())
                .map(|c| category_name(lang, c))
                .collect(),
            legal_basis: legal_basis_name(lang, &d.legal_basis),
        })
        .collect();
    let since_date = chrono::DateTime::from_timestamp(since, 0)
        .map(|t| local_date(lang, t.date_naive()))
        .unwrap_or_default();
    Ok(AccessHistory {
        lines,
        page,
        pages,
        total,
        since: since_date,
        disclosures,
    })
}

fn require_active(session: &Session) -> Result<(), AppError> {
    if session.state == SessionState::Active {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

// ---------------------------------------------------------------------------
// The export's data model: sections of rows of typed cells
// ---------------------------------------------------------------------------

/// One value of the export, typed so that each output writes it its way.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    /// Unix seconds: RFC 3339 (UTC) in JSON and CSV, local time in reports.
    Time(i64),
    /// An ISO date.
    Date(String),
    /// Euro cents: an integer in JSON and CSV, formatted in reports.
    Money(i64),
    /// Basis points: an integer in JSON and CSV, a percentage in reports.
    Rate(i64),
    /// A code: as is in JSON and CSV, named in reports where a name exists.
    Code(String),
    /// Several codes or texts.
    List(Vec<String>),
}

impl Cell {
    fn text(v: impl Into<String>) -> Cell {
        Cell::Text(v.into())
    }
    fn opt_text(v: Option<String>) -> Cell {
        v.map_or(Cell::Null, Cell::Text)
    }
    fn opt_int(v: Option<i64>) -> Cell {
        v.map_or(Cell::Null, Cell::Int)
    }
    fn opt_time(v: Option<i64>) -> Cell {
        v.map_or(Cell::Null, Cell::Time)
    }
    fn opt_date(v: Option<String>) -> Cell {
        v.map_or(Cell::Null, Cell::Date)
    }
    fn opt_money(v: Option<i64>) -> Cell {
        v.map_or(Cell::Null, Cell::Money)
    }
    fn code(v: impl Into<String>) -> Cell {
        Cell::Code(v.into())
    }
    fn opt_code(v: Option<String>) -> Cell {
        v.map_or(Cell::Null, Cell::Code)
    }

    fn json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Int(v) | Cell::Money(v) | Cell::Rate(v) => Value::from(*v),
            Cell::Text(v) | Cell::Date(v) | Cell::Code(v) => Value::from(v.clone()),
            Cell::Bool(v) => Value::from(*v),
            Cell::Time(v) => Value::from(rfc3339(*v)),
            Cell::List(v) => Value::from(v.clone()),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(v) | Cell::Money(v) | Cell::Rate(v) => v.to_string(),
            Cell::Text(v) | Cell::Date(v) | Cell::Code(v) => v.clone(),
            Cell::Bool(v) => v.to_string(),
            Cell::Time(v) => rfc3339(*v),
            Cell::List(v) => v.join("; "),
        }
    }

    /// Whether the CSV cell is a number (left as it is) rather than text
    /// (guarded against formula injection).
    fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Money(_) | Cell::Rate(_))
    }

    fn human(&self, lang: Language, section: &str, column: &str) -> String {
        match self {
            Cell::Null => "–".to_string(),
            Cell::Int(v) => v.to_string(),
            Cell::Text(v) => v.clone(),
            Cell::Bool(true) => i18n::t(lang, "privacy.yes").to_string(),
            Cell::Bool(false) => i18n::t(lang, "privacy.no").to_string(),
            Cell::Time(v) => local_time(lang, *v),
            Cell::Date(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| local_date(lang, d))
                .unwrap_or_else(|_| v.clone()),
            Cell::Money(v) => Money::from_cents(*v).format(lang),
            Cell::Rate(bp) => {
                let text = format!("{}.{:02} %", bp / 100, bp % 100);
                if lang == Language::En {
                    text
                } else {
                    text.replace('.', ",")
                }
            }
            Cell::Code(v) => code_name(lang, section, column, v),
            Cell::List(v) => v
                .iter()
                .map(|item| code_name(lang, section, column, item))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// A code's name in reports: `privacy.value.{section}.{column}.{code}`,
/// the portal's contract vocabulary, or the code itself.
fn code_name(lang: Language, section: &str, column: &str, code: &str) -> String {
    let own = format!("privacy.value.{section}.{column}.{code}");
    if let Some(text) = lookup(lang, &own) {
        return text.to_string();
    }
    match (section, column) {
        ("disclosures", "categories") => return category_name(lang, code),
        ("disclosures", "legal_basis") => return legal_basis_name(lang, code),
        _ => {}
    }
    let shared = match column {
        "contract_type" => format!("contract.type.{code}"),
        "status" if section == "contracts" => format!("contract.status.{code}"),
        "your_role" | "parties" => format!("privacy.value.role.{code}"),
        _ => String::new(),
    };
    lookup(lang, &shared).map_or_else(|| code.to_string(), str::to_string)
}

/// One kind of record: a top-level key of `data.json`, a CSV file, a part
/// of the reports.
#[derive(Debug, Clone)]
struct Section {
    /// JSON key and CSV file name (`{key}.csv`).
    key: &'static str,
    /// One object (`customer`, `portal_account`) rather than a list.
    single: bool,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

impl Section {
    fn new(key: &'static str, columns: &'static [&'static str]) -> Section {
        Section {
            key,
            single: false,
            columns,
            rows: Vec::new(),
        }
    }

    fn single(key: &'static str, columns: &'static [&'static str]) -> Section {
        Section {
            single: true,
            ..Section::new(key, columns)
        }
    }

    fn push(&mut self, row: Vec<Cell>) -> Result<(), AppError> {
        if row.len() != self.columns.len() {
            return Err(AppError::Config(format!(
                "export section {} has {} columns, a row {}",
                self.key,
                self.columns.len(),
                row.len()
            )));
        }
        self.rows.push(row);
        Ok(())
    }

    fn object(&self, row: &[Cell]) -> Value {
        let mut map = Map::new();
        for (column, cell) in self.columns.iter().zip(row) {
            map.insert((*column).to_string(), cell.json());
        }
        Value::Object(map)
    }

    fn json(&self) -> Value {
        if self.single {
            self.rows.first().map_or(Value::Null, |r| self.object(r))
        } else {
            Value::Array(self.rows.iter().map(|r| self.object(r)).collect())
        }
    }

    /// RFC 4180 (CRLF line ends), a header row, text cells guarded against
    /// formula injection.
    fn csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| privacy::csv_cell(c)).collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| {
                    let text = cell.csv();
                    if cell.is_number() {
                        text
                    } else {
                        privacy::csv_cell(&text)
                    }
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// Columns left out of the human-readable reports (still in JSON and CSV):
/// internal ids (a record's own id; the entity, brand and dealer, which
/// the reports name; a settlement report's id), the audit sequence and
/// request ids, the HTML copy of e-mails (the text copy is shown) and the
/// register id of a recipient (its name is shown).
const NOT_IN_REPORTS: &[(&str, &str)] = &[
    ("*", "id"),
    ("*", "entity_id"),
    ("*", "brand_id"),
    ("*", "dealer_id"),
    ("*", "seq"),
    ("*", "actor_id"),
    ("*", "request_id"),
    ("messages", "body_html"),
    ("disclosures", "recipient"),
    ("settlement_lines", "report_id"),
];

/// Own ids the reports do show: a payment's id is the reference sent to
/// the payment provider (the `merchant_reference` of its notifications and
/// settlement lines), and the other payment sections point to it; a
/// request's id is the reference its e-mails name, and its events and
/// notes point to it.
const IDS_IN_REPORTS: &[&str] = &["payments", "requests"];

fn in_reports(section: &str, column: &str) -> bool {
    if column == "id" && IDS_IN_REPORTS.contains(&section) {
        return true;
    }
    if column == "request_id" && matches!(section, "request_events" | "request_notes") {
        return true;
    }
    !NOT_IN_REPORTS
        .iter()
        .any(|(s, c)| (*s == "*" || *s == section) && *c == column)
}

/// The reports show the record a link column points to by what people
/// know it by: a contract by its number, an invoice by its number, a
/// vehicle by its plate; a payment's own id under the same label as the
/// `payment_id` that points to it.
fn report_label(section: &str, column: &str) -> String {
    let shown = match (section, column) {
        ("payments", "id") => "payment_id",
        ("requests", "id") => "request_id",
        (_, "contract_id") => "contract_number",
        (_, "invoice_id") => "invoice_number",
        (_, "vehicle_id") => "licence_plate",
        (_, other) => other,
    };
    format!("privacy.col.{shown}")
}

/// (kind, id) → the number or plate the reports show.
fn references(sections: &[Section]) -> HashMap<(&'static str, i64), String> {
    let mut out = HashMap::new();
    for (section, kind, column) in [
        ("contracts", "contract_id", "contract_number"),
        ("invoices", "invoice_id", "invoice_number"),
        ("vehicles", "vehicle_id", "licence_plate"),
    ] {
        let Some(s) = sections.iter().find(|s| s.key == section) else {
            continue;
        };
        let id_at = s.columns.iter().position(|c| *c == "id");
        let shown_at = s.columns.iter().position(|c| *c == column);
        let (Some(id_at), Some(shown_at)) = (id_at, shown_at) else {
            continue;
        };
        for row in &s.rows {
            if let (Cell::Int(id), Cell::Text(shown)) = (&row[id_at], &row[shown_at]) {
                out.insert((kind, *id), shown.clone());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Gathering the customer's data
// ---------------------------------------------------------------------------

const CUSTOMER: &[&str] = &[
    "id",
    "customer_number",
    "kind",
    "entity_id",
    "language",
    "country",
    "initials",
    "given_names",
    "name_prefix",
    "surname",
    "date_of_birth",
    "company_name",
    "company_number",
    "street",
    "house_number",
    "postcode",
    "city",
    "email",
    "phone",
    "iban",
    "created_at",
    "updated_at",
];
const CONTRACTS: &[&str] = &[
    "id",
    "contract_number",
    "contract_type",
    "status",
    "your_role",
    "activated",
    "activated_at",
    "parties",
    "entity_id",
    "brand_id",
    "brand",
    "dealer_id",
    "dealer",
    "vehicle_id",
    "current_version",
    "ended_on",
    "closed_on",
    "created_at",
    "updated_at",
];
const VERSIONS: &[&str] = &[
    "contract_id",
    "version",
    "valid_from",
    "start_date",
    "end_date",
    "term_months",
    "financed_amount_cents",
    "down_payment_cents",
    "balloon_cents",
    "nominal_rate_bp",
    "apr_bp",
    "monthly_instalment_cents",
    "km_per_year",
    "excess_km_price_cents",
    "change_reason",
    "created_at",
];
const VEHICLES: &[&str] = &[
    "id",
    "entity_id",
    "make",
    "model",
    "fuel",
    "plate_country",
    "licence_plate",
    "vin",
    "first_registration",
    "created_at",
];
const ODOMETER: &[&str] = &[
    "id",
    "vehicle_id",
    "reading_date",
    "kilometres",
    "source",
    "created_at",
];
const INVOICES: &[&str] = &[
    "id",
    "contract_id",
    "entity_id",
    "invoice_number",
    "kind",
    "period",
    "issue_date",
    "due_date",
    "amount_cents",
    "paid_cents",
    "status",
    "payment_reference",
    "created_at",
    "updated_at",
];
const LEDGER: &[&str] = &[
    "id",
    "contract_id",
    "invoice_id",
    "entry_date",
    "kind",
    "amount_cents",
    "created_at",
];
const PAYMENTS: &[&str] = &[
    "id",
    "entity_id",
    "created_at",
    "amount_cents",
    "currency",
    "status",
    "language",
    "payment_method",
    "psp_reference",
    "session_id",
    "session_url",
    "session_expires_at",
    "provider_error",
    "authorised_cents",
    "authorised_at",
    "refusal_reason",
    "book_on",
    "booked_at",
    "ended_at",
    "updated_at",
];
const PAYMENT_INVOICES: &[&str] = &[
    "payment_id",
    "invoice_id",
    "requested_cents",
    "booked_cents",
];
const NOTIFICATIONS: &[&str] = &[
    "id",
    "payment_id",
    "event_code",
    "success",
    "event_date",
    "psp_reference",
    "original_reference",
    "merchant_reference",
    "merchant_account",
    "amount_cents",
    "currency",
    "payment_method",
    "reason",
    "live",
    "received_at",
    "claimed_until",
    "attempts",
    "processed_at",
    "outcome",
    "needs_review",
];
const SETTLEMENT_LINES: &[&str] = &[
    "id",
    "report_id",
    "line_no",
    "booked_at",
    "record_type",
    "psp_reference",
    "merchant_reference",
    "modification_reference",
    "merchant_account",
    "payment_method",
    "gross_currency",
    "gross_debit_cents",
    "gross_credit_cents",
    "net_currency",
    "net_debit_cents",
    "net_credit_cents",
    "commission_cents",
    "batch_number",
];
const ACCOUNT: &[&str] = &[
    "id",
    "entity_id",
    "email",
    "status",
    "language",
    "terms_version",
    "email_verified_at",
    "second_factor",
    "totp_last_step",
    "frozen_at",
    "last_login_at",
    "closure_notice_at",
    "created_at",
    "updated_at",
];
const ACTIVATIONS: &[&str] = &["contract_id", "activated_at"];
const SESSIONS: &[&str] = &[
    "id",
    "state",
    "device",
    "network",
    "created_at",
    "last_seen_at",
    "expires_at",
];
const CODES: &[&str] = &[
    "id",
    "purpose",
    "contract_id",
    "state",
    "attempts",
    "created_at",
    "expires_at",
];
const LINKS: &[&str] = &["kind", "new_email", "created_at", "expires_at", "used_at"];
const RECOVERY: &[&str] = &["created_at", "used_at"];
const THROTTLE: &[&str] = &[
    "scope",
    "failures",
    "window_start",
    "last_failure_at",
    "locked_until",
];
const ACCEPTANCES: &[&str] = &["id", "entity_id", "version", "context", "accepted_at"];
const MESSAGES: &[&str] = &[
    "id",
    "channel",
    "entity_id",
    "kind",
    "recipient",
    "from_name",
    "subject",
    "body_text",
    "body_html",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "lease_until",
    "sent_at",
];
const DOCUMENTS: &[&str] = &[
    "id",
    "reference",
    "kind",
    "period",
    "language",
    "contract_id",
    "invoice_id",
    "sha256",
    "generated_at",
];
const AUDIT: &[&str] = &[
    "seq",
    "at",
    "actor",
    "actor_id",
    "role",
    "action",
    "access",
    "purpose",
    "fields",
    "data_categories",
];
const DISCLOSURES: &[&str] = &[
    "id",
    "at",
    "recipient",
    "recipient_name",
    "categories",
    "legal_basis",
    "consent_ref",
    "reason",
    "request_id",
];
const REQUESTS: &[&str] = &[
    "id",
    "kind",
    "status",
    "priority",
    "contract_id",
    "subject_ref",
    "sla_minutes",
    "due_at",
    "created_at",
    "updated_at",
    "closed_at",
];
const REQUEST_EVENTS: &[&str] = &[
    "id",
    "request_id",
    "event",
    "status",
    "visible_to_customer",
    "created_at",
];
const REQUEST_NOTES: &[&str] = &["id", "request_id", "body", "created_at"];
const FILE_ACCESSES: &[&str] = &[
    "id",
    "purpose",
    "reference",
    "note",
    "opened_at",
    "expires_at",
];
const WITHHELD: &[&str] = &["item", "exists", "set_at", "reason"];

/// Everything gathered for one export.
struct Gathered {
    sections: Vec<Section>,
    customer_name: String,
    /// The customer's legal entity (controller), if found.
    entity: Option<EntityRow>,
    /// Contract numbers whose details wait for activation.
    restricted: Vec<String>,
}

fn key_of(state: KeyState) -> Result<Option<Box<SubjectKey>>, AppError> {
    match state {
        KeyState::Live(key) => Ok(Some(key)),
        KeyState::Shredded(_) => Ok(None),
        KeyState::Missing => Err(AppError::Store(StoreError::Crypto(
            "a subject key is missing".into(),
        ))),
    }
}

fn open(
    key: Option<&SubjectKey>,
    table: &'static str,
    column: &'static str,
    row: i64,
    sealed: Option<&[u8]>,
) -> Result<Cell, AppError> {
    match (key, sealed) {
        (Some(key), Some(sealed)) => Ok(Cell::Text(
            key.open(FieldRef { table, column, row }, sealed)?,
        )),
        _ => Ok(Cell::Null),
    }
}

/// The latest time of one of the customer's audit actions.
fn latest(records: &[repo::AuditRecord], actions: &[&str]) -> Option<i64> {
    records
        .iter()
        .filter(|r| r.actor_kind == "customer" && actions.contains(&r.action.as_str()))
        .map(|r| r.at)
        .max()
}

async fn gather(app: &App, customer_id: i64, lang: Language) -> Result<Gathered, AppError> {
    let db = app.db();
    let record: CustomerRecord = customers::get(db, app.keys(), customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Personal::Known(personal) = record.personal.clone() else {
        return Err(AppError::NotFound);
    };
    let own_key = key_of(app.keys().get(customer_id).await?)?.ok_or(AppError::NotFound)?;
    let account = repo::account(db, customer_id).await?;
    let account_id = account.as_ref().map(|a| a.id);
    let mut sections = Vec::new();

    // The customer.
    let mut customer = Section::single("customer", CUSTOMER);
    customer.push(vec![
        Cell::Int(record.id),
        Cell::text(&record.customer_number),
        Cell::code(&record.kind),
        Cell::Int(record.entity_id),
        Cell::code(&record.language),
        Cell::code(&record.country),
        Cell::opt_text(personal.initials.clone()),
        Cell::opt_text(personal.given_names.clone()),
        Cell::opt_text(personal.name_prefix.clone()),
        Cell::opt_text(personal.surname.clone()),
        Cell::opt_date(personal.date_of_birth.clone()),
        Cell::opt_text(personal.company_name.clone()),
        Cell::opt_text(personal.company_number.clone()),
        Cell::text(&personal.street),
        Cell::text(&personal.house_number),
        Cell::text(&personal.postcode),
        Cell::text(&personal.city),
        Cell::opt_text(personal.email.clone()),
        Cell::opt_text(personal.phone.clone()),
        Cell::opt_text(personal.iban.clone()),
        Cell::Time(record.created_at),
        Cell::Time(record.updated_at),
    ])?;
    sections.push(customer);

    // Contracts: full details only once activated (ACC-03).
    let all = repo::contracts(db, customer_id, account_id).await?;
    let open_ids: Vec<i64> = all
        .iter()
        .filter(|c| c.activated_at.is_some())
        .map(|c| c.id)
        .collect();
    let roles = repo::party_roles(db, &open_ids).await?;
    let mut contracts = Section::new("contracts", CONTRACTS);
    let mut restricted = Vec::new();
    for c in &all {
        let base = vec![
            Cell::Int(c.id),
            Cell::text(&c.contract_number),
            Cell::code(&c.contract_type),
            Cell::code(&c.status),
            Cell::code(&c.role),
            Cell::Bool(c.activated_at.is_some()),
            Cell::opt_time(c.activated_at),
        ];
        let rest = if c.activated_at.is_some() {
            vec![
                Cell::List(
                    roles
                        .iter()
                        .filter(|(id, _)| *id == c.id)
                        .map(|(_, role)| role.clone())
                        .collect(),
                ),
                Cell::Int(c.entity_id),
                Cell::Int(c.brand_id),
                Cell::text(&c.brand_name),
                Cell::opt_int(c.dealer_id),
                Cell::opt_text(c.dealer_name.clone()),
                Cell::Int(c.vehicle_id),
                Cell::Int(c.current_version),
                Cell::opt_date(c.ended_on.clone()),
                Cell::opt_date(c.closed_on.clone()),
                Cell::Time(c.created_at),
                Cell::Time(c.updated_at),
            ]
        } else {
            restricted.push(c.contract_number.clone());
            vec![Cell::Null; CONTRACTS.len() - base.len()]
        };
        contracts.push([base, rest].concat())?;
    }
    sections.push(contracts);

    let mut versions = Section::new("contract_versions", VERSIONS);
    for v in repo::versions(db, &open_ids).await? {
        versions.push(vec![
            Cell::Int(v.contract_id),
            Cell::Int(v.version),
            Cell::Date(v.valid_from),
            Cell::Date(v.start_date),
            Cell::Date(v.end_date),
            Cell::Int(v.term_months),
            Cell::Money(v.financed_amount_cents),
            Cell::Money(v.down_payment_cents),
            Cell::Money(v.balloon_cents),
            Cell::Rate(v.nominal_rate_bp),
            Cell::Rate(v.apr_bp),
            Cell::Money(v.monthly_instalment_cents),
            Cell::opt_int(v.km_per_year),
            Cell::opt_money(v.excess_km_price_cents),
            Cell::code(v.change_reason),
            Cell::Time(v.created_at),
        ])?;
    }
    sections.push(versions);

    // Vehicles of activated contracts, and any registered to the customer
    // without a contract. Plate and VIN are sealed under the holder's key.
    let mut vehicle_ids: Vec<i64> = all
        .iter()
        .filter(|c| c.activated_at.is_some())
        .map(|c| c.vehicle_id)
        .collect();
    vehicle_ids.extend(repo::vehicles_without_contract(db, customer_id).await?);
    vehicle_ids.sort_unstable();
    vehicle_ids.dedup();
    let mut keys: HashMap<i64, Option<Box<SubjectKey>>> = HashMap::new();
    keys.insert(customer_id, Some(own_key.clone()));
    let mut vehicles = Section::new("vehicles", VEHICLES);
    for v in repo::vehicles(db, &vehicle_ids).await? {
        if let std::collections::hash_map::Entry::Vacant(entry) = keys.entry(v.subject_id) {
            entry.insert(key_of(app.keys().get(v.subject_id).await?)?);
        }
        let key = keys.get(&v.subject_id).and_then(|k| k.as_deref());
        vehicles.push(vec![
            Cell::Int(v.id),
            Cell::Int(v.entity_id),
            Cell::text(v.make),
            Cell::text(v.model),
            Cell::code(v.fuel),
            Cell::code(v.plate_country),
            open(
                key,
                "vehicles",
                "licence_plate",
                v.id,
                Some(&v.licence_plate),
            )?,
            open(key, "vehicles", "vin", v.id, Some(&v.vin))?,
            Cell::Date(v.first_registration),
            Cell::Time(v.created_at),
        ])?;
    }
    sections.push(vehicles);

    let mut odometer = Section::new("odometer_readings", ODOMETER);
    for r in repo::odometer_readings(db, &vehicle_ids).await? {
        odometer.push(vec![
            Cell::Int(r.id),
            Cell::Int(r.vehicle_id),
            Cell::Date(r.reading_date),
            Cell::Int(r.kilometres),
            Cell::code(r.source),
            Cell::Time(r.created_at),
        ])?;
    }
    sections.push(odometer);

    let mut invoices = Section::new("invoices", INVOICES);
    for i in repo::invoices(db, &open_ids).await? {
        invoices.push(vec![
            Cell::Int(i.id),
            Cell::Int(i.contract_id),
            Cell::Int(i.entity_id),
            Cell::text(i.invoice_number),
            Cell::code(i.kind),
            Cell::opt_text(i.period),
            Cell::Date(i.issue_date),
            Cell::Date(i.due_date),
            Cell::Money(i.amount_cents),
            Cell::Money(i.paid_cents),
            Cell::code(i.status),
            Cell::text(i.payment_reference),
            Cell::Time(i.created_at),
            Cell::Time(i.updated_at),
        ])?;
    }
    sections.push(invoices);

    let mut ledger = Section::new("ledger_entries", LEDGER);
    for e in repo::ledger_entries(db, &open_ids).await? {
        ledger.push(vec![
            Cell::Int(e.id),
            Cell::Int(e.contract_id),
            Cell::opt_int(e.invoice_id),
            Cell::Date(e.entry_date),
            Cell::code(e.kind),
            Cell::Money(e.amount_cents),
            Cell::Time(e.created_at),
        ])?;
    }
    sections.push(ledger);

    // Online payments (PAY-01 … PAY-06), whatever contract their invoices
    // belong to: the customer made them in the portal. With the invoices
    // each pays, the provider's notifications about them and the lines of
    // its settlement reports that name them (by our reference, the
    // payment's id, or by the provider's).
    let payment_rows = repo::payments(db, customer_id).await?;
    let payment_ids: Vec<i64> = payment_rows.iter().map(|p| p.id).collect();
    let psp_references: Vec<String> = payment_rows
        .iter()
        .filter_map(|p| p.psp_reference.clone())
        .collect();
    let mut payments = Section::new("payments", PAYMENTS);
    for p in payment_rows {
        payments.push(vec![
            Cell::Int(p.id),
            Cell::Int(p.entity_id),
            Cell::Time(p.created_at),
            Cell::Money(p.amount_cents),
            Cell::code(p.currency),
            Cell::code(p.status),
            Cell::code(p.language),
            Cell::opt_code(p.payment_method),
            Cell::opt_text(p.psp_reference),
            Cell::opt_text(p.session_id),
            Cell::opt_text(p.session_url),
            Cell::opt_time(p.session_expires_at),
            Cell::opt_text(p.provider_error),
            Cell::opt_money(p.authorised_cents),
            Cell::opt_time(p.authorised_at),
            Cell::opt_text(p.refusal_reason),
            Cell::opt_date(p.book_on),
            Cell::opt_time(p.booked_at),
            Cell::opt_time(p.ended_at),
            Cell::Time(p.updated_at),
        ])?;
    }
    sections.push(payments);

    let mut paid_invoices = Section::new("payment_invoices", PAYMENT_INVOICES);
    for i in repo::payment_invoices(db, &payment_ids).await? {
        paid_invoices.push(vec![
            Cell::Int(i.payment_id),
            Cell::Int(i.invoice_id),
            Cell::Money(i.requested_cents),
            Cell::Money(i.booked_cents),
        ])?;
    }
    sections.push(paid_invoices);

    let mut notifications = Section::new("payment_notifications", NOTIFICATIONS);
    for n in repo::payment_notifications(db, &payment_ids).await? {
        notifications.push(vec![
            Cell::Int(n.id),
            Cell::opt_int(n.payment_id),
            Cell::code(n.event_code),
            Cell::Bool(n.success),
            Cell::text(n.event_date),
            Cell::text(n.psp_reference),
            Cell::text(n.original_reference),
            Cell::text(n.merchant_reference),
            Cell::text(n.merchant_account),
            Cell::opt_money(n.amount_value),
            Cell::code(n.currency),
            Cell::code(n.payment_method),
            Cell::text(n.reason),
            Cell::Bool(n.live),
            Cell::Time(n.received_at),
            Cell::opt_time(n.claimed_until),
            Cell::Int(n.attempts),
            Cell::opt_time(n.processed_at),
            Cell::opt_code(n.outcome),
            Cell::Bool(n.needs_review),
        ])?;
    }
    sections.push(notifications);

    let mut settlement = Section::new("settlement_lines", SETTLEMENT_LINES);
    for l in repo::settlement_lines(db, &payment_ids, &psp_references).await? {
        settlement.push(vec![
            Cell::Int(l.id),
            Cell::Int(l.report_id),
            Cell::Int(l.line_no),
            Cell::text(l.booked_at),
            Cell::code(l.record_type),
            Cell::text(l.psp_reference),
            Cell::text(l.merchant_reference),
            Cell::text(l.modification_reference),
            Cell::text(l.merchant_account),
            Cell::code(l.payment_method),
            Cell::code(l.gross_currency),
            Cell::Money(l.gross_debit_cents),
            Cell::Money(l.gross_credit_cents),
            Cell::code(l.net_currency),
            Cell::Money(l.net_debit_cents),
            Cell::Money(l.net_credit_cents),
            Cell::Money(l.commission_cents),
            Cell::text(l.batch_number),
        ])?;
    }
    sections.push(settlement);

    // The portal account and what hangs off it; secrets only as "exists".
    let audit_records = repo::audit_records(db, customer_id).await?;
    let mut portal_account = Section::single("portal_account", ACCOUNT);
    let mut activations = Section::new("contract_activations", ACTIVATIONS);
    let mut sessions = Section::new("sessions", SESSIONS);
    let mut codes = Section::new("one_time_codes", CODES);
    let mut links = Section::new("email_links", LINKS);
    let mut recovery = Section::new("recovery_codes", RECOVERY);
    let mut throttling = Section::new("sign_in_throttling", THROTTLE);
    let mut withheld = Section::new("withheld", WITHHELD);
    let key = Some(own_key.as_ref());
    let withheld_row = |item: &str, exists: bool, set_at: Option<i64>| -> Vec<Cell> {
        vec![
            Cell::code(item),
            Cell::Bool(exists),
            Cell::opt_time(set_at),
            Cell::text(i18n::t(lang, &format!("privacy.withheld.{item}"))),
        ]
    };
    if let Some(a) = &account {
        let email = open(key, "accounts", "email", a.id, Some(&a.email))?;
        portal_account.push(vec![
            Cell::Int(a.id),
            Cell::Int(a.entity_id),
            email.clone(),
            Cell::code(&a.status),
            Cell::code(&a.language),
            Cell::text(&a.terms_version),
            Cell::opt_time(a.email_verified_at),
            Cell::code(&a.second_factor),
            Cell::opt_int(a.totp_last_step),
            Cell::opt_time(a.frozen_at),
            Cell::opt_time(a.last_login_at),
            Cell::opt_time(a.closure_notice_at),
            Cell::Time(a.created_at),
            Cell::Time(a.updated_at),
        ])?;
        for (contract_id, at) in repo::activations(db, a.id).await? {
            activations.push(vec![Cell::Int(contract_id), Cell::Time(at)])?;
        }
        for s in carfin_store::repo::identity::sessions_of(db, a.id).await? {
            sessions.push(vec![
                Cell::Int(s.id),
                Cell::code(s.state),
                open(key, "sessions", "device", s.id, Some(&s.device))?,
                open(key, "sessions", "network", s.id, Some(&s.network))?,
                Cell::Time(s.created_at),
                Cell::Time(s.last_seen_at),
                Cell::Time(s.expires_at),
            ])?;
        }
        for c in repo::one_time_codes(db, a.id).await? {
            codes.push(vec![
                Cell::Int(c.id),
                Cell::code(c.purpose),
                Cell::opt_int(c.contract_id),
                Cell::code(c.state),
                Cell::Int(c.attempts),
                Cell::Time(c.created_at),
                Cell::Time(c.expires_at),
            ])?;
        }
        for l in repo::links(db, a.id).await? {
            links.push(vec![
                Cell::code(l.kind),
                open(
                    key,
                    "account_tokens",
                    "new_email",
                    l.account_id,
                    l.new_email.as_deref(),
                )?,
                Cell::Time(l.created_at),
                Cell::Time(l.expires_at),
                Cell::opt_time(l.used_at),
            ])?;
        }
        let recovery_rows = repo::recovery_codes(db, a.id).await?;
        for (created, used) in &recovery_rows {
            recovery.push(vec![Cell::Time(*created), Cell::opt_time(*used)])?;
        }
        // Failed sign-in attempts under the account's e-mail and id.
        let mut throttle_keys = vec![(
            throttle::SECOND_FACTOR,
            secret_hash(app, "throttle.second_factor", &a.id.to_string()),
        )];
        if let Cell::Text(address) = &email {
            throttle_keys.push((
                throttle::ACCOUNT,
                throttle::account_key(app, &address.to_lowercase()),
            ));
        }
        for t in repo::throttles(db, &throttle_keys).await? {
            throttling.push(vec![
                Cell::code(t.scope),
                Cell::Int(t.failures),
                Cell::Time(t.window_start),
                Cell::Time(t.last_failure_at),
                Cell::opt_time(t.locked_until),
            ])?;
        }
        withheld.push(withheld_row(
            "password_hash",
            a.has_password,
            latest(
                &audit_records,
                &[
                    "account.registered",
                    "account.password_changed",
                    "account.password_reset",
                ],
            )
            .or(Some(a.created_at)),
        ))?;
        withheld.push(withheld_row(
            "totp_secret",
            a.has_totp_secret,
            if a.has_totp_secret {
                latest(&audit_records, &["account.two_factor_on"])
            } else {
                None
            },
        ))?;
        withheld.push(withheld_row(
            "recovery_code_hashes",
            !recovery_rows.is_empty(),
            recovery_rows.iter().map(|(c, _)| *c).max(),
        ))?;
        withheld.push(withheld_row("secret_hashes", true, None))?;
    }
    withheld.push(withheld_row("blind_indexes", true, None))?;
    withheld.push(withheld_row("subject_key", true, None))?;
    sections.push(portal_account);
    sections.push(activations);
    sections.push(sessions);
    sections.push(codes);
    sections.push(links);
    sections.push(recovery);
    sections.push(throttling);

    let mut acceptances = Section::new("terms_acceptances", ACCEPTANCES);
    for a in repo::acceptances(db, customer_id).await? {
        acceptances.push(vec![
            Cell::Int(a.id),
            Cell::Int(a.entity_id),
            Cell::text(a.version),
            Cell::code(a.context),
            Cell::Time(a.accepted_at),
        ])?;
    }
    sections.push(acceptances);

    // Messages sent to the customer, opened, as they were sent.
    let mut messages = Section::new("messages", MESSAGES);
    for m in outbox_repo::for_subject(db, app.keys(), customer_id).await? {
        let (recipient, from_name, subject, text, html) = match m.content {
            Personal::Known(c) => (
                Cell::Text(c.recipient),
                Cell::opt_text(c.from_name),
                Cell::opt_text(c.subject),
                Cell::Text(c.text),
                Cell::opt_text(c.html),
            ),
            Personal::Erased => (Cell::Null, Cell::Null, Cell::Null, Cell::Null, Cell::Null),
        };
        messages.push(vec![
            Cell::Int(m.id),
            Cell::code(m.channel),
            Cell::Int(m.entity_id),
            Cell::code(m.kind),
            recipient,
            from_name,
            subject,
            text,
            html,
            Cell::code(m.status),
            Cell::Int(m.attempts),
            Cell::Time(m.created_at),
            Cell::Time(m.next_attempt_at),
            Cell::opt_time(m.lease_until),
            Cell::opt_time(m.sent_at),
        ])?;
    }
    sections.push(messages);

    let mut documents = Section::new("documents", DOCUMENTS);
    for d in repo::documents(db, customer_id).await? {
        documents.push(vec![
            Cell::Int(d.id),
            Cell::text(d.reference),
            Cell::code(d.kind),
            Cell::opt_text(d.period),
            Cell::code(d.language),
            Cell::opt_int(d.contract_id),
            Cell::opt_int(d.invoice_id),
            Cell::Text(hex::encode(d.sha256)),
            Cell::Time(d.generated_at),
        ])?;
    }
    sections.push(documents);

    // The audit log about the customer; a staff member appears by role.
    let mut access = Section::new("access_log", AUDIT);
    for r in &audit_records {
        let actor = match r.actor_kind.as_str() {
            "customer" if r.own_actor_id.is_some() => "you",
            "staff" => "staff",
            "system" => "system",
            _ => "other",
        };
        let role = if r.actor_kind == "staff" {
            role_name(lang, &r.role)
        } else {
            i18n::t(lang, &format!("privacy.actor.{actor}")).to_string()
        };
        let fields: Vec<String> = r
            .fields
            .split(',')
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect();
        access.push(vec![
            Cell::Int(r.seq),
            Cell::Time(r.at),
            Cell::code(actor),
            Cell::opt_int(r.own_actor_id),
            Cell::Text(role),
            Cell::code(&r.action),
            Cell::code(match AccessKind::of(&r.action) {
                AccessKind::Read => "read",
                AccessKind::Change => "change",
                AccessKind::Disclosure => "disclosure",
            }),
            Cell::Text(purpose_name(lang, &r.purpose)),
            Cell::List(fields),
            Cell::List(
                field_categories(&r.fields)
                    .iter()
                    .map(|c| category_name(lang, c))
                    .collect(),
            ),
        ])?;
    }
    sections.push(access);

    let mut disclosures = Section::new("disclosures", DISCLOSURES);
    for d in disclosure::list_for_subject(app, customer_id).await? {
        disclosures.push(vec![
            Cell::Int(d.id),
            Cell::Time(d.at),
            Cell::code(&d.recipient),
            Cell::Text(recipient_name(lang, &d.recipient)),
            Cell::List(
                d.categories
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            Cell::code(&d.legal_basis),
            Cell::opt_text(d.consent_ref),
            Cell::Text(d.reason),
            Cell::opt_text(d.request_id),
        ])?;
    }
    sections.push(disclosures);

    // Requests about the customer (BOF-02) with their whole timeline and
    // the staff's internal notes (Art. 15: they are about the customer),
    // and every opening of the customer's file by staff with its purpose
    // (BOF-03, PRV-14). Which staff member is the employee's data: left
    // out, as in the access log.
    let mut requests = Section::new("requests", REQUESTS);
    for r in repo::requests(db, customer_id).await? {
        requests.push(vec![
            Cell::Int(r.id),
            Cell::code(r.kind),
            Cell::code(r.status),
            Cell::code(r.priority),
            Cell::opt_int(r.contract_id),
            Cell::opt_text(r.subject_ref),
            Cell::Int(r.sla_minutes),
            Cell::Time(r.due_at),
            Cell::Time(r.created_at),
            Cell::Time(r.updated_at),
            Cell::opt_time(r.closed_at),
        ])?;
    }
    sections.push(requests);
    let mut events = Section::new("request_events", REQUEST_EVENTS);
    for e in repo::request_events(db, customer_id).await? {
        events.push(vec![
            Cell::Int(e.id),
            Cell::Int(e.request_id),
            Cell::code(e.event),
            Cell::opt_code(e.status),
            Cell::Bool(e.visible_to_customer),
            Cell::Time(e.created_at),
        ])?;
    }
    sections.push(events);
    let mut request_notes = Section::new("request_notes", REQUEST_NOTES);
    for n in repo::request_notes(db, customer_id).await? {
        request_notes.push(vec![
            Cell::Int(n.id),
            Cell::Int(n.request_id),
            open(key, "request_notes", "body", n.id, Some(&n.body))?,
            Cell::Time(n.created_at),
        ])?;
    }
    sections.push(request_notes);
    let mut file_accesses = Section::new("file_accesses", FILE_ACCESSES);
    for f in repo::file_accesses(db, customer_id).await? {
        file_accesses.push(vec![
            Cell::Int(f.id),
            Cell::code(f.purpose),
            Cell::text(f.reference),
            open(key, "staff_file_accesses", "note", f.id, f.note.as_deref())?,
            Cell::Time(f.opened_at),
            Cell::Time(f.expires_at),
        ])?;
    }
    sections.push(file_accesses);
    sections.push(withheld);

    let entity = entities::list_entities(db)
        .await?
        .into_iter()
        .find(|e| e.id == record.entity_id);
    Ok(Gathered {
        sections,
        customer_name: personal.display_name(),
        entity,
        restricted,
    })
}

// ---------------------------------------------------------------------------
// The processing register for the customer's controller
// ---------------------------------------------------------------------------

/// The Art. 30 record of the customer's controller, limited to the
/// activities that concern customers.
#[derive(Debug, Clone, Serialize)]
struct Processing {
    controller: ControllerRecord,
    activities: Vec<ActivityRecord>,
}

fn processing(entity: Option<&EntityRow>, lang: Language) -> Result<Option<Processing>, AppError> {
    let Some(entity) = entity else {
        return Ok(None);
    };
    let register = register()?;
    let Ok(record) = register.art30(Some(&entity.slug), lang) else {
        return Ok(None);
    };
    Ok(record.entities.into_iter().next().map(|e| Processing {
        controller: e.entity,
        activities: e
            .activities
            .into_iter()
            .filter(|a| a.data_subjects.iter().any(|s| s.id == "customers"))
            .collect(),
    }))
}

// ---------------------------------------------------------------------------
// The files of the ZIP
// ---------------------------------------------------------------------------

/// What is written into every file's header.
struct Header<'a> {
    reference: &'a str,
    generated_at: i64,
    lang: Language,
}

fn data_json(
    g: &Gathered,
    processing: Option<&Processing>,
    h: &Header<'_>,
) -> Result<String, AppError> {
    let mut root = Map::new();
    root.insert("schema".into(), Value::from(EXPORT_SCHEMA));
    root.insert("version".into(), Value::from(EXPORT_VERSION));
    root.insert("generated_at".into(), Value::from(rfc3339(h.generated_at)));
    root.insert("reference".into(), Value::from(h.reference));
    root.insert("language".into(), Value::from(h.lang.code()));
    let notes: Vec<Value> = notes(g, h.lang).into_iter().map(Value::from).collect();
    root.insert("notes".into(), Value::Array(notes));
    for section in &g.sections {
        root.insert(section.key.to_string(), section.json());
    }
    root.insert(
        "processing".into(),
        serde_json::to_value(processing)
            .map_err(|_| AppError::Config("the export could not be serialised".into()))?,
    );
    serde_json::to_string_pretty(&Value::Object(root))
        .map_err(|_| AppError::Config("the export could not be serialised".into()))
}

fn notes(g: &Gathered, lang: Language) -> Vec<String> {
    let mut notes = Vec::new();
    if !g.restricted.is_empty() {
        notes.push(i18n::tf(
            lang,
            "privacy.report.restricted",
            &[("contracts", &g.restricted.join(", "))],
        ));
    }
    notes.push(i18n::t(lang, "privacy.report.messages_note").to_string());
    notes
}

/// A translator for the report template.
#[derive(Debug, Clone, Copy)]
struct Tr(Language);

impl Tr {
    fn t(&self, key: &str) -> &'static str {
        i18n::t(self.0, key)
    }
}

/// A section as the reports show it.
#[derive(Debug, Clone)]
struct HumanSection {
    key: &'static str,
    title: &'static str,
    /// One record shown as label/value pairs.
    single: bool,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

fn human_sections(g: &Gathered, lang: Language) -> Vec<HumanSection> {
    let refs = references(&g.sections);
    g.sections
        .iter()
        .map(|s| {
            let shown: Vec<usize> = s
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| in_reports(s.key, c))
                .map(|(i, _)| i)
                .collect();
            let value = |column: &'static str, cell: &Cell| -> String {
                match (column, cell) {
                    ("contract_id" | "invoice_id" | "vehicle_id", Cell::Int(id)) => refs
                        .get(&(column, *id))
                        .cloned()
                        .unwrap_or_else(|| cell.human(lang, s.key, column)),
                    _ => cell.human(lang, s.key, column),
                }
            };
            HumanSection {
                key: s.key,
                title: i18n::t(lang, &format!("privacy.section.{}", s.key)),
                single: s.single,
                headers: shown
                    .iter()
                    .map(|i| i18n::t(lang, &report_label(s.key, s.columns[*i])))
                    .collect(),
                rows: s
                    .rows
                    .iter()
                    .map(|row| {
                        shown
                            .iter()
                            .map(|i| value(s.columns[*i], &row[*i]))
                            .collect()
                    })
                    .collect(),
            }
        })
        .collect()
}

/// One activity of the register, in words.
#[derive(Debug, Clone)]
struct HumanActivity {
    name: String,
    purposes: String,
    legal_bases: String,
    categories: String,
    recipients: String,
    transfers: String,
    sources: String,
    retention: String,
}

fn human_activities(p: &Processing, lang: Language) -> Vec<HumanActivity> {
    let none = || i18n::t(lang, "privacy.report.none").to_string();
    let join = |v: Vec<String>| if v.is_empty() { none() } else { v.join("; ") };
    p.activities
        .iter()
        .map(|a| HumanActivity {
            name: a.name.clone(),
            purposes: join(a.purposes.iter().map(|n| n.name.clone()).collect()),
            legal_bases: join(
                a.legal_basis
                    .iter()
                    .map(|b| format!("{} ({})", b.name, b.article))
                    .collect(),
            ),
            categories: join(a.data_categories.iter().map(|c| c.name.clone()).collect()),
            recipients: join(
                a.recipients
                    .iter()
                    .chain(&a.processors)
                    .map(|r| format!("{} ({})", r.name, r.country))
                    .collect(),
            ),
            transfers: join(
                a.transfers
                    .iter()
                    .map(|t| format!("{} ({}): {}", t.recipient.name, t.country, t.safeguard.name))
                    .collect(),
            ),
            sources: join(a.sources.iter().map(|s| s.name.clone()).collect()),
            retention: a.retention.name.clone(),
        })
        .collect()
}

/// The controller's contacts as the reports show them.
#[derive(Debug, Clone, Default)]
struct Contacts {
    controller: String,
    address: String,
    registration: String,
    service: String,
    dpo: String,
    authority: String,
    authority_url: String,
}

fn contacts(g: &Gathered, p: Option<&Processing>) -> Contacts {
    let mut c = Contacts::default();
    if let Some(p) = p {
        c.controller = p.controller.controller.clone();
        c.address = p.controller.address.clone();
        c.dpo = p.controller.dpo.clone();
        c.authority = p.controller.supervisory_authority.clone();
    }
    if let Some(e) = &g.entity {
        if c.controller.is_empty() {
            c.controller = format!("{} {}", e.name, e.legal_form);
            c.address = format!("{}, {} {}", e.street, e.postcode, e.city);
            c.authority = e.supervisory_authority.clone();
        }
        c.registration = e.registration_number.clone();
        c.service = format!("{} · {}", e.service_email, e.service_phone);
        let dpo_direct = format!(
            "{} · {} · {}",
            e.dpo_email, e.dpo_phone, e.dpo_postal_address
        );
        c.dpo = if c.dpo.is_empty() {
            dpo_direct
        } else {
            format!("{} ({})", c.dpo, e.dpo_phone)
        };
        c.authority_url = e.supervisory_authority_url.clone();
    }
    c
}

#[derive(Template)]
#[template(path = "export/report.html")]
struct ReportHtml<'a> {
    tr: Tr,
    lang: &'a str,
    title: String,
    customer_name: &'a str,
    reference: &'a str,
    generated: String,
    notes: Vec<String>,
    sections: Vec<HumanSection>,
    activities: Vec<HumanActivity>,
    contacts: Contacts,
}

fn report_html(
    g: &Gathered,
    p: Option<&Processing>,
    h: &Header<'_>,
    title: &str,
) -> Result<String, AppError> {
    let lang = h.lang;
    ReportHtml {
        tr: Tr(lang),
        lang: lang.code(),
        title: title.to_string(),
        customer_name: &g.customer_name,
        reference: h.reference,
        generated: local_time(lang, h.generated_at),
        notes: notes(g, lang),
        sections: human_sections(g, lang),
        activities: p.map(|p| human_activities(p, lang)).unwrap_or_default(),
        contacts: contacts(g, p),
    }
    .render()
    .map_err(|_| AppError::Config("the export report template failed".into()))
}

fn report_pdf(
    g: &Gathered,
    p: Option<&Processing>,
    h: &Header<'_>,
    title: &str,
) -> Result<Vec<u8>, AppError> {
    pdf::report(g, p, h, title)
}

/// The ZIP's file names, in order.
pub fn file_names() -> Vec<String> {
    let mut names = vec!["data.json".to_string()];
    names.extend(section_keys().iter().map(|k| format!("{k}.csv")));
    names.push("report.html".into());
    names.push("report.pdf".into());
    names
}

fn section_keys() -> &'static [&'static str] {
    &[
        "customer",
        "contracts",
        "contract_versions",
        "vehicles",
        "odometer_readings",
        "invoices",
        "ledger_entries",
        "payments",
        "payment_invoices",
        "payment_notifications",
        "settlement_lines",
        "portal_account",
        "contract_activations",
        "sessions",
        "one_time_codes",
        "email_links",
        "recovery_codes",
        "sign_in_throttling",
        "terms_acceptances",
        "messages",
        "documents",
        "access_log",
        "disclosures",
        "requests",
        "request_events",
        "request_notes",
        "file_accesses",
        "withheld",
    ]
}

fn zip(files: &[(String, Vec<u8>)], generated_at: i64) -> Result<Vec<u8>, AppError> {
    use chrono::{Datelike, Timelike};
    let failed = |_| AppError::Config("the export archive could not be written".into());
    let mut options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    if let Some(t) = chrono::DateTime::from_timestamp(generated_at, 0) {
        let stamp = zip::DateTime::from_date_and_time(
            u16::try_from(t.year()).unwrap_or(1980),
            u8::try_from(t.month()).unwrap_or(1),
            u8::try_from(t.day()).unwrap_or(1),
            u8::try_from(t.hour()).unwrap_or(0),
            u8::try_from(t.minute()).unwrap_or(0),
            u8::try_from(t.second()).unwrap_or(0),
        );
        if let Ok(stamp) = stamp {
            options = options.last_modified_time(stamp);
        }
    }
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        writer.start_file(name.as_str(), options).map_err(failed)?;
        writer
            .write_all(bytes)
            .map_err(|_| AppError::Config("the export archive could not be written".into()))?;
    }
    Ok(writer.finish().map_err(failed)?.into_inner())
}

/// The files of an export ZIP, by name (to check a presented copy, and in
/// tests).
pub fn unpack(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, AppError> {
    use std::io::Read;
    let failed = |_| AppError::Invalid(vec![("file".into(), "privacy.not_an_export".into())]);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(failed)?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(failed)?;
        let name = file.name().map_err(failed)?.to_string();
        let mut content = Vec::new();
        file.read_to_end(&mut content).map_err(|_| {
            AppError::Invalid(vec![("file".into(), "privacy.not_an_export".into())])
        })?;
        out.push((name, content));
    }
    Ok(out)
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A finished export.
#[derive(Debug, Clone)]
pub struct ExportFile {
    /// `carfin-mijn-gegevens-2026-03-02.zip` (localized).
    pub filename: String,
    /// The reference recorded in `issued_documents` and printed in it.
    pub reference: String,
    pub bytes: Vec<u8>,
}

/// Builds the signed-in customer's export in `lang` and records it (audit
/// record and issued document, one transaction).
pub async fn export(
    app: &App,
    session: &Session,
    lang: Language,
    client: &ClientInfo,
) -> Result<ExportFile, AppError> {
    require_active(session)?;
    let customer_id = session.customer_id;
    let now = app.clock().now();
    let generated_at = now.timestamp();
    let id = app.ids().next();
    let reference = format!("EXP-{}-{id:X}", now.format("%Y%m%d"));
    let gathered = gather(app, customer_id, lang).await?;
    let processing = processing(gathered.entity.as_ref(), lang)?;
    let header = Header {
        reference: &reference,
        generated_at,
        lang,
    };
    let title = i18n::t(lang, "privacy.report.title");
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "data.json".into(),
        data_json(&gathered, processing.as_ref(), &header)?.into_bytes(),
    )];
    for section in &gathered.sections {
        files.push((format!("{}.csv", section.key), section.csv().into_bytes()));
    }
    files.push((
        "report.html".into(),
        report_html(&gathered, processing.as_ref(), &header, title)?.into_bytes(),
    ));
    files.push((
        "report.pdf".into(),
        report_pdf(&gathered, processing.as_ref(), &header, title)?,
    ));
    let bytes = zip(&files, generated_at)?;
    let digest = Sha256::digest(&bytes).to_vec();

    let mut tx = app.db().begin_write().await?;
    carfin_store::repo::documents::insert_issued(
        &mut tx,
        &carfin_store::repo::documents::NewIssuedDocument {
            id,
            reference: reference.clone(),
            customer_id,
            contract_id: None,
            invoice_id: None,
            kind: "data_export".into(),
            period: None,
            language: lang.code().into(),
            sha256: digest,
            generated_at,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        app,
        AuditEntry {
            actor_kind: ActorKind::Customer,
            actor_id: Some(customer_id),
            role: "customer".into(),
            action: EXPORT_ACTION.into(),
            subject_id: Some(customer_id),
            purpose: EXPORT_PURPOSE.into(),
            fields: gathered
                .sections
                .iter()
                .map(|s| s.key.to_string())
                .collect(),
            request_id: if client.request_id.is_empty() {
                "none".into()
            } else {
                client.request_id.clone()
            },
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(document_id = id, "data export issued");
    Ok(ExportFile {
        filename: format!(
            "{}-{}.zip",
            i18n::t(lang, "privacy.export.filename"),
            now.format("%Y-%m-%d")
        ),
        reference,
        bytes,
    })
}

// ---------------------------------------------------------------------------
// The PDF report
// ---------------------------------------------------------------------------

mod pdf {
    use super::{contacts, human_activities, human_sections, notes, Gathered, Header, Processing};
    use crate::i18n;
    use crate::messages::local_time;
    use crate::AppError;
    use carfin_pdf::{Align, Column, Document, Footer, Letterhead, Meta};

    /// Sections with at most this many columns are drawn as tables; wider
    /// ones as one block of label/value pairs per record.
    const TABLE_COLUMNS: usize = 7;

    /// The report as PDF (carfin-pdf): the same content as `report.html`.
    pub(super) fn report(
        g: &Gathered,
        p: Option<&Processing>,
        h: &Header<'_>,
        title: &str,
    ) -> Result<Vec<u8>, AppError> {
        let lang = h.lang;
        let t = |key: &str| i18n::t(lang, key);
        let contacts = contacts(g, p);
        let generated = local_time(lang, h.generated_at);
        let mut doc = Document::new(
            Meta {
                title: format!("{title} · {}", g.customer_name),
                author: contacts.controller.clone(),
                subject: title.to_string(),
                language: lang.code().to_string(),
                created_unix: Some(h.generated_at),
            },
            Letterhead {
                brand: "Carfin".into(),
                lines: vec![contacts.controller.clone(), contacts.address.clone()],
            },
            Footer {
                text: format!(
                    "{} {} · {generated}",
                    t("privacy.report.reference"),
                    h.reference
                ),
                page_template: t("privacy.report.page").to_string(),
            },
        );
        doc.title(title);
        doc.fields(&[
            (t("privacy.report.for").into(), g.customer_name.clone()),
            (
                t("privacy.report.controller").into(),
                contacts.controller.clone(),
            ),
            (
                t("privacy.report.reference").into(),
                h.reference.to_string(),
            ),
            (t("privacy.report.generated").into(), generated.clone()),
        ]);
        doc.heading(t("privacy.report.about_heading"));
        doc.paragraph(t("privacy.report.about"));
        doc.paragraph(t("privacy.report.formats"));
        for note in notes(g, lang) {
            doc.note(&note);
        }

        doc.heading(t("privacy.report.data_heading"));
        for s in human_sections(g, lang) {
            doc.heading(s.title);
            if s.rows.is_empty() {
                doc.paragraph(t("privacy.report.no_records"));
            } else if !s.single && s.headers.len() <= TABLE_COLUMNS {
                let width = 1.0 / s.headers.len().max(1) as f32;
                let columns: Vec<Column> = s
                    .headers
                    .iter()
                    .map(|header| Column {
                        header: (*header).to_string(),
                        width,
                        align: Align::Left,
                    })
                    .collect();
                doc.table(&columns, &s.rows, None);
            } else {
                for (i, row) in s.rows.iter().enumerate() {
                    if i > 0 {
                        doc.rule();
                    }
                    let pairs: Vec<(String, String)> = s
                        .headers
                        .iter()
                        .zip(row)
                        .map(|(label, value)| ((*label).to_string(), value.clone()))
                        .collect();
                    doc.fields(&pairs);
                }
            }
        }

        doc.heading(t("privacy.report.processing_heading"));
        doc.paragraph(t("privacy.report.processing_intro"));
        for a in p.map(|p| human_activities(p, lang)).unwrap_or_default() {
            doc.heading(&a.name);
            doc.fields(&[
                (t("privacy.report.purposes").into(), a.purposes),
                (t("privacy.report.legal_bases").into(), a.legal_bases),
                (t("privacy.report.categories").into(), a.categories),
                (t("privacy.report.recipients").into(), a.recipients),
                (t("privacy.report.transfers").into(), a.transfers),
                (t("privacy.report.sources").into(), a.sources),
                (t("privacy.report.retention").into(), a.retention),
            ]);
        }

        doc.heading(t("privacy.report.rights_heading"));
        for right in [
            "privacy.rights.access",
            "privacy.rights.rectification",
            "privacy.rights.erasure",
            "privacy.rights.restriction",
            "privacy.rights.portability",
            "privacy.rights.objection",
            "privacy.rights.consent",
        ] {
            doc.paragraph(&format!("• {}", t(right)));
        }
        doc.paragraph(t("privacy.report.complaint"));
        let mut authority = contacts.authority.clone();
        if !contacts.authority_url.is_empty() {
            authority = format!("{authority} · {}", contacts.authority_url);
        }
        doc.fields(&[(t("privacy.report.authority").into(), authority)]);

        doc.heading(t("privacy.report.contact_heading"));
        doc.fields(&[
            (
                t("privacy.report.controller").into(),
                contacts.controller.clone(),
            ),
            (t("privacy.report.address").into(), contacts.address.clone()),
            (
                t("privacy.report.registration").into(),
                contacts.registration.clone(),
            ),
            (t("privacy.report.dpo").into(), contacts.dpo.clone()),
            (t("privacy.report.service").into(), contacts.service.clone()),
        ]);
        Ok(doc.finish())
    }
}

// ---------------------------------------------------------------------------
// Demo data: who accessed the demo customers' data
// ---------------------------------------------------------------------------

/// One seeded staff action: (staff id, role, action, purpose, fields).
type StaffAction = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// Plausible staff reads and one change, in the order they are recorded.
const DEMO_STAFF: &[StaffAction] = &[
    (
        7101,
        "contract_administration",
        "contract.read",
        "perform_contract",
        &[
            "contracts.status",
            "contract_versions.monthly_instalment_cents",
            "vehicles.licence_plate",
        ],
    ),
    (
        7102,
        "collections",
        "invoices.read",
        "recover_debts",
        &["invoices.amount_cents", "invoices.status", "customers.iban"],
    ),
    (
        7103,
        "customer_service",
        "customer.read",
        "answer_requests",
        &["customers.surname", "customers.phone", "customers.email"],
    ),
    (
        7103,
        "customer_service",
        "customer.update",
        "answer_requests",
        &["customers.phone"],
    ),
    (
        7104,
        "contract_administration",
        "vehicle.read",
        "vehicle_administration",
        &["vehicles.vin", "odometer_readings.kilometres"],
    ),
    (
        7105,
        "privacy_officer",
        "customer.read",
        "answer_requests",
        &[
            "customers.customer_number",
            "customers.street",
            "customers.city",
        ],
    ),
];

/// Staff reads and disclosures for the demo's "who accessed my data": for
/// each customer with a portal account, the reads and the change of
/// [`DEMO_STAFF`] and two disclosures (insurer and dealer of the customer's
/// country, legal basis: the contract), written through [`audit::record`]
/// and [`disclosure::record`]. Those stamp the clock's current time (the
/// audit log takes no other), so the demo shows them as just now.
pub async fn seed_demo_access(app: &App) -> Result<(), AppError> {
    let countries: HashMap<i64, String> = entities::list_entities(app.db())
        .await?
        .into_iter()
        .map(|e| (e.id, e.country))
        .collect();
    for (customer_id, entity_id) in repo::customers_with_account(app.db()).await? {
        let country = countries
            .get(&entity_id)
            .map_or("nl", |c| if c == "BE" { "be" } else { "nl" });
        let mut tx = app.db().begin_write().await?;
        for (staff_id, role, action, purpose, fields) in DEMO_STAFF {
            audit::record(
                &mut tx,
                app,
                AuditEntry {
                    actor_kind: ActorKind::Staff,
                    actor_id: Some(*staff_id),
                    role: (*role).into(),
                    action: (*action).into(),
                    subject_id: Some(customer_id),
                    purpose: (*purpose).into(),
                    fields: fields.iter().map(|f| (*f).to_string()).collect(),
                    request_id: format!("demo-{}", app.ids().next()),
                },
            )
            .await?;
        }
        for (recipient, categories, purpose, reason) in [
            (
                format!("insurer_{country}"),
                vec!["identity", "vehicle_identifiers"],
                "vehicle_administration",
                "insurance of the leased vehicle arranged with the insurer",
            ),
            (
                format!("dealers_{country}"),
                vec!["identity", "contact_details", "vehicle_identifiers"],
                "perform_contract",
                "delivery of the vehicle arranged with the dealer",
            ),
        ] {
            disclosure::record(
                &mut tx,
                app,
                Disclosure {
                    subject_id: customer_id,
                    recipient,
                    categories: categories.iter().map(|c| (*c).to_string()).collect(),
                    legal_basis: "contract".into(),
                    consent_ref: None,
                    reason: reason.into(),
                    purpose: purpose.into(),
                    actor_kind: ActorKind::Staff,
                    actor_id: Some(7101),
                    role: "contract_administration".into(),
                    request_id: Some(format!("demo-{}", app.ids().next())),
                },
            )
            .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // PRV-16: field names map to the register's categories; unknown names
    // and category ids are handled.
    #[test]
    fn fields_map_to_register_categories() {
        assert_eq!(
            field_categories("customers.surname,customers.iban,customers.initials"),
            ["identity", "bank_account"]
        );
        assert_eq!(field_categories("vehicles.vin"), ["vehicle_identifiers"]);
        assert_eq!(
            field_categories("identity,contact_details"),
            ["identity", "contact_details"]
        );
        assert_eq!(field_categories("nonsense.column"), ["other"]);
        assert!(field_categories("").is_empty());
    }

    // PRV-16: read, change or disclosure from the action code.
    #[test]
    fn actions_are_classified() {
        assert_eq!(AccessKind::of("customer.read"), AccessKind::Read);
        assert_eq!(AccessKind::of("customer.update"), AccessKind::Change);
        assert_eq!(AccessKind::of("disclosure"), AccessKind::Disclosure);
    }

    // PRV-16: roles and purposes get names; unknown ones a generic label,
    // never the code.
    #[test]
    fn roles_and_purposes_are_named() {
        for lang in Language::ALL {
            assert_ne!(role_name(lang, "collections"), "collections");
            assert_eq!(
                role_name(lang, "some_new_role"),
                i18n::t(lang, "privacy.role.other")
            );
            assert_ne!(purpose_name(lang, "recover_debts"), "recover_debts");
            assert_eq!(
                purpose_name(lang, "demo_data"),
                i18n::t(lang, "privacy.purpose.other")
            );
        }
    }

    // PRV-04: every section has its title and every column its label in
    // every language (the report may not fall back to a key).
    #[test]
    fn every_section_and_column_has_a_label() {
        let all: Vec<(&str, &[&str])> = vec![
            ("customer", CUSTOMER),
            ("contracts", CONTRACTS),
            ("contract_versions", VERSIONS),
            ("vehicles", VEHICLES),
            ("odometer_readings", ODOMETER),
            ("invoices", INVOICES),
            ("ledger_entries", LEDGER),
            ("payments", PAYMENTS),
            ("payment_invoices", PAYMENT_INVOICES),
            ("payment_notifications", NOTIFICATIONS),
            ("settlement_lines", SETTLEMENT_LINES),
            ("portal_account", ACCOUNT),
            ("contract_activations", ACTIVATIONS),
            ("sessions", SESSIONS),
            ("one_time_codes", CODES),
            ("email_links", LINKS),
            ("recovery_codes", RECOVERY),
            ("sign_in_throttling", THROTTLE),
            ("terms_acceptances", ACCEPTANCES),
            ("messages", MESSAGES),
            ("documents", DOCUMENTS),
            ("access_log", AUDIT),
            ("disclosures", DISCLOSURES),
            ("requests", REQUESTS),
            ("request_events", REQUEST_EVENTS),
            ("request_notes", REQUEST_NOTES),
            ("file_accesses", FILE_ACCESSES),
            ("withheld", WITHHELD),
        ];
        assert_eq!(
            all.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            section_keys()
        );
        for lang in Language::ALL {
            for (key, columns) in &all {
                assert!(
                    lookup(lang, &format!("privacy.section.{key}")).is_some(),
                    "{} privacy.section.{key}",
                    lang.code()
                );
                for column in *columns {
                    assert!(
                        lookup(lang, &format!("privacy.col.{column}")).is_some(),
                        "{} privacy.col.{column}",
                        lang.code()
                    );
                }
            }
            for item in [
                "password_hash",
                "totp_secret",
                "recovery_code_hashes",
                "secret_hashes",
                "blind_indexes",
                "subject_key",
            ] {
                assert!(lookup(lang, &format!("privacy.withheld.{item}")).is_some());
            }
            for actor in ["you", "system", "other"] {
                assert!(lookup(lang, &format!("privacy.actor.{actor}")).is_some());
            }
            for (_, role, ..) in DEMO_STAFF {
                assert!(lookup(lang, &format!("privacy.role.{role}")).is_some());
            }
        }
    }

    // PRV-04, PRV-08: CSV cells are RFC 4180 and text is guarded against
    // formula injection; numbers are left as numbers.
    #[test]
    fn csv_guards_text_but_not_numbers() {
        let mut s = Section::new("ledger_entries", LEDGER);
        s.push(vec![
            Cell::Int(1),
            Cell::Int(2),
            Cell::Null,
            Cell::Date("2026-01-01".into()),
            Cell::code("=cmd|' /C calc'!A0"),
            Cell::Money(-1250),
            Cell::Time(0),
        ])
        .unwrap();
        let csv = s.csv();
        let mut lines = csv.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("id,contract_id,invoice_id,entry_date,kind,amount_cents,created_at")
        );
        assert_eq!(
            lines.next(),
            Some("1,2,,2026-01-01,'=cmd|' /C calc'!A0,-1250,1970-01-01T00:00:00Z")
        );
        let mut t = Section::new("contract_activations", ACTIVATIONS);
        assert!(t.push(vec![Cell::Int(1)]).is_err());
    }
}
