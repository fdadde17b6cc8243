//! The access review (BOF-06) and the auditor's read-only view of the
//! audit log (PRV-15).
//!
//! * [`report`]: every staff account with its roles, status, the ways it
//!   can sign in, its last sign-in, and how many customer files it opened
//!   per purpose in a period (from `staff_file_accesses`), with totals;
//!   accounts not signed in for [`INACTIVE_DAYS`] and accounts holding a
//!   privileged role are flagged. Readable by [`VIEWERS`].
//! * [`csv`]: the same report as a CSV file (UTF-8 with a byte-order mark,
//!   one row per staff member), the exact bytes a reviewer signs off;
//!   [`export`] hands it out and records the export in the audit log.
//! * [`sign_off`]: a [`SIGNERS`] member confirms a period's report: the
//!   period, the reviewer, the time and the SHA-256 of the CSV bytes go
//!   into `access_reviews`, with an audit record, in one transaction.
//! * [`audit_log`] and [`verify_chain`]: the audit log page by page, newest
//!   first, for [`AUDIT_READERS`]; every read is itself audited.
//!
//! Periods are calendar days in Dutch and Belgian local time (CET/CEST):
//! `from` 00:00 up to the end of `to`. Without a period the report shows
//! the last full calendar quarter.

use super::auth::{self, StaffMember};
use super::{Role, StaffSession};
use crate::audit::{self, ActorKind, AuditEntry, VerifyReport};
use crate::documents::local_today;
use crate::i18n;
use crate::messages::{local_date, local_time};
use crate::{App, AppError};
use carfin_domain::Language;
use carfin_store::repo::staff as staff_repo;
use carfin_store::StoreError;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Who may read the access review.
pub const VIEWERS: [Role; 4] = [
    Role::SecurityOfficer,
    Role::PrivacyOfficer,
    Role::Administrator,
    Role::Auditor,
];

/// Who may sign an access review off: the officers who answer for access
/// control and for personal data, not the administrator who grants roles
/// (no one signs off their own work) nor the auditor (read-only).
pub const SIGNERS: [Role; 2] = [Role::SecurityOfficer, Role::PrivacyOfficer];

/// Who may read the audit log.
pub const AUDIT_READERS: [Role; 3] = [Role::Auditor, Role::SecurityOfficer, Role::PrivacyOfficer];

/// Roles flagged for attention in the review: they can change who sees
/// what, or see the most.
pub const PRIVILEGED: [Role; 3] = [
    Role::Administrator,
    Role::PrivacyOfficer,
    Role::SecurityOfficer,
];

/// An active account not signed in for this many days is flagged.
pub const INACTIVE_DAYS: i64 = 90;

/// Audit records per page of [`audit_log`].
pub const AUDIT_PAGE_SIZE: i64 = 50;

/// The audit action of a sign-off.
pub const SIGN_OFF_ACTION: &str = "staff.access_review_signed_off";
/// The audit action of a CSV export.
pub const EXPORT_ACTION: &str = "staff.access_review_exported";
/// The audit action of reading the audit log.
pub const AUDIT_READ_ACTION: &str = "staff.audit_log_read";
/// The register purpose of all three.
pub const PURPOSE: &str = "protect_systems";

/// The purposes a customer file is opened for (`staff_file_accesses`).
pub const FILE_PURPOSES: [&str; 3] = ["request", "inbound_call", "collection_case"];

// ---------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------

/// A review period: whole local calendar days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The last full calendar quarter before `today`.
    pub fn last_full_quarter(today: NaiveDate) -> Period {
        let quarter = today.month0() / 3; // 0..=3, the current one
        let (year, start_month) = if quarter == 0 {
            (today.year() - 1, 10)
        } else {
            (today.year(), (quarter - 1) * 3 + 1)
        };
        let from = NaiveDate::from_ymd_opt(year, start_month, 1);
        let to =
            NaiveDate::from_ymd_opt(today.year(), quarter * 3 + 1, 1).and_then(|d| d.pred_opt());
        match (from, to) {
            (Some(from), Some(to)) => Period { from, to },
            // Unreachable for real dates; the last 90 days instead.
            _ => Period {
                from: today - Duration::days(90),
                to: today - Duration::days(1),
            },
        }
    }

    /// The period of the form's `from` and `to` (`YYYY-MM-DD`); both empty:
    /// the last full calendar quarter before `today`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Period, AppError> {
        let from = from.map(str::trim).unwrap_or_default();
        let to = to.map(str::trim).unwrap_or_default();
        if from.is_empty() && to.is_empty() {
            return Ok(Period::last_full_quarter(today));
        }
        let date = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| (2000..=2100).contains(&d.year()))
        };
        let mut problems = Vec::new();
        let from_date = date(from);
        let to_date = date(to);
        if from_date.is_none() {
            problems.push(("from".to_string(), "staff_review.error.from".to_string()));
        }
        if to_date.is_none() {
            problems.push(("to".to_string(), "staff_review.error.to".to_string()));
        }
        match (from_date, to_date) {
            (Some(from), Some(to)) if from <= to => Ok(Period { from, to }),
            (Some(_), Some(_)) => Err(AppError::Invalid(vec![(
                "to".to_string(),
                "staff_review.error.order".to_string(),
            )])),
            _ => Err(AppError::Invalid(problems)),
        }
    }

    /// `[start, end)` in unix seconds: local midnight at the start of
    /// `from` up to local midnight after `to`.
    pub fn bounds(&self) -> (i64, i64) {
        let end = self.to.succ_opt().map_or(i64::MAX, local_midnight);
        (local_midnight(self.from), end)
    }

    /// `1 oktober 2025 – 31 december 2025`.
    pub fn describe(&self, lang: Language) -> String {
        format!(
            "{} – {}",
            local_date(lang, self.from),
            local_date(lang, self.to)
        )
    }
}

/// The instant a local (CET/CEST) calendar day starts. Midnight is never in
/// a summer-time switch (those are at 02:00 and 03:00 local), so it is
/// 22:00 UTC the day before in summer, 23:00 UTC in winter.
pub fn local_midnight(date: NaiveDate) -> i64 {
    let utc = date.and_time(NaiveTime::MIN).and_utc();
    let summer = utc - Duration::hours(2);
    if local_today(summer) == date {
        summer.timestamp()
    } else {
        (utc - Duration::hours(1)).timestamp()
    }
}

fn today(app: &App) -> NaiveDate {
    local_today(app.clock().now())
}

/// The default period for today: the last full calendar quarter.
pub fn default_period(app: &App) -> Period {
    Period::last_full_quarter(today(app))
}

/// The period of a form, relative to today.
pub fn parse_period(app: &App, from: Option<&str>, to: Option<&str>) -> Result<Period, AppError> {
    Period::parse(from, to, today(app))
}

// ---------------------------------------------------------------------------
// Who may do what
// ---------------------------------------------------------------------------

/// The role an audit record names: the first of `allowed` (in their order)
/// the staff member holds.
fn acting_role(staff: &StaffSession, allowed: &[Role]) -> &'static str {
    allowed
        .iter()
        .find(|r| staff.has(**r))
        .map_or_else(|| staff.audit_role(), |r| r.code())
}

/// Whether `staff` may sign an access review off.
pub fn may_sign_off(staff: &StaffSession) -> bool {
    SIGNERS.iter().any(|r| staff.has(*r))
}

/// Whether `staff` may read the audit log.
pub fn may_read_audit_log(staff: &StaffSession) -> bool {
    AUDIT_READERS.iter().any(|r| staff.has(*r))
}

fn entry(
    staff: &StaffSession,
    role: &str,
    action: &str,
    fields: &[&str],
    request_id: &str,
) -> AuditEntry {
    AuditEntry {
        actor_kind: ActorKind::Staff,
        actor_id: Some(staff.staff_id),
        role: role.to_string(),
        action: action.to_string(),
        subject_id: None,
        purpose: PURPOSE.to_string(),
        fields: fields.iter().map(|f| (*f).to_string()).collect(),
        request_id: if request_id.is_empty() {
            "none".to_string()
        } else {
            request_id.to_string()
        },
    }
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// Customer files opened, per purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurposeCounts {
    pub request: i64,
    pub inbound_call: i64,
    pub collection_case: i64,
}

impl PurposeCounts {
    /// All purposes together.
    pub fn total(&self) -> i64 {
        self.request + self.inbound_call + self.collection_case
    }

    fn add(&mut self, purpose: &str, n: i64) {
        match purpose {
            "request" => self.request += n,
            "inbound_call" => self.inbound_call += n,
            "collection_case" => self.collection_case += n,
            _ => {}
        }
    }

    fn add_all(&mut self, other: &PurposeCounts) {
        self.request += other.request;
        self.inbound_call += other.inbound_call;
        self.collection_case += other.collection_case;
    }
}

/// One staff account in the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLine {
    pub staff_id: i64,
    /// Empty (with the name) when the account's key was shredded.
    pub email: String,
    pub display_name: String,
    /// In the order of [`Role::ALL`].
    pub roles: Vec<Role>,
    /// `active` or `disabled`.
    pub active: bool,
    /// A password and a TOTP secret are set.
    pub password_totp: bool,
    /// Linked to an identity provider subject (single sign-on).
    pub sso_linked: bool,
    pub last_sign_in_at: Option<i64>,
    pub opened: PurposeCounts,
    /// Active, and not signed in (or, never signed in, not created) in the
    /// last [`INACTIVE_DAYS`] days.
    pub inactive: bool,
    /// Holds one of [`PRIVILEGED`].
    pub privileged: bool,
}

/// A line's texts in a language, shared by the page and the CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineText {
    /// The name, or "identity erased (#id)".
    pub name: String,
    pub roles: Vec<&'static str>,
    pub status: &'static str,
    pub methods: Vec<&'static str>,
    pub last_sign_in: String,
    /// The attention flags' texts (empty: nothing to look at).
    pub flags: Vec<&'static str>,
}

impl ReviewLine {
    /// The texts of this line in `lang`.
    pub fn text(&self, lang: Language) -> LineText {
        let mut methods = Vec::new();
        if self.password_totp {
            methods.push(i18n::t(lang, "staff_review.method.password_totp"));
        }
        if self.sso_linked {
            methods.push(i18n::t(lang, "staff_review.method.sso"));
        }
        if methods.is_empty() {
            methods.push(i18n::t(lang, "staff_review.method.none"));
        }
        let mut flags = Vec::new();
        if self.privileged {
            flags.push(i18n::t(lang, "staff_review.flag.privileged"));
        }
        if self.inactive {
            flags.push(i18n::t(lang, "staff_review.flag.inactive"));
        }
        LineText {
            name: if self.display_name.is_empty() {
                i18n::tf(
                    lang,
                    "staff_review.erased",
                    &[("id", &self.staff_id.to_string())],
                )
            } else {
                self.display_name.clone()
            },
            roles: self
                .roles
                .iter()
                .map(|r| i18n::t(lang, &format!("staff.role.{}", r.code())))
                .collect(),
            status: i18n::t(
                lang,
                if self.active {
                    "staff_review.status.active"
                } else {
                    "staff_review.status.disabled"
                },
            ),
            methods,
            last_sign_in: self.last_sign_in_at.map_or_else(
                || i18n::t(lang, "staff_review.never").to_string(),
                |at| local_time(lang, at),
            ),
            flags,
        }
    }
}

/// The access review of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub period: Period,
    /// When it was drawn up (unix seconds).
    pub generated_at: i64,
    /// Every staff account, by name.
    pub lines: Vec<ReviewLine>,
    pub totals: PurposeCounts,
}

/// The access review of `period` (BOF-06), for [`VIEWERS`].
pub async fn report(app: &App, staff: &StaffSession, period: Period) -> Result<Report, AppError> {
    staff.require_any(&VIEWERS)?;
    let now = app.clock().now().timestamp();
    let (start, end) = period.bounds();
    let db = app.db().reader();

    let mut roles: HashMap<i64, Vec<Role>> = HashMap::new();
    for row in sqlx::query("SELECT staff_id, role FROM staff_roles")
        .fetch_all(db)
        .await
        .map_err(StoreError::from)?
    {
        let staff_id: i64 = row.try_get(0).map_err(StoreError::from)?;
        let role: String = row.try_get(1).map_err(StoreError::from)?;
        if let Ok(role) = role.parse::<Role>() {
            roles.entry(staff_id).or_default().push(role);
        }
    }

    let mut opened: HashMap<i64, PurposeCounts> = HashMap::new();
    for row in sqlx::query(
        "SELECT staff_id, purpose, COUNT(*) FROM staff_file_accesses \
         WHERE opened_at >= $1 AND opened_at < $2 GROUP BY staff_id, purpose",
    )
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await
    .map_err(StoreError::from)?
    {
        let staff_id: i64 = row.try_get(0).map_err(StoreError::from)?;
        let purpose: String = row.try_get(1).map_err(StoreError::from)?;
        let n: i64 = row.try_get(2).map_err(StoreError::from)?;
        opened.entry(staff_id).or_default().add(&purpose, n);
    }

    let cutoff = now - INACTIVE_DAYS * 86_400;
    let mut members: HashMap<i64, StaffMember> = auth::directory(app)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let mut totals = PurposeCounts::default();
    let mut lines = Vec::new();
    for account in staff_repo::all(app.db()).await? {
        let mut held = roles.remove(&account.id).unwrap_or_default();
        held.sort();
        held.dedup();
        let counts = opened.remove(&account.id).unwrap_or_default();
        totals.add_all(&counts);
        let active = account.status == "active";
        // An account whose key was shredded still holds its roles: it is
        // listed, without a name.
        let (email, display_name) = members
            .remove(&account.id)
            .map(|m| (m.email, m.display_name))
            .unwrap_or_default();
        lines.push(ReviewLine {
            staff_id: account.id,
            privileged: held.iter().any(|r| PRIVILEGED.contains(r)),
            roles: held,
            active,
            password_totp: account.password_hash.is_some() && account.totp_secret.is_some(),
            sso_linked: account.oidc_subject_bidx.is_some(),
            inactive: active && account.last_sign_in_at.unwrap_or(account.created_at) < cutoff,
            last_sign_in_at: account.last_sign_in_at,
            opened: counts,
            email,
            display_name,
        });
    }
    lines.sort_by(|a, b| {
        (
            a.display_name.is_empty(),
            a.display_name.to_lowercase(),
            a.staff_id,
        )
            .cmp(&(
                b.display_name.is_empty(),
                b.display_name.to_lowercase(),
                b.staff_id,
            ))
    });
    Ok(Report {
        period,
        generated_at: now,
        lines,
        totals,
    })
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// The field separator of a language's CSV: `;` where the decimal mark is a
/// comma (Dutch, French spreadsheets), `,` in English — as the statement.
pub fn csv_separator(lang: Language) -> char {
    if lang == Language::En {
        ','
    } else {
        ';'
    }
}

/// A CSV cell: text a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@`, tab, carriage return first) gets a leading apostrophe; then quoted
/// (RFC 4180) when it holds a separator, a quote or a line break.
pub fn csv_cell(value: &str) -> String {
    let mut cell = String::with_capacity(value.len() + 3);
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.push('\'');
    }
    cell.push_str(value);
    if cell.contains([',', ';', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// The report as CSV in `lang`: a byte-order mark, a header row, one row
/// per staff account, CRLF line ends. These bytes are what a sign-off
/// hashes.
pub fn csv(report: &Report, lang: Language) -> Vec<u8> {
    let sep = csv_separator(lang).to_string();
    let row = |cells: &[String]| -> String {
        let mut line = cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(&sep);
        line.push_str("\r\n");
        line
    };
    let mut out = String::from("\u{feff}");
    let header: Vec<String> = [
        "staff_review.col.display_name",
        "staff_review.col.email",
        "staff_review.col.roles",
        "staff_review.col.status",
        "staff_review.col.methods",
        "staff_review.col.last_sign_in",
        "staff_review.purpose.request",
        "staff_review.purpose.inbound_call",
        "staff_review.purpose.collection_case",
        "staff_review.col.total",
        "staff_review.col.attention",
    ]
    .iter()
    .map(|k| i18n::t(lang, k).to_string())
    .collect();
    out.push_str(&row(&header));
    for line in &report.lines {
        let text = line.text(lang);
        out.push_str(&row(&[
            text.name.clone(),
            line.email.clone(),
            text.roles.join(", "),
            text.status.to_string(),
            text.methods.join(", "),
            text.last_sign_in,
            line.opened.request.to_string(),
            line.opened.inbound_call.to_string(),
            line.opened.collection_case.to_string(),
            line.opened.total().to_string(),
            text.flags.join(", "),
        ]));
    }
    out.into_bytes()
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A CSV file to hand out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFile {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
}

/// The file name of a period's CSV: `toegangsreview-2025-10-01-2025-12-31.csv`.
pub fn csv_filename(period: Period, lang: Language) -> String {
    format!(
        "{}-{}-{}.csv",
        i18n::t(lang, "staff_review.csv_file"),
        period.from.format("%Y-%m-%d"),
        period.to.format("%Y-%m-%d")
    )
}

/// The CSV export of a period's review, recorded in the audit log (it
/// carries staff members' work identities out of the system).
pub async fn export(
    app: &App,
    staff: &StaffSession,
    period: Period,
    lang: Language,
    request_id: &str,
) -> Result<CsvFile, AppError> {
    let report = report(app, staff, period).await?;
    let bytes = csv(&report, lang);
    let mut tx = app.db().begin_write().await?;
    audit::record(
        &mut tx,
        app,
        entry(
            staff,
            acting_role(staff, &VIEWERS),
            EXPORT_ACTION,
            &[
                "staff_accounts.display_name",
                "staff_accounts.email",
                "staff_accounts.status",
                "staff_accounts.last_sign_in_at",
                "staff_roles.role",
                "staff_file_accesses.purpose",
            ],
            request_id,
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(CsvFile {
        filename: csv_filename(period, lang),
        sha256: sha256_hex(&bytes),
        bytes,
    })
}

// ---------------------------------------------------------------------------
// Sign-off
// ---------------------------------------------------------------------------

/// A recorded sign-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOff {
    pub id: i64,
    pub period: Period,
    pub reviewer_staff_id: i64,
    /// Empty when the reviewer's identity was erased.
    pub reviewer_name: String,
    pub signed_off_at: i64,
    /// SHA-256 of the CSV signed, hex.
    pub sha256: String,
}

/// Signs `period`'s review off (BOF-06), for [`SIGNERS`] only: the period
/// must have ended, the reviewer must confirm, and `sha256` (the hash of
/// the CSV the reviewer looked at, in `lang`) must still be the hash of
/// the report now — else nothing is recorded and the reviewer is asked to
/// look again. Records `access_reviews` and the audit record in one
/// transaction.
pub async fn sign_off(
    app: &App,
    staff: &StaffSession,
    period: Period,
    sha256: &str,
    confirmed: bool,
    lang: Language,
    request_id: &str,
) -> Result<SignOff, AppError> {
    staff.require_any(&SIGNERS)?;
    let mut problems = Vec::new();
    if period.to >= today(app) {
        problems.push((
            "to".to_string(),
            "staff_review.error.period_open".to_string(),
        ));
    }
    if !confirmed {
        problems.push((
            "confirm".to_string(),
            "staff_review.error.confirm".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let report = report(app, staff, period).await?;
    let bytes = csv(&report, lang);
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if !sha256.trim().eq_ignore_ascii_case(&hex::encode(digest)) {
        return Err(AppError::Invalid(vec![(
            "confirm".to_string(),
            "staff_review.error.changed".to_string(),
        )]));
    }
    let id = app.ids().next();
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    sqlx::query(
        "INSERT INTO access_reviews (id, period_from, period_to, reviewer_staff_id, report_sha256, signed_off_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(period.from.format("%Y-%m-%d").to_string())
    .bind(period.to.format("%Y-%m-%d").to_string())
    .bind(staff.staff_id)
    .bind(digest.to_vec())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    audit::record(
        &mut tx,
        app,
        entry(
            staff,
            acting_role(staff, &SIGNERS),
            SIGN_OFF_ACTION,
            &[
                "access_reviews.period_from",
                "access_reviews.period_to",
                "access_reviews.report_sha256",
            ],
            request_id,
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(SignOff {
        id,
        period,
        reviewer_staff_id: staff.staff_id,
        reviewer_name: staff.display_name.clone(),
        signed_off_at: now,
        sha256: hex::encode(digest),
    })
}

/// The last 100 sign-offs, newest first, for [`VIEWERS`].
pub async fn sign_offs(app: &App, staff: &StaffSession) -> Result<Vec<SignOff>, AppError> {
    staff.require_any(&VIEWERS)?;
    let rows = sqlx::query(
        "SELECT id, period_from, period_to, reviewer_staff_id, signed_off_at, report_sha256 \
         FROM access_reviews ORDER BY signed_off_at DESC, id DESC LIMIT 100",
    )
    .fetch_all(app.db().reader())
    .await
    .map_err(StoreError::from)?;
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let from: String = r.try_get(1).map_err(StoreError::from)?;
        let to: String = r.try_get(2).map_err(StoreError::from)?;
        let (Ok(from), Ok(to)) = (
            NaiveDate::parse_from_str(&from, "%Y-%m-%d"),
            NaiveDate::parse_from_str(&to, "%Y-%m-%d"),
        ) else {
            continue;
        };
        let reviewer: i64 = r.try_get(3).map_err(StoreError::from)?;
        if let Entry::Vacant(slot) = names.entry(reviewer) {
            let name = auth::member(app, reviewer)
                .await?
                .map(|m| m.display_name)
                .unwrap_or_default();
            slot.insert(name);
        }
        let hash: Vec<u8> = r.try_get(5).map_err(StoreError::from)?;
        out.push(SignOff {
            id: r.try_get(0).map_err(StoreError::from)?,
            period: Period { from, to },
            reviewer_staff_id: reviewer,
            reviewer_name: names.get(&reviewer).cloned().unwrap_or_default(),
            signed_off_at: r.try_get(4).map_err(StoreError::from)?,
            sha256: hex::encode(hash),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The audit log, read-only
// ---------------------------------------------------------------------------

/// One audit record as shown (it holds codes, ids and field names only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub role: String,
    pub action: String,
    pub subject_id: Option<i64>,
    pub purpose: String,
    pub fields: Vec<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub lines: Vec<AuditLine>,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

/// The columns [`audit_log`] shows (the audit record of a read names them).
const AUDIT_FIELDS: [&str; 9] = [
    "audit_log.seq",
    "audit_log.at",
    "audit_log.actor_kind",
    "audit_log.actor_id",
    "audit_log.role",
    "audit_log.action",
    "audit_log.subject_id",
    "audit_log.purpose",
    "audit_log.fields",
];

/// Page `page` of the audit log, newest first, for [`AUDIT_READERS`]. The
/// read is recorded first (so it is the newest record on page 1).
pub async fn audit_log(
    app: &App,
    staff: &StaffSession,
    page: i64,
    request_id: &str,
) -> Result<AuditPage, AppError> {
    staff.require_any(&AUDIT_READERS)?;
    let mut tx = app.db().begin_write().await?;
    audit::record(
        &mut tx,
        app,
        entry(
            staff,
            acting_role(staff, &AUDIT_READERS),
            AUDIT_READ_ACTION,
            &AUDIT_FIELDS,
            request_id,
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;

    let db = app.db().reader();
    let total: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log")
        .fetch_one(db)
        .await
        .map_err(StoreError::from)?
        .try_get(0)
        .map_err(StoreError::from)?;
    let pages = ((total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, role, action, subject_id, purpose, fields \
         FROM audit_log ORDER BY seq DESC LIMIT $1 OFFSET $2",
    )
    .bind(AUDIT_PAGE_SIZE)
    .bind((page - 1) * AUDIT_PAGE_SIZE)
    .fetch_all(db)
    .await
    .map_err(StoreError::from)?;
    let mut lines = Vec::with_capacity(rows.len());
    for r in rows {
        let fields: String = r.try_get(8).map_err(StoreError::from)?;
        lines.push(AuditLine {
            seq: r.try_get(0).map_err(StoreError::from)?,
            at: r.try_get(1).map_err(StoreError::from)?,
            actor_kind: r.try_get(2).map_err(StoreError::from)?,
            actor_id: r.try_get(3).map_err(StoreError::from)?,
            role: r.try_get(4).map_err(StoreError::from)?,
            action: r.try_get(5).map_err(StoreError::from)?,
            subject_id: r.try_get(6).map_err(StoreError::from)?,
            purpose: r.try_get(7).map_err(StoreError::from)?,
            fields: fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    Ok(AuditPage {
        lines,
        page,
        pages,
        total,
    })
}

/// The hash chain's verification (as `carfin audit verify`), for
/// [`AUDIT_READERS`].
pub async fn verify_chain(app: &App, staff: &StaffSession) -> Result<VerifyReport, AppError> {
    staff.require_any(&AUDIT_READERS)?;
    audit::verify(app).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn instant(unix: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::<chrono::Utc>::from_timestamp(unix, 0)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    // BOF-06: the default period is the last full calendar quarter.
    #[test]
    fn bof06_default_period_is_the_last_full_quarter() {
        let p = Period::last_full_quarter(d("2026-03-02"));
        assert_eq!((p.from, p.to), (d("2025-10-01"), d("2025-12-31")));
        let p = Period::last_full_quarter(d("2026-04-01"));
        assert_eq!((p.from, p.to), (d("2026-01-01"), d("2026-03-31")));
        let p = Period::last_full_quarter(d("2026-12-31"));
        assert_eq!((p.from, p.to), (d("2026-07-01"), d("2026-09-30")));
        assert_eq!(
            Period::parse(None, Some(""), d("2026-08-15")).unwrap().from,
            d("2026-04-01")
        );
    }

    // BOF-06: periods from the form; bad and reversed dates refused.
    #[test]
    fn bof06_period_parsing() {
        let today = d("2026-03-02");
        let p = Period::parse(Some("2026-02-01"), Some(" 2026-02-28 "), today).unwrap();
        assert_eq!((p.from, p.to), (d("2026-02-01"), d("2026-02-28")));
        let AppError::Invalid(problems) =
            Period::parse(Some("2026-02-30"), Some("x"), today).unwrap_err()
        else {
            panic!("expected invalid")
        };
        assert_eq!(problems.len(), 2);
        let AppError::Invalid(problems) =
            Period::parse(Some("2026-03-01"), Some("2026-02-01"), today).unwrap_err()
        else {
            panic!("expected invalid")
        };
        assert_eq!(problems[0].1, "staff_review.error.order");
    }

    // BOF-06: period bounds are local midnights, in winter and summer.
    #[test]
    fn bof06_bounds_follow_local_time() {
        let winter = Period {
            from: d("2026-02-01"),
            to: d("2026-02-28"),
        };
        let (start, end) = winter.bounds();
        assert_eq!(
            instant(start).unwrap().to_rfc3339(),
            "2026-01-31T23:00:00+00:00"
        );
        assert_eq!(
            instant(end).unwrap().to_rfc3339(),
            "2026-02-28T23:00:00+00:00"
        );
        // Summer time starts on 29 March 2026: that day starts in CET, the
        // next in CEST.
        let switch = Period {
            from: d("2026-03-29"),
            to: d("2026-03-29"),
        };
        let (start, end) = switch.bounds();
        assert_eq!(
            instant(start).unwrap().to_rfc3339(),
            "2026-03-28T23:00:00+00:00"
        );
        assert_eq!(
            instant(end).unwrap().to_rfc3339(),
            "2026-03-29T22:00:00+00:00"
        );
        assert_eq!(end - start, 23 * 3600);
    }

    // BOF-06: formula injection is defused; separators are quoted.
    #[test]
    fn bof06_csv_cells_are_safe() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+31"), "'+31");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("12"), "12");
    }

    #[test]
    fn sha256_hex_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
