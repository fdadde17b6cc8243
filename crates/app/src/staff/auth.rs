//! Staff sign-in (BOF-01): a password and a mandatory TOTP code, or the
//! company's single sign-on ([`super::oidc`]). Staff sessions are apart
//! from customers' (own table, own cookie) and stricter: idle
//! `auth.staff_idle_minutes` (10), absolute `auth.staff_absolute_hours` (8).
//! Only the HMAC of a session id is stored; a new id is issued when the
//! second factor is passed.

use super::{Role, StaffSession};
use crate::audit::{self, ActorKind, AuditEntry};
use crate::identity::totp::{self, TotpSecret};
use crate::identity::{secret_hash, secrets, throttle, ClientInfo};
use crate::{App, AppError};
use carfin_store::crypto::FieldRef;
use carfin_store::keystore::KeyState;
use carfin_store::repo::staff::{self as repo, NewStaff, StaffRow};
use carfin_store::StoreError;
use sqlx::AnyConnection;

/// The domain of staff session hashes.
const TOKEN_DOMAIN: &str = "staff-session";
/// Blind-index domain of staff work e-mail addresses.
pub const EMAIL_INDEX: &str = "staff_accounts.email";
/// Keyed-hash domain of identity provider subjects.
pub const SUBJECT_INDEX: &str = "staff_accounts.oidc_subject";

/// A staff account with its sealed fields opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// `active` or `disabled`.
    pub status: String,
    /// Password and TOTP set up.
    pub password: bool,
    /// Linked to the company's identity provider.
    pub sso: bool,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
}

fn email_index(app: &App, email: &str) -> Vec<u8> {
    app.blind_index().index(EMAIL_INDEX, &normalized(email))
}

fn field(column: &'static str, row: i64) -> FieldRef<'static> {
    FieldRef {
        table: "staff_accounts",
        column,
        row,
    }
}

/// Opens a staff account's sealed fields (a shredded key: `None`).
async fn open_member(app: &App, row: &StaffRow) -> Result<Option<StaffMember>, AppError> {
    let key = match app.keys().get(row.id).await? {
        KeyState::Live(key) => key,
        _ => return Ok(None),
    };
    Ok(Some(StaffMember {
        id: row.id,
        email: key.open(field("email", row.id), &row.email)?,
        display_name: key.open(field("display_name", row.id), &row.display_name)?,
        roles: roles(app, row.id).await?,
        status: row.status.clone(),
        password: row.password_hash.is_some() && row.totp_secret.is_some(),
        sso: row.oidc_subject_bidx.is_some(),
        last_sign_in_at: row.last_sign_in_at,
        created_at: row.created_at,
    }))
}

/// Every staff account with its roles, names and addresses opened, oldest
/// first (the access review, BOF-06).
pub async fn directory(app: &App) -> Result<Vec<StaffMember>, AppError> {
    let mut out = Vec::new();
    for row in repo::all(app.db()).await? {
        if let Some(member) = open_member(app, &row).await? {
            out.push(member);
        }
    }
    Ok(out)
}

/// One staff account, opened.
pub async fn member(app: &App, staff_id: i64) -> Result<Option<StaffMember>, AppError> {
    match repo::by_id(app.db(), staff_id).await? {
        Some(row) => open_member(app, &row).await,
        None => Ok(None),
    }
}

/// Seals a new account's identity under its fresh subject key.
async fn new_staff(
    app: &App,
    id: i64,
    email: &str,
    display_name: &str,
    now: i64,
) -> Result<(NewStaff, carfin_store::crypto::SubjectKey), AppError> {
    let key = app.keys().create(id, now).await?;
    let email = normalized(email);
    Ok((
        NewStaff {
            id,
            email: key.seal(field("email", id), &email)?,
            email_bidx: email_index(app, &email),
            display_name: key.seal(field("display_name", id), display_name.trim())?,
            password_hash: None,
            totp_secret: None,
            oidc_subject_bidx: None,
            now,
        },
        key,
    ))
}

/// What a password sign-in led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// Right password: the TOTP code is next (a half session, this token).
    SecondFactor { token: String },
    /// Wrong e-mail address or password (never told apart).
    Refused,
    /// Too many failures: try again later (unix time).
    Locked(i64),
    /// Wait this many seconds before the next attempt.
    Wait(i64),
}

fn normalized(email: &str) -> String {
    email.trim().to_lowercase()
}

fn staff_audit(staff_id: i64, role: &str, action: &str, request_id: &str) -> AuditEntry {
    AuditEntry {
        actor_kind: ActorKind::Staff,
        actor_id: Some(staff_id),
        role: role.into(),
        action: action.into(),
        subject_id: None,
        purpose: "protect_systems".into(),
        fields: Vec::new(),
        request_id: if request_id.is_empty() {
            "none".into()
        } else {
            request_id.into()
        },
    }
}

/// The roles of a staff member.
pub async fn roles(app: &App, staff_id: i64) -> Result<Vec<Role>, AppError> {
    Ok(repo::roles_of(app.db(), staff_id)
        .await?
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect())
}

/// Starts a staff session in `state`; returns the cookie value.
async fn start(
    tx: &mut AnyConnection,
    app: &App,
    staff_id: i64,
    state: &str,
    method: &str,
) -> Result<String, AppError> {
    let now = app.clock().now().timestamp();
    let token = secrets::url_token();
    let absolute = app.config().auth.staff_absolute_hours * 3600;
    repo::insert_session(
        tx,
        app.ids().next(),
        &secret_hash(app, TOKEN_DOMAIN, &token),
        staff_id,
        state,
        method,
        now,
        now + absolute,
    )
    .await?;
    Ok(token)
}

/// Step one: e-mail address and password. Unknown addresses cost the same
/// password hash as known ones and answer the same.
pub async fn sign_in_password(
    app: &App,
    email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<PasswordOutcome, AppError> {
    let email = normalized(email);
    let account_key = throttle::account_key(app, &format!("staff:{email}"));
    let address_key = throttle::address_key(app, client.address);
    if let throttle::Gate::Locked(until) =
        throttle::gate(app, throttle::ADDRESS, &address_key).await?
    {
        return Ok(PasswordOutcome::Locked(until));
    }
    match throttle::gate(app, throttle::ACCOUNT, &account_key).await? {
        throttle::Gate::Locked(until) => return Ok(PasswordOutcome::Locked(until)),
        throttle::Gate::Wait(seconds) => return Ok(PasswordOutcome::Wait(seconds)),
        throttle::Gate::Open => {}
    }
    let staff = repo::by_email_bidx(app.db(), &email_index(app, &email))
        .await?
        .filter(|s| s.status == "active");
    let phc = staff.as_ref().and_then(|s| s.password_hash.as_deref());
    let right = app
        .hasher()
        .verify(password, phc)
        .await
        .map_err(|_| AppError::Config("password hashing failed".into()))?;
    let mut tx = app.db().begin_write().await?;
    let Some(staff) = staff.filter(|s| right && s.totp_secret.is_some()) else {
        let locked = throttle::fail(&mut tx, app, throttle::ACCOUNT, &account_key).await?;
        throttle::fail(&mut tx, app, throttle::ADDRESS, &address_key).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let now = app.clock().now().timestamp();
        return Ok(if locked {
            PasswordOutcome::Locked(now + app.config().auth.lockout_minutes * 60)
        } else {
            PasswordOutcome::Refused
        });
    };
    throttle::clear(&mut tx, throttle::ACCOUNT, &account_key).await?;
    let token = start(&mut tx, app, staff.id, "second_factor", "password_totp").await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(PasswordOutcome::SecondFactor { token })
}

fn totp_of(
    app_key: &carfin_store::crypto::SubjectKey,
    staff: &StaffRow,
) -> Result<TotpSecret, AppError> {
    let sealed = staff.totp_secret.as_deref().ok_or(AppError::NotFound)?;
    let base32 = app_key.open(field("totp_secret", staff.id), sealed)?;
    TotpSecret::from_base32(&base32).ok_or(AppError::NotFound)
}

/// Step two: the TOTP code of the half session `token`. Right: the half
/// session ends and a full one starts under a new id (returned). Wrong:
/// `None`; repeated failures lock like passwords do.
pub async fn verify_totp(
    app: &App,
    token: &str,
    code: &str,
    client: &ClientInfo,
) -> Result<Option<String>, AppError> {
    let Some(session) = session_of(app, token).await? else {
        return Ok(None);
    };
    if session.state != "second_factor" {
        return Ok(None);
    }
    let Some(staff) = repo::by_id(app.db(), session.staff_id).await? else {
        return Ok(None);
    };
    let key = match app.keys().get(staff.id).await? {
        KeyState::Live(key) => key,
        _ => return Ok(None),
    };
    let secret = totp_of(&key, &staff)?;
    let now = app.clock().now().timestamp();
    let account_key = throttle::account_key(
        app,
        &format!(
            "staff:{}",
            key.open(field("email", staff.id), &staff.email)?
        ),
    );
    let mut tx = app.db().begin_write().await?;
    let Some(step) = totp::verify(&secret, code, now, staff.totp_last_step) else {
        if throttle::fail(&mut tx, app, throttle::ACCOUNT, &account_key).await? {
            // Locked: the half session ends too.
            repo::delete_session(&mut tx, session.id).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        return Ok(None);
    };
    throttle::clear(&mut tx, throttle::ACCOUNT, &account_key).await?;
    repo::delete_session(&mut tx, session.id).await?;
    let fresh = start(&mut tx, app, staff.id, "active", "password_totp").await?;
    repo::signed_in(&mut tx, staff.id, Some(step), now).await?;
    let roles = roles(app, staff.id).await?;
    let role = roles.first().map_or("staff", |r| r.code());
    audit::record(
        &mut tx,
        app,
        staff_audit(staff.id, role, "staff.signed_in", &client.request_id),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Some(fresh))
}

/// Signs in a staff member the identity provider vouched for (BOF-01 SSO):
/// found by the provider's subject, else by work e-mail address (linking
/// the subject), else created; roles replaced by `roles` (the mapped
/// claim). No roles: refused (`None`). Returns the session's cookie value.
pub async fn sign_in_sso(
    app: &App,
    subject: &str,
    email: &str,
    display_name: &str,
    roles: &[Role],
    client: &ClientInfo,
) -> Result<Option<String>, AppError> {
    if roles.is_empty() || subject.is_empty() {
        return Ok(None);
    }
    let now = app.clock().now().timestamp();
    let subject_bidx = app.blind_index().index(SUBJECT_INDEX, subject);
    let existing = match repo::by_oidc_subject_bidx(app.db(), &subject_bidx).await? {
        Some(s) => Some(s),
        None => repo::by_email_bidx(app.db(), &email_index(app, email)).await?,
    };
    let codes: Vec<&str> = roles.iter().map(|r| r.code()).collect();
    let mut tx = app.db().begin_write().await?;
    let staff_id = match existing {
        Some(s) if s.status != "active" => return Ok(None),
        Some(s) => {
            match &s.oidc_subject_bidx {
                None => repo::set_oidc_subject(&mut tx, s.id, &subject_bidx, now).await?,
                Some(linked) if *linked != subject_bidx => return Ok(None),
                Some(_) => {}
            }
            repo::set_roles(&mut tx, s.id, &codes, now).await?;
            s.id
        }
        None => {
            let id = app.ids().next();
            let (mut staff, _) = new_staff(app, id, email, display_name, now).await?;
            staff.oidc_subject_bidx = Some(subject_bidx);
            repo::insert(&mut tx, &staff, &codes).await?;
            id
        }
    };
    let token = start(&mut tx, app, staff_id, "active", "sso").await?;
    repo::signed_in(&mut tx, staff_id, None, now).await?;
    audit::record(
        &mut tx,
        app,
        staff_audit(
            staff_id,
            codes[0],
            "staff.signed_in_sso",
            &client.request_id,
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Some(token))
}

async fn session_of(app: &App, token: &str) -> Result<Option<repo::StaffSessionRow>, AppError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let Some(session) =
        repo::session_by_hash(app.db(), &secret_hash(app, TOKEN_DOMAIN, token)).await?
    else {
        return Ok(None);
    };
    let now = app.clock().now().timestamp();
    let idle = app.config().auth.staff_idle_minutes * 60;
    // The second step must follow within the idle time too.
    if now >= session.expires_at || now - session.last_seen_at >= idle {
        let mut tx = app.db().begin_write().await?;
        repo::delete_session(&mut tx, session.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        return Ok(None);
    }
    Ok(Some(session))
}

/// The signed-in staff member of a cookie value: both factors passed (or
/// SSO), not expired (idle or absolute), account active. Marks the session
/// seen.
pub async fn current(app: &App, token: &str) -> Result<Option<StaffSession>, AppError> {
    let Some(session) = session_of(app, token).await? else {
        return Ok(None);
    };
    if session.state != "active" {
        return Ok(None);
    }
    let Some(row) = repo::by_id(app.db(), session.staff_id).await? else {
        return Ok(None);
    };
    if row.status != "active" {
        return Ok(None);
    }
    let Some(staff) = open_member(app, &row).await? else {
        return Ok(None);
    };
    let now = app.clock().now().timestamp();
    // Written at most once a minute.
    if now - session.last_seen_at >= 60 {
        repo::touch_session(app.db(), session.id, now).await?;
    }
    Ok(Some(StaffSession {
        id: session.id,
        staff_id: staff.id,
        email: staff.email,
        display_name: staff.display_name,
        roles: staff.roles,
        method: session.method,
    }))
}

/// Whether a cookie value is a half session waiting for its TOTP code.
pub async fn awaiting_second_factor(app: &App, token: &str) -> Result<bool, AppError> {
    Ok(session_of(app, token)
        .await?
        .is_some_and(|s| s.state == "second_factor"))
}

/// Ends the session of a cookie value (sign-out).
pub async fn sign_out(app: &App, token: &str) -> Result<(), AppError> {
    if let Some(session) = session_of(app, token).await? {
        let mut tx = app.db().begin_write().await?;
        repo::delete_session(&mut tx, session.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(())
}

/// A staff account created with a password and a TOTP secret (the demo,
/// tests, and administrators): returns the secret in base32, to be shown
/// once.
pub async fn create_with_password(
    app: &App,
    email: &str,
    display_name: &str,
    password: &str,
    roles: &[Role],
) -> Result<(i64, String), AppError> {
    let now = app.clock().now().timestamp();
    let id = app.ids().next();
    let hash = app
        .hasher()
        .hash(password)
        .await
        .map_err(|_| AppError::Config("password hashing failed".into()))?;
    let secret = TotpSecret::generate();
    let base32 = secret.to_base32();
    let (mut staff, key) = new_staff(app, id, email, display_name, now).await?;
    staff.password_hash = Some(hash);
    staff.totp_secret = Some(key.seal(field("totp_secret", id), &base32)?);
    let codes: Vec<&str> = roles.iter().map(|r| r.code()).collect();
    let mut tx = app.db().begin_write().await?;
    repo::insert(&mut tx, &staff, &codes).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((id, base32))
}

/// The password of every demo staff account.
pub const DEMO_STAFF_PASSWORD: &str = "demo-Staff-2026!";

/// One demo staff account per role, created once (`carfin demo`): returns
/// `(e-mail, TOTP secret in base32)` for each, creating those missing.
/// The secrets are kept in the keystore-sealed column; the demo prints
/// them so an authenticator app (or `oathtool`) can make the codes.
pub async fn demo_accounts(app: &App) -> Result<Vec<(String, String)>, AppError> {
    let mut out = Vec::new();
    for role in Role::ALL {
        let email = format!("{}@staff.carfin.example", role.code().replace('_', "."));
        let secret = match repo::by_email_bidx(app.db(), &email_index(app, &email)).await? {
            Some(existing) => {
                let key = match app.keys().get(existing.id).await? {
                    KeyState::Live(key) => key,
                    _ => continue,
                };
                totp_of(&key, &existing)?.to_base32()
            }
            None => {
                let name = format!("Demo {}", role.code().replace('_', " "));
                create_with_password(app, &email, &name, DEMO_STAFF_PASSWORD, &[role])
                    .await?
                    .1
            }
        };
        out.push((email, secret));
    }
    Ok(out)
}
