//! Documents on request under `/my/documents` (SRV-05, CON-06): the page
//! listing what can be requested per activated contract and what was issued
//! before, the PDF downloads (contract copy, annual statement, tax
//! certificate, early-settlement quote) and the early-settlement quote as a
//! page with its calculation.
//!
//! Every route takes a [`Customer`]; every contract id is checked in the
//! application layer: another customer's contract, or one not activated,
//! is 404 with nothing of the contract in the answer. PDFs are sent as
//! attachments with `Cache-Control: no-store`.

use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::Customer;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use carfin_app::documents::{self, CalculationLine, Issued};
use carfin_app::messages::{local_date, local_time};
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/my/documents", get(index))
        .route(
            "/my/contracts/{id}/documents/contract-copy.pdf",
            get(contract_copy),
        )
        .route(
            "/my/contracts/{id}/documents/annual-statement",
            get(annual_choice),
        )
        .route(
            "/my/contracts/{id}/documents/annual-statement/{file}",
            get(annual_statement),
        )
        .route(
            "/my/contracts/{id}/documents/tax-certificate",
            get(tax_choice),
        )
        .route(
            "/my/contracts/{id}/documents/tax-certificate/{file}",
            get(tax_certificate),
        )
        .route(
            "/my/contracts/{id}/documents/settlement-quote.pdf",
            get(settlement_pdf),
        )
        .route("/my/contracts/{id}/settlement-quote", get(settlement_page))
}

/// A PDF download: `application/pdf`, an attachment with the document's
/// file name, never cached.
pub fn pdf_response(issued: Issued) -> Response {
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", issued.filename))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut response = issued.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A year from a file name `2025.pdf`.
fn year_of(file: &str) -> Result<i32, WebError> {
    file.strip_suffix(".pdf")
        .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|y| y.parse().ok())
        .ok_or(WebError::NotFound)
}

/// One option of a year choice.
#[derive(Debug, Clone)]
pub struct YearOption {
    pub value: String,
    pub label: String,
}

/// One contract on the documents page.
#[derive(Debug, Clone)]
pub struct ContractDocuments {
    pub id: i64,
    pub number: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub annual_years: Vec<YearOption>,
    pub tax_years: Vec<YearOption>,
    pub settlement: bool,
}

/// A document issued before.
#[derive(Debug, Clone)]
pub struct IssuedDocument {
    pub kind: &'static str,
    pub contract: String,
    pub period: String,
    pub reference: String,
    pub generated: String,
}

#[derive(Template)]
#[template(path = "my/documents.html")]
struct IndexPage {
    ctx: PageContext,
    contracts: Vec<ContractDocuments>,
    not_activated: Vec<String>,
    issued: Vec<IssuedDocument>,
}

/// `GET /my/documents`: what can be requested per activated contract, and
/// the documents issued before.
pub async fn index(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    let overview = documents::overview(state.app(), &session).await?;
    let this_year = overview.this_year;
    let years = |years: &[i32]| -> Vec<YearOption> {
        years
            .iter()
            .map(|y| YearOption {
                value: y.to_string(),
                label: if *y == this_year {
                    ctx.tf("documents.page.year_to_date", &[("year", &y.to_string())])
                } else {
                    y.to_string()
                },
            })
            .collect()
    };
    let contracts = overview
        .contracts
        .iter()
        .map(|c| ContractDocuments {
            id: c.id,
            number: c.number.clone(),
            kind: ctx.t(&format!("documents.type.{}", c.contract_type)),
            status: ctx.t(&format!("documents.status.contract.{}", c.status)),
            annual_years: years(&c.annual_years),
            tax_years: years(&c.tax_years),
            settlement: c.settlement,
        })
        .collect();
    let issued = overview
        .issued
        .iter()
        .map(|d| IssuedDocument {
            kind: ctx.t(&format!("documents.kind.{}", d.kind)),
            contract: d.contract_number.clone().unwrap_or_default(),
            period: d.period.clone().unwrap_or_default(),
            reference: d.reference.clone(),
            generated: local_time(ctx.lang, d.generated_at),
        })
        .collect();
    render(&IndexPage {
        not_activated: overview
            .not_activated
            .iter()
            .map(|(_, number)| number.clone())
            .collect(),
        contracts,
        issued,
        ctx,
    })
}

/// `GET /my/contracts/{id}/documents/contract-copy.pdf` (CON-06).
pub async fn contract_copy(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let issued = documents::contract_copy(state.app(), &session, ctx.lang, id).await?;
    Ok(pdf_response(issued))
}

/// The year chosen in a form.
#[derive(Debug, Deserialize)]
pub struct YearQuery {
    #[serde(default)]
    year: String,
}

fn year_redirect(id: i64, kind: &str, query: &YearQuery) -> Result<Response, WebError> {
    let year = year_of(&format!("{}.pdf", query.year.trim()))?;
    Ok(Redirect::to(&format!("/my/contracts/{id}/documents/{kind}/{year}.pdf")).into_response())
}

/// `GET /my/contracts/{id}/documents/annual-statement?year=2025`: the
/// year form's target, redirecting to the PDF.
pub async fn annual_choice(
    State(state): State<AppState>,
    Customer(session): Customer,
    Path(id): Path<i64>,
    Query(query): Query<YearQuery>,
) -> Result<Response, WebError> {
    documents::check(state.app(), &session, id).await?;
    year_redirect(id, "annual-statement", &query)
}

/// `GET /my/contracts/{id}/documents/annual-statement/{year}.pdf`.
pub async fn annual_statement(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, WebError> {
    let year = year_of(&file)?;
    let issued = documents::annual(state.app(), &session, ctx.lang, id, year).await?;
    Ok(pdf_response(issued))
}

/// `GET /my/contracts/{id}/documents/tax-certificate?year=2025`.
pub async fn tax_choice(
    State(state): State<AppState>,
    Customer(session): Customer,
    Path(id): Path<i64>,
    Query(query): Query<YearQuery>,
) -> Result<Response, WebError> {
    documents::check(state.app(), &session, id).await?;
    year_redirect(id, "tax-certificate", &query)
}

/// `GET /my/contracts/{id}/documents/tax-certificate/{year}.pdf`.
pub async fn tax_certificate(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, WebError> {
    let year = year_of(&file)?;
    let issued = documents::tax(state.app(), &session, ctx.lang, id, year).await?;
    Ok(pdf_response(issued))
}

/// `GET /my/contracts/{id}/documents/settlement-quote.pdf`.
pub async fn settlement_pdf(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let issued = documents::settlement_pdf(state.app(), &session, ctx.lang, id).await?;
    Ok(pdf_response(issued))
}

/// An unpaid invoice as the quote page lists it.
#[derive(Debug, Clone)]
pub struct UnpaidLine {
    pub number: String,
    pub due: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "my/documents_settlement.html")]
struct SettlementPage {
    ctx: PageContext,
    id: i64,
    number: String,
    kind: &'static str,
    settlement_date: String,
    lines: Vec<CalculationLine>,
    total: Option<CalculationLine>,
    unpaid: Vec<UnpaidLine>,
    basis: String,
}

/// `GET /my/contracts/{id}/settlement-quote`: the early-settlement quote
/// with its calculation, and the link to the PDF.
pub async fn settlement_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let s = documents::settlement(state.app(), &session, id).await?;
    let mut lines = s.lines(ctx.lang);
    let total = lines.pop();
    render(&SettlementPage {
        id: s.contract_id,
        number: s.contract_number.clone(),
        kind: ctx.t(&format!("documents.type.{}", s.contract_type)),
        settlement_date: local_date(ctx.lang, s.quote.settlement_date),
        lines,
        total,
        unpaid: s
            .unpaid
            .iter()
            .map(|u| UnpaidLine {
                number: u.invoice_number.clone(),
                due: local_date(ctx.lang, u.due_date),
                amount: u.open.format(ctx.lang),
            })
            .collect(),
        basis: s.basis(ctx.lang),
        ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_from_file_names() {
        assert_eq!(year_of("2025.pdf"), Ok(2025));
        assert_eq!(year_of("2025"), Err(WebError::NotFound));
        assert_eq!(year_of("25.pdf"), Err(WebError::NotFound));
        assert_eq!(year_of("-202.pdf"), Err(WebError::NotFound));
        assert_eq!(year_of("2o25.pdf"), Err(WebError::NotFound));
    }
}
