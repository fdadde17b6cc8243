//! Customer identity and access (ACC-01 … ACC-11): registration gated by
//! facts of a real contract, e-mail verification, sign-in with Argon2id,
//! throttling, sessions, SMS codes for contract activation and sign-in,
//! TOTP, recovery codes, password and e-mail changes, freezing after a
//! report of unauthorised access, and the account's lifetime.
//!
//! Every use case runs in one write transaction that also writes its audit
//! record and its outbox messages. Secrets (session ids, links, codes) are
//! stored as keyed hashes; the account's e-mail, TOTP secret and session
//! details are sealed under the customer's key.

pub mod account;
pub mod activation;
pub mod password;
pub mod secrets;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod two_factor;

use crate::audit::{ActorKind, AuditEntry};
use crate::messages::{Mail, Sender};
use crate::{App, AppError};
use carfin_domain::Language;
use carfin_store::crypto::{FieldRef, SubjectKey};
use carfin_store::keystore::KeyState;
use carfin_store::repo::identity::AccountRow;
use carfin_store::StoreError;
use sqlx::AnyConnection;
use std::net::IpAddr;

/// Lifetime of an e-mail verification link.
pub const VERIFY_LINK_SECS: i64 = 24 * 3600;
/// Lifetime of a password reset link (ACC-07).
pub const RESET_LINK_SECS: i64 = 30 * 60;
/// Lifetime of the "report unauthorised access" link in security e-mails.
pub const REPORT_LINK_SECS: i64 = 30 * 24 * 3600;
/// Months after the last contract ended that an account stays open (ACC-09).
pub const LIFETIME_MONTHS: u32 = 18;
/// Days before closing that the customer is told (ACC-09).
pub const CLOSURE_NOTICE_DAYS: i64 = 30;

/// What the web layer knows about the caller.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's network address (after trusted proxies).
    pub address: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The request id, for audit records.
    pub request_id: String,
    /// The language of the request.
    pub language: Language,
}

/// The keyed hash under which a secret (session id, link token, code) is
/// stored: HMAC-SHA-256 with the blind-index key, in its own domain.
pub fn secret_hash(app: &App, domain: &str, secret: &str) -> Vec<u8> {
    app.blind_index().index(domain, secret)
}

/// The live key of a data subject.
pub(crate) async fn subject_key(app: &App, subject_id: i64) -> Result<Box<SubjectKey>, AppError> {
    match app.keys().get(subject_id).await? {
        KeyState::Live(key) => Ok(key),
        KeyState::Shredded(_) | KeyState::Missing => Err(AppError::NotFound),
    }
}

/// Seals `value` into `table.column` of row `row`.
pub(crate) fn seal(
    key: &SubjectKey,
    table: &'static str,
    column: &'static str,
    row: i64,
    value: &str,
) -> Result<Vec<u8>, AppError> {
    Ok(key.seal(FieldRef { table, column, row }, value)?)
}

/// Opens `table.column` of row `row`.
pub(crate) fn open(
    key: &SubjectKey,
    table: &'static str,
    column: &'static str,
    row: i64,
    sealed: &[u8],
) -> Result<String, AppError> {
    Ok(key.open(FieldRef { table, column, row }, sealed)?)
}

/// The account's login e-mail address.
pub(crate) fn account_email(key: &SubjectKey, account: &AccountRow) -> Result<String, AppError> {
    open(key, "accounts", "email", account.id, &account.email)
}

/// The language an account's messages are written in.
pub(crate) fn account_language(account: &AccountRow) -> Language {
    account.language.parse::<Language>().unwrap_or_default()
}

/// An audit record of something a customer did to their own account.
pub(crate) fn customer_audit(
    client: &ClientInfo,
    customer_id: i64,
    action: &str,
    purpose: &str,
    fields: &[&str],
) -> AuditEntry {
    AuditEntry {
        actor_kind: ActorKind::Customer,
        actor_id: Some(customer_id),
        role: "customer".into(),
        action: action.into(),
        subject_id: Some(customer_id),
        purpose: purpose.into(),
        fields: fields.iter().map(|f| (*f).to_string()).collect(),
        request_id: if client.request_id.is_empty() {
            "none".into()
        } else {
            client.request_id.clone()
        },
    }
}

/// Writes the audit record of something a customer did to their own
/// account, in the transaction.
pub(crate) async fn record_customer(
    tx: &mut AnyConnection,
    app: &App,
    client: &ClientInfo,
    customer_id: i64,
    action: &str,
    purpose: &str,
    fields: &[&str],
) -> Result<(), AppError> {
    audit(
        tx,
        app,
        customer_audit(client, customer_id, action, purpose, fields),
    )
    .await
}

/// Writes an audit record in the transaction.
pub(crate) async fn audit(
    tx: &mut AnyConnection,
    app: &App,
    entry: AuditEntry,
) -> Result<(), AppError> {
    crate::audit::record(tx, app, entry).await
}

/// A public link: `server.public_url` + `path`.
pub fn public_link(app: &App, path: &str) -> String {
    format!(
        "{}{}",
        app.config().server.public_url.trim_end_matches('/'),
        path
    )
}

/// Creates a fresh "report unauthorised access" link for an account, stored
/// in the transaction (ACC-08: in every security e-mail).
pub(crate) async fn report_link(
    tx: &mut AnyConnection,
    app: &App,
    account_id: i64,
) -> Result<String, AppError> {
    let now = app.clock().now().timestamp();
    let token = secrets::url_token();
    carfin_store::repo::identity::insert_token(
        tx,
        &secret_hash(app, "account_tokens", &token),
        account_id,
        "report_access",
        None,
        now + REPORT_LINK_SECS,
        now,
    )
    .await?;
    Ok(public_link(app, &format!("/report/{token}")))
}

/// Queues a security notice (ACC-07) about `kind` to the account's address,
/// with the report link.
pub(crate) async fn security_notice(
    tx: &mut AnyConnection,
    app: &App,
    key: &SubjectKey,
    account: &AccountRow,
    kind: &str,
    to: Option<&str>,
    args: Vec<(&str, String)>,
) -> Result<(), AppError> {
    let sender = Sender::for_customer(app, account.customer_id, account.entity_id).await?;
    let address = match to {
        Some(address) => address.to_string(),
        None => account_email(key, account)?,
    };
    let report = report_link(tx, app, account.id).await?;
    let mail = Mail {
        kind,
        args,
        link: None,
        report_link: Some(report),
    };
    let message = crate::messages::email(
        &sender,
        account_language(account),
        account.customer_id,
        &address,
        &mail,
    )?;
    crate::outbox::enqueue(tx, app, &message).await?;
    Ok(())
}

/// A connection of the read pool, for look-ups that need no write lock.
pub(crate) async fn read_conn(
    app: &App,
) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, AppError> {
    Ok(app
        .db()
        .reader()
        .acquire()
        .await
        .map_err(StoreError::from)?)
}

/// Commits a transaction.
pub(crate) async fn commit(tx: sqlx::Transaction<'static, sqlx::Any>) -> Result<(), AppError> {
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// A refusal listing (field, message key) pairs.
pub(crate) fn invalid(field: &str, key: &str) -> AppError {
    AppError::Invalid(vec![(field.to_string(), key.to_string())])
}
