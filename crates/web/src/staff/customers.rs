//! The purpose-bound customer view (BOF-03, PRV-14) under
//! `/staff/customers`:
//!
//! * `GET /staff/customers` — the search form; `POST /staff/customers`
//!   searches (a POST, so that no e-mail address, phone number or name
//!   ends up in a URL, a browser history or a proxy log) and lists
//!   customer numbers only, each with the way to choose a purpose;
//! * `GET /staff/customers/{id}/open` — the purpose form (prefilled from
//!   `?purpose=…&reference=…`, as the work queues link to it);
//!   `POST /staff/customers/{id}/open` opens the file for that purpose;
//! * `GET /staff/customers/{id}` — the file, only while this staff
//!   member's opening lasts; otherwise a redirect to the purpose form.
//!
//! Who may do what is decided in [`carfin_app::staff::customers`]; a staff
//! member without any right to customer files gets 404 everywhere here.

use super::Staff;
use crate::auth::render_with;
use crate::context::PageContext;
use crate::error::WebError;
use crate::form::FormState;
use crate::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use carfin_app::messages::local_time;
use carfin_app::staff::customers::{
    self, FileOutcome, FileView, OpenRequest, ReferenceKind, SearchHit,
};
use carfin_app::AppError;
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/customers", get(search_form).post(search))
        .route("/staff/customers/{id}", get(file))
        .route("/staff/customers/{id}/open", get(open_form).post(open))
}

/// A choice of a select or radio group: code and label.
#[derive(Debug, Clone)]
pub struct Choice {
    pub code: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
}

fn key_choices(ctx: &PageContext, keys: &[customers::SearchKey]) -> Vec<Choice> {
    keys.iter()
        .map(|k| Choice {
            code: k.code(),
            label: ctx.t(&format!("staff_customers.search.by_{}", k.code())),
            hint: "",
        })
        .collect()
}

fn purpose_label(ctx: &PageContext, code: &str) -> &'static str {
    ctx.t(&format!("staff_customers.purpose.{code}"))
}

fn reference_hint(ctx: &PageContext, kind: ReferenceKind) -> &'static str {
    ctx.t(&format!("staff_customers.reference_hint.{}", kind.code()))
}

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/customers.html")]
struct SearchPage {
    ctx: PageContext,
    keys: Vec<Choice>,
    purposes: Vec<Choice>,
    form: FormState,
    /// After a search: the customers found.
    results: Option<Vec<SearchHit>>,
}

fn purpose_choices(ctx: &PageContext, staff: &carfin_app::staff::StaffSession) -> Vec<Choice> {
    customers::permissions()
        .map(|p| p.purposes_of(staff))
        .unwrap_or_default()
        .into_iter()
        .map(|p| Choice {
            code: p.code(),
            label: purpose_label(ctx, p.code()),
            hint: "",
        })
        .collect()
}

/// `GET /staff/customers`: the search form.
pub async fn search_form(ctx: PageContext, Staff(staff): Staff) -> Result<Response, WebError> {
    let keys = customers::search_keys(&staff)?;
    let first = keys.first().map_or("", |k| k.code());
    render(&SearchPage {
        keys: key_choices(&ctx, &keys),
        purposes: purpose_choices(&ctx, &staff),
        form: FormState::with_values(&[("by", first)]),
        results: None,
        ctx,
    })
}

/// The search form's fields.
#[derive(Debug, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    by: String,
    #[serde(default)]
    q: String,
}

/// `POST /staff/customers`: an exact search; customer numbers only.
pub async fn search(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Form(form): Form<SearchForm>,
) -> Result<Response, WebError> {
    let keys = customers::search_keys(&staff)?;
    let typed = FormState::with_values(&[("by", &form.by), ("q", &form.q)]);
    let outcome = customers::search(
        state.app(),
        &staff,
        &form.by,
        &form.q,
        ctx.request_id.as_str(),
    )
    .await;
    let (form, results, status) = match outcome {
        Ok(hits) => (typed, Some(hits), StatusCode::OK),
        Err(error) => (
            typed.refused(error)?,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    render_with(
        status,
        &SearchPage {
            keys: key_choices(&ctx, &keys),
            purposes: purpose_choices(&ctx, &staff),
            form,
            results,
            ctx,
        },
    )
}

// ---------------------------------------------------------------------------
// The purpose form
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/customer_open.html")]
struct OpenPage {
    ctx: PageContext,
    customer_id: i64,
    customer_number: String,
    choices: Vec<Choice>,
    form: FormState,
    /// How long an opening lasts.
    minutes: String,
    /// The staff member's current opening: purpose and end time.
    current: Option<(&'static str, String)>,
}

async fn open_page(
    state: &AppState,
    ctx: PageContext,
    staff: &carfin_app::staff::StaffSession,
    id: i64,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let data = customers::open_form(state.app(), staff, id).await?;
    let choices = data
        .choices
        .iter()
        .map(|c| Choice {
            code: c.purpose.code(),
            label: purpose_label(&ctx, c.purpose.code()),
            hint: reference_hint(&ctx, c.reference),
        })
        .collect();
    let current = data.current.as_ref().map(|a| {
        (
            purpose_label(&ctx, a.purpose.code()),
            local_time(ctx.lang, a.expires_at),
        )
    });
    render_with(
        status,
        &OpenPage {
            customer_id: data.customer_id,
            customer_number: data.customer_number,
            choices,
            form,
            minutes: customers::FILE_ACCESS_MINUTES.to_string(),
            current,
            ctx,
        },
    )
}

/// What a link to the purpose form may preset.
#[derive(Debug, Deserialize)]
pub struct OpenQuery {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    reference: String,
}

/// `GET /staff/customers/{id}/open`: choose why the file is opened.
pub async fn open_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    Query(query): Query<OpenQuery>,
) -> Result<Response, WebError> {
    let reference: String = query.reference.chars().take(40).collect();
    let purpose: String = query.purpose.chars().take(40).collect();
    let form = FormState::with_values(&[("purpose", &purpose), ("reference", &reference)]);
    open_page(&state, ctx, &staff, id, form, StatusCode::OK).await
}

/// The purpose form's fields.
#[derive(Debug, Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    note: String,
}

/// `POST /staff/customers/{id}/open`: opens the file for the purpose, then
/// shows it.
pub async fn open(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Path(id): Path<i64>,
    Form(form): Form<OpenForm>,
) -> Result<Response, WebError> {
    let request = OpenRequest {
        purpose: form.purpose,
        reference: form.reference,
        note: form.note,
    };
    match customers::open(state.app(), &staff, id, &request, ctx.request_id.as_str()).await {
        Ok(_) => Ok(Redirect::to(&format!("/staff/customers/{id}")).into_response()),
        Err(AppError::Invalid(problems)) => {
            let typed = FormState::with_values(&[
                ("purpose", &request.purpose),
                ("reference", &request.reference),
                ("note", &request.note),
            ]);
            let form = typed.refused(AppError::Invalid(problems))?;
            open_page(
                &state,
                ctx,
                &staff,
                id,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

// ---------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "staff/customer.html")]
struct FilePage {
    ctx: PageContext,
    file: FileView,
    role: &'static str,
    purpose: &'static str,
}

/// `GET /staff/customers/{id}`: the file, while an opening lasts.
pub async fn file(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    match customers::view(state.app(), &staff, id, ctx.lang, ctx.request_id.as_str()).await? {
        FileOutcome::NeedsPurpose => {
            Ok(Redirect::to(&format!("/staff/customers/{id}/open")).into_response())
        }
        FileOutcome::Open(file) => {
            let role = ctx.t(&format!("staff.role.{}", file.role.code()));
            let purpose = purpose_label(&ctx, file.purpose.code());
            render(&FilePage {
                file: *file,
                role,
                purpose,
                ctx,
            })
        }
    }
}
