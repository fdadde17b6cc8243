//! Invoices in the portal (CON-03): the list with status filters and
//! paging, one invoice as a page with its payment instructions, and as a
//! PDF. Which invoices the customer may see is decided in
//! [`carfin_app::portal`].

use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::Customer;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use carfin_app::identity::session::Session;
use carfin_app::payments;
use carfin_app::portal::{self, InvoiceRow, InvoiceView, StatusFilter};
use carfin_app::portal_pdf::{kind_code, status_code};
use serde::Deserialize;

/// An invoice line in the list.
#[derive(Debug, Clone)]
pub struct InvoiceLine {
    pub id: i64,
    pub number: String,
    pub contract: String,
    pub kind: &'static str,
    pub due: String,
    pub amount: String,
    pub outstanding: String,
    pub status: &'static str,
    /// The status needs attention (overdue, in collection): the page marks
    /// it with an icon and text, not colour alone.
    pub attention: bool,
    /// It can be selected for payment online (PAY-01, COL-05).
    pub payable: bool,
    /// The checkbox is ticked (the selection shown again after a refusal).
    pub selected: bool,
    /// A payment in progress includes it: (payment id, what it says).
    pub payment: Option<(i64, &'static str)>,
}

fn line(ctx: &PageContext, i: &InvoiceRow) -> InvoiceLine {
    InvoiceLine {
        id: i.id,
        number: i.invoice_number.clone(),
        contract: i.contract_number.clone(),
        kind: ctx.t(&format!("portal.invoice_kind.{}", kind_code(&i.kind))),
        due: ctx.date(&i.due_date),
        amount: ctx.money(&i.amount_cents),
        outstanding: ctx.money(&(i.amount_cents - i.paid_cents)),
        status: ctx.t(&format!("portal.invoice_status.{}", status_code(&i.status))),
        attention: matches!(i.status.as_str(), "overdue" | "in_collection"),
        payable: matches!(i.status.as_str(), "open" | "overdue" | "in_collection")
            && i.amount_cents > i.paid_cents,
        selected: false,
        payment: None,
    }
}

/// Marks the lines that a payment in progress includes: no checkbox, a
/// "being processed" note with a link instead.
async fn mark_payments(
    state: &AppState,
    ctx: &PageContext,
    lines: &mut [InvoiceLine],
) -> Result<(), WebError> {
    let ids: Vec<i64> = lines.iter().filter(|l| l.payable).map(|l| l.id).collect();
    for (invoice, payment, status) in payments::in_progress(state.app(), &ids).await? {
        if let Some(l) = lines.iter_mut().find(|l| l.id == invoice) {
            let key = if status == "authorised" {
                "payments.invoice.being_processed"
            } else {
                "payments.invoice.in_progress"
            };
            l.payment = Some((payment, ctx.t(key)));
            l.payable = false;
        }
    }
    Ok(())
}

/// A choice of the status filter.
#[derive(Debug, Clone)]
pub struct FilterChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// A page link of the pager.
#[derive(Debug, Clone)]
pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "my/invoices.html")]
struct InvoicesPage {
    ctx: PageContext,
    invoices: Vec<InvoiceLine>,
    filters: Vec<FilterChoice>,
    contract: Option<i64>,
    summary: String,
    pages: Vec<PageLink>,
    previous: Option<String>,
    next: Option<String>,
    /// Online payment is available.
    payments_on: bool,
    /// Why the last "pay" was refused (a message key).
    error: Option<&'static str>,
}

impl InvoicesPage {
    fn any_payable(&self) -> bool {
        self.payments_on && self.invoices.iter().any(|i| i.payable)
    }
}

/// Query of the invoice list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    contract: Option<i64>,
    #[serde(default)]
    page: Option<i64>,
}

fn list_href(status: StatusFilter, contract: Option<i64>, page: i64) -> String {
    let mut href = format!("/my/invoices?status={}", status.code());
    if let Some(c) = contract {
        href.push_str(&format!("&contract={c}"));
    }
    href.push_str(&format!("&page={page}"));
    href
}

/// `GET /my/invoices?status=&contract=&page=` (CON-03).
pub async fn list(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    list_page(state, ctx, session, query, &[], None).await
}

/// The invoices to pay again, after a refused "pay": the selection kept
/// and the reason at the top.
pub async fn payable_page(
    state: AppState,
    ctx: PageContext,
    session: Session,
    selected: &[i64],
    error: Option<String>,
) -> Result<Response, WebError> {
    let query = ListQuery {
        status: Some("unpaid".into()),
        contract: None,
        page: None,
    };
    let response = list_page(state, ctx, session, query, selected, error).await?;
    let (mut parts, body) = response.into_parts();
    parts.status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(Response::from_parts(parts, body))
}

async fn list_page(
    state: AppState,
    ctx: PageContext,
    session: Session,
    query: ListQuery,
    selected: &[i64],
    error: Option<String>,
) -> Result<Response, WebError> {
    let status = StatusFilter::parse(query.status.as_deref().unwrap_or("all"));
    let page = query.page.unwrap_or(1).max(1);
    let list = portal::invoices(state.app(), &session, status, query.contract, page).await?;
    let mut invoices: Vec<InvoiceLine> = list.invoices.iter().map(|i| line(&ctx, i)).collect();
    let payments_on = state.app().config().payments.enabled();
    if payments_on {
        mark_payments(&state, &ctx, &mut invoices).await?;
    }
    for l in &mut invoices {
        l.selected = l.payable && selected.contains(&l.id);
    }
    let error = error.map(|key| ctx.t(&key));
    let filters = StatusFilter::ALL
        .into_iter()
        .map(|f| FilterChoice {
            code: f.code(),
            label: ctx.t(&format!("portal.invoice_filter.{}", f.code())),
            selected: f == status,
        })
        .collect();
    let summary = ctx.tf(
        "portal.invoices.summary",
        &[
            ("total", &list.total.to_string()),
            ("page", &list.page.to_string()),
            ("pages", &list.pages.to_string()),
        ],
    );
    // Up to nine page links around the current page.
    let first = (list.page - 4).max(1);
    let last = (first + 8).min(list.pages);
    let pages = (first..=last)
        .map(|n| PageLink {
            number: n,
            href: list_href(status, query.contract, n),
            current: n == list.page,
        })
        .collect();
    let previous = (list.page > 1).then(|| list_href(status, query.contract, list.page - 1));
    let next = (list.page < list.pages).then(|| list_href(status, query.contract, list.page + 1));
    let response = render(&InvoicesPage {
        ctx,
        invoices,
        filters,
        contract: query.contract,
        summary,
        pages,
        previous,
        next,
        payments_on,
        error,
    })?;
    Ok(crate::payments::allow_hosted_page(&state, response))
}

/// An invoice's page as shown.
#[derive(Debug, Clone)]
pub struct InvoiceDetails {
    pub id: i64,
    pub number: String,
    pub contract_id: i64,
    pub contract: String,
    pub kind: &'static str,
    pub period: String,
    pub issued: String,
    pub due: String,
    pub amount: String,
    pub paid: String,
    pub outstanding: String,
    pub status: &'static str,
    pub attention: bool,
    pub unpaid: bool,
    pub reference: String,
    pub iban: String,
    pub bic: String,
    pub beneficiary: String,
    pub brand: String,
}

/// The invoice as its page shows it; also used for the PDF.
pub fn details(ctx: &PageContext, v: &InvoiceView) -> InvoiceDetails {
    let i = &v.invoice;
    InvoiceDetails {
        id: i.id,
        number: i.invoice_number.clone(),
        contract_id: i.contract_id,
        contract: i.contract_number.clone(),
        kind: ctx.t(&format!("portal.invoice_kind.{}", kind_code(&i.kind))),
        period: i.period.clone().unwrap_or_default(),
        issued: ctx.date(&i.issue_date),
        due: ctx.date(&i.due_date),
        amount: ctx.money(&i.amount_cents),
        paid: ctx.money(&i.paid_cents),
        outstanding: v.outstanding.format(ctx.lang),
        status: ctx.t(&format!("portal.invoice_status.{}", status_code(&i.status))),
        attention: matches!(i.status.as_str(), "overdue" | "in_collection"),
        unpaid: v.outstanding.cents() > 0 && i.status != "written_off",
        reference: i.payment_reference.clone(),
        iban: carfin_app::portal_pdf::group_iban(&v.entity.bank_iban),
        bic: v.entity.bank_bic.clone(),
        beneficiary: format!("{} {}", v.entity.name, v.entity.legal_form),
        brand: v.brand.name.clone(),
    }
}

#[derive(Template)]
#[template(path = "my/invoice.html")]
struct InvoicePage {
    ctx: PageContext,
    invoice: InvoiceDetails,
    instructions: String,
    /// "Pay now" is offered (PAY-01).
    payable: bool,
    /// A payment in progress includes the invoice: (payment id, note).
    payment: Option<(i64, &'static str)>,
}

/// The payment instructions, with the reference in the country's format.
pub fn instructions(ctx: &PageContext, d: &InvoiceDetails) -> String {
    ctx.tf(
        "portal.invoice.instructions",
        &[
            ("amount", &d.outstanding),
            ("iban", &d.iban),
            ("beneficiary", &d.beneficiary),
            ("reference", &d.reference),
            ("due", &d.due),
        ],
    )
}

/// `GET /my/invoices/{id}` (CON-03).
pub async fn show(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let view = portal::invoice(state.app(), &session, id).await?;
    let mut lines = vec![line(&ctx, &view.invoice)];
    if state.app().config().payments.enabled() {
        mark_payments(&state, &ctx, &mut lines).await?;
    } else {
        lines[0].payable = false;
    }
    let invoice = details(&ctx, &view);
    let instructions = instructions(&ctx, &invoice);
    let [line] = <[InvoiceLine; 1]>::try_from(lines).map_err(|_| WebError::Internal)?;
    let response = render(&InvoicePage {
        ctx,
        invoice,
        instructions,
        payable: line.payable,
        payment: line.payment,
    })?;
    Ok(crate::payments::allow_hosted_page(&state, response))
}

/// `GET /my/invoices/{id}/invoice.pdf` (CON-03): the invoice as a PDF.
pub async fn pdf(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let issued = carfin_app::portal_pdf::invoice(state.app(), &session, id, ctx.lang).await?;
    Ok(crate::documents::pdf_response(issued))
}
