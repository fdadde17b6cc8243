//! The portal's contract pages (CON-01, CON-02, CON-04, CON-05, CON-06):
//! the dashboard `/my`, a contract with its versions and documents, the
//! vehicle with its odometer readings, the statement of account (page, CSV
//! and PDF) and the repayment schedule with its chart. The application
//! layer ([`carfin_app::portal`]) decides what the customer may see; these
//! handlers only format.

use crate::auth::Notice;
use crate::chart::{y_steps, LineChart};
use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::Customer;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use carfin_app::identity::activation::{self, PortalContract};
use carfin_app::messages::local_time;
use carfin_app::portal::{self, Change, ContractTerms, DashboardContract, Statement};
use carfin_domain::{Language, Money};
use serde::Deserialize;

/// A contract waiting for activation, as the dashboard lists it.
#[derive(Debug, Clone)]
pub struct PendingLine {
    pub id: i64,
    pub number: String,
    pub kind: &'static str,
    pub status: &'static str,
}

fn pending_line(ctx: &PageContext, c: &PortalContract) -> PendingLine {
    PendingLine {
        id: c.id,
        number: c.contract_number.clone(),
        kind: ctx.t(&format!("contract.type.{}", c.contract_type)),
        status: ctx.t(&format!("contract.status.{}", c.status)),
    }
}

/// One contract card on the dashboard.
#[derive(Debug, Clone)]
pub struct Card {
    pub id: i64,
    pub number: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub vehicle: String,
    pub plate: String,
    pub balance: String,
    pub overdue: Option<String>,
    pub overdue_text: String,
    pub next: Option<String>,
    pub financing: bool,
}

fn card(ctx: &PageContext, c: &DashboardContract) -> Card {
    let overdue = (c.overdue.cents() > 0).then(|| c.overdue.format(ctx.lang));
    Card {
        id: c.id,
        number: c.contract_number.clone(),
        kind: ctx.t(&format!("contract.type.{}", c.contract_type)),
        status: ctx.t(&format!("contract.status.{}", c.status)),
        vehicle: format!("{} {}", c.make, c.model),
        plate: c.plate.clone(),
        balance: c.balance.format(ctx.lang),
        overdue_text: ctx.tf(
            "portal.overdue_count",
            &[("count", &c.overdue_count.to_string())],
        ),
        overdue,
        next: c.next.map(|(date, amount)| {
            ctx.tf(
                "portal.next_instalment_text",
                &[
                    ("amount", &amount.format(ctx.lang)),
                    ("date", &carfin_app::messages::local_date(ctx.lang, date)),
                ],
            )
        }),
        financing: portal::is_financing(&c.contract_type),
    }
}

#[derive(Template)]
#[template(path = "my/index.html")]
struct DashboardPage {
    ctx: PageContext,
    cards: Vec<Card>,
    pending: Vec<PendingLine>,
    total_overdue: Option<String>,
}

/// `GET /my`: the dashboard.
pub async fn dashboard(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    let d = portal::dashboard(state.app(), &session).await?;
    let cards = d.contracts.iter().map(|c| card(&ctx, c)).collect();
    let pending = d
        .to_activate
        .iter()
        .map(|c| pending_line(&ctx, c))
        .collect();
    let total_overdue = (d.total_overdue.cents() > 0).then(|| d.total_overdue.format(ctx.lang));
    render(&DashboardPage {
        ctx,
        cards,
        pending,
        total_overdue,
    })
}

/// One labelled value.
#[derive(Debug, Clone)]
pub struct Term {
    pub label: &'static str,
    pub value: String,
}

/// A percentage of basis points in the reader's language.
pub fn percent(bp: i64, lang: Language) -> String {
    let text = format!("{}.{:02} %", bp / 100, bp % 100);
    if lang == Language::En {
        text
    } else {
        text.replace('.', ",")
    }
}

/// Kilometres with the language's thousands separator (`12.500 km`).
fn km(value: i64, lang: Language) -> String {
    let separator = match lang {
        Language::Nl => '.',
        Language::Fr => '\u{202f}',
        Language::En => ',',
    };
    let digits = value.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(separator);
        }
        grouped.push(c);
    }
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{grouped} km")
}

/// Every agreed term of a version (CON-01).
fn terms_of(ctx: &PageContext, contract_type: &str, status: &str, t: &ContractTerms) -> Vec<Term> {
    let money = |cents: i64| Money::from_cents(cents).format(ctx.lang);
    let mut terms = vec![
        Term {
            label: ctx.t("contract.field.type"),
            value: ctx.t(&format!("contract.type.{contract_type}")).to_string(),
        },
        Term {
            label: ctx.t("contract.field.status"),
            value: ctx.t(&format!("contract.status.{status}")).to_string(),
        },
        Term {
            label: ctx.t("contract.field.period"),
            value: format!("{} – {}", ctx.date(&t.start_date), ctx.date(&t.end_date)),
        },
        Term {
            label: ctx.t("contract.field.term"),
            value: ctx.tf("contract.months", &[("months", &t.term_months.to_string())]),
        },
        Term {
            label: ctx.t("contract.field.financed"),
            value: money(t.financed_amount_cents),
        },
        Term {
            label: ctx.t("contract.field.down_payment"),
            value: money(t.down_payment_cents),
        },
        Term {
            label: ctx.t("contract.field.balloon"),
            value: money(t.balloon_cents),
        },
        Term {
            label: ctx.t("contract.field.rate"),
            value: percent(t.nominal_rate_bp, ctx.lang),
        },
        Term {
            label: ctx.t("contract.field.apr"),
            value: percent(t.apr_bp, ctx.lang),
        },
        Term {
            label: ctx.t("contract.field.instalment"),
            value: money(t.monthly_instalment_cents),
        },
    ];
    if let Some(per_year) = t.km_per_year {
        terms.push(Term {
            label: ctx.t("contract.field.km_per_year"),
            value: km(per_year, ctx.lang),
        });
    }
    if let Some(price) = t.excess_km_price_cents {
        terms.push(Term {
            label: ctx.t("contract.field.excess_km"),
            value: money(price),
        });
    }
    terms
}

/// A change between versions as shown.
#[derive(Debug, Clone)]
pub struct ChangeLine {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

fn change_line(ctx: &PageContext, c: &Change) -> ChangeLine {
    let show = |v: Option<i64>, text: &str| -> String {
        let Some(v) = v else {
            return if text.is_empty() {
                "—".to_string()
            } else {
                ctx.date(text)
            };
        };
        match c.field {
            "rate" | "apr" => percent(v, ctx.lang),
            "term" => ctx.tf("contract.months", &[("months", &v.to_string())]),
            "km_per_year" => km(v, ctx.lang),
            _ => Money::from_cents(v).format(ctx.lang),
        }
    };
    ChangeLine {
        field: ctx.t(&format!("portal.change_field.{}", c.field)),
        before: show(c.before, &c.before_text),
        after: show(c.after, &c.after_text),
    }
}

/// A version as the history shows it.
#[derive(Debug, Clone)]
pub struct VersionLine {
    pub version: i64,
    pub valid_from: String,
    pub reason: String,
    pub changes: Vec<ChangeLine>,
}

/// Reasons the catalogue knows; others are shown as written.
const REASONS: [&str; 6] = [
    "origination",
    "mileage_change",
    "term_extension",
    "rate_change",
    "restructuring",
    "correction",
];

fn reason(ctx: &PageContext, code: &str) -> String {
    if REASONS.contains(&code) {
        ctx.t(&format!("portal.reason.{code}")).to_string()
    } else {
        code.to_string()
    }
}

/// A document on file.
#[derive(Debug, Clone)]
pub struct DocumentLine {
    pub kind: &'static str,
    pub reference: String,
    pub period: String,
    pub generated: String,
}

#[derive(Template)]
#[template(path = "my/contract.html")]
struct ContractPage {
    ctx: PageContext,
    id: i64,
    number: String,
    vehicle: String,
    plate: String,
    terms: Vec<Term>,
    versions: Vec<VersionLine>,
    documents: Vec<DocumentLine>,
    financing: bool,
    notice: Option<Notice>,
}

/// Query of the contract page.
#[derive(Debug, Deserialize)]
pub struct ContractQuery {
    #[serde(default)]
    activated: Option<String>,
}

/// `GET /my/contracts/{id}` (CON-01, CON-06): every agreed term, the
/// versions with what changed, the documents on file. A contract not yet
/// activated goes to its activation page; anybody else's gives 404.
pub async fn contract(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
    Query(query): Query<ContractQuery>,
) -> Result<Response, WebError> {
    if !activation::is_activated(state.app(), &session, id).await? {
        return Ok(Redirect::to(&format!("/my/contracts/{id}/activate")).into_response());
    }
    let view = portal::contract(state.app(), &session, id).await?;
    let o = &view.details.overview;
    let notice = query
        .activated
        .and_then(|_| Notice::success(ctx.t("activation.done").to_string()));
    let versions = view
        .versions
        .iter()
        .map(|v| VersionLine {
            version: v.terms.version,
            valid_from: ctx.date(&v.terms.valid_from),
            reason: reason(&ctx, &v.terms.change_reason),
            changes: v.changes.iter().map(|c| change_line(&ctx, c)).collect(),
        })
        .collect();
    let documents = view
        .documents
        .iter()
        .map(|d| DocumentLine {
            kind: ctx.t(&format!("portal.document_kind.{}", d.kind)),
            reference: d.reference.clone(),
            period: d.period.clone().unwrap_or_default(),
            generated: local_time(ctx.lang, d.generated_at),
        })
        .collect();
    render(&ContractPage {
        id,
        number: o.contract_number.clone(),
        vehicle: format!("{} {}", o.make, o.model),
        plate: view.details.plate.clone(),
        terms: terms_of(&ctx, &o.contract_type, &o.status, &o.terms),
        versions,
        documents,
        financing: view.is_financing(),
        notice,
        ctx,
    })
}

/// An odometer reading as shown.
#[derive(Debug, Clone)]
pub struct ReadingLine {
    pub date: String,
    pub km: String,
    pub source: &'static str,
}

#[derive(Template)]
#[template(path = "my/vehicle.html")]
struct VehiclePage {
    ctx: PageContext,
    id: i64,
    number: String,
    facts: Vec<Term>,
    readings: Vec<ReadingLine>,
    mileage: Option<String>,
}

/// `GET /my/contracts/{id}/vehicle` (CON-02).
pub async fn vehicle(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let v = portal::vehicle(state.app(), &session, id).await?;
    let facts = vec![
        Term {
            label: ctx.t("portal.vehicle.make_model"),
            value: format!("{} {}", v.make, v.model),
        },
        Term {
            label: ctx.t("portal.vehicle.fuel"),
            value: ctx
                .t(&format!("portal.fuel.{}", fuel_code(&v.fuel)))
                .to_string(),
        },
        Term {
            label: ctx.t("portal.vehicle.plate"),
            value: format!("{} ({})", v.plate, v.plate_country),
        },
        Term {
            label: ctx.t("portal.vehicle.vin"),
            value: v.vin.clone(),
        },
        Term {
            label: ctx.t("portal.vehicle.first_registration"),
            value: ctx.date(&v.first_registration),
        },
    ];
    let readings = v
        .readings
        .iter()
        .map(|r| ReadingLine {
            date: ctx.date(&r.date),
            km: km(r.kilometres, ctx.lang),
            source: ctx.t(&format!(
                "portal.odometer_source.{}",
                source_code(&r.source)
            )),
        })
        .collect();
    let mileage = match (v.driven, v.allowance_to_date) {
        (Some(driven), Some(allowed)) => Some(ctx.tf(
            "portal.vehicle.mileage",
            &[
                ("driven", &km(driven, ctx.lang)),
                ("allowed", &km(allowed, ctx.lang)),
            ],
        )),
        _ => None,
    };
    render(&VehiclePage {
        id,
        number: v.contract_number.clone(),
        facts,
        readings,
        mileage,
        ctx,
    })
}

fn fuel_code(fuel: &str) -> &'static str {
    match fuel {
        "petrol" => "petrol",
        "diesel" => "diesel",
        "electric" => "electric",
        "hybrid" => "hybrid",
        "plugin_hybrid" => "plugin_hybrid",
        _ => "other",
    }
}

fn source_code(source: &str) -> &'static str {
    match source {
        "delivery" => "delivery",
        "customer" => "customer",
        "dealer" => "dealer",
        "inspection" => "inspection",
        "contract_end" => "contract_end",
        _ => "import",
    }
}

// ---------------------------------------------------------------------------
// Statement of account
// ---------------------------------------------------------------------------

/// A statement line as shown.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub date: String,
    pub description: String,
    pub debit: String,
    pub credit: String,
    pub balance: String,
}

fn statement_rows(ctx: &PageContext, s: &Statement) -> Vec<StatementRow> {
    s.lines
        .iter()
        .map(|l| StatementRow {
            date: ctx.date(&l.date),
            description: describe(ctx, &l.kind, l.invoice_number.as_deref()),
            debit: l.debit.map(|m| m.format(ctx.lang)).unwrap_or_default(),
            credit: l.credit.map(|m| m.format(ctx.lang)).unwrap_or_default(),
            balance: l.balance.format(ctx.lang),
        })
        .collect()
}

fn describe(ctx: &PageContext, kind: &str, invoice: Option<&str>) -> String {
    carfin_app::portal_pdf::describe(ctx.lang, kind, invoice)
}

#[derive(Template)]
#[template(path = "my/statement.html")]
struct StatementPage {
    ctx: PageContext,
    id: i64,
    number: String,
    rows: Vec<StatementRow>,
    total_debit: String,
    total_credit: String,
    balance: String,
}

/// `GET /my/contracts/{id}/statement` (CON-04).
pub async fn statement(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let s = portal::statement(state.app(), &session, id).await?;
    render(&StatementPage {
        id,
        number: s.details.overview.contract_number.clone(),
        rows: statement_rows(&ctx, &s),
        total_debit: s.total_debit.format(ctx.lang),
        total_credit: s.total_credit.format(ctx.lang),
        balance: s.balance.format(ctx.lang),
        ctx,
    })
}

/// A CSV cell: quoted when needed (RFC 4180); text that a spreadsheet
/// would run as a formula gets a leading apostrophe.
fn csv_cell(value: &str) -> String {
    let number = value.strip_prefix(['-', '+']).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    });
    let value = if value.starts_with(['=', '+', '-', '@']) && !number {
        format!("'{value}")
    } else {
        value.to_string()
    };
    carfin_app::privacy::csv_cell(&value)
}

/// An amount for a spreadsheet: plain decimal digits, the decimal mark of
/// the language, no grouping, no currency sign.
fn csv_amount(money: Option<Money>, lang: Language) -> String {
    match money {
        None => String::new(),
        Some(m) => {
            let text = m.to_decimal_string();
            if lang == Language::En {
                text
            } else {
                text.replace('.', ",")
            }
        }
    }
}

/// `GET /my/contracts/{id}/statement.csv` (CON-04): UTF-8 with a byte-order
/// mark (spreadsheets then read accents right); `;` between fields and a
/// decimal comma in Dutch and French, `,` and a decimal point in English.
pub async fn statement_csv(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let s = portal::statement(state.app(), &session, id).await?;
    let sep = if ctx.lang == Language::En { "," } else { ";" };
    let mut out = String::from("\u{feff}");
    let header = [
        ctx.t("portal.statement.date"),
        ctx.t("portal.statement.description"),
        ctx.t("portal.statement.debit"),
        ctx.t("portal.statement.credit"),
        ctx.t("portal.statement.balance"),
    ];
    out.push_str(
        &header
            .iter()
            .map(|h| csv_cell(h))
            .collect::<Vec<_>>()
            .join(sep),
    );
    out.push_str("\r\n");
    for l in &s.lines {
        let cells = [
            l.date.clone(),
            describe(&ctx, &l.kind, l.invoice_number.as_deref()),
            csv_amount(l.debit, ctx.lang),
            csv_amount(l.credit, ctx.lang),
            csv_amount(Some(l.balance), ctx.lang),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(sep),
        );
        out.push_str("\r\n");
    }
    let filename = format!(
        "{}-{}.csv",
        ctx.t("portal.statement.file"),
        s.details.overview.contract_number
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        out,
    )
        .into_response())
}

/// `GET /my/contracts/{id}/statement.pdf` (CON-04).
pub async fn statement_pdf(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let issued = carfin_app::portal_pdf::statement(state.app(), &session, id, ctx.lang).await?;
    Ok(crate::documents::pdf_response(issued))
}

// ---------------------------------------------------------------------------
// Repayment schedule
// ---------------------------------------------------------------------------

/// A schedule month as shown.
#[derive(Debug, Clone)]
pub struct ScheduleLineView {
    pub month: u32,
    pub due: String,
    pub instalment: String,
    pub interest: String,
    pub principal: String,
    pub remaining: String,
    pub paid: bool,
}

#[derive(Template)]
#[template(path = "my/schedule.html")]
struct SchedulePage {
    ctx: PageContext,
    id: i64,
    number: String,
    chart: String,
    summary: String,
    lines: Vec<ScheduleLineView>,
}

/// `GET /my/contracts/{id}/schedule` (CON-05): the table and a chart of the
/// remaining debt over time, drawn on the server as SVG with a text
/// alternative. Financing contracts only; an operational lease gives 404.
pub async fn schedule(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let s = portal::schedule(state.app(), &session, id).await?;
    let today = state.app().clock().now().date_naive();
    let lang = ctx.lang;
    let start = s.rows.first().map(|r| r.due).unwrap_or(today);
    let end = s.rows.last().map(|r| r.due).unwrap_or(today);
    let summary = ctx.tf(
        "portal.schedule.summary",
        &[
            ("principal", &s.principal.format(lang)),
            ("start", &carfin_app::messages::local_date(lang, start)),
            ("end", &carfin_app::messages::local_date(lang, end)),
            ("remaining", &s.remaining_today.format(lang)),
            ("months", &s.rows.len().to_string()),
        ],
    );
    let mut points = vec![(start.format("%m/%Y").to_string(), s.principal.cents())];
    points.extend(
        s.rows
            .iter()
            .map(|r| (r.due.format("%m/%Y").to_string(), r.line.remaining.cents())),
    );
    let marker = s.rows.iter().position(|r| r.due > today);
    let y_labels = y_steps(s.principal.cents())
        .into_iter()
        .map(|cents| (cents, Money::from_cents(cents).format(lang)))
        .collect();
    let chart = LineChart {
        title: ctx.t("portal.schedule.chart_title").to_string(),
        description: summary.clone(),
        points,
        marker,
        marker_label: ctx.t("portal.schedule.today").to_string(),
        y_labels,
    }
    .to_svg();
    let lines = s
        .rows
        .iter()
        .map(|r| ScheduleLineView {
            month: r.line.month,
            due: carfin_app::messages::local_date(lang, r.due),
            instalment: r.line.instalment.format(lang),
            interest: r.line.interest.format(lang),
            principal: r.line.principal.format(lang),
            remaining: r.line.remaining.format(lang),
            paid: r.paid,
        })
        .collect();
    render(&SchedulePage {
        id,
        number: s.details.overview.contract_number.clone(),
        chart,
        summary,
        lines,
        ctx,
    })
}
