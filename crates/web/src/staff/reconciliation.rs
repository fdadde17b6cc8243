//! Reconciliation in the back office (PAY-06): `GET /staff/reconciliation`
//! lists the differences of a period (default: the last 30 days) and
//! `POST /staff/reconciliation` imports an uploaded settlement detail
//! report (multipart; the CSRF token travels in the action's query).

use super::Staff;
use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use carfin_app::payments::reconcile::{Difference, ImportReport, Reconciliation};
use carfin_app::staff::reconciliation;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/staff/reconciliation", get(page).post(upload))
}

/// A difference as a table row.
#[derive(Debug, Clone)]
pub struct Row {
    pub kind: &'static str,
    pub payment: String,
    pub psp: String,
    pub expected: String,
    pub reported: String,
    pub date: String,
}

/// An import's outcome as shown.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub summary: String,
    pub rejected: Vec<(u64, String)>,
}

#[derive(Template)]
#[template(path = "staff/reconciliation.html")]
struct Page {
    ctx: PageContext,
    from: String,
    to: String,
    outcome: Option<Outcome>,
    error: Option<String>,
    sections: Vec<Section>,
}

/// One of the three lists of differences.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: &'static str,
    pub rows: Vec<Row>,
}

/// `?from=&to=`.
#[derive(Debug, Default, Deserialize)]
pub struct Period {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn rows(ctx: &PageContext, list: &[Difference]) -> Vec<Row> {
    let money = |c: Option<i64>| c.map(|c| ctx.money(&c)).unwrap_or_else(|| "—".into());
    list.iter()
        .map(|d| Row {
            kind: ctx.t(&format!("staff_reconciliation.kind_{}", d.kind.as_str())),
            payment: d
                .payment_id
                .map(|id| id.to_string())
                .or_else(|| d.merchant_reference.clone())
                .unwrap_or_else(|| "—".into()),
            psp: d.psp_reference.clone().unwrap_or_else(|| "—".into()),
            expected: money(d.expected_cents),
            reported: money(d.reported_cents),
            date: d
                .booked_on
                .or(d.reported_on)
                .map(|d| ctx.date(&d.to_string()))
                .unwrap_or_default(),
        })
        .collect()
}

async fn render_page(
    state: &AppState,
    ctx: PageContext,
    staff: &carfin_app::staff::StaffSession,
    period: &Period,
    outcome: Option<Outcome>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let today = state.app().clock().today();
    let parse = |v: &Option<String>| {
        v.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
    };
    let to = parse(&period.to).unwrap_or(today);
    let from = parse(&period.from).unwrap_or(to - Duration::days(30));
    let result: Reconciliation =
        reconciliation::differences(state.app(), staff, from, to, ctx.request_id.as_str()).await?;
    let sections = [
        ("booked_without", &result.booked_without_settlement),
        ("settled_without", &result.settlements_without_booking),
        ("amounts_differ", &result.amount_differences),
    ]
    .into_iter()
    .map(|(key, list)| Section {
        title: ctx.t(&format!("staff_reconciliation.{key}")),
        rows: rows(&ctx, list),
    })
    .collect();
    render(&Page {
        ctx,
        from: from.to_string(),
        to: to.to_string(),
        outcome,
        error,
        sections,
    })
}

/// `GET /staff/reconciliation?from=&to=`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Query(period): Query<Period>,
) -> Result<Response, WebError> {
    render_page(&state, ctx, &staff, &period, None, None).await
}

fn summary(ctx: &PageContext, report: &ImportReport) -> Outcome {
    let summary = if report.already_imported {
        ctx.t("staff_reconciliation.already_imported").to_string()
    } else {
        ctx.tf(
            "staff_reconciliation.imported",
            &[
                ("imported", &report.imported.to_string()),
                ("duplicates", &report.duplicates.to_string()),
                ("skipped", &report.skipped.to_string()),
                ("rejected", &report.rejected.len().to_string()),
            ],
        )
    };
    Outcome {
        summary,
        rejected: report
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.to_string()))
            .collect(),
    }
}

/// `POST /staff/reconciliation`: a settlement detail report uploaded.
pub async fn upload(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    staff.require_any(reconciliation::ROLES)?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let period = Period::default();
    let Some((file_name, bytes)) = super::imports::multipart_file(content_type, &body) else {
        let error = Some(ctx.t("staff_reconciliation.no_file").to_string());
        let mut response = render_page(&state, ctx, &staff, &period, None, error).await?;
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    };
    let request_id = ctx.request_id.as_str().to_string();
    match reconciliation::import(state.app(), &staff, &file_name, &bytes, &request_id).await? {
        Ok(report) => {
            let outcome = Some(summary(&ctx, &report));
            render_page(&state, ctx, &staff, &period, outcome, None).await
        }
        Err(refused) => {
            // The whole file: an English reason naming the columns, and the
            // localized heading.
            let error = Some(format!(
                "{} ({refused})",
                ctx.t("staff_reconciliation.refused")
            ));
            let mut response = render_page(&state, ctx, &staff, &period, None, error).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}
