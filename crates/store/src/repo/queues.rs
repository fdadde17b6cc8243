//! Requests and their queues (BOF-02): one request model for every kind of
//! work item (account freezes after ACC-08, unknown payment notifications
//! after PAY-02, …), with internal notes (sealed by the caller) and a
//! timeline of events, some of them visible to the customer.

use super::Insert;
use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// The statuses of a request that is still being worked on.
pub const OPEN_STATUSES: &str = "('open', 'in_progress', 'waiting')";

/// A stored request, with the legal entity of its customer (for the
/// working-day calendar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: i64,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub contract_id: Option<i64>,
    pub status: String,
    pub priority: String,
    pub sla_minutes: i64,
    pub due_at: i64,
    pub assignee_staff_id: Option<i64>,
    pub subject_ref: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    /// The customer's legal entity, if there is a customer.
    pub entity_id: Option<i64>,
}

const REQUEST_SELECT: &str = "SELECT r.id, r.kind, r.customer_id, r.contract_id, r.status, \
     r.priority, r.sla_minutes, r.due_at, r.assignee_staff_id, r.subject_ref, r.created_at, \
     r.updated_at, r.closed_at, c.entity_id \
     FROM requests r LEFT JOIN customers c ON c.id = r.customer_id";

fn request_row(r: &AnyRow) -> Result<RequestRow> {
    Ok(RequestRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        customer_id: r.try_get(2)?,
        contract_id: r.try_get(3)?,
        status: r.try_get(4)?,
        priority: r.try_get(5)?,
        sla_minutes: r.try_get(6)?,
        due_at: r.try_get(7)?,
        assignee_staff_id: r.try_get(8)?,
        subject_ref: r.try_get(9)?,
        created_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
        closed_at: r.try_get(12)?,
        entity_id: r.try_get(13)?,
    })
}

/// A new request (status `open`).
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: i64,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub contract_id: Option<i64>,
    pub priority: String,
    pub sla_minutes: i64,
    pub due_at: i64,
    pub subject_ref: Option<String>,
    pub now: i64,
}

/// Inserts a request; `false` when one of the same kind about the same
/// `subject_ref` exists already (nothing is written then).
pub async fn insert_request(tx: &mut AnyConnection, r: &NewRequest) -> Result<bool> {
    let mut insert = Insert::new(
        "requests",
        &[
            "id",
            "kind",
            "customer_id",
            "contract_id",
            "status",
            "priority",
            "sla_minutes",
            "due_at",
            "subject_ref",
            "created_at",
            "updated_at",
        ],
    )
    .ignore_conflicts("(kind, subject_ref)");
    insert.row(vec![
        r.id.into(),
        r.kind.as_str().into(),
        r.customer_id.into(),
        r.contract_id.into(),
        "open".into(),
        r.priority.as_str().into(),
        r.sla_minutes.into(),
        r.due_at.into(),
        r.subject_ref.clone().into(),
        r.now.into(),
        r.now.into(),
    ]);
    Ok(insert.execute(tx).await? == 1)
}

/// A request by id.
pub async fn request(db: &Db, id: i64) -> Result<Option<RequestRow>> {
    sqlx::query(&format!("{REQUEST_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(request_row)
        .transpose()
}

/// A request by id, read inside a write transaction.
pub async fn request_tx(tx: &mut AnyConnection, id: i64) -> Result<Option<RequestRow>> {
    sqlx::query(&format!("{REQUEST_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(request_row)
        .transpose()
}

/// The request of a kind about a record, if any.
pub async fn by_subject(db: &Db, kind: &str, subject_ref: &str) -> Result<Option<RequestRow>> {
    sqlx::query(&format!(
        "{REQUEST_SELECT} WHERE r.kind = $1 AND r.subject_ref = $2"
    ))
    .bind(kind)
    .bind(subject_ref)
    .fetch_optional(db.reader())
    .await?
    .as_ref()
    .map(request_row)
    .transpose()
}

/// The open requests of one kind (open, in progress or waiting), the one
/// due first first.
pub async fn open_of_kind(db: &Db, kind: &str) -> Result<Vec<RequestRow>> {
    sqlx::query(&format!(
        "{REQUEST_SELECT} WHERE r.kind = $1 AND r.status IN {OPEN_STATUSES} ORDER BY r.due_at, r.id"
    ))
    .bind(kind)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(request_row)
    .collect()
}

/// Per kind: how many requests are open, and how many of them are past
/// their due time at `now`.
pub async fn counts(db: &Db, now: i64) -> Result<Vec<(String, i64, i64)>> {
    sqlx::query(&format!(
        "SELECT kind, COUNT(*), SUM(CASE WHEN due_at <= $1 THEN 1 ELSE 0 END) FROM requests \
         WHERE status IN {OPEN_STATUSES} GROUP BY kind ORDER BY kind"
    ))
    .bind(now)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
        ))
    })
    .collect()
}

/// Assigns a request that is still open to a staff member.
pub async fn assign(tx: &mut AnyConnection, id: i64, staff_id: i64, now: i64) -> Result<bool> {
    Ok(sqlx::query(&format!(
        "UPDATE requests SET assignee_staff_id = $2, updated_at = $3 \
         WHERE id = $1 AND status IN {OPEN_STATUSES}"
    ))
    .bind(id)
    .bind(staff_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// Moves a request from `from` to `to` (`closed_at` set when it closes);
/// `false` if its status was no longer `from` (someone else changed it).
pub async fn set_status(
    tx: &mut AnyConnection,
    id: i64,
    from: &str,
    to: &str,
    closed_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE requests SET status = $3, closed_at = $4, updated_at = $5 \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(closed_at)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// An event of a request's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub request_id: i64,
    pub event: String,
    pub status: Option<String>,
    pub staff_id: Option<i64>,
    pub visible_to_customer: bool,
    pub created_at: i64,
}

/// Appends an event to a request's timeline.
#[allow(clippy::too_many_arguments)]
pub async fn insert_event(
    tx: &mut AnyConnection,
    id: i64,
    request_id: i64,
    event: &str,
    status: Option<&str>,
    staff_id: Option<i64>,
    visible_to_customer: bool,
    now: i64,
) -> Result<()> {
    let mut insert = Insert::new(
        "request_events",
        &[
            "id",
            "request_id",
            "event",
            "status",
            "staff_id",
            "visible_to_customer",
            "created_at",
        ],
    );
    insert.row(vec![
        id.into(),
        request_id.into(),
        event.into(),
        status.map(str::to_string).into(),
        staff_id.into(),
        i64::from(visible_to_customer).into(),
        now.into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// A request's timeline, oldest first.
pub async fn events(db: &Db, request_id: i64) -> Result<Vec<EventRow>> {
    sqlx::query(
        "SELECT id, request_id, event, status, staff_id, visible_to_customer, created_at \
         FROM request_events WHERE request_id = $1 ORDER BY created_at, id",
    )
    .bind(request_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok(EventRow {
            id: r.try_get(0)?,
            request_id: r.try_get(1)?,
            event: r.try_get(2)?,
            status: r.try_get(3)?,
            staff_id: r.try_get(4)?,
            visible_to_customer: r.try_get::<i64, _>(5)? != 0,
            created_at: r.try_get(6)?,
        })
    })
    .collect()
}

/// An internal note, its body still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRow {
    pub id: i64,
    pub request_id: i64,
    pub staff_id: i64,
    pub body: Vec<u8>,
    pub created_at: i64,
}

/// Adds an internal note (the body sealed by the caller).
pub async fn insert_note(
    tx: &mut AnyConnection,
    id: i64,
    request_id: i64,
    staff_id: i64,
    body: Vec<u8>,
    now: i64,
) -> Result<()> {
    let mut insert = Insert::new(
        "request_notes",
        &["id", "request_id", "staff_id", "body", "created_at"],
    );
    insert.row(vec![
        id.into(),
        request_id.into(),
        staff_id.into(),
        body.into(),
        now.into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// A request's notes, oldest first.
pub async fn notes(db: &Db, request_id: i64) -> Result<Vec<NoteRow>> {
    sqlx::query(
        "SELECT id, request_id, staff_id, body, created_at FROM request_notes \
         WHERE request_id = $1 ORDER BY created_at, id",
    )
    .bind(request_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok(NoteRow {
            id: r.try_get(0)?,
            request_id: r.try_get(1)?,
            staff_id: r.try_get(2)?,
            body: r.try_get(3)?,
            created_at: r.try_get(4)?,
        })
    })
    .collect()
}

/// What staff see of a payment notification that needs review (PAY-02):
/// the stored notification.
pub use super::payments::NotificationRow as NotificationFields;

/// A payment notification by id.
pub async fn notification(db: &Db, id: i64) -> Result<Option<NotificationFields>> {
    super::payments::notification_by_id(db, id).await
}
