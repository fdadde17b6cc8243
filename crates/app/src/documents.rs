//! Documents on request (SRV-05, CON-06) and the document frame every
//! customer PDF is issued through (CON-03 invoice copies and CON-04
//! statements of account use it too).
//!
//! # The frame
//!
//! [`issue`] is the one way a customer document is made:
//!
//! 1. it checks the contract through [`activation::details`]: another
//!    customer's contract, or one not activated, is [`AppError::NotFound`]
//!    before anything is read or drawn (ACC-03);
//! 2. it assembles the [`Frame`]: a fresh reference (`DOC-` and the
//!    document id in Crockford base32 — it reveals nothing about the
//!    customer), the generation time in Dutch/Belgian local time, the brand
//!    of the contract and its legal entity, and the customer's name and
//!    postal address;
//! 3. it starts the PDF with the letterhead (brand; entity name and legal
//!    form, address, registration and VAT numbers, service e-mail and
//!    phone), the recipient block for a window envelope, the title, the
//!    footer "Reference … · generated …" with "page {page} of {pages}", and
//!    the metadata (title, author, subject, language);
//! 4. it runs the caller's `body` to draw the document's own content;
//! 5. in one write transaction it records the issue (an `issued_documents`
//!    row with the SHA-256 of the bytes) and an audit record
//!    (`document.issue`, actor the customer, the reference as request id);
//! 6. it returns the bytes with a localized file name such as
//!    `jaaropgave-NL00001234-2025.pdf`.
//!
//! ```ignore
//! let issued = documents::issue(app, &session, lang, Kind::Statement, contract_id,
//!     None, Some("2026-03".into()), &title, |doc, frame| {
//!         doc.fields(&frame.header_fields());
//!         doc.table(&columns, &rows, Some(total));
//!     }).await?;
//! ```
//!
//! When the body needs data read before drawing (the body itself is
//! synchronous), call [`frame`] first (it does the check), read what the
//! body needs, and finish with [`issue_framed`]; [`issue`] is exactly that.
//!
//! # The documents
//!
//! * annual statement (jaaropgave) of a financing contract: interest paid
//!   in the year, remaining debt on 1 January and 31 December — [`annual`];
//! * tax certificate of a business customer: invoiced and paid in the year,
//!   split into interest and principal for financing, lease payments for an
//!   operational lease — [`tax`];
//! * early-settlement quote of an active financing contract, with the
//!   calculation shown line by line — [`settlement`] (the maths is in
//!   [`carfin_domain::settlement`]);
//! * contract copy: every agreed term, the parties, the vehicle, the lender
//!   and every earlier version with what changed and why — [`contract_copy`].
//!
//! Interest and debt follow the repayment schedule of the contract's current
//! terms ([`carfin_domain::finance::amortization_schedule`]); an instalment
//! counts as paid when its instalment invoice (matched by period) is paid.

use crate::audit::{ActorKind, AuditEntry};
use crate::directory::EntityView;
use crate::i18n;
use crate::identity::activation::{self, ContractDetails};
use crate::identity::session::Session;
use crate::messages::{local_date, local_time};
use crate::{App, AppError};
use carfin_domain::finance::{amortization_schedule, due_date, remaining_on, ScheduleLine};
use carfin_domain::settlement::{self as maths, Compensation, Financing, Quote};
use carfin_domain::{Country, Language, Money, Postcode};
use carfin_pdf::{Align, Column, Document, Footer, Letterhead, Meta};
use carfin_store::repo::customers::{self, CustomerPersonal, Personal};
use carfin_store::repo::documents::{self as repo, ContractFacts, InvoiceRow, NewIssuedDocument};
use carfin_store::repo::finance::ContractTerms;
use carfin_store::StoreError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use sha2::{Digest, Sha256};

/// Days from today to the settlement date of a quote (its validity).
pub const SETTLEMENT_DAYS: i64 = 10;
/// How many earlier documents the documents page lists.
pub const ISSUED_LIST_LIMIT: i64 = 50;

/// What a document is, as recorded in `issued_documents.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A copy of an invoice (CON-03).
    Invoice,
    /// A statement of account (CON-04).
    Statement,
    /// An annual statement, jaaropgave (SRV-05).
    AnnualStatement,
    /// A tax certificate for a business customer (SRV-05).
    TaxCertificate,
    /// An early-settlement quote (SRV-05).
    SettlementQuote,
    /// A copy of the contract (SRV-05, CON-06).
    ContractCopy,
    /// A repayment schedule (CON-05).
    Schedule,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::Invoice,
        Kind::Statement,
        Kind::AnnualStatement,
        Kind::TaxCertificate,
        Kind::SettlementQuote,
        Kind::ContractCopy,
        Kind::Schedule,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Invoice => "invoice",
            Kind::Statement => "statement",
            Kind::AnnualStatement => "annual_statement",
            Kind::TaxCertificate => "tax_certificate",
            Kind::SettlementQuote => "settlement_quote",
            Kind::ContractCopy => "contract_copy",
            Kind::Schedule => "schedule",
        }
    }

    /// The names of the fields a document of this kind reads (for the
    /// audit record; names only).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Invoice => &["customers.name", "customers.address", "invoices"],
            Kind::Statement => &[
                "customers.name",
                "customers.address",
                "invoices",
                "ledger_entries",
            ],
            Kind::AnnualStatement | Kind::TaxCertificate => &[
                "customers.name",
                "customers.address",
                "contract_versions",
                "invoices",
                "ledger_entries",
            ],
            Kind::SettlementQuote | Kind::Schedule => &[
                "customers.name",
                "customers.address",
                "contract_versions",
                "invoices",
            ],
            Kind::ContractCopy => &[
                "customers.name",
                "customers.address",
                "contract_versions",
                "contract_parties",
                "vehicles.licence_plate",
                "vehicles.vin",
            ],
        }
    }
}

/// An issued document: its printed reference, a file name for the
/// download, and the PDF.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The reference printed in the footer and recorded in `issued_documents`.
    pub reference: String,
    /// A localized ASCII file name, e.g. `jaaropgave-NL00001234-2025.pdf`.
    pub filename: String,
    /// The PDF.
    pub bytes: Vec<u8>,
}

/// Everything a document body may use: the reference and generation time,
/// the language, the brand and legal entity, the recipient, and the
/// (checked) contract.
#[derive(Debug, Clone)]
pub struct Frame {
    /// `DOC-…`, printed in the footer.
    pub reference: String,
    /// The generation time, localized (`2 maart 2026 10:00:05 CET`).
    pub generated: String,
    /// The generation time, Unix seconds.
    pub generated_at: i64,
    /// Today in the Netherlands and Belgium.
    pub today: NaiveDate,
    /// The document's language.
    pub language: Language,
    /// The brand the contract was sold under.
    pub brand: String,
    /// The legal entity (lender, lessor) behind the brand.
    pub entity: EntityView,
    /// The signed-in customer.
    pub customer_id: i64,
    pub customer_number: String,
    /// `person` or `company`.
    pub customer_kind: String,
    /// `NL` or `BE`.
    pub customer_country: String,
    /// The company name, or initials, prefix and surname.
    pub customer_name: String,
    /// The company's KvK or KBO number (companies only).
    pub company_number: Option<String>,
    /// The recipient block: name, street and number, postcode and city.
    pub address: Vec<String>,
    /// The contract, checked to be this customer's and activated.
    pub contract: ContractDetails,
    id: i64,
}

impl Frame {
    /// A message in the document's language.
    pub fn t(&self, key: &str) -> &'static str {
        i18n::t(self.language, key)
    }

    /// A message with placeholders, in the document's language.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::tf(self.language, key, args)
    }

    /// An amount in the document's language.
    pub fn money(&self, cents: i64) -> String {
        Money::from_cents(cents).format(self.language)
    }

    /// A date in words (`1 maart 2026`); an unreadable ISO date as written.
    pub fn date(&self, iso: &str) -> String {
        iso.parse::<NaiveDate>()
            .map(|d| local_date(self.language, d))
            .unwrap_or_else(|_| iso.to_string())
    }

    /// A rate in basis points as a percentage (`5,25 %`, `5.25 %`).
    pub fn percent(&self, bp: i64) -> String {
        percent(bp, self.language)
    }

    /// The contract's number.
    pub fn contract_number(&self) -> &str {
        &self.contract.overview.contract_number
    }

    /// The lines most documents start with: contract number and type,
    /// customer number, vehicle and plate.
    pub fn header_fields(&self) -> Vec<(String, String)> {
        let o = &self.contract.overview;
        let mut vehicle = format!("{} {}", o.make, o.model);
        if !self.contract.plate.is_empty() {
            vehicle = format!("{vehicle} · {}", self.contract.plate);
        }
        vec![
            (
                self.t("documents.field.contract_number").to_string(),
                o.contract_number.clone(),
            ),
            (
                self.t("documents.field.contract_type").to_string(),
                self.t(&format!("documents.type.{}", o.contract_type))
                    .to_string(),
            ),
            (
                self.t("documents.field.customer_number").to_string(),
                self.customer_number.clone(),
            ),
            (self.t("documents.field.vehicle").to_string(), vehicle),
        ]
    }
}

/// A rate in basis points as a percentage in `lang`.
pub fn percent(bp: i64, lang: Language) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let abs = bp.unsigned_abs();
    let text = format!("{sign}{}.{:02} %", abs / 100, abs % 100);
    if lang == Language::En {
        text
    } else {
        text.replace('.', ",")
    }
}

/// Today's date in the Netherlands and Belgium (CET, CEST under the EU
/// summer-time rule: from 01:00 UTC on the last Sunday of March to 01:00
/// UTC on the last Sunday of October).
pub fn local_today(now: DateTime<Utc>) -> NaiveDate {
    let last_sunday = |month: u32| -> Option<DateTime<Utc>> {
        let (year, next) = if month == 12 {
            (now.year() + 1, 1)
        } else {
            (now.year(), month + 1)
        };
        let mut day = NaiveDate::from_ymd_opt(year, next, 1)?.pred_opt()?;
        while day.weekday() != Weekday::Sun {
            day = day.pred_opt()?;
        }
        Some(day.and_hms_opt(1, 0, 0)?.and_utc())
    };
    let summer = match (last_sunday(3), last_sunday(10)) {
        (Some(start), Some(end)) => now >= start && now < end,
        _ => false,
    };
    (now + Duration::hours(if summer { 2 } else { 1 })).date_naive()
}

/// `DOC-` and `id` in Crockford base32 (13 characters for 64 bits).
fn reference_of(id: i64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut value = id as u64;
    let mut chars = [b'0'; 13];
    for slot in chars.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    format!("DOC-{}", String::from_utf8_lossy(&chars))
}

/// The recipient block of a customer: name, street and number, postcode
/// and city (postcodes in their national form, `1234 AB`).
fn address_lines(name: &str, p: &CustomerPersonal, country: &str) -> Vec<String> {
    let country = if country == "BE" {
        Country::Be
    } else {
        Country::Nl
    };
    let postcode = Postcode::parse_for(country, &p.postcode)
        .map(|code| code.to_string())
        .unwrap_or_else(|_| p.postcode.clone());
    vec![
        name.to_string(),
        format!("{} {}", p.street, p.house_number),
        format!("{postcode} {}", p.city),
    ]
}

/// Checks the contract (another customer's or a non-activated one is
/// `NotFound`) and assembles the frame of a document about it in
/// `language`, with a fresh reference.
pub async fn frame(
    app: &App,
    session: &Session,
    language: Language,
    contract_id: i64,
) -> Result<Frame, AppError> {
    let contract = activation::details(app, session, contract_id).await?;
    let record = customers::get(app.db(), app.keys(), session.customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Personal::Known(personal) = record.personal else {
        return Err(AppError::NotFound);
    };
    let directory = app.directory().await?;
    let brand = directory
        .brands
        .iter()
        .find(|b| b.id == contract.overview.brand_id)
        .ok_or_else(|| AppError::Config("a contract's brand is missing".into()))?;
    let entity = directory
        .entity_of(brand)
        .cloned()
        .ok_or_else(|| AppError::Config("a brand's entity is missing".into()))?;
    let now = app.clock().now();
    let id = app.ids().next();
    let customer_name = personal.display_name();
    let company_number = if record.kind == "company" {
        personal.company_number.clone()
    } else {
        None
    };
    Ok(Frame {
        reference: reference_of(id),
        generated: local_time(language, now.timestamp()),
        generated_at: now.timestamp(),
        today: local_today(now),
        language,
        brand: brand.name.clone(),
        entity,
        customer_id: session.customer_id,
        customer_number: record.customer_number,
        customer_kind: record.kind,
        address: address_lines(&customer_name, &personal, &record.country),
        customer_country: record.country,
        customer_name,
        company_number,
        contract,
        id,
    })
}

fn letterhead(frame: &Frame) -> Letterhead {
    let e = &frame.entity;
    Letterhead {
        brand: frame.brand.clone(),
        lines: vec![
            format!("{} {}", e.name, e.legal_form),
            format!("{}, {} {}", e.street, e.postcode, e.city),
            format!(
                "{} · {} {}",
                e.registration_number,
                frame.t("documents.letterhead.vat"),
                e.vat_number
            ),
            format!(
                "{} {} · {}",
                frame.t("documents.letterhead.service"),
                e.service_email,
                e.service_phone
            ),
        ],
    }
}

/// The localized file name: `{kind}-{contract number}[-{period}].pdf`,
/// ASCII letters, digits and dashes only.
fn filename(language: Language, kind: Kind, contract_number: &str, period: Option<&str>) -> String {
    let mut name = format!(
        "{}-{}",
        i18n::t(language, &format!("documents.filename.{}", kind.code())),
        contract_number
    );
    if let Some(period) = period {
        name.push('-');
        name.push_str(period);
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{safe}.pdf")
}

/// Draws a document in `frame` with `body`, records it and returns it: see
/// the module documentation. `title` is the document's title (also the PDF
/// title, with the contract number).
#[allow(clippy::too_many_arguments)]
pub async fn issue_framed(
    app: &App,
    session: &Session,
    frame: Frame,
    kind: Kind,
    invoice_id: Option<i64>,
    period: Option<String>,
    title: &str,
    body: impl FnOnce(&mut Document, &Frame),
) -> Result<Issued, AppError> {
    if frame.customer_id != session.customer_id {
        return Err(AppError::NotFound);
    }
    let mut doc = Document::new(
        Meta {
            title: format!("{title} · {}", frame.contract_number()),
            author: format!("{} {}", frame.entity.name, frame.entity.legal_form),
            subject: title.to_string(),
            language: frame.language.code().to_string(),
            created_unix: Some(frame.generated_at),
        },
        letterhead(&frame),
        Footer {
            text: frame.tf(
                "documents.footer.text",
                &[
                    ("reference", &frame.reference),
                    ("generated", &frame.generated),
                ],
            ),
            page_template: frame.t("documents.footer.page").to_string(),
        },
    );
    doc.address(&frame.address);
    doc.title(title);
    body(&mut doc, &frame);
    let bytes = doc.finish();
    let sha256 = Sha256::digest(&bytes).to_vec();
    let mut tx = app.db().begin_write().await?;
    repo::insert_issued(
        &mut tx,
        &NewIssuedDocument {
            id: frame.id,
            reference: frame.reference.clone(),
            customer_id: session.customer_id,
            contract_id: Some(frame.contract.overview.id),
            invoice_id,
            kind: kind.code().to_string(),
            period: period.clone(),
            language: frame.language.code().to_string(),
            sha256,
            generated_at: frame.generated_at,
        },
    )
    .await?;
    crate::audit::record(
        &mut tx,
        app,
        AuditEntry {
            actor_kind: ActorKind::Customer,
            actor_id: Some(session.customer_id),
            role: "customer".into(),
            action: "document.issue".into(),
            subject_id: Some(session.customer_id),
            purpose: "provide_portal".into(),
            fields: kind.fields().iter().map(|f| (*f).to_string()).collect(),
            request_id: frame.reference.clone(),
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Issued {
        filename: filename(
            frame.language,
            kind,
            frame.contract_number(),
            period.as_deref(),
        ),
        reference: frame.reference,
        bytes,
    })
}

/// Issues a document about one of the customer's contracts: checks the
/// contract (`NotFound` for another customer's or a non-activated one),
/// frames the PDF (letterhead, recipient, title, footer with reference,
/// generation time and page numbers, metadata), runs `body`, records the
/// issue and its audit record in one transaction, and returns the bytes
/// with a localized file name. See the module documentation.
#[allow(clippy::too_many_arguments)]
pub async fn issue(
    app: &App,
    session: &Session,
    language: Language,
    kind: Kind,
    contract_id: i64,
    invoice_id: Option<i64>,
    period: Option<String>,
    title: &str,
    body: impl FnOnce(&mut Document, &Frame),
) -> Result<Issued, AppError> {
    let frame = frame(app, session, language, contract_id).await?;
    issue_framed(app, session, frame, kind, invoice_id, period, title, body).await
}

/// Checks that a contract is the customer's and activated: `NotFound`
/// otherwise (for routes that only lead on to a document).
pub async fn check(app: &App, session: &Session, contract_id: i64) -> Result<(), AppError> {
    activation::details(app, session, contract_id)
        .await
        .map(|_| ())
}

// ---------------------------------------------------------------------------
// Contract facts shared by the documents
// ---------------------------------------------------------------------------

/// The financing kind of a contract type; `None` for an operational lease.
pub fn financing(contract_type: &str) -> Option<Financing> {
    match contract_type {
        "consumer_credit" => Some(Financing::ConsumerCredit),
        "financial_lease" => Some(Financing::FinancialLease),
        _ => None,
    }
}

fn date(iso: &str) -> Result<NaiveDate, AppError> {
    iso.parse()
        .map_err(|_| AppError::Store(StoreError::Corrupt("contract_versions")))
}

fn u32_of(value: i64) -> Result<u32, AppError> {
    u32::try_from(value).map_err(|_| AppError::Store(StoreError::Corrupt("contract_versions")))
}

/// The repayment schedule of a version's terms.
fn schedule_of(terms: &ContractTerms) -> Result<Vec<ScheduleLine>, AppError> {
    amortization_schedule(
        Money::from_cents(terms.financed_amount_cents),
        Money::from_cents(terms.balloon_cents),
        u32_of(terms.nominal_rate_bp)?,
        u32_of(terms.term_months)?,
        Money::from_cents(terms.monthly_instalment_cents),
    )
    .ok_or(AppError::Store(StoreError::Corrupt("contract_versions")))
}

/// The years a contract has documents for: from its start year to the year
/// it ended (or this year, whichever is earlier); empty before it starts.
pub fn contract_years(details: &ContractDetails, today: NaiveDate) -> Vec<i32> {
    let terms = &details.overview.terms;
    let Ok(start) = terms.start_date.parse::<NaiveDate>() else {
        return Vec::new();
    };
    let end = details
        .overview
        .ended_on
        .as_deref()
        .unwrap_or(&terms.end_date)
        .parse::<NaiveDate>()
        .map_or(today.year(), |d| d.year());
    (start.year()..=end.min(today.year())).rev().collect()
}

/// The schedule month an instalment period `YYYY-MM` belongs to.
fn month_of_period(start: NaiveDate, period: &str) -> Option<u32> {
    let (year, month) = period.split_once('-')?;
    let (year, month): (i32, i32) = (year.parse().ok()?, month.parse().ok()?);
    let index = (year - start.year()) * 12 + (month - start.month() as i32) + 1;
    u32::try_from(index).ok().filter(|m| *m >= 1)
}

/// Whether the instalment invoice of schedule month `month` is paid.
fn instalment_paid(start: NaiveDate, invoices: &[InvoiceRow], month: u32) -> Option<&InvoiceRow> {
    invoices.iter().find(|i| {
        i.kind == "instalment"
            && i.status == "paid"
            && i.period.as_deref().and_then(|p| month_of_period(start, p)) == Some(month)
    })
}

/// The debt at the end of `day`: nothing before the start, else what the
/// schedule leaves after the instalments due by then.
fn debt_after(
    principal: Money,
    start: NaiveDate,
    schedule: &[ScheduleLine],
    day: NaiveDate,
) -> Money {
    if day < start {
        Money::ZERO
    } else {
        remaining_on(principal, start, schedule, day)
    }
}

/// The period of a year's document: 1 January to 31 December, or to today
/// for this year.
fn year_period(year: i32, today: NaiveDate) -> Result<(NaiveDate, NaiveDate, bool), AppError> {
    let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or(AppError::NotFound)?;
    let end = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(AppError::NotFound)?;
    if year == today.year() {
        Ok((from, today.min(end), true))
    } else {
        Ok((from, end, false))
    }
}

// ---------------------------------------------------------------------------
// Annual statement (jaaropgave)
// ---------------------------------------------------------------------------

/// One instalment of the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearInstalment {
    pub month: u32,
    pub due: NaiveDate,
    pub instalment: Money,
    pub interest: Money,
    pub principal: Money,
    pub paid: bool,
}

/// The figures of an annual statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnualFigures {
    pub year: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// This year, up to today.
    pub to_date: bool,
    /// The debt at the start of 1 January.
    pub debt_start: Money,
    /// The contract started in the year: on this date, with this principal.
    pub started: Option<(NaiveDate, Money)>,
    /// The debt at the end of `to` (31 December, or today).
    pub debt_end: Money,
    /// Schedule lines due in the period.
    pub instalments: Vec<YearInstalment>,
    /// Interest parts of the paid instalments due in the period.
    pub interest_paid: Money,
    /// Principal parts of the paid instalments due in the period.
    pub principal_paid: Money,
    /// What was paid on those instalments' invoices.
    pub instalments_paid: Money,
}

/// The annual statement figures of `terms` for `year`, from the invoices.
pub fn annual_figures(
    terms: &ContractTerms,
    invoices: &[InvoiceRow],
    year: i32,
    today: NaiveDate,
) -> Result<AnnualFigures, AppError> {
    let (from, to, to_date) = year_period(year, today)?;
    let start = date(&terms.start_date)?;
    let principal = Money::from_cents(terms.financed_amount_cents);
    let schedule = schedule_of(terms)?;
    let mut instalments = Vec::new();
    let (mut interest_paid, mut principal_paid, mut instalments_paid) =
        (Money::ZERO, Money::ZERO, Money::ZERO);
    let overflow = || AppError::Config("amounts out of range".into());
    for line in &schedule {
        let Some(due) = due_date(start, line.month) else {
            continue;
        };
        if due < from || due > to {
            continue;
        }
        let paid = instalment_paid(start, invoices, line.month);
        if let Some(invoice) = paid {
            interest_paid = interest_paid
                .checked_add(line.interest)
                .ok_or_else(overflow)?;
            principal_paid = principal_paid
                .checked_add(line.principal)
                .ok_or_else(overflow)?;
            instalments_paid = instalments_paid
                .checked_add(Money::from_cents(invoice.paid_cents))
                .ok_or_else(overflow)?;
        }
        instalments.push(YearInstalment {
            month: line.month,
            due,
            instalment: line.instalment,
            interest: line.interest,
            principal: line.principal,
            paid: paid.is_some(),
        });
    }
    let day_before = from.pred_opt().ok_or(AppError::NotFound)?;
    Ok(AnnualFigures {
        year,
        from,
        to,
        to_date,
        debt_start: debt_after(principal, start, &schedule, day_before),
        started: (start >= from && start <= to).then_some((start, principal)),
        debt_end: debt_after(principal, start, &schedule, to),
        instalments,
        interest_paid,
        principal_paid,
        instalments_paid,
    })
}

/// The annual statement (jaaropgave) of a financing contract for `year`:
/// `NotFound` for an operational lease and for a year outside the contract.
pub async fn annual(
    app: &App,
    session: &Session,
    language: Language,
    contract_id: i64,
    year: i32,
) -> Result<Issued, AppError> {
    let frame = frame(app, session, language, contract_id).await?;
    let overview = &frame.contract.overview;
    if financing(&overview.contract_type).is_none()
        || !contract_years(&frame.contract, frame.today).contains(&year)
    {
        return Err(AppError::NotFound);
    }
    let invoices = repo::contract_invoices(app.db(), contract_id).await?;
    let figures = annual_figures(&overview.terms, &invoices, year, frame.today)?;
    let title = frame.tf("documents.annual.title", &[("year", &year.to_string())]);
    issue_framed(
        app,
        session,
        frame,
        Kind::AnnualStatement,
        None,
        Some(year.to_string()),
        &title,
        |doc, f| draw_annual(doc, f, &figures),
    )
    .await
}

fn period_text(f: &Frame, from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "{} – {}",
        local_date(f.language, from),
        local_date(f.language, to)
    )
}

fn draw_annual(doc: &mut Document, f: &Frame, a: &AnnualFigures) {
    let year = a.year.to_string();
    let mut fields = f.header_fields();
    fields.push((
        f.t("documents.field.period").to_string(),
        period_text(f, a.from, a.to),
    ));
    fields.push((
        f.t("documents.field.rate").to_string(),
        f.percent(f.contract.overview.terms.nominal_rate_bp),
    ));
    doc.fields(&fields);
    doc.heading(&f.tf("documents.annual.summary", &[("year", &year)]));
    let mut summary = vec![(
        f.tf("documents.annual.debt_start", &[("year", &year)]),
        a.debt_start.format(f.language),
    )];
    if let Some((start, principal)) = a.started {
        summary.push((
            f.tf(
                "documents.annual.financed_on",
                &[("date", &local_date(f.language, start))],
            ),
            principal.format(f.language),
        ));
    }
    summary.push((
        f.tf("documents.annual.interest_paid", &[("year", &year)]),
        a.interest_paid.format(f.language),
    ));
    summary.push((
        f.tf("documents.annual.principal_paid", &[("year", &year)]),
        a.principal_paid.format(f.language),
    ));
    summary.push((
        f.tf("documents.annual.instalments_paid", &[("year", &year)]),
        a.instalments_paid.format(f.language),
    ));
    summary.push((
        if a.to_date {
            f.tf(
                "documents.annual.debt_on",
                &[("date", &local_date(f.language, a.to))],
            )
        } else {
            f.tf("documents.annual.debt_end", &[("year", &year)])
        },
        a.debt_end.format(f.language),
    ));
    doc.fields(&summary);
    doc.heading(&f.tf("documents.annual.instalments", &[("year", &year)]));
    if a.instalments.is_empty() {
        doc.paragraph(f.t("documents.annual.no_instalments"));
    } else {
        let columns = [
            column(f.t("documents.col.due_date"), 0.22, Align::Left),
            column(f.t("documents.col.instalment"), 0.2, Align::Right),
            column(f.t("documents.col.interest"), 0.18, Align::Right),
            column(f.t("documents.col.principal"), 0.2, Align::Right),
            column(f.t("documents.col.status"), 0.2, Align::Left),
        ];
        let rows: Vec<Vec<String>> = a
            .instalments
            .iter()
            .map(|i| {
                vec![
                    local_date(f.language, i.due),
                    i.instalment.format(f.language),
                    i.interest.format(f.language),
                    i.principal.format(f.language),
                    f.t(if i.paid {
                        "documents.status.paid"
                    } else {
                        "documents.status.unpaid"
                    })
                    .to_string(),
                ]
            })
            .collect();
        let total = vec![
            f.t("documents.col.total_paid").to_string(),
            a.instalments_paid.format(f.language),
            a.interest_paid.format(f.language),
            a.principal_paid.format(f.language),
            String::new(),
        ];
        doc.table(&columns, &rows, Some(total));
    }
    if a.to_date {
        doc.note(&f.tf(
            "documents.annual.to_date_note",
            &[("date", &local_date(f.language, a.to))],
        ));
    }
    doc.note(f.t("documents.annual.schedule_note"));
    let tax_note = match (f.customer_country.as_str(), f.customer_kind.as_str()) {
        ("NL", "company") => "documents.annual.tax_nl_company",
        ("NL", _) => "documents.annual.tax_nl",
        _ => "documents.annual.tax_be",
    };
    doc.note(f.t(tax_note));
}

fn column(header: &str, width: f32, align: Align) -> Column {
    Column {
        header: header.to_string(),
        width,
        align,
    }
}

// ---------------------------------------------------------------------------
// Tax certificate (business customers)
// ---------------------------------------------------------------------------

/// Invoiced and paid amounts of one kind of invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicedPaid {
    /// `instalment`, `excess_km`, `fee` or `credit`.
    pub kind: String,
    pub count: usize,
    pub invoiced: Money,
    pub paid: Money,
}

/// The figures of a tax certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxFigures {
    pub year: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub to_date: bool,
    /// Per kind of invoice due in the period: invoiced and paid.
    pub lines: Vec<InvoicedPaid>,
    pub total_invoiced: Money,
    pub total_paid: Money,
    /// Financing only: interest and principal parts of the instalments paid.
    pub split: Option<(Money, Money)>,
    /// Financing only: the debt at the end of the period.
    pub debt_end: Option<Money>,
    /// Payments booked in the period (ledger).
    pub payments_received: Money,
}

/// The tax certificate figures for `year`.
pub fn tax_figures(
    contract_type: &str,
    terms: &ContractTerms,
    invoices: &[InvoiceRow],
    ledger: &[repo::LedgerRow],
    year: i32,
    today: NaiveDate,
) -> Result<TaxFigures, AppError> {
    let (from, to, to_date) = year_period(year, today)?;
    let overflow = || AppError::Config("amounts out of range".into());
    let mut lines: Vec<InvoicedPaid> = Vec::new();
    for kind in ["instalment", "excess_km", "fee", "credit"] {
        let mut line = InvoicedPaid {
            kind: kind.to_string(),
            count: 0,
            invoiced: Money::ZERO,
            paid: Money::ZERO,
        };
        for invoice in invoices.iter().filter(|i| i.kind == kind) {
            let Ok(due) = invoice.due_date.parse::<NaiveDate>() else {
                continue;
            };
            if due < from || due > to {
                continue;
            }
            line.count += 1;
            line.invoiced = line
                .invoiced
                .checked_add(Money::from_cents(invoice.amount_cents))
                .ok_or_else(overflow)?;
            line.paid = line
                .paid
                .checked_add(Money::from_cents(invoice.paid_cents))
                .ok_or_else(overflow)?;
        }
        if line.count > 0 || kind == "instalment" {
            lines.push(line);
        }
    }
    let total_invoiced = Money::try_sum(lines.iter().map(|l| l.invoiced)).ok_or_else(overflow)?;
    let total_paid = Money::try_sum(lines.iter().map(|l| l.paid)).ok_or_else(overflow)?;
    let (split, debt_end) = if financing(contract_type).is_some() {
        let a = annual_figures(terms, invoices, year, today)?;
        (Some((a.interest_paid, a.principal_paid)), Some(a.debt_end))
    } else {
        (None, None)
    };
    let payments_received = Money::try_sum(
        ledger
            .iter()
            .filter(|e| e.kind == "payment")
            .map(|e| Money::from_cents(-e.amount_cents)),
    )
    .ok_or_else(overflow)?;
    Ok(TaxFigures {
        year,
        from,
        to,
        to_date,
        lines,
        total_invoiced,
        total_paid,
        split,
        debt_end,
        payments_received,
    })
}

/// The tax certificate of a business customer's contract for `year`:
/// `NotFound` for a person and for a year outside the contract.
pub async fn tax(
    app: &App,
    session: &Session,
    language: Language,
    contract_id: i64,
    year: i32,
) -> Result<Issued, AppError> {
    let frame = frame(app, session, language, contract_id).await?;
    if frame.customer_kind != "company"
        || !contract_years(&frame.contract, frame.today).contains(&year)
    {
        return Err(AppError::NotFound);
    }
    let overview = &frame.contract.overview;
    let invoices = repo::contract_invoices(app.db(), contract_id).await?;
    let (from, to, _) = year_period(year, frame.today)?;
    let ledger =
        repo::ledger_between(app.db(), contract_id, &from.to_string(), &to.to_string()).await?;
    let figures = tax_figures(
        &overview.contract_type,
        &overview.terms,
        &invoices,
        &ledger,
        year,
        frame.today,
    )?;
    let title = frame.tf("documents.tax.title", &[("year", &year.to_string())]);
    issue_framed(
        app,
        session,
        frame,
        Kind::TaxCertificate,
        None,
        Some(year.to_string()),
        &title,
        |doc, f| draw_tax(doc, f, &figures),
    )
    .await
}

fn draw_tax(doc: &mut Document, f: &Frame, t: &TaxFigures) {
    let year = t.year.to_string();
    let mut fields = vec![(
        f.t("documents.field.company").to_string(),
        f.customer_name.clone(),
    )];
    if let Some(number) = &f.company_number {
        fields.push((
            f.t("documents.field.company_number").to_string(),
            number.clone(),
        ));
    }
    fields.extend(f.header_fields());
    fields.push((
        f.t("documents.field.period").to_string(),
        period_text(f, t.from, t.to),
    ));
    doc.fields(&fields);
    doc.heading(&f.tf("documents.tax.amounts", &[("year", &year)]));
    let lease = t.split.is_none();
    let columns = [
        column(f.t("documents.col.description"), 0.5, Align::Left),
        column(f.t("documents.col.invoiced"), 0.25, Align::Right),
        column(f.t("documents.col.paid"), 0.25, Align::Right),
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for line in &t.lines {
        let label = if line.kind == "instalment" && lease {
            f.t("documents.tax.lease_payments")
        } else {
            f.t(&format!("documents.invoice_kind.{}", line.kind))
        };
        rows.push(vec![
            format!("{label} ({})", line.count),
            line.invoiced.format(f.language),
            line.paid.format(f.language),
        ]);
        if line.kind == "instalment" {
            if let Some((interest, principal)) = t.split {
                rows.push(vec![
                    format!("  {}", f.t("documents.tax.of_which_interest")),
                    String::new(),
                    interest.format(f.language),
                ]);
                rows.push(vec![
                    format!("  {}", f.t("documents.tax.of_which_principal")),
                    String::new(),
                    principal.format(f.language),
                ]);
            }
        }
    }
    let total = vec![
        f.t("documents.col.total").to_string(),
        t.total_invoiced.format(f.language),
        t.total_paid.format(f.language),
    ];
    doc.table(&columns, &rows, Some(total));
    let mut after = vec![(
        f.tf("documents.tax.payments_received", &[("year", &year)]),
        t.payments_received.format(f.language),
    )];
    if let Some(debt) = t.debt_end {
        after.push((
            if t.to_date {
                f.tf(
                    "documents.annual.debt_on",
                    &[("date", &local_date(f.language, t.to))],
                )
            } else {
                f.tf("documents.annual.debt_end", &[("year", &year)])
            },
            debt.format(f.language),
        ));
    }
    doc.fields(&after);
    if t.to_date {
        doc.note(&f.tf(
            "documents.annual.to_date_note",
            &[("date", &local_date(f.language, t.to))],
        ));
    }
    doc.note(f.t(if lease {
        "documents.tax.note_lease"
    } else {
        "documents.tax.note_financing"
    }));
    doc.note(f.t("documents.tax.note"));
}

// ---------------------------------------------------------------------------
// Early-settlement quote
// ---------------------------------------------------------------------------

/// An invoice the settlement includes because it is still unpaid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpaidInvoice {
    pub invoice_number: String,
    pub kind: String,
    pub due_date: NaiveDate,
    /// Amount less what was paid.
    pub open: Money,
}

/// An early-settlement quote of one contract.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub contract_id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub terms: ContractTerms,
    pub agreed_end: NaiveDate,
    pub quote: Quote,
    pub unpaid: Vec<UnpaidInvoice>,
}

/// One line of the calculation as shown: what, how, how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalculationLine {
    pub label: String,
    pub detail: String,
    pub amount: String,
}

/// Unpaid invoices due by `on` (instalments) or at all (other charges):
/// instalments due later are still part of the remaining principal.
fn unpaid_by(invoices: &[InvoiceRow], on: NaiveDate) -> Vec<UnpaidInvoice> {
    invoices
        .iter()
        .filter(|i| matches!(i.status.as_str(), "open" | "overdue" | "in_collection"))
        .filter_map(|i| {
            let due = i.due_date.parse::<NaiveDate>().ok()?;
            if i.kind == "instalment" && due > on {
                return None;
            }
            let open = i.amount_cents.checked_sub(i.paid_cents)?;
            (open != 0).then(|| UnpaidInvoice {
                invoice_number: i.invoice_number.clone(),
                kind: i.kind.clone(),
                due_date: due,
                open: Money::from_cents(open),
            })
        })
        .collect()
}

/// The early-settlement quote of an active financing contract, settled
/// [`SETTLEMENT_DAYS`] days from today: `NotFound` for an operational
/// lease, a contract that is not active, or anybody else's contract.
pub async fn settlement(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<Settlement, AppError> {
    let details = activation::details(app, session, contract_id).await?;
    let today = local_today(app.clock().now());
    settlement_of(app, &details, today).await
}

async fn settlement_of(
    app: &App,
    details: &ContractDetails,
    today: NaiveDate,
) -> Result<Settlement, AppError> {
    let o = &details.overview;
    let Some(kind) = financing(&o.contract_type) else {
        return Err(AppError::NotFound);
    };
    if o.status != "active" {
        return Err(AppError::NotFound);
    }
    let t = &o.terms;
    let on = today + Duration::days(SETTLEMENT_DAYS);
    let invoices = repo::contract_invoices(app.db(), o.id).await?;
    let unpaid = unpaid_by(&invoices, on);
    let owed = Money::try_sum(unpaid.iter().map(|u| u.open))
        .ok_or_else(|| AppError::Config("amounts out of range".into()))?;
    let agreed_end = date(&t.end_date)?;
    let terms = maths::Terms {
        financing: kind,
        principal: Money::from_cents(t.financed_amount_cents),
        balloon: Money::from_cents(t.balloon_cents),
        nominal_rate_bp: u32_of(t.nominal_rate_bp)?,
        months: u32_of(t.term_months)?,
        instalment: Money::from_cents(t.monthly_instalment_cents),
        start: date(&t.start_date)?,
        end: agreed_end,
    };
    let quote = maths::quote(&terms, on, owed).ok_or(AppError::NotFound)?;
    Ok(Settlement {
        contract_id: o.id,
        contract_number: o.contract_number.clone(),
        contract_type: o.contract_type.clone(),
        terms: t.clone(),
        agreed_end,
        quote,
        unpaid,
    })
}

impl Settlement {
    /// The calculation, line by line with the rates, in `lang`; the last
    /// line is the total.
    pub fn lines(&self, lang: Language) -> Vec<CalculationLine> {
        let q = &self.quote;
        let money = |m: Money| m.format(lang);
        let day = |d: NaiveDate| local_date(lang, d);
        let mut lines = Vec::new();
        let principal_detail = match q.last_instalment {
            Some((month, due)) => i18n::tf(
                lang,
                "documents.settlement.principal_after",
                &[
                    ("month", &month.to_string()),
                    ("months", &self.terms.term_months.to_string()),
                    ("date", &day(due)),
                ],
            ),
            None => i18n::t(lang, "documents.settlement.principal_before").to_string(),
        };
        lines.push(CalculationLine {
            label: i18n::t(lang, "documents.settlement.principal").to_string(),
            detail: principal_detail,
            amount: money(q.remaining_principal),
        });
        lines.push(CalculationLine {
            label: i18n::t(lang, "documents.settlement.interest").to_string(),
            detail: i18n::tf(
                lang,
                "documents.settlement.interest_detail",
                &[
                    ("principal", &money(q.remaining_principal)),
                    ("rate", &percent(self.terms.nominal_rate_bp, lang)),
                    ("days", &q.accrued_days.to_string()),
                    ("from", &day(q.accrued_from)),
                    ("to", &day(q.settlement_date)),
                ],
            ),
            amount: money(q.accrued_interest),
        });
        lines.push(CalculationLine {
            label: i18n::t(lang, "documents.settlement.unpaid").to_string(),
            detail: i18n::tf(
                lang,
                "documents.settlement.unpaid_detail",
                &[("count", &self.unpaid.len().to_string())],
            ),
            amount: money(q.unpaid_invoices),
        });
        let rate = percent(i64::from(q.rule.rate_bp()), lang);
        match q.rule {
            Compensation::StatutoryCap {
                limited_by_interest,
                ..
            } => {
                let period = if q.more_than_a_year_left {
                    "documents.settlement.more_than_a_year"
                } else {
                    "documents.settlement.a_year_or_less"
                };
                lines.push(CalculationLine {
                    label: i18n::t(lang, "documents.settlement.cap").to_string(),
                    detail: i18n::tf(
                        lang,
                        "documents.settlement.cap_detail",
                        &[
                            ("rate", &rate),
                            ("principal", &money(q.remaining_principal)),
                            ("period", i18n::t(lang, period)),
                        ],
                    ),
                    amount: money(q.compensation_at_rate),
                });
                lines.push(CalculationLine {
                    label: i18n::t(lang, "documents.settlement.interest_to_come").to_string(),
                    detail: i18n::tf(
                        lang,
                        "documents.settlement.interest_to_come_detail",
                        &[
                            ("from", &day(q.settlement_date)),
                            ("end", &day(self.agreed_end)),
                        ],
                    ),
                    amount: money(q.remaining_interest),
                });
                lines.push(CalculationLine {
                    label: i18n::t(lang, "documents.settlement.compensation").to_string(),
                    detail: i18n::t(
                        lang,
                        if limited_by_interest {
                            "documents.settlement.limited_by_interest"
                        } else {
                            "documents.settlement.at_cap"
                        },
                    )
                    .to_string(),
                    amount: money(q.compensation),
                });
            }
            Compensation::Contractual { .. } => {
                lines.push(CalculationLine {
                    label: i18n::t(lang, "documents.settlement.contractual").to_string(),
                    detail: i18n::tf(
                        lang,
                        "documents.settlement.contractual_detail",
                        &[
                            ("rate", &rate),
                            ("principal", &money(q.remaining_principal)),
                        ],
                    ),
                    amount: money(q.compensation),
                });
            }
        }
        lines.push(CalculationLine {
            label: i18n::t(lang, "documents.settlement.total").to_string(),
            detail: i18n::tf(
                lang,
                "documents.settlement.total_on",
                &[("date", &day(q.settlement_date))],
            ),
            amount: money(q.total),
        });
        lines
    }

    /// The legal or contractual basis of the compensation, in `lang`.
    pub fn basis(&self, lang: Language) -> String {
        match self.quote.rule {
            Compensation::StatutoryCap { .. } => {
                i18n::t(lang, "documents.settlement.basis_consumer").to_string()
            }
            Compensation::Contractual { rate_bp } => i18n::tf(
                lang,
                "documents.settlement.basis_lease",
                &[("rate", &percent(i64::from(rate_bp), lang))],
            ),
        }
    }
}

/// The early-settlement quote as a PDF: `NotFound` as for [`settlement`].
pub async fn settlement_pdf(
    app: &App,
    session: &Session,
    language: Language,
    contract_id: i64,
) -> Result<Issued, AppError> {
    let frame = frame(app, session, language, contract_id).await?;
    let quote = settlement_of(app, &frame.contract, frame.today).await?;
    let title = frame.t("documents.settlement.title").to_string();
    let period = quote.quote.settlement_date.to_string();
    issue_framed(
        app,
        session,
        frame,
        Kind::SettlementQuote,
        None,
        Some(period),
        &title,
        |doc, f| draw_settlement(doc, f, &quote),
    )
    .await
}

fn draw_settlement(doc: &mut Document, f: &Frame, s: &Settlement) {
    let q = &s.quote;
    let mut fields = f.header_fields();
    fields.push((
        f.t("documents.settlement.date").to_string(),
        local_date(f.language, q.settlement_date),
    ));
    fields.push((
        f.t("documents.settlement.valid_until").to_string(),
        local_date(f.language, q.settlement_date),
    ));
    fields.push((
        f.t("documents.field.rate").to_string(),
        f.percent(s.terms.nominal_rate_bp),
    ));
    fields.push((
        f.t("documents.field.end_date").to_string(),
        local_date(f.language, s.agreed_end),
    ));
    doc.fields(&fields);
    doc.heading(f.t("documents.settlement.calculation"));
    let columns = [
        column(f.t("documents.col.description"), 0.3, Align::Left),
        column(f.t("documents.col.calculation"), 0.48, Align::Left),
        column(f.t("documents.col.amount"), 0.22, Align::Right),
    ];
    let mut lines = s.lines(f.language);
    let total = lines.pop().map(|l| vec![l.label, l.detail, l.amount]);
    let rows: Vec<Vec<String>> = lines
        .into_iter()
        .map(|l| vec![l.label, l.detail, l.amount])
        .collect();
    doc.table(&columns, &rows, total);
    doc.paragraph(&f.tf(
        "documents.settlement.validity",
        &[
            ("date", &local_date(f.language, q.settlement_date)),
            ("email", &f.entity.service_email),
            ("phone", &f.entity.service_phone),
        ],
    ));
    doc.note(&s.basis(f.language));
    if !s.unpaid.is_empty() {
        doc.heading(f.t("documents.settlement.unpaid_heading"));
        let columns = [
            column(f.t("documents.col.invoice"), 0.4, Align::Left),
            column(f.t("documents.col.due_date"), 0.35, Align::Left),
            column(f.t("documents.col.amount"), 0.25, Align::Right),
        ];
        let rows: Vec<Vec<String>> = s
            .unpaid
            .iter()
            .map(|u| {
                vec![
                    u.invoice_number.clone(),
                    local_date(f.language, u.due_date),
                    u.open.format(f.language),
                ]
            })
            .collect();
        doc.table(&columns, &rows, None);
    }
}

// ---------------------------------------------------------------------------
// Contract copy
// ---------------------------------------------------------------------------

/// Reasons for a new contract version the catalogue knows; others are
/// shown as written.
pub const REASONS: [&str; 6] = [
    "origination",
    "mileage_change",
    "term_extension",
    "rate_change",
    "restructuring",
    "correction",
];

/// The reason of a version, localized when known.
pub fn reason_text(lang: Language, code: &str) -> String {
    if REASONS.contains(&code) {
        i18n::t(lang, &format!("documents.reason.{code}")).to_string()
    } else {
        code.to_string()
    }
}

/// The agreed terms of a version as label/value pairs.
fn term_fields(f: &Frame, contract_type: &str, t: &ContractTerms) -> Vec<(String, String)> {
    let lease = contract_type != "consumer_credit";
    let mut fields = vec![
        (
            f.t("documents.field.start_date").to_string(),
            f.date(&t.start_date),
        ),
        (
            f.t("documents.field.end_date").to_string(),
            f.date(&t.end_date),
        ),
        (
            f.t("documents.field.term").to_string(),
            f.tf(
                "documents.months",
                &[("months", &t.term_months.to_string())],
            ),
        ),
        (
            f.t("documents.field.financed").to_string(),
            f.money(t.financed_amount_cents),
        ),
        (
            f.t("documents.field.down_payment").to_string(),
            f.money(t.down_payment_cents),
        ),
        (
            f.t(if lease {
                "documents.field.residual"
            } else {
                "documents.field.balloon"
            })
            .to_string(),
            f.money(t.balloon_cents),
        ),
        (
            f.t("documents.field.rate").to_string(),
            f.percent(t.nominal_rate_bp),
        ),
        (f.t("documents.field.apr").to_string(), f.percent(t.apr_bp)),
        (
            f.t("documents.field.instalment").to_string(),
            f.money(t.monthly_instalment_cents),
        ),
    ];
    if let Some(km) = t.km_per_year {
        fields.push((
            f.t("documents.field.km_per_year").to_string(),
            f.tf("documents.km", &[("km", &group(km, f.language))]),
        ));
    }
    if let Some(price) = t.excess_km_price_cents {
        fields.push((f.t("documents.field.excess_km").to_string(), f.money(price)));
    }
    fields
}

/// An integer with thousands separators as `lang` writes them.
fn group(value: i64, lang: Language) -> String {
    let digits = value.unsigned_abs().to_string();
    let separator = match lang {
        Language::Nl => '.',
        Language::Fr => '\u{202f}',
        Language::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(c);
    }
    if value < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// What changed from `before` to `after`, one line per term.
fn changes(
    f: &Frame,
    contract_type: &str,
    before: &ContractTerms,
    after: &ContractTerms,
) -> Vec<String> {
    let old = term_fields(f, contract_type, before);
    let new = term_fields(f, contract_type, after);
    let change = |label: &str, from: &str, to: &str| {
        f.tf(
            "documents.copy.change",
            &[("field", label), ("from", from), ("to", to)],
        )
    };
    let mut out = Vec::new();
    for (label, value) in &new {
        match old.iter().find(|(l, _)| l == label) {
            Some((_, previous)) if previous != value => out.push(change(label, previous, value)),
            None => out.push(change(label, "–", value)),
            _ => {}
        }
    }
    for (label, previous) in &old {
        if !new.iter().any(|(l, _)| l == label) {
            out.push(change(label, previous, "–"));
        }
    }
    out
}

struct CopyData {
    versions: Vec<ContractTerms>,
    parties: Vec<(String, String)>,
    facts: ContractFacts,
}

/// The contract copy (CON-06): every agreed term of the current version,
/// the parties, the vehicle, the lender or lessor, and every earlier
/// version with what changed and why.
pub async fn contract_copy(
    app: &App,
    session: &Session,
    language: Language,
    contract_id: i64,
) -> Result<Issued, AppError> {
    let frame = frame(app, session, language, contract_id).await?;
    let versions = repo::contract_versions(app.db(), contract_id).await?;
    let facts = repo::contract_facts(app.db(), app.keys(), contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut parties = Vec::new();
    for party in repo::contract_parties(app.db(), contract_id).await? {
        let name = match customers::get(app.db(), app.keys(), party.customer_id).await? {
            Some(customers::CustomerRecord {
                personal: Personal::Known(p),
                ..
            }) => p.display_name(),
            _ => i18n::t(language, "documents.copy.erased").to_string(),
        };
        parties.push((name, party.role));
    }
    let data = CopyData {
        versions,
        parties,
        facts,
    };
    let title = frame.t("documents.copy.title").to_string();
    issue_framed(
        app,
        session,
        frame,
        Kind::ContractCopy,
        None,
        None,
        &title,
        |doc, f| draw_copy(doc, f, &data),
    )
    .await
}

fn draw_copy(doc: &mut Document, f: &Frame, data: &CopyData) {
    let o = &f.contract.overview;
    let t = &o.terms;
    let mut fields = vec![
        (
            f.t("documents.field.contract_number").to_string(),
            o.contract_number.clone(),
        ),
        (
            f.t("documents.field.contract_type").to_string(),
            f.t(&format!("documents.type.{}", o.contract_type))
                .to_string(),
        ),
        (
            f.t("documents.field.status").to_string(),
            f.t(&format!("documents.status.contract.{}", o.status))
                .to_string(),
        ),
        (f.t("documents.field.brand").to_string(), f.brand.clone()),
        (
            f.t("documents.field.version").to_string(),
            f.tf(
                "documents.copy.version_of",
                &[
                    ("version", &t.version.to_string()),
                    ("date", &f.date(&t.valid_from)),
                ],
            ),
        ),
    ];
    if let Some(ended) = &o.ended_on {
        fields.push((f.t("documents.field.ended_on").to_string(), f.date(ended)));
    }
    if let Some(closed) = &data.facts.closed_on {
        fields.push((f.t("documents.field.closed_on").to_string(), f.date(closed)));
    }
    doc.fields(&fields);

    doc.heading(f.t("documents.copy.terms"));
    doc.fields(&term_fields(f, &o.contract_type, t));

    doc.heading(f.t("documents.copy.parties"));
    let columns = [
        column(f.t("documents.col.name"), 0.65, Align::Left),
        column(f.t("documents.col.role"), 0.35, Align::Left),
    ];
    let rows: Vec<Vec<String>> = data
        .parties
        .iter()
        .map(|(name, role)| {
            vec![
                name.clone(),
                f.t(&format!("documents.role.{role}")).to_string(),
            ]
        })
        .collect();
    doc.table(&columns, &rows, None);
    let e = &f.entity;
    let mut lender = vec![
        (
            f.t(if o.contract_type == "consumer_credit" {
                "documents.copy.lender"
            } else {
                "documents.copy.lessor"
            })
            .to_string(),
            format!("{} {}", e.name, e.legal_form),
        ),
        (
            f.t("documents.field.address").to_string(),
            format!("{}, {} {}", e.street, e.postcode, e.city),
        ),
        (
            f.t("documents.field.registration").to_string(),
            e.registration_number.clone(),
        ),
        (
            f.t("documents.letterhead.vat").to_string(),
            e.vat_number.clone(),
        ),
        (
            f.t("documents.field.service").to_string(),
            format!("{} · {}", e.service_email, e.service_phone),
        ),
    ];
    if let Some(dealer) = &data.facts.dealer_name {
        let city = data.facts.dealer_city.clone().unwrap_or_default();
        lender.push((
            f.t("documents.field.dealer").to_string(),
            format!("{dealer}, {city}"),
        ));
    }
    doc.fields(&lender);

    doc.heading(f.t("documents.copy.vehicle"));
    let vin = match &data.facts.vin {
        Personal::Known(vin) => vin.clone(),
        Personal::Erased => f.t("documents.copy.erased").to_string(),
    };
    doc.fields(&[
        (
            f.t("documents.field.make_model").to_string(),
            format!("{} {}", o.make, o.model),
        ),
        (
            f.t("documents.field.fuel").to_string(),
            f.t(&format!("documents.fuel.{}", fuel_code(&o.fuel)))
                .to_string(),
        ),
        (
            f.t("documents.field.plate").to_string(),
            f.contract.plate.clone(),
        ),
        (f.t("documents.field.vin").to_string(), vin),
        (
            f.t("documents.field.first_registration").to_string(),
            f.date(&data.facts.first_registration),
        ),
    ]);

    doc.heading(f.t("documents.copy.history"));
    let columns = [
        column(f.t("documents.col.version"), 0.1, Align::Left),
        column(f.t("documents.col.valid_from"), 0.2, Align::Left),
        column(f.t("documents.col.reason"), 0.22, Align::Left),
        column(f.t("documents.col.changes"), 0.48, Align::Left),
    ];
    let mut rows = Vec::new();
    for (i, version) in data.versions.iter().enumerate() {
        let changed = match i.checked_sub(1).and_then(|p| data.versions.get(p)) {
            Some(previous) => {
                let lines = changes(f, &o.contract_type, previous, version);
                if lines.is_empty() {
                    f.t("documents.copy.no_changes").to_string()
                } else {
                    lines.join("\n")
                }
            }
            None => f.t("documents.copy.original").to_string(),
        };
        rows.push(vec![
            version.version.to_string(),
            f.date(&version.valid_from),
            reason_text(f.language, &version.change_reason),
            changed,
        ]);
    }
    doc.table(&columns, &rows, None);
    doc.note(f.t("documents.copy.note"));
}

fn fuel_code(fuel: &str) -> &'static str {
    match fuel {
        "electric" => "electric",
        "petrol" => "petrol",
        "diesel" => "diesel",
        "hybrid" => "hybrid",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------
// What the documents page offers
// ---------------------------------------------------------------------------

/// What can be requested for one activated contract.
#[derive(Debug, Clone)]
pub struct ContractOffer {
    pub id: i64,
    pub number: String,
    pub contract_type: String,
    pub status: String,
    /// Years with an annual statement (financing contracts), newest first.
    pub annual_years: Vec<i32>,
    /// Years with a tax certificate (business customers), newest first.
    pub tax_years: Vec<i32>,
    /// Whether an early-settlement quote can be requested.
    pub settlement: bool,
}

/// A document issued before.
#[derive(Debug, Clone)]
pub struct IssuedLine {
    /// The `issued_documents.kind` code.
    pub kind: String,
    pub reference: String,
    pub contract_number: Option<String>,
    pub period: Option<String>,
    pub language: String,
    pub generated_at: i64,
}

/// The documents page: what can be requested, and what was issued before.
#[derive(Debug, Clone)]
pub struct DocumentsOverview {
    /// The customer is a company (tax certificates).
    pub company: bool,
    /// Today, in the Netherlands and Belgium.
    pub today: NaiveDate,
    /// This year (the year of `today`): its documents run to date.
    pub this_year: i32,
    pub contracts: Vec<ContractOffer>,
    /// Contracts that are not activated yet (numbers only).
    pub not_activated: Vec<(i64, String)>,
    pub issued: Vec<IssuedLine>,
}

/// What the documents page shows the signed-in customer.
pub async fn overview(app: &App, session: &Session) -> Result<DocumentsOverview, AppError> {
    let listed = activation::contracts(app, session).await?;
    let record = customers::get(app.db(), app.keys(), session.customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let company = record.kind == "company";
    let today = local_today(app.clock().now());
    let mut contracts = Vec::new();
    let mut not_activated = Vec::new();
    for c in listed {
        if c.activated_at.is_none() {
            not_activated.push((c.id, c.contract_number.clone()));
            continue;
        }
        let details = activation::details(app, session, c.id).await?;
        let years = contract_years(&details, today);
        let financing = financing(&c.contract_type).is_some();
        contracts.push(ContractOffer {
            id: c.id,
            number: c.contract_number.clone(),
            contract_type: c.contract_type.clone(),
            status: c.status.clone(),
            annual_years: if financing { years.clone() } else { Vec::new() },
            tax_years: if company { years } else { Vec::new() },
            settlement: financing && c.status == "active",
        });
    }
    let issued = repo::issued_for_customer(app.db(), session.customer_id, ISSUED_LIST_LIMIT)
        .await?
        .into_iter()
        .map(|d| IssuedLine {
            kind: d.kind,
            reference: d.reference,
            contract_number: d.contract_number,
            period: d.period,
            language: d.language,
            generated_at: d.generated_at,
        })
        .collect();
    Ok(DocumentsOverview {
        company,
        today,
        this_year: today.year(),
        contracts,
        not_activated,
        issued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_base32_of_the_id() {
        assert_eq!(reference_of(0), "DOC-0000000000000");
        assert_eq!(reference_of(31), "DOC-000000000000Z");
        assert_eq!(reference_of(32), "DOC-0000000000010");
        let r = reference_of(i64::MAX);
        assert_eq!(r.len(), 17);
        assert!(r[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn local_today_follows_summer_time() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        // 23:30 UTC in winter is 00:30 CET the next day.
        assert_eq!(
            local_today(at("2026-01-31T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default()
        );
        // 22:30 UTC in summer is 00:30 CEST.
        assert_eq!(
            local_today(at("2026-07-01T22:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 2).unwrap_or_default()
        );
        assert_eq!(
            local_today(at("2026-07-01T21:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default()
        );
    }

    #[test]
    fn periods_map_to_schedule_months() {
        let start = NaiveDate::from_ymd_opt(2024, 11, 1).unwrap_or_default();
        assert_eq!(month_of_period(start, "2024-11"), Some(1));
        assert_eq!(month_of_period(start, "2025-01"), Some(3));
        assert_eq!(month_of_period(start, "2024-10"), None);
        assert_eq!(month_of_period(start, "nonsense"), None);
    }

    #[test]
    fn filenames_are_localized_and_safe() {
        assert_eq!(
            filename(
                Language::Nl,
                Kind::AnnualStatement,
                "NL00001234",
                Some("2025")
            ),
            "jaaropgave-NL00001234-2025.pdf"
        );
        assert_eq!(
            filename(Language::En, Kind::ContractCopy, "BE0000/9", None),
            "contract-copy-BE0000-9.pdf"
        );
    }

    #[test]
    fn percentages_and_grouping() {
        assert_eq!(percent(525, Language::Nl), "5,25 %");
        assert_eq!(percent(50, Language::En), "0.50 %");
        assert_eq!(group(25_000, Language::Nl), "25.000");
        assert_eq!(group(999, Language::En), "999");
        assert_eq!(group(1_234_567, Language::En), "1,234,567");
    }
}
