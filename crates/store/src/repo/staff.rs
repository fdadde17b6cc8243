//! Staff accounts, roles and sessions (BOF-01, PRV-14).

use super::Insert;
use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A staff account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub id: i64,
    /// Sealed under the staff member's subject key.
    pub email: Vec<u8>,
    /// Sealed under the staff member's subject key.
    pub display_name: Vec<u8>,
    pub password_hash: Option<String>,
    /// Sealed under the staff member's subject key.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    /// The keyed hash of the identity provider's subject, once linked.
    pub oidc_subject_bidx: Option<Vec<u8>>,
    pub status: String,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
}

const STAFF_COLUMNS: &str = "id, email, display_name, password_hash, totp_secret, totp_last_step, \
     oidc_subject_bidx, status, last_sign_in_at, created_at";

fn staff_row(r: &AnyRow) -> Result<StaffRow> {
    Ok(StaffRow {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        display_name: r.try_get(2)?,
        password_hash: r.try_get(3)?,
        totp_secret: r.try_get(4)?,
        totp_last_step: r.try_get(5)?,
        oidc_subject_bidx: r.try_get(6)?,
        status: r.try_get(7)?,
        last_sign_in_at: r.try_get(8)?,
        created_at: r.try_get(9)?,
    })
}

/// A new staff account.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub id: i64,
    /// Sealed.
    pub email: Vec<u8>,
    pub email_bidx: Vec<u8>,
    /// Sealed.
    pub display_name: Vec<u8>,
    pub password_hash: Option<String>,
    pub totp_secret: Option<Vec<u8>>,
    pub oidc_subject_bidx: Option<Vec<u8>>,
    pub now: i64,
}

/// Inserts a staff account (active) and its roles.
pub async fn insert(tx: &mut AnyConnection, s: &NewStaff, roles: &[&str]) -> Result<()> {
    let mut insert = Insert::new(
        "staff_accounts",
        &[
            "id",
            "email",
            "email_bidx",
            "display_name",
            "password_hash",
            "totp_secret",
            "oidc_subject_bidx",
            "status",
            "created_at",
            "updated_at",
        ],
    );
    insert.row(vec![
        s.id.into(),
        s.email.clone().into(),
        s.email_bidx.clone().into(),
        s.display_name.clone().into(),
        s.password_hash.clone().into(),
        s.totp_secret.clone().into(),
        s.oidc_subject_bidx.clone().into(),
        "active".into(),
        s.now.into(),
        s.now.into(),
    ]);
    insert.execute(tx).await?;
    set_roles(tx, s.id, roles, s.now).await
}

/// Replaces a staff member's roles.
pub async fn set_roles(
    tx: &mut AnyConnection,
    staff_id: i64,
    roles: &[&str],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM staff_roles WHERE staff_id = $1")
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
    let mut insert = Insert::new("staff_roles", &["staff_id", "role", "granted_at"]);
    for role in roles {
        insert.row(vec![staff_id.into(), (*role).into(), now.into()]);
    }
    insert.execute(tx).await?;
    Ok(())
}

/// A staff account by the blind index of its work e-mail address.
pub async fn by_email_bidx(db: &Db, bidx: &[u8]) -> Result<Option<StaffRow>> {
    let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE email_bidx = $1");
    sqlx::query(&sql)
        .bind(bidx.to_vec())
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(staff_row)
        .transpose()
}

/// A staff account by the keyed hash of its identity provider subject.
pub async fn by_oidc_subject_bidx(db: &Db, bidx: &[u8]) -> Result<Option<StaffRow>> {
    let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE oidc_subject_bidx = $1");
    sqlx::query(&sql)
        .bind(bidx.to_vec())
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(staff_row)
        .transpose()
}

/// A staff account by id.
pub async fn by_id(db: &Db, id: i64) -> Result<Option<StaffRow>> {
    let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(staff_row)
        .transpose()
}

/// Every staff account, oldest first.
pub async fn all(db: &Db) -> Result<Vec<StaffRow>> {
    let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts ORDER BY created_at, id");
    sqlx::query(&sql)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(staff_row)
        .collect()
}

/// The roles of a staff member (codes, sorted).
pub async fn roles_of(db: &Db, staff_id: i64) -> Result<Vec<String>> {
    sqlx::query("SELECT role FROM staff_roles WHERE staff_id = $1 ORDER BY role")
        .bind(staff_id)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

/// Records a sign-in (and the TOTP step used, if any).
pub async fn signed_in(
    tx: &mut AnyConnection,
    staff_id: i64,
    totp_step: Option<i64>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE staff_accounts SET last_sign_in_at = $2, totp_last_step = COALESCE($3, totp_last_step), \
         updated_at = $2 WHERE id = $1",
    )
    .bind(staff_id)
    .bind(now)
    .bind(totp_step)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Links an identity provider subject to an account (first SSO sign-in).
pub async fn set_oidc_subject(
    tx: &mut AnyConnection,
    staff_id: i64,
    subject_bidx: &[u8],
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE staff_accounts SET oidc_subject_bidx = $2, updated_at = $3 WHERE id = $1")
        .bind(staff_id)
        .bind(subject_bidx.to_vec())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A staff session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSessionRow {
    pub id: i64,
    pub staff_id: i64,
    pub state: String,
    pub method: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// Starts a session.
#[allow(clippy::too_many_arguments)]
pub async fn insert_session(
    tx: &mut AnyConnection,
    id: i64,
    token_hash: &[u8],
    staff_id: i64,
    state: &str,
    method: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    let mut insert = Insert::new(
        "staff_sessions",
        &[
            "id",
            "token_hash",
            "staff_id",
            "state",
            "method",
            "created_at",
            "last_seen_at",
            "expires_at",
        ],
    );
    insert.row(vec![
        id.into(),
        token_hash.to_vec().into(),
        staff_id.into(),
        state.into(),
        method.into(),
        now.into(),
        now.into(),
        expires_at.into(),
    ]);
    insert.execute(tx).await?;
    Ok(())
}

/// The session of a token hash.
pub async fn session_by_hash(db: &Db, token_hash: &[u8]) -> Result<Option<StaffSessionRow>> {
    sqlx::query(
        "SELECT id, staff_id, state, method, created_at, last_seen_at, expires_at \
         FROM staff_sessions WHERE token_hash = $1",
    )
    .bind(token_hash.to_vec())
    .fetch_optional(db.reader())
    .await?
    .map(|r| {
        Ok(StaffSessionRow {
            id: r.try_get(0)?,
            staff_id: r.try_get(1)?,
            state: r.try_get(2)?,
            method: r.try_get(3)?,
            created_at: r.try_get(4)?,
            last_seen_at: r.try_get(5)?,
            expires_at: r.try_get(6)?,
        })
    })
    .transpose()
}

/// Marks a session seen now.
pub async fn touch_session(db: &Db, id: i64, now: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE staff_sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a session.
pub async fn delete_session(tx: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM staff_sessions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Ends every session of a staff member.
pub async fn delete_sessions_of(tx: &mut AnyConnection, staff_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
