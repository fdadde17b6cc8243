//! Portal accounts and what hangs off them: sessions, one-time codes,
//! e-mailed links, recovery codes, contract activations, throttling and the
//! terms of use (ACC-01 … ACC-11). Secrets are stored as keyed hashes;
//! personal values sealed by the caller.

use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Blind-index domain of account e-mail addresses (lowercased).
pub const ACCOUNT_EMAIL_INDEX: &str = "accounts.email";

/// A stored account (the e-mail and TOTP secret still sealed).
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: i64,
    pub customer_id: i64,
    pub entity_id: i64,
    pub email: Vec<u8>,
    pub password_hash: String,
    /// `unverified`, `active` or `frozen`.
    pub status: String,
    pub language: String,
    pub terms_version: String,
    pub email_verified_at: Option<i64>,
    /// `none`, `totp` or `sms`.
    pub second_factor: String,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub frozen_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub closure_notice_at: Option<i64>,
    pub created_at: i64,
}

const ACCOUNT_COLUMNS: &str =
    "id, customer_id, entity_id, email, password_hash, status, language, \
     terms_version, email_verified_at, second_factor, totp_secret, totp_last_step, frozen_at, \
     last_login_at, closure_notice_at, created_at";

fn account_row(row: &AnyRow) -> Result<AccountRow> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        entity_id: row.try_get("entity_id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        status: row.try_get("status")?,
        language: row.try_get("language")?,
        terms_version: row.try_get("terms_version")?,
        email_verified_at: row.try_get("email_verified_at")?,
        second_factor: row.try_get("second_factor")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
        frozen_at: row.try_get("frozen_at")?,
        last_login_at: row.try_get("last_login_at")?,
        closure_notice_at: row.try_get("closure_notice_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The account with this e-mail blind index.
pub async fn account_by_email(db: &Db, email_bidx: &[u8]) -> Result<Option<AccountRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email_bidx = $1"
    ))
    .bind(email_bidx.to_vec())
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(account_row).transpose()
}

/// The account with this id.
pub async fn account(db: &Db, id: i64) -> Result<Option<AccountRow>> {
    account_in(db.reader(), id).await
}

async fn account_in<'e, E>(executor: E, id: i64) -> Result<Option<AccountRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(account_row).transpose()
}

/// The account with this id, read inside a write transaction.
pub async fn account_tx(tx: &mut AnyConnection, id: i64) -> Result<Option<AccountRow>> {
    account_in(&mut *tx, id).await
}

/// The account of a customer.
pub async fn account_of_customer(
    tx: &mut AnyConnection,
    customer_id: i64,
) -> Result<Option<AccountRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE customer_id = $1"
    ))
    .bind(customer_id)
    .fetch_optional(&mut *tx)
    .await?;
    row.as_ref().map(account_row).transpose()
}

/// Whether another account than `except` uses this e-mail blind index.
pub async fn email_taken(tx: &mut AnyConnection, email_bidx: &[u8], except: i64) -> Result<bool> {
    Ok(
        sqlx::query("SELECT id FROM accounts WHERE email_bidx = $1 AND id <> $2")
            .bind(email_bidx.to_vec())
            .bind(except)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

/// A new (unverified) account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: i64,
    pub customer_id: i64,
    pub entity_id: i64,
    pub email: Vec<u8>,
    pub email_bidx: Vec<u8>,
    pub password_hash: String,
    pub language: String,
    pub terms_version: String,
    pub now: i64,
}

/// Inserts an unverified account.
pub async fn insert_account(tx: &mut AnyConnection, a: &NewAccount) -> Result<()> {
    sqlx::query(
        "INSERT INTO accounts (id, customer_id, entity_id, email, email_bidx, password_hash, \
         status, language, terms_version, second_factor, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'unverified', $7, $8, 'none', $9, $9)",
    )
    .bind(a.id)
    .bind(a.customer_id)
    .bind(a.entity_id)
    .bind(a.email.clone())
    .bind(a.email_bidx.clone())
    .bind(a.password_hash.clone())
    .bind(a.language.clone())
    .bind(a.terms_version.clone())
    .bind(a.now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes an account and everything that is only the portal's: sessions,
/// codes, links, recovery codes and contract activations (ACC-09).
pub async fn delete_account(tx: &mut AnyConnection, account_id: i64) -> Result<()> {
    for table in [
        "sessions",
        "one_time_codes",
        "account_tokens",
        "recovery_codes",
        "contract_activations",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Sets one or more columns of an account: `assignments` like
/// `"status = 'active', email_verified_at = $2"` with `$1` the account id
/// and the values bound in order from `$2`.
pub async fn update_account(
    tx: &mut AnyConnection,
    account_id: i64,
    assignments: &str,
    values: Vec<super::SqlValue>,
    now: i64,
) -> Result<u64> {
    let n = values.len() + 2;
    let sql = format!("UPDATE accounts SET {assignments}, updated_at = ${n} WHERE id = $1");
    let mut query = sqlx::query(&sql).bind(account_id);
    for value in values {
        query = match value {
            super::SqlValue::Int(v) => query.bind(v),
            super::SqlValue::Text(v) => query.bind(v),
            super::SqlValue::Blob(v) => query.bind(v),
            super::SqlValue::NullInt => query.bind(None::<i64>),
            super::SqlValue::NullText => query.bind(None::<String>),
            super::SqlValue::NullBlob => query.bind(None::<Vec<u8>>),
        };
    }
    Ok(query.bind(now).execute(&mut *tx).await?.rows_affected())
}

// ---------------------------------------------------------------------------
// Registration look-up and contracts
// ---------------------------------------------------------------------------

/// A contract party found by its registration proof.
#[derive(Debug, Clone)]
pub struct RegistrationMatch {
    pub customer_id: i64,
    pub contract_id: i64,
    pub entity_id: i64,
}

/// The party whose proof is `registration_bidx`, on a contract that is
/// active or ended on or after `ended_since` (ISO date).
pub async fn registration_match(
    db: &Db,
    registration_bidx: &[u8],
    ended_since: &str,
) -> Result<Option<RegistrationMatch>> {
    let row = sqlx::query(
        "SELECT p.customer_id, c.id, c.entity_id FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id \
         WHERE p.registration_bidx = $1 AND p.role IN ('holder', 'co_holder') \
         AND (c.status = 'active' OR (c.status IN ('ended', 'closed') AND c.ended_on >= $2)) \
         LIMIT 1",
    )
    .bind(registration_bidx.to_vec())
    .bind(ended_since.to_string())
    .fetch_optional(db.reader())
    .await?;
    row.map(|r| {
        Ok(RegistrationMatch {
            customer_id: r.try_get(0)?,
            contract_id: r.try_get(1)?,
            entity_id: r.try_get(2)?,
        })
    })
    .transpose()
}

/// A contract as the portal lists it before activation.
#[derive(Debug, Clone)]
pub struct PortalContract {
    pub id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub brand_id: i64,
    pub ended_on: Option<String>,
    pub activated_at: Option<i64>,
}

/// The contracts a customer is holder or co-holder of, with whether this
/// account activated them; pending contracts are not shown.
pub async fn portal_contracts(
    db: &Db,
    customer_id: i64,
    account_id: i64,
) -> Result<Vec<PortalContract>> {
    let rows = sqlx::query(
        "SELECT c.id, c.contract_number, c.contract_type, c.status, c.brand_id, c.ended_on, \
         a.activated_at FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id \
         LEFT JOIN contract_activations a ON a.contract_id = c.id AND a.account_id = $2 \
         WHERE p.customer_id = $1 AND p.role IN ('holder', 'co_holder') \
         AND c.status <> 'pending' ORDER BY c.contract_number",
    )
    .bind(customer_id)
    .bind(account_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PortalContract {
                id: r.try_get(0)?,
                contract_number: r.try_get(1)?,
                contract_type: r.try_get(2)?,
                status: r.try_get(3)?,
                brand_id: r.try_get(4)?,
                ended_on: r.try_get(5)?,
                activated_at: r.try_get(6)?,
            })
        })
        .collect()
}

/// Records an activation (idempotent).
pub async fn activate_contract(
    tx: &mut AnyConnection,
    account_id: i64,
    contract_id: i64,
    now: i64,
) -> Result<()> {
    let exists = sqlx::query(
        "SELECT 1 FROM contract_activations WHERE account_id = $1 AND contract_id = $2",
    )
    .bind(account_id)
    .bind(contract_id)
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if !exists {
        sqlx::query(
            "INSERT INTO contract_activations (account_id, contract_id, activated_at) VALUES ($1, $2, $3)",
        )
        .bind(account_id)
        .bind(contract_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The latest `ended_on` of a customer's contracts, and whether any is still
/// pending or active (ACC-09).
pub async fn contract_lifetime(db: &Db, customer_id: i64) -> Result<(bool, Option<String>)> {
    let row = sqlx::query(
        "SELECT SUM(CASE WHEN c.status IN ('pending', 'active') THEN 1 ELSE 0 END), MAX(c.ended_on) \
         FROM contract_parties p JOIN contracts c ON c.id = p.contract_id WHERE p.customer_id = $1",
    )
    .bind(customer_id)
    .fetch_one(db.reader())
    .await?;
    let running: Option<i64> = row.try_get(0)?;
    Ok((running.unwrap_or(0) > 0, row.try_get(1)?))
}

/// Ids of every account, with its customer (for the daily lifetime job).
pub async fn all_accounts(db: &Db) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query("SELECT id, customer_id FROM accounts ORDER BY id")
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

// ---------------------------------------------------------------------------
// Terms of use
// ---------------------------------------------------------------------------

/// The version of the entity's terms of use in force on `today` (ISO).
pub async fn terms_in_force(db: &Db, entity_id: i64, today: &str) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT version FROM terms_of_use WHERE entity_id = $1 AND in_force_from <= $2 \
         ORDER BY in_force_from DESC, version DESC LIMIT 1",
    )
    .bind(entity_id)
    .bind(today.to_string())
    .fetch_optional(db.reader())
    .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// Adds a version of an entity's terms (idempotent).
pub async fn insert_terms(
    tx: &mut AnyConnection,
    entity_id: i64,
    version: &str,
    in_force_from: &str,
    now: i64,
) -> Result<()> {
    let exists = sqlx::query("SELECT 1 FROM terms_of_use WHERE entity_id = $1 AND version = $2")
        .bind(entity_id)
        .bind(version.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !exists {
        sqlx::query(
            "INSERT INTO terms_of_use (entity_id, version, in_force_from, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(entity_id)
        .bind(version.to_string())
        .bind(in_force_from.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records that a customer accepted a version (ACC-11).
pub async fn record_acceptance(
    tx: &mut AnyConnection,
    id: i64,
    customer_id: i64,
    entity_id: i64,
    version: &str,
    context: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO terms_acceptances (id, customer_id, entity_id, version, context, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(customer_id)
    .bind(entity_id)
    .bind(version.to_string())
    .bind(context.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The acceptances of a customer: (version, context, accepted_at).
pub async fn acceptances(db: &Db, customer_id: i64) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT version, context, accepted_at FROM terms_acceptances WHERE customer_id = $1 ORDER BY accepted_at, id",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

// ---------------------------------------------------------------------------
// E-mailed links
// ---------------------------------------------------------------------------

/// A stored link token.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub account_id: i64,
    pub kind: String,
    pub new_email: Option<Vec<u8>>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a link token's hash.
pub async fn insert_token(
    tx: &mut AnyConnection,
    token_hash: &[u8],
    account_id: i64,
    kind: &str,
    new_email: Option<Vec<u8>>,
    expires_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_tokens (token_hash, account_id, kind, new_email, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash.to_vec())
    .bind(account_id)
    .bind(kind.to_string())
    .bind(new_email)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The token with this hash and kind.
pub async fn token(
    tx: &mut AnyConnection,
    token_hash: &[u8],
    kind: &str,
) -> Result<Option<TokenRow>> {
    let row = sqlx::query(
        "SELECT account_id, kind, new_email, expires_at, used_at FROM account_tokens \
         WHERE token_hash = $1 AND kind = $2",
    )
    .bind(token_hash.to_vec())
    .bind(kind.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            account_id: r.try_get(0)?,
            kind: r.try_get(1)?,
            new_email: r.try_get(2)?,
            expires_at: r.try_get(3)?,
            used_at: r.try_get(4)?,
        })
    })
    .transpose()
}

/// Marks a token used; false if it already was (single use).
pub async fn use_token(tx: &mut AnyConnection, token_hash: &[u8], now: i64) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE account_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(token_hash.to_vec())
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// Invalidates an account's unused tokens of a kind.
pub async fn expire_tokens(
    tx: &mut AnyConnection,
    account_id: i64,
    kind: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE account_tokens SET used_at = $3 WHERE account_id = $1 AND kind = $2 AND used_at IS NULL",
    )
    .bind(account_id)
    .bind(kind.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// One-time codes
// ---------------------------------------------------------------------------

/// A stored one-time code.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub id: i64,
    pub code_hash: Vec<u8>,
    pub expires_at: i64,
    pub attempts: i64,
    pub state: String,
    pub created_at: i64,
}

fn contract_clause(contract_id: Option<i64>) -> &'static str {
    if contract_id.is_some() {
        "contract_id = $3"
    } else {
        "contract_id IS NULL"
    }
}

/// Codes for (account, purpose, contract) created at or after `since`,
/// newest first.
pub async fn codes_since(
    tx: &mut AnyConnection,
    account_id: i64,
    purpose: &str,
    contract_id: Option<i64>,
    since: i64,
) -> Result<Vec<CodeRow>> {
    let sql = format!(
        "SELECT id, code_hash, expires_at, attempts, state, created_at FROM one_time_codes \
         WHERE account_id = $1 AND purpose = $2 AND {} AND created_at >= ${} \
         ORDER BY created_at DESC, id DESC",
        contract_clause(contract_id),
        if contract_id.is_some() { 4 } else { 3 }
    );
    let mut query = sqlx::query(&sql).bind(account_id).bind(purpose.to_string());
    if let Some(contract) = contract_id {
        query = query.bind(contract);
    }
    let rows = query.bind(since).fetch_all(&mut *tx).await?;
    rows.iter()
        .map(|r| {
            Ok(CodeRow {
                id: r.try_get(0)?,
                code_hash: r.try_get(1)?,
                expires_at: r.try_get(2)?,
                attempts: r.try_get(3)?,
                state: r.try_get(4)?,
                created_at: r.try_get(5)?,
            })
        })
        .collect()
}

/// Stores a new code, replacing the open ones of the same (account,
/// purpose, contract).
#[allow(clippy::too_many_arguments)]
pub async fn insert_code(
    tx: &mut AnyConnection,
    id: i64,
    account_id: i64,
    purpose: &str,
    contract_id: Option<i64>,
    code_hash: &[u8],
    expires_at: i64,
    now: i64,
) -> Result<()> {
    let sql = format!(
        "UPDATE one_time_codes SET state = 'replaced' WHERE account_id = $1 AND purpose = $2 \
         AND {} AND state = 'open'",
        contract_clause(contract_id)
    );
    let mut query = sqlx::query(&sql).bind(account_id).bind(purpose.to_string());
    if let Some(contract) = contract_id {
        query = query.bind(contract);
    }
    query.execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO one_time_codes (id, account_id, purpose, contract_id, code_hash, expires_at, \
         attempts, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, 'open', $7)",
    )
    .bind(id)
    .bind(account_id)
    .bind(purpose.to_string())
    .bind(contract_id)
    .bind(code_hash.to_vec())
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records an attempt on a code and its new state.
pub async fn update_code(
    tx: &mut AnyConnection,
    id: i64,
    attempts: i64,
    state: &str,
) -> Result<()> {
    sqlx::query("UPDATE one_time_codes SET attempts = $2, state = $3 WHERE id = $1")
        .bind(id)
        .bind(attempts)
        .bind(state.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Recovery codes
// ---------------------------------------------------------------------------

/// Replaces an account's recovery codes.
pub async fn replace_recovery_codes(
    tx: &mut AnyConnection,
    account_id: i64,
    hashes: &[Vec<u8>],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account_id)
        .bind(hash.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Uses a recovery code; false if it does not exist or was used.
pub async fn use_recovery_code(
    tx: &mut AnyConnection,
    account_id: i64,
    hash: &[u8],
    now: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(account_id)
    .bind(hash.to_vec())
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// How many unused recovery codes an account has.
pub async fn recovery_codes_left(db: &Db, account_id: i64) -> Result<i64> {
    Ok(
        sqlx::query(
            "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(account_id)
        .fetch_one(db.reader())
        .await?
        .try_get(0)?,
    )
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

/// A stored session (device and network sealed).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub account_id: i64,
    /// `second_factor`, `terms` or `active`.
    pub state: String,
    pub device: Vec<u8>,
    pub network: Vec<u8>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

const SESSION_COLUMNS: &str =
    "id, account_id, state, device, network, created_at, last_seen_at, expires_at";

fn session(r: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        state: r.try_get("state")?,
        device: r.try_get("device")?,
        network: r.try_get("network")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// A new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: i64,
    pub token_hash: Vec<u8>,
    pub account_id: i64,
    pub state: String,
    pub device: Vec<u8>,
    pub network: Vec<u8>,
    pub now: i64,
    pub expires_at: i64,
}

/// Stores a session.
pub async fn insert_session(tx: &mut AnyConnection, s: &NewSession) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, account_id, state, device, network, created_at, \
         last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(s.id)
    .bind(s.token_hash.clone())
    .bind(s.account_id)
    .bind(s.state.clone())
    .bind(s.device.clone())
    .bind(s.network.clone())
    .bind(s.now)
    .bind(s.expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The session whose token hashes to `token_hash`.
pub async fn session_by_token(db: &Db, token_hash: &[u8]) -> Result<Option<SessionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
    ))
    .bind(token_hash.to_vec())
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(session).transpose()
}

/// An account's sessions, newest first.
pub async fn sessions_of(db: &Db, account_id: i64) -> Result<Vec<SessionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE account_id = $1 ORDER BY last_seen_at DESC, id DESC"
    ))
    .bind(account_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(session).collect()
}

/// Gives a session a new token and state (login step-up, ACC-06).
pub async fn rotate_session(
    tx: &mut AnyConnection,
    id: i64,
    token_hash: &[u8],
    state: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE sessions SET token_hash = $2, state = $3, last_seen_at = $4 WHERE id = $1")
        .bind(id)
        .bind(token_hash.to_vec())
        .bind(state.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records activity on a session.
pub async fn touch_session(db: &Db, id: i64, now: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes one session of an account; false if there was none.
pub async fn delete_session(tx: &mut AnyConnection, account_id: i64, id: i64) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Deletes every session of an account except `keep`; returns how many.
pub async fn delete_sessions(
    tx: &mut AnyConnection,
    account_id: i64,
    keep: Option<i64>,
) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id <> $2")
            .bind(account_id)
            .bind(keep.unwrap_or(0))
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    )
}

/// Deletes sessions past their absolute or idle limit.
pub async fn delete_expired_sessions(db: &Db, now: i64, idle_before: i64) -> Result<u64> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
        .bind(now)
        .bind(idle_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

// ---------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------

/// Failed attempts under one key.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThrottleRow {
    pub failures: i64,
    pub window_start: i64,
    pub last_failure_at: i64,
    pub locked_until: Option<i64>,
}

/// The throttle state of (scope, key).
pub async fn throttle(db: &Db, scope: &str, key: &[u8]) -> Result<Option<ThrottleRow>> {
    let row = sqlx::query(
        "SELECT failures, window_start, last_failure_at, locked_until FROM auth_throttle \
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope.to_string())
    .bind(key.to_vec())
    .fetch_optional(db.reader())
    .await?;
    row.map(|r| {
        Ok(ThrottleRow {
            failures: r.try_get(0)?,
            window_start: r.try_get(1)?,
            last_failure_at: r.try_get(2)?,
            locked_until: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Writes the throttle state of (scope, key).
pub async fn save_throttle(
    tx: &mut AnyConnection,
    scope: &str,
    key: &[u8],
    t: &ThrottleRow,
) -> Result<()> {
    sqlx::query("DELETE FROM auth_throttle WHERE scope = $1 AND key = $2")
        .bind(scope.to_string())
        .bind(key.to_vec())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO auth_throttle (scope, key, failures, window_start, last_failure_at, locked_until) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(scope.to_string())
    .bind(key.to_vec())
    .bind(t.failures)
    .bind(t.window_start)
    .bind(t.last_failure_at)
    .bind(t.locked_until)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Forgets the failures of (scope, key) (after a success).
pub async fn clear_throttle(tx: &mut AnyConnection, scope: &str, key: &[u8]) -> Result<()> {
    sqlx::query("DELETE FROM auth_throttle WHERE scope = $1 AND key = $2")
        .bind(scope.to_string())
        .bind(key.to_vec())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Deletes throttle rows whose last failure is older than `before` and that
/// hold no lock.
pub async fn prune_throttle(db: &Db, before: i64, now: i64) -> Result<u64> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "DELETE FROM auth_throttle WHERE last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $2)",
    )
    .bind(before)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}
