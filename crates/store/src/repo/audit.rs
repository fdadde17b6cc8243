//! The audit log (PRV-15) and the disclosure log (PRV-19): their SQL only.
//! The rules (validation, the hash chain, verification) live in
//! `carfin_app::audit` and `carfin_app::disclosure`.

use super::{Insert, SqlValue};
use crate::error::Result;
use crate::Db;
use sqlx::{AnyConnection, Row};

/// The PostgreSQL advisory lock that serialises appends to the audit log
/// across nodes (held until the end of the writing transaction).
pub const AUDIT_APPEND_LOCK: i64 = 7_243_319;

/// One stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub role: String,
    pub action: String,
    pub subject_id: Option<i64>,
    pub purpose: String,
    /// Comma-separated field names.
    pub fields: String,
    pub request_id: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "role",
    "action",
    "subject_id",
    "purpose",
    "fields",
    "request_id",
    "prev_hash",
    "hash",
];

/// The last record's `(seq, hash)`, read inside the caller's write
/// transaction. On PostgreSQL it first takes [`AUDIT_APPEND_LOCK`], so two
/// nodes cannot both append after the same record; on SQLite the single
/// writer and `BEGIN IMMEDIATE` already serialise writers.
pub async fn lock_tail(tx: &mut AnyConnection) -> Result<Option<(i64, Vec<u8>)>> {
    if !tx.backend_name().eq_ignore_ascii_case("sqlite") {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_APPEND_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}

/// Appends one record within the caller's transaction.
pub async fn append(tx: &mut AnyConnection, row: &AuditRow) -> Result<()> {
    let mut insert = Insert::new("audit_log", AUDIT_COLUMNS);
    insert.row(vec![
        row.id.into(),
        row.seq.into(),
        row.at.into(),
        row.actor_kind.clone().into(),
        row.actor_id.into(),
        row.role.clone().into(),
        row.action.clone().into(),
        row.subject_id.into(),
        row.purpose.clone().into(),
        row.fields.clone().into(),
        row.request_id.clone().into(),
        row.prev_hash.clone().into(),
        row.hash.clone().into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// Up to `limit` records with `seq > after`, in `seq` order (for streaming
/// verification in pages).
pub async fn page(db: &Db, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
    let rows = sqlx::query(
        "SELECT id, seq, at, actor_kind, actor_id, role, action, subject_id, purpose, fields, \
         request_id, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get(0)?,
                seq: r.try_get(1)?,
                at: r.try_get(2)?,
                actor_kind: r.try_get(3)?,
                actor_id: r.try_get(4)?,
                role: r.try_get(5)?,
                action: r.try_get(6)?,
                subject_id: r.try_get(7)?,
                purpose: r.try_get(8)?,
                fields: r.try_get(9)?,
                request_id: r.try_get(10)?,
                prev_hash: r.try_get::<Option<Vec<u8>>, _>(11)?.unwrap_or_default(),
                hash: r.try_get::<Option<Vec<u8>>, _>(12)?.unwrap_or_default(),
            })
        })
        .collect()
}

/// One stored disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRow {
    pub id: i64,
    pub at: i64,
    pub subject_id: i64,
    pub recipient: String,
    /// Comma-separated data-category ids.
    pub categories: String,
    pub legal_basis: String,
    pub consent_ref: Option<String>,
    pub reason: String,
    pub request_id: Option<String>,
}

/// Inserts a disclosure within the caller's transaction.
pub async fn insert_disclosure(tx: &mut AnyConnection, row: &DisclosureRow) -> Result<()> {
    let mut insert = Insert::new(
        "disclosures",
        &[
            "id",
            "at",
            "subject_id",
            "recipient",
            "categories",
            "legal_basis",
            "consent_ref",
            "reason",
            "request_id",
        ],
    );
    insert.row(vec![
        row.id.into(),
        row.at.into(),
        row.subject_id.into(),
        row.recipient.clone().into(),
        row.categories.clone().into(),
        row.legal_basis.clone().into(),
        SqlValue::from(row.consent_ref.clone()),
        row.reason.clone().into(),
        SqlValue::from(row.request_id.clone()),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// A subject's disclosures, newest first.
pub async fn disclosures_for_subject(db: &Db, subject_id: i64) -> Result<Vec<DisclosureRow>> {
    let rows = sqlx::query(
        "SELECT id, at, subject_id, recipient, categories, legal_basis, consent_ref, reason, \
         request_id FROM disclosures WHERE subject_id = $1 ORDER BY at DESC, id DESC",
    )
    .bind(subject_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DisclosureRow {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                subject_id: r.try_get(2)?,
                recipient: r.try_get(3)?,
                categories: r.try_get(4)?,
                legal_basis: r.try_get(5)?,
                consent_ref: r.try_get(6)?,
                reason: r.try_get(7)?,
                request_id: r.try_get(8)?,
            })
        })
        .collect()
}
