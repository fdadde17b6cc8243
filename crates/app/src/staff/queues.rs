//! Work queues (BOF-02): one request model for every kind of work item,
//! with a queue per kind, assignment, service-level timers that count
//! working hours, internal notes and a timeline whose customer-visible
//! events e-mail the customer through the outbox. First users: account
//! freezes after a report of unauthorised access (ACC-08, worked by the
//! security officer, who lifts or keeps the freeze) and payment
//! notifications that need review (PAY-02).
//!
//! Every kind is declared once in [`KINDS`]: its default priority, its
//! service level in working hours, the roles that work its queue (an
//! administrator works every queue) and the processing purpose recorded in
//! the audit log. A staff member without such a role gets "not found" for
//! the queue and for each of its requests, like every authorisation
//! failure.
//!
//! The due time is the creation time plus the service level counted in
//! office hours (08:30–17:30 local time, Europe/Amsterdam and
//! Europe/Brussels: CET/CEST) on the working days of the customer's legal
//! entity's country ([`carfin_domain::calendar`]); a request without a
//! customer counts Dutch working days.
//!
//! Internal notes are sealed: under the customer's key when the request
//! has a customer (they are the customer's personal data, exported to
//! them, erased with them); otherwise under a key of the request's own
//! (subject id = the request id, created on the first note), so the notes
//! of an unknown payment — which may name whoever paid — can be shredded
//! on their own.

use super::{Role, StaffSession};
use crate::audit::{ActorKind, AuditEntry};
use crate::identity::{
    account_email, account_language, open, seal, security_notice, subject_key, ClientInfo,
};
use crate::messages::{local_time, Mail, Sender};
use crate::{i18n, App, AppError};
use carfin_domain::calendar::{self, OfficeHours};
use carfin_domain::{Country, Language};
use carfin_store::crypto::SubjectKey;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{self, Personal};
use carfin_store::repo::identity::{self as identity_repo, AccountRow};
pub use carfin_store::repo::queues::NotificationFields;
use carfin_store::repo::queues::{self as repo, NewRequest, RequestRow};
use carfin_store::repo::SqlValue;
use carfin_store::StoreError;
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use sqlx::AnyConnection;

/// The kind of request created when a customer reports unauthorised
/// access (ACC-08).
pub const ACCOUNT_FREEZE: &str = "account_freeze";
/// The kind of request created for a payment notification that needs
/// review (PAY-02).
pub const UNKNOWN_PAYMENT: &str = "unknown_payment";

/// The longest internal note, in characters.
pub const NOTE_MAX_CHARS: usize = 4000;

/// One kind of request and how its queue is worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    /// The stored code (`requests.kind`), also the queue's URL segment.
    pub code: &'static str,
    /// Default priority: `low`, `normal`, `high` or `urgent`.
    pub priority: &'static str,
    /// Service level in working hours.
    pub sla_working_hours: i64,
    /// The roles that work this queue (besides administrators).
    pub roles: &'static [Role],
    /// The processing purpose recorded with every staff action.
    pub purpose: &'static str,
    /// Whether status changes are e-mailed to the customer.
    pub notifies_customer: bool,
}

/// Every kind of request.
///
/// * `account_freeze`: urgent, 4 working hours — the customer is locked out
///   and is liable until the report is confirmed; the security officer
///   decides (purpose `protect_systems`).
/// * `unknown_payment`: normal, 16 working hours (two working days) —
///   money arrived that no payment of ours explains, or an event a payment
///   could not take; contract administration (who books payments and
///   invoices) and collections (who apply money to arrears) work it
///   (purpose `process_payments`). There is no customer to tell.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        code: ACCOUNT_FREEZE,
        priority: "urgent",
        sla_working_hours: 4,
        roles: &[Role::SecurityOfficer],
        purpose: "protect_systems",
        notifies_customer: true,
    },
    KindSpec {
        code: UNKNOWN_PAYMENT,
        priority: "normal",
        sla_working_hours: 16,
        roles: &[Role::ContractAdministration, Role::Collections],
        purpose: "process_payments",
        notifies_customer: false,
    },
];

/// The spec of a kind code.
pub fn kind(code: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.code == code)
}

impl KindSpec {
    /// Whether the staff member works this queue.
    pub fn may_work(&self, staff: &StaffSession) -> bool {
        staff.has(Role::Administrator) || self.roles.iter().any(|r| staff.has(*r))
    }

    /// The role recorded in audit records for the staff member's work on
    /// this queue: the first of the queue's roles held, else administrator.
    fn audit_role(&self, staff: &StaffSession) -> &'static str {
        self.roles
            .iter()
            .find(|r| staff.has(**r))
            .map_or(Role::Administrator.code(), |r| r.code())
    }

    /// The service level in minutes.
    pub fn sla_minutes(&self) -> i64 {
        self.sla_working_hours * 60
    }
}

/// Statuses a request can be moved to through the status form.
pub const STATUSES: &[&str] = &["in_progress", "waiting", "resolved", "rejected"];

/// Whether a status is final.
pub fn is_closed(status: &str) -> bool {
    matches!(status, "resolved" | "rejected")
}

// ---------------------------------------------------------------------------
// Working-hour arithmetic
// ---------------------------------------------------------------------------

/// Office hours: 08:30–17:30 local time.
pub fn office_hours() -> OfficeHours {
    let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
    OfficeHours {
        open: at(8, 30),
        close: at(17, 30),
    }
}

/// Unix seconds as Dutch and Belgian wall-clock time (CET/CEST).
pub fn to_local(unix: i64) -> NaiveDateTime {
    let utc = DateTime::<Utc>::from_timestamp(unix, 0).unwrap_or_default();
    let offset = crate::messages::local_offset_hours(utc);
    (utc + Duration::hours(offset)).naive_utc()
}

/// Dutch and Belgian wall-clock time as Unix seconds. A time in the hour
/// skipped in spring (never an office hour) is read as CET.
pub fn from_local(local: NaiveDateTime) -> i64 {
    for offset in [2, 1] {
        let Some(utc) = local.checked_sub_signed(Duration::hours(offset)) else {
            continue;
        };
        let utc = utc.and_utc();
        if crate::messages::local_offset_hours(utc) == offset {
            return utc.timestamp();
        }
    }
    local
        .checked_sub_signed(Duration::hours(1))
        .unwrap_or(local)
        .and_utc()
        .timestamp()
}

/// The due time of a request created at `created_at` with `sla_minutes`
/// of working time in `country`.
pub fn due_at(country: Country, created_at: i64, sla_minutes: i64) -> i64 {
    let due = calendar::add_working_seconds(
        country,
        office_hours(),
        to_local(created_at),
        sla_minutes.saturating_mul(60),
    );
    if due == NaiveDateTime::MAX {
        return i64::MAX;
    }
    from_local(due)
}

/// Working seconds from `now` until `due` (negative: overdue by that much
/// working time; a request past its due time outside office hours is
/// overdue by at least one second).
pub fn working_seconds_left(country: Country, now: i64, due: i64) -> i64 {
    let hours = office_hours();
    if now < due {
        calendar::working_seconds_between(country, hours, to_local(now), to_local(due))
    } else {
        -calendar::working_seconds_between(country, hours, to_local(due), to_local(now)).max(1)
    }
}

/// Staff members' names by id, opened once per page.
#[derive(Default)]
struct Names(std::collections::HashMap<i64, Option<String>>);

impl Names {
    async fn of(&mut self, app: &App, staff_id: Option<i64>) -> Result<Option<String>, AppError> {
        let Some(id) = staff_id else {
            return Ok(None);
        };
        if let Some(name) = self.0.get(&id) {
            return Ok(name.clone());
        }
        let name = super::auth::member(app, id).await?.map(|m| m.display_name);
        self.0.insert(id, name.clone());
        Ok(name)
    }
}

/// The working-day country of a request: its customer's legal entity's,
/// the Netherlands without a customer.
async fn country_of(app: &App, entity_id: Option<i64>) -> Country {
    let Some(entity_id) = entity_id else {
        return Country::Nl;
    };
    match app.directory().await {
        Ok(directory) => directory
            .entity_by_id(entity_id)
            .and_then(|e| e.country.parse().ok())
            .unwrap_or(Country::Nl),
        Err(_) => Country::Nl,
    }
}

// ---------------------------------------------------------------------------
// Creating requests (called inside other use cases' transactions)
// ---------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
async fn create(
    tx: &mut AnyConnection,
    app: &App,
    spec: &KindSpec,
    customer_id: Option<i64>,
    country: Country,
    subject_ref: String,
    visible: bool,
    now: i64,
) -> Result<Option<i64>, AppError> {
    let id = app.ids().next();
    let sla_minutes = spec.sla_minutes();
    let created = repo::insert_request(
        tx,
        &NewRequest {
            id,
            kind: spec.code.to_string(),
            customer_id,
            contract_id: None,
            priority: spec.priority.to_string(),
            sla_minutes,
            due_at: due_at(country, now, sla_minutes),
            subject_ref: Some(subject_ref),
            now,
        },
    )
    .await?;
    if !created {
        return Ok(None);
    }
    repo::insert_event(
        tx,
        app.ids().next(),
        id,
        "created",
        Some("open"),
        None,
        visible,
        now,
    )
    .await?;
    Ok(Some(id))
}

/// Opens an `account_freeze` request for an account just frozen at `now`
/// (ACC-08), in the freezing transaction. The customer already got the
/// confirmation of receipt; the request's creation is on their timeline.
pub(crate) async fn open_freeze_request(
    tx: &mut AnyConnection,
    app: &App,
    account: &AccountRow,
    now: i64,
) -> Result<Option<i64>, AppError> {
    let spec = kind(ACCOUNT_FREEZE).ok_or(AppError::NotFound)?;
    let country = country_of(app, Some(account.entity_id)).await;
    create(
        tx,
        app,
        spec,
        Some(account.customer_id),
        country,
        format!("account:{}:{now}", account.id),
        true,
        now,
    )
    .await
}

/// Opens an `unknown_payment` request for a notification flagged for
/// review (PAY-02), in the processing transaction; at most one per
/// notification (`subject_ref` = the notification's id).
pub(crate) async fn open_unknown_payment(
    tx: &mut AnyConnection,
    app: &App,
    notification_id: i64,
    now: i64,
) -> Result<Option<i64>, AppError> {
    let spec = kind(UNKNOWN_PAYMENT).ok_or(AppError::NotFound)?;
    create(
        tx,
        app,
        spec,
        None,
        Country::Nl,
        notification_id.to_string(),
        false,
        now,
    )
    .await
}

// ---------------------------------------------------------------------------
// Reading queues and requests
// ---------------------------------------------------------------------------

/// A queue the staff member works, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSummary {
    pub kind: &'static str,
    pub open: i64,
    pub overdue: i64,
    pub sla_working_hours: i64,
}

/// The queues the staff member works (every queue for an administrator),
/// with how many requests are open and how many of those are overdue.
pub async fn queues(app: &App, staff: &StaffSession) -> Result<Vec<QueueSummary>, AppError> {
    let now = app.clock().now().timestamp();
    let counts = repo::counts(app.db(), now).await?;
    Ok(KINDS
        .iter()
        .filter(|k| k.may_work(staff))
        .map(|k| {
            let (open, overdue) = counts
                .iter()
                .find(|(kind, _, _)| kind == k.code)
                .map_or((0, 0), |(_, o, d)| (*o, *d));
            QueueSummary {
                kind: k.code,
                open,
                overdue,
                sla_working_hours: k.sla_working_hours,
            }
        })
        .collect())
}

/// An open request in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub id: i64,
    pub status: String,
    pub priority: String,
    pub created_at: i64,
    pub due_at: i64,
    /// Working seconds left until the due time; negative when overdue.
    pub seconds_left: i64,
    pub overdue: bool,
    pub assignee: Option<String>,
    pub assigned_to_me: bool,
}

fn spec_for(staff: &StaffSession, code: &str) -> Result<&'static KindSpec, AppError> {
    kind(code)
        .filter(|k| k.may_work(staff))
        .ok_or(AppError::NotFound)
}

/// The open requests of a queue, the one due first first.
pub async fn queue(
    app: &App,
    staff: &StaffSession,
    code: &str,
) -> Result<Vec<QueueItem>, AppError> {
    let spec = spec_for(staff, code)?;
    let now = app.clock().now().timestamp();
    let mut items = Vec::new();
    let mut names = Names::default();
    for r in repo::open_of_kind(app.db(), spec.code).await? {
        let country = country_of(app, r.entity_id).await;
        let seconds_left = working_seconds_left(country, now, r.due_at);
        items.push(QueueItem {
            id: r.id,
            status: r.status,
            priority: r.priority,
            created_at: r.created_at,
            due_at: r.due_at,
            seconds_left,
            overdue: now >= r.due_at,
            assignee: names.of(app, r.assignee_staff_id).await?,
            assigned_to_me: r.assignee_staff_id == Some(staff.staff_id),
        });
    }
    Ok(items)
}

/// An event of a request's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    pub at: i64,
    /// `created`, `assigned`, `status`, `note`, `freeze_lifted`, `freeze_kept`.
    pub event: String,
    pub status: Option<String>,
    pub staff: Option<String>,
    pub visible_to_customer: bool,
}

/// An internal note, opened; `None` when its key was destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteView {
    pub at: i64,
    pub staff: Option<String>,
    pub body: Option<String>,
}

/// A request as staff see it: no customer personal data (the customer's
/// file opens only through the purpose-bound customer view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestView {
    pub id: i64,
    pub kind: &'static str,
    pub customer_id: Option<i64>,
    pub contract_id: Option<i64>,
    pub status: String,
    pub priority: String,
    pub sla_working_hours: i64,
    pub created_at: i64,
    pub due_at: i64,
    pub closed_at: Option<i64>,
    pub seconds_left: i64,
    pub overdue: bool,
    pub assignee: Option<String>,
    pub assigned_to_me: bool,
    pub events: Vec<EventView>,
    pub notes: Vec<NoteView>,
    /// For `unknown_payment`: the notification.
    pub notification: Option<NotificationFields>,
}

impl RequestView {
    /// Whether the request is still being worked on.
    pub fn is_open(&self) -> bool {
        !is_closed(&self.status)
    }

    /// The statuses the status form offers (an account freeze closes only
    /// by lifting or keeping the freeze).
    pub fn next_statuses(&self) -> Vec<&'static str> {
        if !self.is_open() {
            return Vec::new();
        }
        STATUSES
            .iter()
            .copied()
            .filter(|s| *s != self.status)
            .filter(|s| self.kind != ACCOUNT_FREEZE || !is_closed(s))
            .collect()
    }
}

/// The key that seals a request's notes: the customer's, else the
/// request's own (created on the first note when `create` is set).
async fn note_key(
    app: &App,
    request: &RequestRow,
    create: bool,
) -> Result<Option<Box<SubjectKey>>, AppError> {
    let subject = request.customer_id.unwrap_or(request.id);
    match app.keys().get(subject).await? {
        KeyState::Live(key) => Ok(Some(key)),
        KeyState::Shredded(_) => Ok(None),
        KeyState::Missing if create && request.customer_id.is_none() => {
            let now = app.clock().now().timestamp();
            match app.keys().create(subject, now).await {
                Ok(key) => Ok(Some(Box::new(key))),
                // Another note created it meanwhile.
                Err(_) => match app.keys().get(subject).await? {
                    KeyState::Live(key) => Ok(Some(key)),
                    _ => Ok(None),
                },
            }
        }
        KeyState::Missing => Ok(None),
    }
}

fn staff_entry(
    staff: &StaffSession,
    spec: &KindSpec,
    request: &RequestRow,
    action: &str,
    fields: &[&str],
    client: &ClientInfo,
) -> AuditEntry {
    AuditEntry {
        actor_kind: ActorKind::Staff,
        actor_id: Some(staff.staff_id),
        role: spec.audit_role(staff).to_string(),
        action: action.to_string(),
        subject_id: request.customer_id,
        purpose: spec.purpose.to_string(),
        fields: fields.iter().map(|f| (*f).to_string()).collect(),
        request_id: if client.request_id.is_empty() {
            "none".into()
        } else {
            client.request_id.clone()
        },
    }
}

/// Reads a request the staff member may work (else not found): details,
/// timeline, notes and, for an unknown payment, the notification. The
/// read is audited with the fields shown.
pub async fn request(
    app: &App,
    staff: &StaffSession,
    id: i64,
    client: &ClientInfo,
) -> Result<RequestView, AppError> {
    let row = repo::request(app.db(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let spec = spec_for(staff, &row.kind)?;
    let now = app.clock().now().timestamp();
    let country = country_of(app, row.entity_id).await;
    let mut names = Names::default();
    let mut events = Vec::new();
    for e in repo::events(app.db(), id).await? {
        events.push(EventView {
            at: e.created_at,
            staff: names.of(app, e.staff_id).await?,
            event: e.event,
            status: e.status,
            visible_to_customer: e.visible_to_customer,
        });
    }
    let note_rows = repo::notes(app.db(), id).await?;
    let key = if note_rows.is_empty() {
        None
    } else {
        note_key(app, &row, false).await?
    };
    let mut notes = Vec::with_capacity(note_rows.len());
    for n in &note_rows {
        let body = match &key {
            Some(key) => Some(open(key, "request_notes", "body", n.id, &n.body)?),
            None => None,
        };
        notes.push(NoteView {
            at: n.created_at,
            staff: names.of(app, Some(n.staff_id)).await?,
            body,
        });
    }
    let notification = match (spec.code, row.subject_ref.as_deref()) {
        (UNKNOWN_PAYMENT, Some(reference)) => match reference.parse::<i64>() {
            Ok(nid) => repo::notification(app.db(), nid).await?,
            Err(_) => None,
        },
        _ => None,
    };
    let mut fields = vec!["requests.status", "request_events.event"];
    if !notes.is_empty() {
        fields.push("request_notes.body");
    }
    if notification.is_some() {
        fields.extend([
            "payment_notifications.psp_reference",
            "payment_notifications.merchant_reference",
            "payment_notifications.amount_value",
            "payment_notifications.event_code",
        ]);
    }
    let mut tx = app.db().begin_write().await?;
    crate::audit::record(
        &mut tx,
        app,
        staff_entry(staff, spec, &row, "staff.request_viewed", &fields, client),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(RequestView {
        id: row.id,
        kind: spec.code,
        customer_id: row.customer_id,
        contract_id: row.contract_id,
        status: row.status.clone(),
        priority: row.priority.clone(),
        sla_working_hours: spec.sla_working_hours,
        created_at: row.created_at,
        due_at: row.due_at,
        closed_at: row.closed_at,
        seconds_left: working_seconds_left(country, now, row.due_at),
        overdue: !is_closed(&row.status) && now >= row.due_at,
        assignee: names.of(app, row.assignee_staff_id).await?,
        assigned_to_me: row.assignee_staff_id == Some(staff.staff_id),
        events,
        notes,
        notification,
    })
}

// ---------------------------------------------------------------------------
// Working on requests
// ---------------------------------------------------------------------------

fn invalid(field: &str, key: &str) -> AppError {
    AppError::Invalid(vec![(field.to_string(), key.to_string())])
}

/// Loads an open request the staff member may work, inside the
/// transaction.
async fn open_request(
    tx: &mut AnyConnection,
    staff: &StaffSession,
    id: i64,
) -> Result<(RequestRow, &'static KindSpec), AppError> {
    let row = repo::request_tx(tx, id).await?.ok_or(AppError::NotFound)?;
    let spec = spec_for(staff, &row.kind)?;
    if is_closed(&row.status) {
        return Err(invalid("status", "staff_queues.error.closed"));
    }
    Ok((row, spec))
}

fn checked_note(note: &str, required: bool) -> Result<Option<String>, AppError> {
    let note = note.trim();
    if note.is_empty() {
        return if required {
            Err(invalid("note", "staff_queues.error.note_required"))
        } else {
            Ok(None)
        };
    }
    if note.chars().count() > NOTE_MAX_CHARS {
        return Err(invalid("note", "staff_queues.error.note_too_long"));
    }
    Ok(Some(note.to_string()))
}

async fn write_note(
    tx: &mut AnyConnection,
    app: &App,
    key: &SubjectKey,
    staff: &StaffSession,
    request_id: i64,
    body: &str,
    now: i64,
) -> Result<(), AppError> {
    let id = app.ids().next();
    let sealed = seal(key, "request_notes", "body", id, body)?;
    repo::insert_note(tx, id, request_id, staff.staff_id, sealed, now).await?;
    repo::insert_event(
        tx,
        app.ids().next(),
        request_id,
        "note",
        None,
        Some(staff.staff_id),
        false,
        now,
    )
    .await?;
    Ok(())
}

async fn commit(tx: sqlx::Transaction<'static, sqlx::Any>) -> Result<(), AppError> {
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Assigns a request to the signed-in staff member.
pub async fn assign_to_me(
    app: &App,
    staff: &StaffSession,
    id: i64,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let (row, spec) = open_request(&mut tx, staff, id).await?;
    if row.assignee_staff_id == Some(staff.staff_id) {
        return Ok(());
    }
    repo::assign(&mut tx, id, staff.staff_id, now).await?;
    repo::insert_event(
        &mut tx,
        app.ids().next(),
        id,
        "assigned",
        None,
        Some(staff.staff_id),
        false,
        now,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        app,
        staff_entry(
            staff,
            spec,
            &row,
            "staff.request_assigned",
            &["requests.assignee_staff_id"],
            client,
        ),
    )
    .await?;
    commit(tx).await
}

/// Adds an internal note to an open request.
pub async fn add_note(
    app: &App,
    staff: &StaffSession,
    id: i64,
    note: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let note = checked_note(note, true)?.unwrap_or_default();
    let row = repo::request(app.db(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    spec_for(staff, &row.kind)?;
    let key = note_key(app, &row, true).await?.ok_or(AppError::NotFound)?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let (row, spec) = open_request(&mut tx, staff, id).await?;
    write_note(&mut tx, app, &key, staff, id, &note, now).await?;
    crate::audit::record(
        &mut tx,
        app,
        staff_entry(
            staff,
            spec,
            &row,
            "staff.request_note_added",
            &["request_notes.body"],
            client,
        ),
    )
    .await?;
    commit(tx).await
}

/// Moves an open request to another status (`in_progress`, `waiting`,
/// `resolved`, `rejected`); closing needs a note saying what was done. An
/// account freeze closes only by [`decide_freeze`]. When the kind tells
/// customers, the change is on their timeline and e-mailed to them in the
/// same transaction.
pub async fn change_status(
    app: &App,
    staff: &StaffSession,
    id: i64,
    to: &str,
    note: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let Some(to) = STATUSES.iter().copied().find(|s| *s == to) else {
        return Err(invalid("status", "staff_queues.error.status"));
    };
    let note = checked_note(note, is_closed(to))?;
    let row = repo::request(app.db(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let spec = spec_for(staff, &row.kind)?;
    if spec.code == ACCOUNT_FREEZE && is_closed(to) {
        return Err(invalid(
            "status",
            "staff_queues.error.freeze_needs_decision",
        ));
    }
    let key = match &note {
        Some(_) => Some(note_key(app, &row, true).await?.ok_or(AppError::NotFound)?),
        None => None,
    };
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let (row, spec) = open_request(&mut tx, staff, id).await?;
    if row.status == to {
        return Err(invalid("status", "staff_queues.error.same_status"));
    }
    let closed_at = is_closed(to).then_some(now);
    if !repo::set_status(&mut tx, id, &row.status, to, closed_at, now).await? {
        return Err(invalid("status", "staff_queues.error.changed_meanwhile"));
    }
    let visible = spec.notifies_customer && row.customer_id.is_some();
    repo::insert_event(
        &mut tx,
        app.ids().next(),
        id,
        "status",
        Some(to),
        Some(staff.staff_id),
        visible,
        now,
    )
    .await?;
    let mut fields = vec!["requests.status"];
    if let (Some(note), Some(key)) = (&note, &key) {
        write_note(&mut tx, app, key, staff, id, note, now).await?;
        fields.push("request_notes.body");
    }
    if visible {
        tell_status(&mut tx, app, &row, to).await?;
    }
    crate::audit::record(
        &mut tx,
        app,
        staff_entry(staff, spec, &row, "staff.request_status", &fields, client),
    )
    .await?;
    commit(tx).await
}

/// Where and in which language to write to a request's customer: the
/// portal account's address, else the customer's contact address.
async fn recipient(
    tx: &mut AnyConnection,
    app: &App,
    customer_id: i64,
) -> Result<Option<(String, Language, i64)>, AppError> {
    if let Some(account) = identity_repo::account_of_customer(tx, customer_id).await? {
        let key = subject_key(app, customer_id).await?;
        return Ok(Some((
            account_email(&key, &account)?,
            account_language(&account),
            account.entity_id,
        )));
    }
    let Some(record) = customers::get(app.db(), app.keys(), customer_id).await? else {
        return Ok(None);
    };
    let Personal::Known(personal) = record.personal else {
        return Ok(None);
    };
    Ok(personal.email.map(|email| {
        (
            email,
            record.language.parse::<Language>().unwrap_or_default(),
            record.entity_id,
        )
    }))
}

/// E-mails the customer that their request's status changed.
async fn tell_status(
    tx: &mut AnyConnection,
    app: &App,
    row: &RequestRow,
    status: &str,
) -> Result<(), AppError> {
    let Some(customer_id) = row.customer_id else {
        return Ok(());
    };
    let Some((to, lang, entity_id)) = recipient(tx, app, customer_id).await? else {
        return Ok(());
    };
    let sender = Sender::for_customer(app, customer_id, entity_id).await?;
    let mail = Mail {
        kind: "request_status",
        args: vec![
            ("reference", row.id.to_string()),
            ("created", local_time(lang, row.created_at)),
            (
                "request",
                i18n::t(lang, &format!("staff_queues.customer_kind.{}", row.kind)).to_string(),
            ),
            (
                "status",
                i18n::t(lang, &format!("staff_queues.customer_status.{status}")).to_string(),
            ),
        ],
        link: None,
        report_link: None,
    };
    let message = crate::messages::email(&sender, lang, customer_id, &to, &mail)?;
    crate::outbox::enqueue(tx, app, &message).await?;
    Ok(())
}

/// The security officer's decision on a frozen account (ACC-08).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeDecision {
    /// The account is active again; the customer is e-mailed (a security
    /// notice, with the link to report unauthorised access again).
    Lift,
    /// The account stays frozen; the customer is e-mailed how to reach
    /// customer service.
    Keep,
}

impl FreezeDecision {
    /// From the form's value (`lift`, `keep`).
    pub fn parse(value: &str) -> Option<FreezeDecision> {
        match value {
            "lift" => Some(FreezeDecision::Lift),
            "keep" => Some(FreezeDecision::Keep),
            _ => None,
        }
    }
}

/// Lifts or keeps the freeze of an `account_freeze` request's account
/// (ACC-08): the request is resolved with that outcome on the customer's
/// timeline, the customer is e-mailed through the outbox and the decision
/// is audited, all in one transaction. An optional note is kept with it.
pub async fn decide_freeze(
    app: &App,
    staff: &StaffSession,
    id: i64,
    decision: FreezeDecision,
    note: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let note = checked_note(note, false)?;
    let row = repo::request(app.db(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    spec_for(staff, &row.kind)?;
    if row.kind != ACCOUNT_FREEZE {
        return Err(AppError::NotFound);
    }
    let customer_id = row.customer_id.ok_or(AppError::NotFound)?;
    let key = subject_key(app, customer_id).await?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let (row, spec) = open_request(&mut tx, staff, id).await?;
    let account = identity_repo::account_of_customer(&mut tx, customer_id).await?;
    if !repo::set_status(&mut tx, id, &row.status, "resolved", Some(now), now).await? {
        return Err(invalid("status", "staff_queues.error.changed_meanwhile"));
    }
    let (event, action) = match decision {
        FreezeDecision::Lift => ("freeze_lifted", "staff.request_freeze_lifted"),
        FreezeDecision::Keep => ("freeze_kept", "staff.request_freeze_kept"),
    };
    repo::insert_event(
        &mut tx,
        app.ids().next(),
        id,
        event,
        Some("resolved"),
        Some(staff.staff_id),
        true,
        now,
    )
    .await?;
    let mut fields = vec!["requests.status"];
    if let Some(note) = &note {
        write_note(&mut tx, app, &key, staff, id, note, now).await?;
        fields.push("request_notes.body");
    }
    // The account may have been closed meanwhile: the decision is still
    // recorded, there is nobody to unfreeze or write to.
    if let Some(account) = account {
        let lang = account_language(&account);
        let reported_at = local_time(lang, row.created_at);
        match decision {
            FreezeDecision::Lift => {
                if account.status == "frozen" {
                    identity_repo::update_account(
                        &mut tx,
                        account.id,
                        "status = 'active', frozen_at = $2",
                        vec![SqlValue::NullInt],
                        now,
                    )
                    .await?;
                    fields.push("accounts.status");
                }
                security_notice(
                    &mut tx,
                    app,
                    &key,
                    &account,
                    "account_unfrozen",
                    None,
                    vec![("reported_at", reported_at)],
                )
                .await?;
            }
            FreezeDecision::Keep => {
                let sender =
                    Sender::for_customer(app, account.customer_id, account.entity_id).await?;
                let mail = Mail {
                    kind: "freeze_kept",
                    args: vec![
                        ("reported_at", reported_at),
                        ("phone", sender.entity.service_phone.clone()),
                        ("email", sender.entity.service_email.clone()),
                    ],
                    link: None,
                    report_link: None,
                };
                let message = crate::messages::email(
                    &sender,
                    lang,
                    account.customer_id,
                    &account_email(&key, &account)?,
                    &mail,
                )?;
                crate::outbox::enqueue(&mut tx, app, &message).await?;
            }
        }
    }
    crate::audit::record(
        &mut tx,
        app,
        staff_entry(staff, spec, &row, action, &fields, client),
    )
    .await?;
    commit(tx).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::NaiveDate;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    // BOF-02: a freeze reported on Friday 16:00 CET (4 working hours) has
    // 1.5 hours left that day and is due Monday 11:00 CET.
    #[test]
    fn bof02_friday_afternoon_is_due_monday_morning() {
        let friday = utc(2026, 3, 6, 15, 0); // 16:00 CET
        let due = due_at(Country::Nl, friday, 4 * 60);
        assert_eq!(due, utc(2026, 3, 9, 10, 0)); // Monday 11:00 CET
        assert_eq!(working_seconds_left(Country::Nl, friday, due), 4 * 3600);
        // On Saturday nothing has been used up.
        let saturday = utc(2026, 3, 7, 12, 0);
        assert_eq!(
            working_seconds_left(Country::Nl, saturday, due),
            (2 * 3600) + 1800
        );
    }

    // BOF-02: summer time shifts the UTC due time by an hour; office hours
    // stay 08:30–17:30 local time.
    #[test]
    fn bof02_office_hours_are_local_time_in_summer_and_winter() {
        // Monday 2026-06-01 07:00 UTC is 09:00 CEST: 4 hours → 13:00 CEST.
        assert_eq!(
            due_at(Country::Nl, utc(2026, 6, 1, 7, 0), 240),
            utc(2026, 6, 1, 11, 0)
        );
        // Before opening: counting starts at 08:30 CET (07:30 UTC).
        assert_eq!(
            due_at(Country::Nl, utc(2026, 3, 2, 5, 0), 240),
            utc(2026, 3, 2, 11, 30)
        );
        // The night of the change to summer time: created on Friday
        // 2026-03-27 16:30 CET, 2 hours → Monday 09:30 CEST (07:30 UTC).
        assert_eq!(
            due_at(Country::Nl, utc(2026, 3, 27, 15, 30), 120),
            utc(2026, 3, 30, 7, 30)
        );
    }

    // BOF-02: holidays of the customer's country do not count: 16 working
    // hours from Thursday 2 April 2026 09:00 CEST pass Good Friday in the
    // Netherlands (closed) but not in Belgium (open), and Easter Monday in
    // both.
    #[test]
    fn bof02_holidays_of_the_country_do_not_count() {
        let thursday = utc(2026, 4, 2, 7, 0); // 09:00 CEST
                                              // NL: Thu 8.5 h, Fri closed, Mon closed, Tue 7.5 h → Tue 16:00 CEST.
        assert_eq!(
            due_at(Country::Nl, thursday, 16 * 60),
            utc(2026, 4, 7, 14, 0)
        );
        // BE: Thu 8.5 h, Fri 7.5 h → Fri 16:00 CEST.
        assert_eq!(
            due_at(Country::Be, thursday, 16 * 60),
            utc(2026, 4, 3, 14, 0)
        );
    }

    // BOF-02: past the due time the request is overdue, by working time;
    // overdue outside office hours still counts as overdue.
    #[test]
    fn bof02_overdue_counts_working_time_past_due() {
        let due = utc(2026, 3, 9, 10, 0); // Monday 11:00 CET
        assert_eq!(
            working_seconds_left(Country::Nl, utc(2026, 3, 9, 12, 0), due),
            -2 * 3600
        );
        assert!(working_seconds_left(Country::Nl, utc(2026, 3, 9, 20, 0), due) < 0);
        assert_eq!(working_seconds_left(Country::Nl, due, due), -1);
    }

    #[test]
    fn local_time_round_trips() {
        for unix in [
            utc(2026, 1, 15, 12, 0),
            utc(2026, 7, 15, 12, 0),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 2, 30),
        ] {
            assert_eq!(from_local(to_local(unix)), unix);
        }
    }

    #[test]
    fn every_kind_has_roles_a_purpose_and_a_service_level() {
        for k in KINDS {
            assert!(!k.roles.is_empty() && k.sla_working_hours > 0);
            assert!(matches!(k.priority, "low" | "normal" | "high" | "urgent"));
            assert!(crate::audit::is_code(k.purpose));
        }
        assert_eq!(kind(ACCOUNT_FREEZE).unwrap().sla_working_hours, 4);
        assert!(kind("nope").is_none());
    }
}
