//! The access review (BOF-06) and the auditor's read-only audit log view
//! (PRV-15):
//!
//! * `GET /staff/access-review?from=&to=`: the report, the sign-off form
//!   and earlier sign-offs;
//! * `GET /staff/access-review.csv?from=&to=`: the report as CSV (audited);
//! * `POST /staff/access-review/sign-off`: the sign-off (security or
//!   privacy officer);
//! * `GET /staff/audit?page=&verify=`: the audit log, newest first, and the
//!   hash chain's verification (every read audited).
//!
//! Who may do what is decided in [`carfin_app::staff::review`]; anyone
//! else gets "not found".

use super::Staff;
use crate::auth::{render_with, Notice};
use crate::context::PageContext;
use crate::error::WebError;
use crate::form::FormState;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carfin_app::audit::VerifyReport;
use carfin_app::messages::local_time;
use carfin_app::staff::review::{self, Period, PurposeCounts};
use carfin_app::staff::StaffSession;
use carfin_app::AppError;
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/access-review", get(page))
        .route("/staff/access-review.csv", get(csv))
        .route("/staff/access-review/sign-off", post(sign_off))
        .route("/staff/audit", get(audit_log))
}

/// `?from=&to=` (and `signed=1` after a sign-off).
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    signed: Option<String>,
}

/// One staff account on the page.
#[derive(Debug, Clone)]
struct LineView {
    name: String,
    email: String,
    roles: Vec<&'static str>,
    status: &'static str,
    active: bool,
    methods: Vec<&'static str>,
    last_sign_in: String,
    opened: PurposeCounts,
    privileged: bool,
    inactive: bool,
}

/// One earlier sign-off on the page.
#[derive(Debug, Clone)]
struct SignOffView {
    period: String,
    reviewer: String,
    at: String,
    hash_prefix: String,
    hash: String,
}

/// The report part of the page (absent when the period was refused).
#[derive(Debug, Clone)]
struct ReportView {
    /// `2025-10-01`, for links and hidden fields.
    from: String,
    to: String,
    caption: String,
    generated: String,
    lines: Vec<LineView>,
    totals: PurposeCounts,
    csv_href: String,
    sha256: String,
}

#[derive(Template)]
#[template(path = "staff/review.html")]
struct ReviewPage {
    ctx: PageContext,
    form: FormState,
    notice: Option<Notice>,
    report: Option<ReportView>,
    may_sign_off: bool,
    may_read_audit_log: bool,
    sign_offs: Vec<SignOffView>,
    inactive_note: String,
}

fn iso(date: chrono::NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Renders the review page for `period` (or only its form, with `form`'s
/// problems, when there is no period).
async fn show(
    state: &AppState,
    ctx: PageContext,
    staff: &StaffSession,
    period: Option<Period>,
    form: FormState,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let app = state.app();
    let lang = ctx.lang;
    let report = match period {
        Some(period) => {
            let report = review::report(app, staff, period).await?;
            let sha256 = review::sha256_hex(&review::csv(&report, lang));
            let (from, to) = (iso(period.from), iso(period.to));
            Some(ReportView {
                caption: ctx.tf(
                    "staff_review.caption",
                    &[("period", &period.describe(lang))],
                ),
                generated: ctx.tf(
                    "staff_review.generated",
                    &[("time", &local_time(lang, report.generated_at))],
                ),
                lines: report
                    .lines
                    .iter()
                    .map(|l| {
                        let text = l.text(lang);
                        LineView {
                            name: text.name,
                            email: l.email.clone(),
                            roles: text.roles,
                            status: text.status,
                            active: l.active,
                            methods: text.methods,
                            last_sign_in: text.last_sign_in,
                            opened: l.opened,
                            privileged: l.privileged,
                            inactive: l.inactive,
                        }
                    })
                    .collect(),
                totals: report.totals,
                csv_href: format!("/staff/access-review.csv?from={from}&to={to}"),
                sha256,
                from,
                to,
            })
        }
        None => None,
    };
    let sign_offs = review::sign_offs(app, staff)
        .await?
        .into_iter()
        .map(|s| SignOffView {
            period: s.period.describe(lang),
            reviewer: s.reviewer_name,
            at: local_time(lang, s.signed_off_at),
            hash_prefix: s.sha256.chars().take(16).collect(),
            hash: s.sha256,
        })
        .collect();
    let inactive_note = ctx.tf(
        "staff_review.legend.inactive",
        &[("days", &review::INACTIVE_DAYS.to_string())],
    );
    render_with(
        status,
        &ReviewPage {
            may_sign_off: review::may_sign_off(staff),
            may_read_audit_log: review::may_read_audit_log(staff),
            ctx,
            form,
            notice,
            report,
            sign_offs,
            inactive_note,
        },
    )
}

/// `GET /staff/access-review?from=&to=` (BOF-06).
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, WebError> {
    staff.require_any(&review::VIEWERS)?;
    let app = state.app();
    let notice = if query.signed.is_some() {
        Notice::success(ctx.t("staff_review.signed_notice").to_string())
    } else {
        None
    };
    match review::parse_period(app, query.from.as_deref(), query.to.as_deref()) {
        Ok(period) => {
            let form =
                FormState::with_values(&[("from", &iso(period.from)), ("to", &iso(period.to))]);
            show(
                &state,
                ctx,
                &staff,
                Some(period),
                form,
                notice,
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            let form = FormState::with_values(&[
                ("from", query.from.as_deref().unwrap_or_default()),
                ("to", query.to.as_deref().unwrap_or_default()),
            ])
            .refused(error)?;
            show(
                &state,
                ctx,
                &staff,
                None,
                form,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `GET /staff/access-review.csv?from=&to=` (BOF-06): UTF-8 with a
/// byte-order mark, `;` between fields in Dutch and French, `,` in
/// English; the export is audited.
pub async fn csv(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, WebError> {
    staff.require_any(&review::VIEWERS)?;
    let app = state.app();
    let period = review::parse_period(app, query.from.as_deref(), query.to.as_deref())?;
    let file = review::export(app, &staff, period, ctx.lang, ctx.request_id.as_str()).await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename))
        .map_err(|_| WebError::Internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        file.bytes,
    )
        .into_response())
}

/// The sign-off form.
#[derive(Debug, Deserialize)]
pub struct SignOffForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The SHA-256 of the CSV of the report the reviewer looked at.
    #[serde(default)]
    sha256: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /staff/access-review/sign-off` (BOF-06): security or privacy
/// officer only.
pub async fn sign_off(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Form(form): Form<SignOffForm>,
) -> Result<Response, WebError> {
    staff.require_any(&review::SIGNERS)?;
    let app = state.app();
    let values = FormState::with_values(&[("from", &form.from), ("to", &form.to)]);
    let period = match review::parse_period(app, Some(&form.from), Some(&form.to)) {
        Ok(period) => period,
        Err(error) => {
            let refused = values.refused(error)?;
            return show(
                &state,
                ctx,
                &staff,
                None,
                refused,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let confirmed = form.confirm.as_deref().is_some_and(|v| !v.is_empty());
    match review::sign_off(
        app,
        &staff,
        period,
        &form.sha256,
        confirmed,
        ctx.lang,
        ctx.request_id.as_str(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/staff/access-review?from={}&to={}&signed=1",
            iso(period.from),
            iso(period.to)
        ))
        .into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let refused = values.refused(error)?;
            show(
                &state,
                ctx,
                &staff,
                Some(period),
                refused,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------
// The audit log
// ---------------------------------------------------------------------------

/// `?page=&verify=`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    verify: Option<String>,
}

/// One audit record on the page.
#[derive(Debug, Clone)]
struct AuditLineView {
    seq: i64,
    when: String,
    actor: &'static str,
    actor_id: String,
    role: String,
    action: String,
    subject_id: String,
    purpose: String,
    fields: String,
}

/// The chain's verification on the page.
#[derive(Debug, Clone)]
struct VerifyView {
    intact: bool,
    text: String,
    /// Why it is broken (technical, English).
    reason: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditLogPage {
    ctx: PageContext,
    verify: Option<VerifyView>,
    lines: Vec<AuditLineView>,
    caption: String,
    previous: Option<String>,
    next: Option<String>,
    page_of: String,
}

/// `GET /staff/audit?page=&verify=1` (PRV-15): auditor, security officer,
/// privacy officer; each read recorded as `staff.audit_log_read`.
pub async fn audit_log(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Query(query): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let app = state.app();
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1);
    let log = review::audit_log(app, &staff, page, ctx.request_id.as_str()).await?;
    let verify = if query.verify.as_deref().is_some_and(|v| !v.is_empty()) {
        Some(match review::verify_chain(app, &staff).await? {
            VerifyReport::Intact { records } => VerifyView {
                intact: true,
                text: ctx.tf(
                    "staff_review.audit.intact",
                    &[("records", &records.to_string())],
                ),
                reason: None,
            },
            VerifyReport::Broken { seq, reason } => VerifyView {
                intact: false,
                text: ctx.tf("staff_review.audit.broken", &[("seq", &seq.to_string())]),
                reason: Some(reason),
            },
        })
    } else {
        None
    };
    let dash = "–".to_string();
    let lines = log
        .lines
        .iter()
        .map(|l| AuditLineView {
            seq: l.seq,
            when: local_time(ctx.lang, l.at),
            actor: ctx.t(match l.actor_kind.as_str() {
                "customer" => "staff_review.actor.customer",
                "staff" => "staff_review.actor.staff",
                _ => "staff_review.actor.system",
            }),
            actor_id: l.actor_id.map_or_else(|| dash.clone(), |id| id.to_string()),
            role: l.role.clone(),
            action: l.action.clone(),
            subject_id: l
                .subject_id
                .map_or_else(|| dash.clone(), |id| id.to_string()),
            purpose: l.purpose.clone(),
            fields: l.fields.join(", "),
        })
        .collect();
    let page_of = ctx.tf(
        "staff_review.audit.page_of",
        &[
            ("page", &log.page.to_string()),
            ("pages", &log.pages.to_string()),
        ],
    );
    let caption = ctx.tf(
        "staff_review.audit.caption",
        &[("total", &log.total.to_string())],
    );
    render_with(
        StatusCode::OK,
        &AuditLogPage {
            verify,
            lines,
            caption,
            previous: (log.page > 1).then(|| format!("/staff/audit?page={}", log.page - 1)),
            next: (log.page < log.pages).then(|| format!("/staff/audit?page={}", log.page + 1)),
            page_of,
            ctx,
        },
    )
}
