//! The outbox (OPS-05): e-mail and SMS written in the transaction of the
//! change that causes them, claimed and delivered by a worker.
//!
//! Recipient, subject and both bodies are sealed under the data subject's
//! key (`FieldRef { table: "outbox", column, row: id }`); once the key is
//! shredded a message can no longer be opened, so it can never be sent.
//!
//! Claiming is a conditional `UPDATE` (`… WHERE id = $1 AND <due>`) in its
//! own short write transaction; a worker proceeds only when exactly one row
//! changed, so two nodes never claim the same message at the same time. A
//! claim carries a lease (`lease_until`); a claim whose lease ran out (its
//! worker crashed) is due again.

use super::customers::Personal;
use super::Insert;
use crate::crypto::{FieldRef, SubjectKey};
use crate::error::{Result, StoreError};
use crate::keystore::{KeyState, KeyStore};
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// The sealed columns of `outbox`.
pub const SEALED_COLUMNS: &[&str] = &["recipient", "subject", "body_text", "body_html"];

const INSERT_COLUMNS: &[&str] = &[
    "id",
    "channel",
    "entity_id",
    "subject_id",
    "kind",
    "recipient",
    "subject",
    "body_text",
    "body_html",
    "idempotency_key",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
];

const SELECT_COLUMNS: &str = "id, channel, entity_id, subject_id, kind, recipient, subject, \
     body_text, body_html, idempotency_key, status, attempts, next_attempt_at, lease_until, \
     last_error, created_at, sent_at";

/// The condition of a message that a worker may claim: pending and due, or
/// claimed by a worker whose lease ran out. `$2` is now.
const DUE: &str = "((status = 'pending' AND next_attempt_at <= $2) \
     OR (status = 'sending' AND lease_until < $2))";

/// A message's contents, in plaintext (only ever in memory).
///
/// The e-mail sender's display name (the brand) travels in the sealed
/// `subject` column as `from_name LF subject`: neither may hold a line
/// break (they become header fields), and the schema has no column of its
/// own for it. SMS has neither (the column is NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// E-mail address or E.164 phone number.
    pub recipient: String,
    /// Display name of the e-mail sender (none for SMS).
    pub from_name: Option<String>,
    /// E-mail subject (none for SMS).
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

/// A message to write.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: i64,
    /// `email` or `sms`.
    pub channel: String,
    pub entity_id: i64,
    /// `customers.id`: whose key seals the contents.
    pub subject_id: i64,
    pub kind: String,
    pub content: Content,
    pub idempotency_key: String,
    pub created_at: i64,
}

/// Seals and writes a pending message, due at once, within the caller's
/// transaction.
pub async fn insert(tx: &mut AnyConnection, m: &NewMessage, key: &SubjectKey) -> Result<()> {
    let field = |column| FieldRef {
        table: "outbox",
        column,
        row: m.id,
    };
    let mut insert = Insert::new("outbox", INSERT_COLUMNS);
    insert.row(vec![
        m.id.into(),
        m.channel.as_str().into(),
        m.entity_id.into(),
        m.subject_id.into(),
        m.kind.as_str().into(),
        key.seal(field("recipient"), &m.content.recipient)?.into(),
        key.seal_opt(field("subject"), header_fields(&m.content).as_deref())?
            .into(),
        key.seal(field("body_text"), &m.content.text)?.into(),
        key.seal_opt(field("body_html"), m.content.html.as_deref())?
            .into(),
        m.idempotency_key.as_str().into(),
        "pending".into(),
        0i64.into(),
        m.created_at.into(),
        m.created_at.into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// The sealed `subject` column's plaintext: `from_name LF subject`.
fn header_fields(c: &Content) -> Option<String> {
    if c.from_name.is_none() && c.subject.is_none() {
        return None;
    }
    Some(format!(
        "{}\n{}",
        c.from_name.as_deref().unwrap_or(""),
        c.subject.as_deref().unwrap_or("")
    ))
}

fn split_header_fields(v: Option<String>) -> (Option<String>, Option<String>) {
    let Some(v) = v else { return (None, None) };
    let (from_name, subject) = v.split_once('\n').unwrap_or(("", v.as_str()));
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    (some(from_name), some(subject))
}

/// A stored message with its contents opened (or erased).
#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub id: i64,
    pub channel: String,
    pub entity_id: i64,
    pub subject_id: i64,
    pub kind: String,
    pub content: Personal<Content>,
    pub idempotency_key: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    /// An error kind (never a recipient or content).
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

fn open_row(row: &AnyRow, key: &KeyState) -> Result<MessageRecord> {
    let id: i64 = row.try_get("id")?;
    let content = match key {
        KeyState::Live(key) => {
            let open = |column: &'static str| -> Result<Option<String>> {
                let sealed: Option<Vec<u8>> = row.try_get(column)?;
                let field = FieldRef {
                    table: "outbox",
                    column,
                    row: id,
                };
                sealed.map(|s| key.open(field, &s)).transpose()
            };
            let required = |v: Option<String>| v.ok_or(StoreError::Corrupt("outbox"));
            let (from_name, subject) = split_header_fields(open("subject")?);
            Personal::Known(Content {
                recipient: required(open("recipient")?)?,
                from_name,
                subject,
                text: required(open("body_text")?)?,
                html: open("body_html")?,
            })
        }
        KeyState::Shredded(_) => Personal::Erased,
        KeyState::Missing => {
            return Err(StoreError::Crypto(format!(
                "no key for the subject of outbox message {id}"
            )))
        }
    };
    Ok(MessageRecord {
        id,
        channel: row.try_get("channel")?,
        entity_id: row.try_get("entity_id")?,
        subject_id: row.try_get("subject_id")?,
        kind: row.try_get("kind")?,
        content,
        idempotency_key: row.try_get("idempotency_key")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        lease_until: row.try_get("lease_until")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// Opens rows, fetching each subject's key once.
async fn open_rows(keys: &KeyStore, rows: &[AnyRow]) -> Result<Vec<MessageRecord>> {
    let mut cache: HashMap<i64, KeyState> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let subject_id: i64 = row.try_get("subject_id")?;
        let key = match cache.entry(subject_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(keys.get(subject_id).await?),
        };
        out.push(open_row(row, key)?);
    }
    Ok(out)
}

/// Loads one message and opens it with its subject's key.
pub async fn get(db: &Db, keys: &KeyStore, id: i64) -> Result<Option<MessageRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {SELECT_COLUMNS} FROM outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let key = keys.get(row.try_get("subject_id")?).await?;
    open_row(&row, &key).map(Some)
}

/// The newest messages first, opened (erased ones as [`Personal::Erased`]).
pub async fn recent(db: &Db, keys: &KeyStore, limit: i64) -> Result<Vec<MessageRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {SELECT_COLUMNS} FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    open_rows(keys, &rows).await
}

/// A subject's messages, newest first, opened.
pub async fn for_subject(db: &Db, keys: &KeyStore, subject_id: i64) -> Result<Vec<MessageRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {SELECT_COLUMNS} FROM outbox WHERE subject_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(subject_id)
    .fetch_all(db.reader())
    .await?;
    open_rows(keys, &rows).await
}

/// Ids of messages of the given channels (`email`, `sms`) that a worker may
/// claim at `now` (see [`claim`]), oldest due first.
pub async fn due_ids(db: &Db, now: i64, limit: i64, channels: &[&str]) -> Result<Vec<i64>> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..channels.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT id FROM outbox WHERE {DUE} AND channel IN ({}) ORDER BY next_attempt_at, id LIMIT $1",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(limit).bind(now);
    for channel in channels {
        query = query.bind(*channel);
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Claims a due message until `lease_until`, counting an attempt; returns
/// whether this caller got it (false: another worker was first, or it is
/// not due any more).
pub async fn claim(db: &Db, id: i64, now: i64, lease_until: i64) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(&format!(
        "UPDATE outbox SET status = 'sending', lease_until = $3, attempts = attempts + 1 \
         WHERE id = $1 AND {DUE}"
    ))
    .bind(id)
    .bind(now)
    .bind(lease_until)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed == 1)
}

/// Marks a claimed message sent.
pub async fn mark_sent(db: &Db, id: i64, now: i64) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $2, lease_until = NULL, last_error = NULL \
         WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed == 1)
}

/// Puts a claimed message back to `pending`, due at `next_attempt_at`.
pub async fn mark_retry(db: &Db, id: i64, next_attempt_at: i64, error_kind: &str) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE outbox SET status = 'pending', next_attempt_at = $2, lease_until = NULL, \
         last_error = $3 WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(next_attempt_at)
    .bind(error_kind)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed == 1)
}

/// Gives a claimed message up for good.
pub async fn mark_failed(db: &Db, id: i64, error_kind: &str) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE outbox SET status = 'failed', lease_until = NULL, last_error = $2 \
         WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(error_kind)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed == 1)
}
