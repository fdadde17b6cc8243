//! Work queues under `/staff/queues` and requests under `/staff/requests`
//! (BOF-02, ACC-08, PAY-02): the queues a staff member works with their
//! open and overdue counts, a queue's open requests by due time with the
//! service-level time left in working hours, and a request's details,
//! timeline and internal notes with the forms to assign it, change its
//! status, add a note and — for an account freeze — lift or keep the
//! freeze. No customer personal data is shown here: the customer's file
//! opens through the purpose-bound customer view, linked with this
//! request as the purpose. What a staff member may see and do is decided
//! in [`carfin_app::staff::queues`].

use super::Staff;
use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::Client;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carfin_app::identity::ClientInfo;
use carfin_app::messages::local_time;
use carfin_app::staff::queues::{self, FreezeDecision, QueueItem, RequestView};
use carfin_app::staff::StaffSession;
use carfin_app::AppError;
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/queues", get(overview))
        .route("/staff/queues/{kind}", get(queue))
        .route("/staff/requests/{id}", get(request))
        .route("/staff/requests/{id}/assign", post(assign))
        .route("/staff/requests/{id}/status", post(status))
        .route("/staff/requests/{id}/notes", post(note))
        .route("/staff/requests/{id}/freeze", post(freeze))
}

/// Working seconds as `h:mm`.
fn hours_minutes(seconds: i64) -> String {
    let minutes = seconds.unsigned_abs().div_ceil(60);
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// The service-level text of an open request.
fn sla_text(ctx: &PageContext, seconds_left: i64, overdue: bool) -> String {
    let time = hours_minutes(seconds_left);
    if overdue {
        ctx.tf("staff_queues.sla.overdue", &[("time", &time)])
    } else {
        ctx.tf("staff_queues.sla.left", &[("time", &time)])
    }
}

fn kind_name(ctx: &PageContext, kind: &str) -> String {
    ctx.t(&format!("staff_queues.kind.{kind}")).to_string()
}

fn status_name(ctx: &PageContext, status: &str) -> String {
    ctx.t(&format!("staff_queues.status.{status}")).to_string()
}

fn priority_name(ctx: &PageContext, priority: &str) -> String {
    ctx.t(&format!("staff_queues.priority.{priority}"))
        .to_string()
}

// ---------------------------------------------------------------------------
// The queues
// ---------------------------------------------------------------------------

/// A queue on the overview.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub kind: &'static str,
    pub name: String,
    pub open: i64,
    pub overdue: i64,
    pub sla: String,
}

#[derive(Template)]
#[template(path = "staff/queues.html")]
struct QueuesPage {
    ctx: PageContext,
    queues: Vec<QueueRow>,
}

/// `GET /staff/queues`: the queues the staff member works.
pub async fn overview(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
) -> Result<Response, WebError> {
    let queues = queues::queues(state.app(), &staff)
        .await?
        .into_iter()
        .map(|q| QueueRow {
            kind: q.kind,
            name: kind_name(&ctx, q.kind),
            open: q.open,
            overdue: q.overdue,
            sla: ctx.tf(
                "staff_queues.sla.hours",
                &[("hours", &q.sla_working_hours.to_string())],
            ),
        })
        .collect();
    render(&QueuesPage { ctx, queues })
}

/// An open request in a queue's list.
#[derive(Debug, Clone)]
pub struct ItemRow {
    pub id: i64,
    pub status: String,
    pub priority: String,
    pub urgent: bool,
    pub created: String,
    pub due: String,
    pub sla: String,
    pub overdue: bool,
    pub assignee: String,
}

fn item_row(ctx: &PageContext, item: QueueItem) -> ItemRow {
    ItemRow {
        id: item.id,
        status: status_name(ctx, &item.status),
        urgent: item.priority == "urgent",
        priority: priority_name(ctx, &item.priority),
        created: local_time(ctx.lang, item.created_at),
        due: local_time(ctx.lang, item.due_at),
        sla: sla_text(ctx, item.seconds_left, item.overdue),
        overdue: item.overdue,
        assignee: if item.assigned_to_me {
            ctx.t("staff_queues.assignee.me").to_string()
        } else {
            item.assignee
                .unwrap_or_else(|| ctx.t("staff_queues.assignee.nobody").to_string())
        },
    }
}

#[derive(Template)]
#[template(path = "staff/queue.html")]
struct QueuePage {
    ctx: PageContext,
    name: String,
    items: Vec<ItemRow>,
}

/// `GET /staff/queues/{kind}`: a queue's open requests, due first first.
pub async fn queue(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Path(kind): Path<String>,
) -> Result<Response, WebError> {
    let items = queues::queue(state.app(), &staff, &kind).await?;
    let items = items.into_iter().map(|i| item_row(&ctx, i)).collect();
    render(&QueuePage {
        name: kind_name(&ctx, &kind),
        ctx,
        items,
    })
}

// ---------------------------------------------------------------------------
// A request
// ---------------------------------------------------------------------------

/// A line of the request's timeline.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub when: String,
    pub what: String,
    pub by: String,
    pub visible: String,
}

/// An internal note.
#[derive(Debug, Clone)]
pub struct NoteRow {
    pub when: String,
    pub by: String,
    pub body: String,
}

/// A field of a payment notification.
#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
}

/// A status the form offers.
#[derive(Debug, Clone)]
pub struct StatusOption {
    pub value: &'static str,
    pub label: String,
}

#[derive(Template)]
#[template(path = "staff/request.html")]
struct RequestPage {
    ctx: PageContext,
    id: i64,
    kind: &'static str,
    kind_name: String,
    status: String,
    priority: String,
    urgent: bool,
    created: String,
    due: String,
    closed: Option<String>,
    sla: Option<String>,
    overdue: bool,
    assignee: String,
    assigned_to_me: bool,
    open: bool,
    customer_id: Option<i64>,
    notification: Vec<Field>,
    events: Vec<EventRow>,
    notes: Vec<NoteRow>,
    statuses: Vec<StatusOption>,
    freeze: bool,
    errors: Vec<String>,
}

fn request_page(ctx: PageContext, view: RequestView, errors: Vec<String>) -> RequestPage {
    let yes_no = |b: bool| {
        if b {
            ctx.t("staff_queues.yes")
        } else {
            ctx.t("staff_queues.no")
        }
        .to_string()
    };
    let events = view
        .events
        .iter()
        .map(|e| EventRow {
            when: local_time(ctx.lang, e.at),
            what: match &e.status {
                Some(status) if e.event == "status" => ctx.tf(
                    "staff_queues.event.status",
                    &[("status", &status_name(&ctx, status))],
                ),
                _ => ctx
                    .t(&format!("staff_queues.event.{}", e.event))
                    .to_string(),
            },
            by: e
                .staff
                .clone()
                .unwrap_or_else(|| ctx.t("staff_queues.by_system").to_string()),
            visible: yes_no(e.visible_to_customer),
        })
        .collect();
    let notes = view
        .notes
        .iter()
        .map(|n| NoteRow {
            when: local_time(ctx.lang, n.at),
            by: n.staff.clone().unwrap_or_default(),
            body: n
                .body
                .clone()
                .unwrap_or_else(|| ctx.t("staff_queues.note_erased").to_string()),
        })
        .collect();
    let notification = view
        .notification
        .as_ref()
        .map(|n| {
            let amount = match n.amount_value {
                Some(cents) if n.currency == "EUR" => ctx.money(&cents),
                Some(cents) => format!("{} {cents}", n.currency),
                None => "–".to_string(),
            };
            vec![
                Field {
                    label: "staff_queues.notification.event_code",
                    value: n.event_code.clone(),
                },
                Field {
                    label: "staff_queues.notification.success",
                    value: yes_no(n.success),
                },
                Field {
                    label: "staff_queues.notification.amount",
                    value: amount,
                },
                Field {
                    label: "staff_queues.notification.psp_reference",
                    value: n.psp_reference.clone(),
                },
                Field {
                    label: "staff_queues.notification.original_reference",
                    value: n.original_reference.clone(),
                },
                Field {
                    label: "staff_queues.notification.merchant_reference",
                    value: n.merchant_reference.clone(),
                },
                Field {
                    label: "staff_queues.notification.merchant_account",
                    value: n.merchant_account.clone(),
                },
                Field {
                    label: "staff_queues.notification.payment_method",
                    value: n.payment_method.clone(),
                },
                Field {
                    label: "staff_queues.notification.event_date",
                    value: n.event_date.clone(),
                },
                Field {
                    label: "staff_queues.notification.received_at",
                    value: local_time(ctx.lang, n.received_at),
                },
                Field {
                    label: "staff_queues.notification.outcome",
                    value: n
                        .outcome
                        .as_deref()
                        .map(|o| ctx.t(&format!("staff_queues.outcome.{o}")).to_string())
                        .unwrap_or_default(),
                },
            ]
        })
        .unwrap_or_default();
    let statuses = view
        .next_statuses()
        .into_iter()
        .map(|s| StatusOption {
            value: s,
            label: status_name(&ctx, s),
        })
        .collect();
    let open = view.is_open();
    RequestPage {
        id: view.id,
        kind: view.kind,
        kind_name: kind_name(&ctx, view.kind),
        status: status_name(&ctx, &view.status),
        priority: priority_name(&ctx, &view.priority),
        urgent: view.priority == "urgent",
        created: local_time(ctx.lang, view.created_at),
        due: local_time(ctx.lang, view.due_at),
        closed: view.closed_at.map(|t| local_time(ctx.lang, t)),
        sla: open.then(|| sla_text(&ctx, view.seconds_left, view.overdue)),
        overdue: view.overdue,
        assignee: if view.assigned_to_me {
            ctx.t("staff_queues.assignee.me").to_string()
        } else {
            view.assignee
                .clone()
                .unwrap_or_else(|| ctx.t("staff_queues.assignee.nobody").to_string())
        },
        assigned_to_me: view.assigned_to_me,
        open,
        customer_id: view.customer_id,
        notification,
        events,
        notes,
        statuses,
        freeze: view.kind == queues::ACCOUNT_FREEZE,
        errors,
        ctx,
    }
}

fn id_of(id: &str) -> Result<i64, WebError> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(WebError::NotFound)
}

/// `GET /staff/requests/{id}`.
pub async fn request(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let view = queues::request(state.app(), &staff, id, &client).await?;
    render(&request_page(ctx, view, Vec::new()))
}

/// After a change: back to the request; a refusal shows the page again
/// with what was wrong (422).
async fn done(
    state: &AppState,
    ctx: PageContext,
    staff: &StaffSession,
    client: &ClientInfo,
    id: i64,
    outcome: Result<(), AppError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/staff/requests/{id}")).into_response()),
        Err(AppError::Invalid(problems)) => {
            let view = queues::request(state.app(), staff, id, client).await?;
            let errors = problems
                .iter()
                .map(|(_, key)| ctx.t(key).to_string())
                .collect();
            let mut response = render(&request_page(ctx, view, errors))?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /staff/requests/{id}/assign`: to me.
pub async fn assign(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let outcome = queues::assign_to_me(state.app(), &staff, id, &client).await;
    done(&state, ctx, &staff, &client, id, outcome).await
}

/// The status form.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

/// `POST /staff/requests/{id}/status`.
pub async fn status(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Client(client): Client,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let outcome =
        queues::change_status(state.app(), &staff, id, &form.status, &form.note, &client).await;
    done(&state, ctx, &staff, &client, id, outcome).await
}

/// The note form.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

/// `POST /staff/requests/{id}/notes`.
pub async fn note(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Client(client): Client,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let outcome = queues::add_note(state.app(), &staff, id, &form.note, &client).await;
    done(&state, ctx, &staff, &client, id, outcome).await
}

/// The freeze decision form.
#[derive(Debug, Deserialize)]
pub struct FreezeForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /staff/requests/{id}/freeze`: lift or keep (ACC-08).
pub async fn freeze(
    State(state): State<AppState>,
    ctx: PageContext,
    Staff(staff): Staff,
    Client(client): Client,
    Path(id): Path<String>,
    Form(form): Form<FreezeForm>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let Some(decision) = FreezeDecision::parse(&form.decision) else {
        return Err(WebError::BadRequest);
    };
    let outcome =
        queues::decide_freeze(state.app(), &staff, id, decision, &form.note, &client).await;
    done(&state, ctx, &staff, &client, id, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_time_reads_as_hours_and_minutes() {
        assert_eq!(hours_minutes(4 * 3600), "4:00");
        assert_eq!(hours_minutes(9000), "2:30");
        assert_eq!(hours_minutes(-7200), "2:00");
        assert_eq!(hours_minutes(-1), "0:01");
    }
}
