//! The customer portal's read model (CON-01 … CON-06): the dashboard, a
//! contract with its versions and documents on file, the vehicle with its
//! odometer readings, invoices, the statement of account and the repayment
//! schedule.
//!
//! Authorisation lives here, not in the web layer: every function takes the
//! customer's [`Session`] and reads only contracts the customer holds (or
//! co-holds) and has activated with an SMS code (ACC-03). Anybody else's
//! contract or invoice id, and a contract not activated yet, give
//! [`AppError::NotFound`] — the same answer as an id that does not exist.

use crate::identity::activation::{self, require_active, ContractDetails, PortalContract};
use crate::identity::session::Session;
use crate::{App, AppError};
use carfin_domain::finance::{amortization_schedule, due_date, remaining_on, ScheduleLine};
use carfin_domain::Money;
use carfin_store::keystore::KeyState;
pub use carfin_store::repo::finance::ContractTerms;
use carfin_store::repo::portal::{self as repo, InvoiceFilter};
pub use carfin_store::repo::portal::{InvoiceRow, IssuedRow, Reading};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Invoices per page of the invoice list.
pub const PAGE_SIZE: i64 = 20;

/// Whether a contract type finances a debt that is repaid by instalments
/// (financial lease and consumer credit; an operational lease is a rental).
pub fn is_financing(contract_type: &str) -> bool {
    matches!(contract_type, "financial_lease" | "consumer_credit")
}

/// Opens sealed values of several subjects, fetching each key once.
struct Opener<'a> {
    app: &'a App,
    keys: HashMap<i64, KeyState>,
}

impl<'a> Opener<'a> {
    fn new(app: &'a App) -> Opener<'a> {
        Opener {
            app,
            keys: HashMap::new(),
        }
    }

    /// The value, or an empty string once the subject is erased.
    async fn open(
        &mut self,
        subject_id: i64,
        table: &'static str,
        column: &'static str,
        row: i64,
        sealed: &[u8],
    ) -> Result<String, AppError> {
        if !self.keys.contains_key(&subject_id) {
            let key = self.app.keys().get(subject_id).await?;
            self.keys.insert(subject_id, key);
        }
        match self.keys.get(&subject_id) {
            Some(KeyState::Live(key)) => crate::identity::open(key, table, column, row, sealed),
            _ => Ok(String::new()),
        }
    }
}

// ---------------------------------------------------------------------------
// Dashboard
// ---------------------------------------------------------------------------

/// One activated contract on the dashboard.
#[derive(Debug, Clone)]
pub struct DashboardContract {
    pub id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub make: String,
    pub model: String,
    pub plate: String,
    /// What the customer owes on the ledger (invoiced minus paid).
    pub balance: Money,
    /// Unpaid amount past its due date (overdue and in collection).
    pub overdue: Money,
    pub overdue_count: i64,
    /// The next instalment: due date and amount.
    pub next: Option<(NaiveDate, Money)>,
}

/// The dashboard `/my`.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub contracts: Vec<DashboardContract>,
    /// The customer's contracts still to activate (number, type, status
    /// only).
    pub to_activate: Vec<PortalContract>,
    pub total_overdue: Money,
}

/// The dashboard: one statement whatever the number of contracts (every
/// contract with the figures of the activated ones), plus one key fetch per
/// subject whose plate is shown.
pub async fn dashboard(app: &App, session: &Session) -> Result<Dashboard, AppError> {
    require_active(session)?;
    let rows = repo::dashboard(app.db(), session.customer_id, session.account_id).await?;
    let mut opener = Opener::new(app);
    let mut contracts = Vec::with_capacity(rows.len());
    let mut to_activate = Vec::new();
    let mut total_overdue = Money::zero();
    for r in rows {
        let (Some(_), Some(v)) = (r.activated_at, r.vehicle) else {
            to_activate.push(PortalContract {
                id: r.contract_id,
                contract_number: r.contract_number,
                contract_type: r.contract_type,
                status: r.status,
                brand_id: r.brand_id,
                ended_on: r.ended_on,
                activated_at: None,
            });
            continue;
        };
        let plate = opener
            .open(
                v.subject_id,
                "vehicles",
                "licence_plate",
                v.id,
                &v.licence_plate,
            )
            .await?;
        let overdue = Money::from_cents(r.overdue_cents);
        total_overdue = total_overdue.checked_add(overdue).unwrap_or(total_overdue);
        let next = match (r.next_due_date, r.next_amount_cents) {
            (Some(date), Some(cents)) => parse_date(&date).map(|d| (d, Money::from_cents(cents))),
            _ => None,
        };
        contracts.push(DashboardContract {
            id: r.contract_id,
            contract_number: r.contract_number,
            contract_type: r.contract_type,
            status: r.status,
            make: v.make,
            model: v.model,
            plate: activation::display_plate(&plate),
            balance: Money::from_cents(r.balance_cents),
            overdue,
            overdue_count: r.overdue_count,
            next,
        });
    }
    Ok(Dashboard {
        contracts,
        to_activate,
        total_overdue,
    })
}

/// An ISO date (`YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

// ---------------------------------------------------------------------------
// Contract and vehicle
// ---------------------------------------------------------------------------

/// A term that changed between two versions: its field code, old and new
/// value (raw: cents, basis points, dates, kilometres).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// For date fields, the dates themselves.
    pub before_text: String,
    pub after_text: String,
}

/// One version of the contract with what changed from the one before.
#[derive(Debug, Clone)]
pub struct Version {
    pub terms: ContractTerms,
    pub changes: Vec<Change>,
}

/// The fields of [`ContractTerms`] compared between versions, as codes.
fn compare(before: &ContractTerms, after: &ContractTerms) -> Vec<Change> {
    let numbers: [(&'static str, Option<i64>, Option<i64>); 9] = [
        ("term", Some(before.term_months), Some(after.term_months)),
        (
            "financed",
            Some(before.financed_amount_cents),
            Some(after.financed_amount_cents),
        ),
        (
            "down_payment",
            Some(before.down_payment_cents),
            Some(after.down_payment_cents),
        ),
        (
            "balloon",
            Some(before.balloon_cents),
            Some(after.balloon_cents),
        ),
        (
            "rate",
            Some(before.nominal_rate_bp),
            Some(after.nominal_rate_bp),
        ),
        ("apr", Some(before.apr_bp), Some(after.apr_bp)),
        (
            "instalment",
            Some(before.monthly_instalment_cents),
            Some(after.monthly_instalment_cents),
        ),
        ("km_per_year", before.km_per_year, after.km_per_year),
        (
            "excess_km",
            before.excess_km_price_cents,
            after.excess_km_price_cents,
        ),
    ];
    let mut changes: Vec<Change> = numbers
        .into_iter()
        .filter(|(_, b, a)| b != a)
        .map(|(field, b, a)| Change {
            field,
            before: b,
            after: a,
            before_text: String::new(),
            after_text: String::new(),
        })
        .collect();
    for (field, b, a) in [
        ("start", &before.start_date, &after.start_date),
        ("end", &before.end_date, &after.end_date),
    ] {
        if b != a {
            changes.push(Change {
                field,
                before: None,
                after: None,
                before_text: b.clone(),
                after_text: a.clone(),
            });
        }
    }
    changes
}

/// A contract page (CON-01, CON-06).
#[derive(Debug, Clone)]
pub struct ContractView {
    pub details: ContractDetails,
    /// Every version, newest first, each with its changes.
    pub versions: Vec<Version>,
    /// Documents issued for this contract (documents on file).
    pub documents: Vec<IssuedRow>,
}

impl ContractView {
    /// Whether the contract has a repayment schedule.
    pub fn is_financing(&self) -> bool {
        is_financing(&self.details.overview.contract_type)
    }
}

/// One of the customer's activated contracts with its history.
pub async fn contract(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<ContractView, AppError> {
    let details = activation::details(app, session, contract_id).await?;
    let terms = carfin_store::repo::documents::contract_versions(app.db(), contract_id).await?;
    let mut versions: Vec<Version> = Vec::with_capacity(terms.len());
    let mut previous: Option<&ContractTerms> = None;
    for t in &terms {
        versions.push(Version {
            terms: t.clone(),
            changes: previous.map(|p| compare(p, t)).unwrap_or_default(),
        });
        previous = Some(t);
    }
    versions.reverse();
    let documents = repo::issued_for_contract(app.db(), session.customer_id, contract_id).await?;
    Ok(ContractView {
        details,
        versions,
        documents,
    })
}

/// The vehicle page (CON-02).
#[derive(Debug, Clone)]
pub struct VehicleView {
    pub contract_id: i64,
    pub contract_number: String,
    pub make: String,
    pub model: String,
    pub fuel: String,
    pub plate_country: String,
    pub plate: String,
    pub vin: String,
    pub first_registration: String,
    /// Oldest first.
    pub readings: Vec<Reading>,
    /// Leases: the yearly allowance.
    pub km_per_year: Option<i64>,
    /// Leases: the kilometres allowed from the first reading to the latest.
    pub allowance_to_date: Option<i64>,
    /// Kilometres driven from the first reading to the latest.
    pub driven: Option<i64>,
}

/// The vehicle of one of the customer's activated contracts.
pub async fn vehicle(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<VehicleView, AppError> {
    let details = activation::details(app, session, contract_id).await?;
    let o = &details.overview;
    let (v, readings) = repo::vehicle(app.db(), o.vehicle_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut opener = Opener::new(app);
    let vin = opener
        .open(v.subject_id, "vehicles", "vin", v.id, &v.vin)
        .await?;
    let first = readings.first();
    let last = readings.last();
    let driven = match (first, last) {
        (Some(a), Some(b)) if readings.len() > 1 => Some(b.kilometres - a.kilometres),
        _ => None,
    };
    let allowance_to_date = match (o.terms.km_per_year, first, last) {
        (Some(per_year), Some(a), Some(b)) if readings.len() > 1 => {
            match (parse_date(&a.date), parse_date(&b.date)) {
                (Some(from), Some(to)) => Some(per_year * (to - from).num_days().max(0) / 365),
                _ => None,
            }
        }
        _ => None,
    };
    Ok(VehicleView {
        contract_id,
        contract_number: o.contract_number.clone(),
        make: v.make,
        model: v.model,
        fuel: v.fuel,
        plate_country: v.plate_country,
        plate: details.plate.clone(),
        vin,
        first_registration: v.first_registration,
        readings,
        km_per_year: o.terms.km_per_year,
        allowance_to_date,
        driven,
    })
}

// ---------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------

/// The invoice list's status filter (CON-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    /// Open, overdue and in collection.
    Unpaid,
    Open,
    Overdue,
    Paid,
    InCollection,
    WrittenOff,
}

impl StatusFilter {
    /// Every filter in the order the form offers them.
    pub const ALL: [StatusFilter; 7] = [
        StatusFilter::All,
        StatusFilter::Unpaid,
        StatusFilter::Open,
        StatusFilter::Overdue,
        StatusFilter::InCollection,
        StatusFilter::Paid,
        StatusFilter::WrittenOff,
    ];

    /// The code in the query string.
    pub fn code(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Unpaid => "unpaid",
            StatusFilter::Open => "open",
            StatusFilter::Overdue => "overdue",
            StatusFilter::Paid => "paid",
            StatusFilter::InCollection => "in_collection",
            StatusFilter::WrittenOff => "written_off",
        }
    }

    /// The filter for a code; anything else shows all.
    pub fn parse(code: &str) -> StatusFilter {
        StatusFilter::ALL
            .into_iter()
            .find(|f| f.code() == code)
            .unwrap_or(StatusFilter::All)
    }

    fn statuses(self) -> Vec<String> {
        match self {
            StatusFilter::All => Vec::new(),
            StatusFilter::Unpaid => repo::UNPAID.iter().map(|s| s.to_string()).collect(),
            other => vec![other.code().to_string()],
        }
    }
}

/// A page of invoices.
#[derive(Debug, Clone)]
pub struct InvoiceList {
    pub invoices: Vec<InvoiceRow>,
    /// Matching invoices in all.
    pub total: i64,
    /// From 1.
    pub page: i64,
    pub pages: i64,
}

/// The customer's invoices over every activated contract, or one contract
/// (`NotFound` when that contract is not the customer's activated one).
pub async fn invoices(
    app: &App,
    session: &Session,
    status: StatusFilter,
    contract_id: Option<i64>,
    page: i64,
) -> Result<InvoiceList, AppError> {
    require_active(session)?;
    if let Some(id) = contract_id {
        activation::details(app, session, id).await?;
    }
    let page = page.max(1);
    let filter = InvoiceFilter {
        statuses: status.statuses(),
        contract_id,
    };
    let fetch = |page: i64| {
        repo::invoices(
            app.db(),
            session.customer_id,
            session.account_id,
            &filter,
            PAGE_SIZE,
            (page - 1).saturating_mul(PAGE_SIZE),
        )
    };
    let (mut invoices, total) = fetch(page).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // A page past the end (an old link after a filter change) shows the last.
    let page = if page > pages {
        invoices = fetch(pages).await?.0;
        pages
    } else {
        page
    };
    Ok(InvoiceList {
        invoices,
        total,
        page,
        pages,
    })
}

/// One invoice with what its page and PDF show.
#[derive(Debug, Clone)]
pub struct InvoiceView {
    pub invoice: InvoiceRow,
    /// Still to pay.
    pub outstanding: Money,
    pub entity: crate::directory::EntityView,
    pub brand: crate::directory::BrandView,
}

/// One of the customer's invoices (CON-03).
pub async fn invoice(
    app: &App,
    session: &Session,
    invoice_id: i64,
) -> Result<InvoiceView, AppError> {
    require_active(session)?;
    let invoice = repo::invoice(
        app.db(),
        session.customer_id,
        session.account_id,
        invoice_id,
    )
    .await?
    .ok_or(AppError::NotFound)?;
    let directory = app.directory().await?;
    let entity = directory
        .entity_by_id(invoice.entity_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let brand = directory
        .brand_by_id(invoice.brand_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let outstanding = Money::from_cents(invoice.amount_cents - invoice.paid_cents);
    Ok(InvoiceView {
        invoice,
        outstanding,
        entity,
        brand,
    })
}

// ---------------------------------------------------------------------------
// Statement of account
// ---------------------------------------------------------------------------

/// One line of the statement of account (CON-04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub date: String,
    /// `invoice`, `payment`, `credit`, `write_off`, `fee`.
    pub kind: String,
    pub invoice_number: Option<String>,
    /// Debits (positive amounts).
    pub debit: Option<Money>,
    /// Credits, as a positive amount.
    pub credit: Option<Money>,
    /// The balance after this line.
    pub balance: Money,
}

/// A contract's statement of account.
#[derive(Debug, Clone)]
pub struct Statement {
    pub details: ContractDetails,
    pub lines: Vec<StatementLine>,
    pub total_debit: Money,
    pub total_credit: Money,
    pub balance: Money,
}

/// Every debit and credit of one of the customer's activated contracts,
/// with the running balance.
pub async fn statement(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<Statement, AppError> {
    let details = activation::details(app, session, contract_id).await?;
    let entries = repo::ledger(app.db(), contract_id).await?;
    let overflow = || AppError::Config("ledger total out of range".into());
    let mut balance = Money::zero();
    let mut total_debit = Money::zero();
    let mut total_credit = Money::zero();
    let mut lines = Vec::with_capacity(entries.len());
    for e in entries {
        let amount = Money::from_cents(e.amount_cents);
        balance = balance.checked_add(amount).ok_or_else(overflow)?;
        let (debit, credit) = if amount.is_negative() {
            let credit = amount.checked_neg().ok_or_else(overflow)?;
            total_credit = total_credit.checked_add(credit).ok_or_else(overflow)?;
            (None, Some(credit))
        } else {
            total_debit = total_debit.checked_add(amount).ok_or_else(overflow)?;
            (Some(amount), None)
        };
        lines.push(StatementLine {
            date: e.entry_date,
            kind: e.kind,
            invoice_number: e.invoice_number,
            debit,
            credit,
            balance,
        });
    }
    Ok(Statement {
        details,
        lines,
        total_debit,
        total_credit,
        balance,
    })
}

// ---------------------------------------------------------------------------
// Repayment schedule
// ---------------------------------------------------------------------------

/// One month of the repayment schedule with its due date and whether its
/// instalment is paid.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    pub line: ScheduleLine,
    pub due: NaiveDate,
    pub paid: bool,
}

/// A financing contract's repayment schedule (CON-05).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub details: ContractDetails,
    pub principal: Money,
    pub rows: Vec<ScheduleRow>,
    /// The debt remaining today.
    pub remaining_today: Money,
}

/// The repayment schedule of one of the customer's activated financing
/// contracts; `NotFound` for an operational lease, which has none.
pub async fn schedule(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<Schedule, AppError> {
    let details = activation::details(app, session, contract_id).await?;
    if !is_financing(&details.overview.contract_type) {
        return Err(AppError::NotFound);
    }
    let t = &details.overview.terms;
    let principal = Money::from_cents(t.financed_amount_cents);
    let months = u32::try_from(t.term_months).map_err(|_| AppError::NotFound)?;
    let rate = u32::try_from(t.nominal_rate_bp).map_err(|_| AppError::NotFound)?;
    let start = parse_date(&t.start_date).ok_or(AppError::NotFound)?;
    let lines = amortization_schedule(
        principal,
        Money::from_cents(t.balloon_cents),
        rate,
        months,
        Money::from_cents(t.monthly_instalment_cents),
    )
    .ok_or(AppError::NotFound)?;
    let paid: std::collections::HashSet<String> =
        carfin_store::repo::documents::contract_invoices(app.db(), contract_id)
            .await?
            .into_iter()
            .filter(|i| i.kind == "instalment" && i.status == "paid")
            .map(|i| i.due_date)
            .collect();
    let today = app.clock().now().date_naive();
    let remaining_today = remaining_on(principal, start, &lines, today);
    let rows: Vec<ScheduleRow> = lines
        .into_iter()
        .filter_map(|line| {
            let due = due_date(start, line.month)?;
            Some(ScheduleRow {
                paid: paid.contains(&due.to_string()),
                line,
                due,
            })
        })
        .collect();
    Ok(Schedule {
        details,
        principal,
        rows,
        remaining_today,
    })
}
