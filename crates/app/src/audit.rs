//! The audit log (PRV-15): append-only, hash-chained, written in the same
//! transaction as the action it records.
//!
//! Each record holds the time, the actor (customer, staff member or system
//! job) with their role, the action, the data subject, the purpose, the
//! NAMES of the fields read or changed (never their values), the request
//! id, and the hash of the previous record. A record's hash is SHA-256 over
//! a canonical, length-prefixed encoding of all of that, so changing,
//! deleting, inserting or reordering records breaks the chain, which
//! [`verify`] (and `carfin audit verify`) reports by the first broken `seq`.
//!
//! Appends are serialised: the next `seq` and the previous hash are read
//! inside the caller's write transaction, after PostgreSQL's advisory lock
//! (SQLite: the single writer with `BEGIN IMMEDIATE`), with a unique `seq`
//! as a backstop, so two nodes cannot fork the chain.
//!
//! The chain is unkeyed: someone who can write the database and recompute
//! every later hash can rewrite history undetected. Anchoring the head (its
//! `seq` and hash) outside the database closes that; it is not built yet.

use crate::{App, AppError};
use carfin_store::repo::audit::{self as repo, AuditRow};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// The first record's `prev_hash`.
pub const GENESIS: [u8; 32] = [0; 32];

/// Records read per page by [`verify`].
const PAGE: i64 = 2_000;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A customer in the portal.
    Customer,
    /// A staff member in the back office.
    Staff,
    /// A job or command of carfin itself.
    System,
}

impl ActorKind {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Customer => "customer",
            ActorKind::Staff => "staff",
            ActorKind::System => "system",
        }
    }
}

/// One record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor_kind: ActorKind,
    /// The customer's or staff member's id; none for the system.
    pub actor_id: Option<i64>,
    /// The actor's role (`customer`, `service_desk`, `system`…).
    pub role: String,
    /// What was done (`customer.read`, `invoices.mark_overdue`…).
    pub action: String,
    /// The data subject concerned, if any.
    pub subject_id: Option<i64>,
    /// Why (a purpose id).
    pub purpose: String,
    /// The names of the fields read or changed; never values.
    pub fields: Vec<String>,
    /// The request (or job run) that did it.
    pub request_id: String,
}

impl AuditEntry {
    /// A record of carfin itself (a job, a command), with a fresh run id.
    pub fn system(app: &App, action: &str, purpose: &str, fields: &[&str]) -> AuditEntry {
        AuditEntry {
            actor_kind: ActorKind::System,
            actor_id: None,
            role: "system".into(),
            action: action.into(),
            subject_id: None,
            purpose: purpose.into(),
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            request_id: format!("run-{}", app.ids().next()),
        }
    }
}

/// A code (action, role, purpose, field name): `[a-z0-9_.]`, 1–100 bytes.
pub fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// A request id: `[A-Za-z0-9_-]`, 1–100 bytes.
fn is_request_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Refuses an entry that could carry a value: every code and field name
/// must be `[a-z0-9_.]`, the request id `[A-Za-z0-9_-]`.
pub fn validate(entry: &AuditEntry) -> Result<(), AppError> {
    let mut problems = Vec::new();
    for (name, value) in [
        ("role", &entry.role),
        ("action", &entry.action),
        ("purpose", &entry.purpose),
    ] {
        if !is_code(value) {
            problems.push((name.to_string(), "audit.not_a_code".to_string()));
        }
    }
    if entry.fields.iter().any(|f| !is_code(f)) {
        problems.push(("fields".to_string(), "audit.not_a_field_name".to_string()));
    }
    if !is_request_id(&entry.request_id) {
        problems.push((
            "request_id".to_string(),
            "audit.not_a_request_id".to_string(),
        ));
    }
    match entry.actor_kind {
        ActorKind::System if entry.actor_id.is_some() => {
            problems.push(("actor_id".to_string(), "audit.system_has_no_id".to_string()));
        }
        ActorKind::Customer | ActorKind::Staff if entry.actor_id.is_none() => {
            problems.push(("actor_id".to_string(), "audit.actor_id_missing".to_string()));
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems))
    }
}

/// Appends `entry` within the caller's write transaction (the one doing the
/// action), chained to the last record.
pub async fn record(tx: &mut AnyConnection, app: &App, entry: AuditEntry) -> Result<(), AppError> {
    validate(&entry)?;
    let (seq, prev_hash) = match repo::lock_tail(tx).await? {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_vec()),
    };
    let mut row = AuditRow {
        id: app.ids().next(),
        seq,
        at: app.clock().now().timestamp(),
        actor_kind: entry.actor_kind.as_str().to_string(),
        actor_id: entry.actor_id,
        role: entry.role,
        action: entry.action,
        subject_id: entry.subject_id,
        purpose: entry.purpose,
        fields: entry.fields.join(","),
        request_id: entry.request_id,
        prev_hash,
        hash: Vec::new(),
    };
    row.hash = hash(&row).to_vec();
    repo::append(tx, &row).await?;
    Ok(())
}

/// The hash of a record: SHA-256 over a canonical encoding of every field
/// but `id` and `hash` — a domain tag, then each field length-prefixed
/// (text and bytes: 8-byte big-endian length; integers: 8 bytes big-endian;
/// optional integers: a presence byte first).
pub fn hash(row: &AuditRow) -> [u8; 32] {
    fn bytes(h: &mut Sha256, b: &[u8]) {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    }
    fn int(h: &mut Sha256, v: i64) {
        h.update(v.to_be_bytes());
    }
    fn opt(h: &mut Sha256, v: Option<i64>) {
        match v {
            Some(v) => {
                h.update([1]);
                int(h, v);
            }
            None => h.update([0]),
        }
    }
    let mut h = Sha256::new();
    bytes(&mut h, b"carfin/audit/v1");
    int(&mut h, row.seq);
    int(&mut h, row.at);
    bytes(&mut h, row.actor_kind.as_bytes());
    opt(&mut h, row.actor_id);
    bytes(&mut h, row.role.as_bytes());
    bytes(&mut h, row.action.as_bytes());
    opt(&mut h, row.subject_id);
    bytes(&mut h, row.purpose.as_bytes());
    bytes(&mut h, row.fields.as_bytes());
    bytes(&mut h, row.request_id.as_bytes());
    bytes(&mut h, &row.prev_hash);
    h.finalize().into()
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    /// Every record checked out.
    Intact {
        /// How many records.
        records: u64,
    },
    /// The first record that does not check out.
    Broken {
        /// Its `seq`.
        seq: i64,
        /// What is wrong, without any record contents.
        reason: String,
    },
}

/// Checks the whole chain in `seq` order, a page at a time: the sequence
/// has no gap, each record's `prev_hash` is the previous record's hash, and
/// each record's hash matches its contents.
pub async fn verify(app: &App) -> Result<VerifyReport, AppError> {
    let mut expected_seq = 1_i64;
    let mut prev: Vec<u8> = GENESIS.to_vec();
    let mut records = 0_u64;
    loop {
        let page = repo::page(app.db(), expected_seq - 1, PAGE).await?;
        if page.is_empty() {
            return Ok(VerifyReport::Intact { records });
        }
        for row in &page {
            if let Some(reason) = check(row, expected_seq, &prev) {
                return Ok(VerifyReport::Broken {
                    seq: row.seq,
                    reason,
                });
            }
            prev.clone_from(&row.hash);
            expected_seq = row.seq + 1;
            records += 1;
        }
    }
}

fn check(row: &AuditRow, expected_seq: i64, prev: &[u8]) -> Option<String> {
    if row.seq != expected_seq {
        return Some(if row.seq > expected_seq {
            format!(
                "records {expected_seq}..{} are missing (sequence gap)",
                row.seq - 1
            )
        } else {
            format!("sequence out of order (expected {expected_seq})")
        });
    }
    if row.prev_hash.as_slice() != prev {
        return Some(if row.seq == 1 {
            "the first record does not start the chain (prev_hash is not zero)".to_string()
        } else {
            format!(
                "prev_hash does not match the hash of record {} (a record was removed, inserted or reordered)",
                row.seq - 1
            )
        });
    }
    if row.hash.is_empty() {
        return Some("the hash is missing".to_string());
    }
    if row.hash.as_slice() != hash(row).as_slice() {
        return Some("the hash does not match the record's contents (altered)".to_string());
    }
    None
}
