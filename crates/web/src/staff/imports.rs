//! Contract administration in the back office (BOF-04), for contract
//! administration and administrators (anybody else gets 404):
//!
//! * `GET /staff/imports`: the upload form, the invoice-run form, the
//!   contract finder and the recent runs;
//! * `POST /staff/imports`: an upload (`multipart/form-data`, field
//!   `file`), imported like `carfin import FILE`; the page shows the
//!   report with every rejected row, its number and reason;
//! * `POST /staff/imports/invoice-run`: the invoices of a month;
//! * `GET /staff/imports/contract?number=…`: to a contract's amendment;
//! * `GET`/`POST /staff/contracts/{id}/amend`: a contract amendment (a new
//!   version; the old ones stay).
//!
//! The upload is read whole: it is bounded by the router's body limit
//! ([`crate::BODY_LIMIT`]); larger files go through `carfin import`.

use super::Staff;
use crate::auth::{render_with, Notice};
use crate::context::{PageContext, RequestId};
use crate::error::WebError;
use crate::form::FormState;
use crate::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carfin_app::staff::import::{
    self, AmendView, AmendmentInput, ImportError, ImportReport, AMEND_REASONS, ROLES,
};
use carfin_app::staff::invoice_run::{self, InvoiceRunReport};
use carfin_app::staff::StaffSession;
use carfin_app::AppError;
use carfin_domain::Money;
use chrono::{Datelike, Months};
use serde::Deserialize;

/// Rejected rows shown on the page at most (the rest are counted).
const SHOWN_REJECTIONS: usize = 500;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/imports", get(page).post(upload))
        .route("/staff/imports/invoice-run", post(invoice_run))
        .route("/staff/imports/contract", get(find_contract))
        .route("/staff/contracts/{id}/amend", get(amend_form).post(amend))
}

// ---------------------------------------------------------------------------
// The imports page
// ---------------------------------------------------------------------------

/// A rejected row as shown.
#[derive(Debug, Clone)]
pub struct RejectionLine {
    pub row: u64,
    pub line: String,
    pub record: String,
    pub key: String,
    pub reason: String,
    pub code: &'static str,
}

/// Counts of one kind as shown.
#[derive(Debug, Clone)]
pub struct KindLine {
    pub kind: &'static str,
    pub imported: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// An import's report as shown.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub file_name: String,
    pub format: &'static str,
    pub rows: u64,
    pub imported: u64,
    pub unchanged: u64,
    pub rejected: usize,
    pub kinds: Vec<KindLine>,
    pub lines: Vec<RejectionLine>,
    /// Rejections not listed.
    pub more: usize,
}

/// A past run as shown.
#[derive(Debug, Clone)]
pub struct RunLine {
    pub when: String,
    pub what: String,
    pub counts: String,
    pub finished: bool,
}

#[derive(Template)]
#[template(path = "staff/import.html")]
struct ImportPage {
    ctx: PageContext,
    notice: Option<Notice>,
    report: Option<ReportView>,
    imports: Vec<RunLine>,
    runs: Vec<RunLine>,
    period: String,
    contract_number: String,
    limit_kib: usize,
}

fn when(ctx: &PageContext, unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            format!(
                "{} {}",
                ctx.date(&t.date_naive().to_string()),
                t.format("%H:%M UTC")
            )
        })
        .unwrap_or_default()
}

fn report_view(ctx: &PageContext, report: &ImportReport) -> ReportView {
    let lines = report
        .rejected
        .iter()
        .take(SHOWN_REJECTIONS)
        .map(|r| RejectionLine {
            row: r.row,
            line: r.line.map(|l| l.to_string()).unwrap_or_default(),
            record: r.record.map(|k| k.code()).unwrap_or("").to_string(),
            key: r.key.clone().unwrap_or_default(),
            reason: r.reason(ctx.lang),
            code: r.code,
        })
        .collect();
    ReportView {
        file_name: report.file_name.clone(),
        format: report.format.code(),
        rows: report.rows,
        imported: report.imported,
        unchanged: report.unchanged,
        rejected: report.rejected.len(),
        kinds: report
            .kinds
            .iter()
            .map(|(kind, c)| KindLine {
                kind: ctx.t(&format!("staff_imports.kind.{}", kind.code())),
                imported: c.imported,
                unchanged: c.unchanged,
                rejected: c.rejected,
            })
            .collect(),
        lines,
        more: report.rejected.len().saturating_sub(SHOWN_REJECTIONS),
    }
}

/// The page with the recent runs; `notice`, `report` and typed values on top.
async fn import_page(
    state: &AppState,
    ctx: PageContext,
    staff: &StaffSession,
    notice: Option<Notice>,
    report: Option<ReportView>,
    period: Option<String>,
    contract_number: String,
) -> Result<ImportPage, WebError> {
    let app = state.app();
    let imports = import::recent_runs(app, staff, 10)
        .await?
        .iter()
        .map(|r| RunLine {
            when: when(&ctx, r.started_at),
            what: r.file_name.clone(),
            counts: ctx.tf(
                "staff_imports.runs.counts",
                &[
                    ("rows", &r.rows_total.to_string()),
                    ("imported", &r.counts.imported.to_string()),
                    ("unchanged", &r.counts.unchanged.to_string()),
                    ("rejected", &r.counts.rejected.to_string()),
                ],
            ),
            finished: r.finished_at.is_some(),
        })
        .collect();
    let runs = invoice_run::recent_runs(app, staff, 10)
        .await?
        .iter()
        .map(|r| RunLine {
            when: when(&ctx, r.started_at),
            what: r.period.clone(),
            counts: ctx.tf(
                "staff_imports.run.created",
                &[("created", &r.invoices_created.to_string())],
            ),
            finished: r.finished_at.is_some(),
        })
        .collect();
    let today = app.clock().today();
    let period = period.unwrap_or_else(|| format!("{:04}-{:02}", today.year(), today.month()));
    Ok(ImportPage {
        ctx,
        notice,
        report,
        imports,
        runs,
        period,
        contract_number,
        limit_kib: crate::BODY_LIMIT / 1024,
    })
}

/// `GET /staff/imports`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
) -> Result<Response, WebError> {
    staff.require_any(ROLES)?;
    render(&import_page(&state, ctx, &staff, None, None, None, String::new()).await?)
}

/// The `file` part of a `multipart/form-data` body: its file name and bytes.
pub fn multipart_file(content_type: &str, body: &[u8]) -> Option<(String, Vec<u8>)> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })?;
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let mut rest = body;
    // Skip the preamble up to the first delimiter.
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return None; // the closing delimiter: no file part
        }
        let rest_of_part = rest.strip_prefix(b"\r\n")?;
        let headers_end = find(rest_of_part, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest_of_part[..headers_end]).ok()?;
        let content = &rest_of_part[headers_end + 4..];
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(&delimiter);
        let end = find(content, &end_marker)?;
        let disposition = headers.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })?;
        let param = |key: &str| -> Option<String> {
            disposition.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(key)
                    .then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if param("name").as_deref() == Some("file") {
            let file_name = param("filename").unwrap_or_else(|| "upload".into());
            // Browsers on some systems send a whole path.
            let file_name = file_name
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or("upload")
                .to_string();
            return Some((file_name, content[..end].to_vec()));
        }
        rest = &content[end + end_marker.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST /staff/imports`: the upload, imported; the report on the page.
pub async fn upload(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    staff.require_any(ROLES)?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((file_name, bytes)) = multipart_file(content_type, &body) else {
        let notice = Notice::error(ctx.t("staff_imports.upload.no_file").to_string());
        let page = import_page(&state, ctx, &staff, notice, None, None, String::new()).await?;
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    match import::upload(state.app(), &staff, &file_name, &bytes).await {
        Ok(report) => {
            let view = report_view(&ctx, &report);
            let notice = Notice::success(ctx.tf(
                "staff_imports.report.summary",
                &[
                    ("file", &report.file_name),
                    ("rows", &report.rows.to_string()),
                    ("imported", &report.imported.to_string()),
                    ("unchanged", &report.unchanged.to_string()),
                    ("rejected", &report.rejected.len().to_string()),
                ],
            ));
            render(
                &import_page(&state, ctx, &staff, notice, Some(view), None, String::new()).await?,
            )
        }
        Err(ImportError::File(problem)) => {
            let notice = Notice::error(ctx.tf(
                "staff_imports.upload.refused",
                &[
                    ("file", &file_name),
                    ("problem", &problem.message(ctx.lang)),
                ],
            ));
            let page = import_page(&state, ctx, &staff, notice, None, None, String::new()).await?;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(ImportError::App(error)) => Err(error.into()),
    }
}

/// The invoice-run form.
#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    period: String,
}

fn run_notice(ctx: &PageContext, report: &InvoiceRunReport) -> Option<Notice> {
    Notice::success(ctx.tf(
        "staff_imports.run.done",
        &[
            ("period", &report.period),
            ("created", &report.created.to_string()),
            ("existing", &report.existing.to_string()),
        ],
    ))
}

/// `POST /staff/imports/invoice-run`: the invoices of a month, once.
pub async fn invoice_run(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Form(form): Form<RunForm>,
) -> Result<Response, WebError> {
    staff.require_any(ROLES)?;
    match invoice_run::run_as_staff(state.app(), &staff, &form.period).await {
        Ok(report) => {
            let notice = run_notice(&ctx, &report);
            render(&import_page(&state, ctx, &staff, notice, None, None, String::new()).await?)
        }
        Err(AppError::Invalid(_)) => {
            let notice = Notice::error(ctx.t("staff_imports.run.error.period").to_string());
            let typed = form.period.chars().take(20).collect();
            let page = import_page(
                &state,
                ctx,
                &staff,
                notice,
                None,
                Some(typed),
                String::new(),
            )
            .await?;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}

/// The contract finder's query.
#[derive(Debug, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    number: String,
}

/// `GET /staff/imports/contract?number=…`: to the contract's amendment.
pub async fn find_contract(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Query(query): Query<FindQuery>,
) -> Result<Response, WebError> {
    staff.require_any(ROLES)?;
    match import::find_contract(state.app(), &staff, &query.number).await? {
        Some(id) => Ok(Redirect::to(&format!("/staff/contracts/{id}/amend")).into_response()),
        None => {
            let notice = Notice::error(ctx.t("staff_imports.find.none").to_string());
            let typed = query.number.trim().chars().take(40).collect();
            let page = import_page(&state, ctx, &staff, notice, None, None, typed).await?;
            render_with(StatusCode::NOT_FOUND, &page)
        }
    }
}

// ---------------------------------------------------------------------------
// Amendments
// ---------------------------------------------------------------------------

/// A version as the amendment page lists it.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i64,
    pub valid_from: String,
    pub reason: String,
    pub instalment: String,
    pub km_per_year: String,
    pub excess_km: String,
}

/// A reason to choose.
#[derive(Debug, Clone)]
pub struct ReasonOption {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "staff/amend.html")]
struct AmendPage {
    ctx: PageContext,
    id: i64,
    number: String,
    kind: &'static str,
    status: &'static str,
    vehicle: String,
    lease: bool,
    versions: Vec<VersionRow>,
    reasons: Vec<ReasonOption>,
    form: FormState,
    notice: Option<Notice>,
}

fn amend_page(
    ctx: PageContext,
    view: &AmendView,
    form: FormState,
    notice: Option<Notice>,
) -> AmendPage {
    let money = |cents: i64| Money::from_cents(cents).format(ctx.lang);
    let versions = view
        .versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            version: v.version,
            valid_from: ctx.date(&v.valid_from),
            reason: ctx
                .t(&format!("portal.reason.{}", v.change_reason))
                .to_string(),
            instalment: money(v.monthly_instalment_cents),
            km_per_year: v.km_per_year.map(|k| k.to_string()).unwrap_or_default(),
            excess_km: v.excess_km_price_cents.map(money).unwrap_or_default(),
        })
        .collect();
    let chosen = form.value("reason").to_string();
    let reasons = AMEND_REASONS
        .iter()
        .map(|code| ReasonOption {
            code,
            label: ctx.t(&format!("portal.reason.{code}")),
            selected: chosen == *code,
        })
        .collect();
    let c = &view.contract;
    AmendPage {
        id: c.id,
        number: c.contract_number.clone(),
        kind: ctx.t(&format!("contract.type.{}", c.contract_type)),
        status: ctx.t(&format!("contract.status.{}", c.status)),
        vehicle: format!("{} {}", c.make, c.model),
        lease: view.is_lease(),
        versions,
        reasons,
        form,
        notice,
        ctx,
    }
}

/// The values the form starts with: the current terms, from the first of
/// next month.
fn current_values(ctx: &PageContext, view: &AmendView, today: chrono::NaiveDate) -> FormState {
    let from = today
        .with_day(1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .unwrap_or(today)
        .to_string();
    let (instalment, km, excess) = view.current().map_or_else(Default::default, |t| {
        (
            Money::from_cents(t.monthly_instalment_cents).format(ctx.lang),
            t.km_per_year.map(|k| k.to_string()).unwrap_or_default(),
            t.excess_km_price_cents
                .map(|c| Money::from_cents(c).format(ctx.lang))
                .unwrap_or_default(),
        )
    });
    FormState::with_values(&[
        ("valid_from", &from),
        ("monthly_instalment", &instalment),
        ("km_per_year", &km),
        ("excess_km_price", &excess),
        ("reason", ""),
    ])
}

/// The amendment page's query.
#[derive(Debug, Deserialize)]
pub struct AmendQuery {
    #[serde(default)]
    version: Option<i64>,
}

/// `GET /staff/contracts/{id}/amend`.
pub async fn amend_form(
    State(state): State<AppState>,
    ctx: PageContext,
    request_id: RequestId,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    Query(query): Query<AmendQuery>,
) -> Result<Response, WebError> {
    staff.require_any(ROLES)?;
    let view = import::amendment_form(state.app(), &staff, id, request_id.as_str()).await?;
    let notice = query.version.and_then(|v| {
        Notice::success(ctx.tf("staff_imports.amend.done", &[("version", &v.to_string())]))
    });
    let form = current_values(&ctx, &view, state.app().clock().today());
    render(&amend_page(ctx, &view, form, notice))
}

/// The amendment form.
#[derive(Debug, Deserialize)]
pub struct AmendForm {
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    monthly_instalment: String,
    #[serde(default)]
    km_per_year: String,
    #[serde(default)]
    excess_km_price: String,
    #[serde(default)]
    reason: String,
}

/// `POST /staff/contracts/{id}/amend`: a new version; refusals keep what
/// was typed.
pub async fn amend(
    State(state): State<AppState>,
    ctx: PageContext,
    request_id: RequestId,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    Form(form): Form<AmendForm>,
) -> Result<Response, WebError> {
    staff.require_any(ROLES)?;
    let input = AmendmentInput {
        valid_from: form.valid_from.clone(),
        km_per_year: form.km_per_year.clone(),
        excess_km_price: form.excess_km_price.clone(),
        monthly_instalment: form.monthly_instalment.clone(),
        reason: form.reason.clone(),
    };
    match import::amend(
        state.app(),
        &staff,
        id,
        &input,
        ctx.lang,
        request_id.as_str(),
    )
    .await
    {
        Ok(version) => Ok(
            Redirect::to(&format!("/staff/contracts/{id}/amend?version={version}")).into_response(),
        ),
        Err(AppError::Invalid(problems)) => {
            let typed = FormState::with_values(&[
                ("valid_from", &form.valid_from),
                ("monthly_instalment", &form.monthly_instalment),
                ("km_per_year", &form.km_per_year),
                ("excess_km_price", &form.excess_km_price),
                ("reason", &form.reason),
            ]);
            let typed = typed.refused(AppError::Invalid(problems))?;
            let view = import::amendment_form(state.app(), &staff, id, request_id.as_str()).await?;
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &amend_page(ctx, &view, typed, None),
            )
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::multipart_file;

    // BOF-04: the file part of a browser's multipart form.
    #[test]
    fn reads_the_file_part() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\\\tmp\\\\data.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nrecord,kind\r\ninvoice,fee\r\n\r\n--XyZ--\r\n";
        let (name, bytes) =
            multipart_file("multipart/form-data; boundary=XyZ", body.as_bytes()).unwrap();
        assert_eq!(name, "data.csv");
        assert_eq!(bytes, b"record,kind\r\ninvoice,fee\r\n");
        assert!(multipart_file("multipart/form-data; boundary=Other", body.as_bytes()).is_none());
        assert!(multipart_file("text/csv", body.as_bytes()).is_none());
        let no_file = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n";
        assert!(
            multipart_file("multipart/form-data; boundary=\"XyZ\"", no_file.as_bytes()).is_none()
        );
    }
}
