//! The account's life: registration gated by a real contract (ACC-01,
//! ACC-10, ACC-11), e-mail verification, sign-in (ACC-02, ACC-05), password
//! change and reset and e-mail change with notices (ACC-07), freezing after
//! a report of unauthorised access (ACC-08), and closing (ACC-09).
//!
//! Registration, sign-in and reset answer the same way, in similar time,
//! whether or not an account or contract exists: registration hashes the
//! password before looking anything up, sign-in checks a dummy hash for
//! unknown addresses, and every path writes the same throttle row.

use super::session::{self, Session, SessionState};
use super::throttle::{self, Gate};
use super::{
    account_email, account_language, audit, commit, customer_audit, invalid, open, public_link,
    record_customer, seal, secret_hash, secrets, security_notice, subject_key, ClientInfo,
};
use crate::messages::{Mail, Sender};
use crate::{App, AppError};
use carfin_domain::{EmailAddress, Language};
use carfin_store::repo::finance::registration_index;
use carfin_store::repo::identity::{self as repo, AccountRow, NewAccount, ACCOUNT_EMAIL_INDEX};
use carfin_store::repo::SqlValue;
use chrono::{Datelike, Months, NaiveDate};
use sqlx::AnyConnection;

/// The youngest age at which anybody may register (ACC-10).
pub const MIN_AGE: i32 = 16;

/// What a person types to register.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// `person` or `company`.
    pub holder: String,
    pub contract_number: String,
    /// ISO date, or `dd-mm-yyyy`.
    pub date_of_birth: String,
    pub company_number: String,
    pub postcode: String,
    pub email: String,
    pub password: String,
    pub accept_terms: bool,
    /// A company's representative confirms being 16 or older (ACC-10).
    pub confirm_age: bool,
}

/// A date typed as `yyyy-mm-dd`, `dd-mm-yyyy` or `dd/mm/yyyy`.
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let s = input.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .ok()
}

fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

fn normalized_email(input: &str) -> String {
    EmailAddress::parse(input)
        .map(|e| e.normalized())
        .unwrap_or_else(|_| input.trim().to_lowercase())
}

fn email_index(app: &App, normalized: &str) -> Vec<u8> {
    app.blind_index().index(ACCOUNT_EMAIL_INDEX, normalized)
}

async fn hash_password(app: &App, password: &str) -> Result<String, AppError> {
    app.hasher()
        .hash(password)
        .await
        .map_err(|_| AppError::Config("password hashing failed".into()))
}

async fn verify_password(app: &App, password: &str, phc: Option<&str>) -> Result<bool, AppError> {
    app.hasher()
        .verify(password, phc)
        .await
        .map_err(|_| AppError::Config("password hashing failed".into()))
}

/// Checks the form; every problem at once, as (field, message key).
fn validate(form: &Registration, today: NaiveDate) -> Result<(String, String), AppError> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |field: &str, key: &str| problems.push((field.into(), key.into()));
    if form.contract_number.trim().is_empty() {
        problem("contract_number", "form.required");
    }
    let company = form.holder == "company";
    let mut fact = String::new();
    if company {
        if form.company_number.trim().is_empty() {
            problem("company_number", "form.required");
        }
        fact = form.company_number.clone();
        if !form.confirm_age {
            problem("confirm_age", "register.confirm_age_required");
        }
    } else {
        match parse_date(&form.date_of_birth) {
            None if form.date_of_birth.trim().is_empty() => {
                problem("date_of_birth", "form.required")
            }
            None => problem("date_of_birth", "form.date_invalid"),
            Some(birth) if birth > today => problem("date_of_birth", "form.date_invalid"),
            Some(birth) if age_on(birth, today) < MIN_AGE => {
                problem("date_of_birth", "register.too_young")
            }
            Some(birth) => fact = birth.to_string(),
        }
    }
    if form.postcode.trim().is_empty() {
        problem("postcode", "form.required");
    }
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email.normalized(),
        Err(_) => {
            problem("email", "form.email_invalid");
            String::new()
        }
    };
    if let Err(p) = super::password::check_new_password(&form.password, Some(&email)) {
        problem("password", p.code());
    }
    if !form.accept_terms {
        problem("accept_terms", "register.accept_terms_required");
    }
    if problems.is_empty() {
        Ok((fact, email))
    } else {
        Err(AppError::Invalid(problems))
    }
}

/// Registers an account for the customer whose contract facts these are.
/// `Ok` says only "if the facts match, an e-mail is on its way": it is the
/// same whether the contract exists, the facts match, or an account exists
/// (ACC-01, ACC-05). Form problems (a short password, a missing field) are
/// answered as such: they reveal nothing about any contract.
pub async fn register(app: &App, form: &Registration, client: &ClientInfo) -> Result<(), AppError> {
    let today = app.clock().now().date_naive();
    let (fact, email) = validate(form, today)?;
    let address_key = throttle::address_key(app, client.address);
    for scope in [throttle::ADDRESS, throttle::REGISTRATION] {
        if let Gate::Locked(_) = throttle::gate(app, scope, &address_key).await? {
            return Err(invalid("form", "auth.address_locked"));
        }
    }
    // Hash first, whatever happens next: the answer takes as long for a
    // contract that does not exist as for one that does.
    let password_hash = hash_password(app, &form.password).await?;
    let proof = registration_index(
        app.blind_index(),
        &form.contract_number,
        &fact,
        &form.postcode,
    );
    let ended_since = today
        .checked_sub_months(Months::new(super::LIFETIME_MONTHS))
        .unwrap_or(today)
        .to_string();
    let found = repo::registration_match(app.db(), &proof, &ended_since).await?;
    let mut tx = app.db().begin_write().await?;
    // Every registration counts against the address; guessing contract
    // facts also counts as a failure (like a wrong password).
    throttle::fail(&mut tx, app, throttle::REGISTRATION, &address_key).await?;
    let Some(found) = found else {
        throttle::fail(&mut tx, app, throttle::ADDRESS, &address_key).await?;
        return commit(tx).await;
    };
    let key = subject_key(app, found.customer_id).await?;
    let sender = Sender::for_customer(app, found.customer_id, found.entity_id).await?;
    let lang = client.language;
    let bidx = email_index(app, &email);
    let existing = repo::account_of_customer(&mut tx, found.customer_id).await?;
    let taken = repo::email_taken(&mut tx, &bidx, existing.as_ref().map_or(0, |a| a.id)).await?;
    if taken || existing.as_ref().is_some_and(|a| a.status != "unverified") {
        // Already registered: tell the address typed (it proved the facts),
        // not the page.
        let mail = Mail {
            kind: "already_registered",
            args: vec![],
            link: Some(public_link(app, "/login")),
            report_link: None,
        };
        let message = crate::messages::email(&sender, lang, found.customer_id, &email, &mail)?;
        crate::outbox::enqueue(&mut tx, app, &message).await?;
        return commit(tx).await;
    }
    if let Some(old) = existing {
        // An earlier registration that was never verified gives way.
        repo::delete_account(&mut tx, old.id).await?;
    }
    let terms = repo::terms_in_force(app.db(), found.entity_id, &today.to_string())
        .await?
        .ok_or_else(|| AppError::Config("no terms of use in force for the entity".into()))?;
    let now = app.clock().now().timestamp();
    let account_id = app.ids().next();
    repo::insert_account(
        &mut tx,
        &NewAccount {
            id: account_id,
            customer_id: found.customer_id,
            entity_id: found.entity_id,
            email: seal(&key, "accounts", "email", account_id, &email)?,
            email_bidx: bidx,
            password_hash,
            language: lang.code().to_string(),
            terms_version: terms.clone(),
            now,
        },
    )
    .await?;
    repo::record_acceptance(
        &mut tx,
        app.ids().next(),
        found.customer_id,
        found.entity_id,
        &terms,
        "registration",
        now,
    )
    .await?;
    let token = secrets::url_token();
    repo::insert_token(
        &mut tx,
        &secret_hash(app, "account_tokens", &token),
        account_id,
        "verify_email",
        None,
        now + super::VERIFY_LINK_SECS,
        now,
    )
    .await?;
    let mail = Mail {
        kind: "verify_email",
        args: vec![],
        link: Some(public_link(app, &format!("/register/verify/{token}"))),
        report_link: None,
    };
    let message = crate::messages::email(&sender, lang, found.customer_id, &email, &mail)?;
    crate::outbox::enqueue(&mut tx, app, &message).await?;
    record_customer(
        &mut tx,
        app,
        client,
        found.customer_id,
        "account.registered",
        "provide_portal",
        &["accounts.email", "terms_acceptances.version"],
    )
    .await?;
    commit(tx).await
}

/// Confirms the e-mail address with the link's token (single use);
/// `false` for an unknown, used or expired link.
pub async fn verify_email(app: &App, token: &str, client: &ClientInfo) -> Result<bool, AppError> {
    let hash = secret_hash(app, "account_tokens", token);
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let Some(row) = repo::token(&mut tx, &hash, "verify_email").await? else {
        return Ok(false);
    };
    if row.used_at.is_some()
        || row.expires_at <= now
        || !repo::use_token(&mut tx, &hash, now).await?
    {
        return Ok(false);
    }
    let Some(account) = repo::account_tx(&mut tx, row.account_id).await? else {
        return Ok(false);
    };
    repo::update_account(
        &mut tx,
        account.id,
        "status = CASE WHEN status = 'unverified' THEN 'active' ELSE status END, email_verified_at = $2",
        vec![SqlValue::Int(now)],
        now,
    )
    .await?;
    record_customer(
        &mut tx,
        app,
        client,
        account.customer_id,
        "account.email_verified",
        "provide_portal",
        &["accounts.email"],
    )
    .await?;
    commit(tx).await?;
    Ok(true)
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in (or half-way: see the state); the cookie value.
    Session { token: String, state: SessionState },
    /// Wrong e-mail address or password (never told apart).
    Refused,
    /// Too soon after the last failure: wait this many seconds.
    Wait(i64),
    /// Too many failures: locked until this time.
    Locked(i64),
    /// The password is right but the e-mail address is not verified yet.
    Unverified,
    /// The account is frozen since this time after a report of
    /// unauthorised access (ACC-08); staff lift it.
    Frozen(i64),
}

/// Whether the account accepted an older version of the terms than the one
/// in force (ACC-11).
pub async fn terms_outdated(app: &App, account: &AccountRow) -> Result<bool, AppError> {
    let today = app.clock().now().date_naive().to_string();
    Ok(repo::terms_in_force(app.db(), account.entity_id, &today)
        .await?
        .is_some_and(|v| v != account.terms_version))
}

/// Signs in with e-mail address and password (ACC-02, ACC-05).
pub async fn login(
    app: &App,
    email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<LoginOutcome, AppError> {
    let email = normalized_email(email);
    let account_key = throttle::account_key(app, &email);
    let address_key = throttle::address_key(app, client.address);
    if let Gate::Locked(until) = throttle::gate(app, throttle::ADDRESS, &address_key).await? {
        return Ok(LoginOutcome::Locked(until));
    }
    match throttle::gate(app, throttle::ACCOUNT, &account_key).await? {
        Gate::Locked(until) => return Ok(LoginOutcome::Locked(until)),
        Gate::Wait(seconds) => return Ok(LoginOutcome::Wait(seconds)),
        Gate::Open => {}
    }
    let account = repo::account_by_email(app.db(), &email_index(app, &email)).await?;
    let right = verify_password(
        app,
        password,
        account.as_ref().map(|a| a.password_hash.as_str()),
    )
    .await?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let Some(account) = account.filter(|_| right) else {
        let locked = throttle::fail(&mut tx, app, throttle::ACCOUNT, &account_key).await?;
        throttle::fail(&mut tx, app, throttle::ADDRESS, &address_key).await?;
        if locked {
            if let Some(account) =
                repo::account_by_email(app.db(), &email_index(app, &email)).await?
            {
                let key = subject_key(app, account.customer_id).await?;
                let minutes = app.config().auth.lockout_minutes.to_string();
                security_notice(
                    &mut tx,
                    app,
                    &key,
                    &account,
                    "account_locked",
                    None,
                    vec![("minutes", minutes)],
                )
                .await?;
                record_customer(
                    &mut tx,
                    app,
                    client,
                    account.customer_id,
                    "account.locked",
                    "protect_systems",
                    &[],
                )
                .await?;
            }
        }
        commit(tx).await?;
        let minutes = app.config().auth.lockout_minutes;
        return Ok(if locked {
            LoginOutcome::Locked(now + minutes * 60)
        } else {
            LoginOutcome::Refused
        });
    };
    throttle::clear(&mut tx, throttle::ACCOUNT, &account_key).await?;
    match account.status.as_str() {
        "unverified" => {
            commit(tx).await?;
            return Ok(LoginOutcome::Unverified);
        }
        "frozen" => {
            commit(tx).await?;
            return Ok(LoginOutcome::Frozen(account.frozen_at.unwrap_or(now)));
        }
        _ => {}
    }
    if app.hasher().needs_rehash(&account.password_hash) {
        let fresh = hash_password(app, password).await?;
        repo::update_account(
            &mut tx,
            account.id,
            "password_hash = $2",
            vec![SqlValue::Text(fresh)],
            now,
        )
        .await?;
    }
    let state = if account.second_factor != "none" {
        SessionState::SecondFactor
    } else if terms_outdated(app, &account).await? {
        SessionState::Terms
    } else {
        SessionState::Active
    };
    let token = session::start(&mut tx, app, &account, state, client).await?;
    if account.second_factor == "sms" {
        if let Some(phone) = super::activation::mobile_on_file(app, account.customer_id).await? {
            super::activation::issue_code(
                &mut tx,
                app,
                account.id,
                account.customer_id,
                account.entity_id,
                account_language(&account),
                "login",
                None,
                &phone,
            )
            .await?;
        }
    }
    repo::update_account(
        &mut tx,
        account.id,
        "last_login_at = $2",
        vec![SqlValue::Int(now)],
        now,
    )
    .await?;
    record_customer(
        &mut tx,
        app,
        client,
        account.customer_id,
        "account.signed_in",
        "protect_systems",
        &[],
    )
    .await?;
    commit(tx).await?;
    Ok(LoginOutcome::Session { token, state })
}

/// Accepts the terms in force after sign-in (ACC-11); the session moves on
/// under a new id.
pub async fn accept_terms(
    app: &App,
    session: &Session,
    client: &ClientInfo,
) -> Result<String, AppError> {
    if session.state != SessionState::Terms {
        return Err(AppError::NotFound);
    }
    let today = app.clock().now().date_naive().to_string();
    let version = repo::terms_in_force(app.db(), session.entity_id, &today)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    repo::update_account(
        &mut tx,
        session.account_id,
        "terms_version = $2",
        vec![SqlValue::Text(version.clone())],
        now,
    )
    .await?;
    repo::record_acceptance(
        &mut tx,
        app.ids().next(),
        session.customer_id,
        session.entity_id,
        &version,
        "login",
        now,
    )
    .await?;
    let token = session::step_up(&mut tx, app, session.id, SessionState::Active).await?;
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "account.terms_accepted",
        "provide_portal",
        &["terms_acceptances.version"],
    )
    .await?;
    commit(tx).await?;
    Ok(token)
}

/// The version of the terms in force for the session's entity.
pub async fn terms_version_in_force(app: &App, entity_id: i64) -> Result<Option<String>, AppError> {
    let today = app.clock().now().date_naive().to_string();
    Ok(repo::terms_in_force(app.db(), entity_id, &today).await?)
}

/// Changes the password (current one required); other sessions end, this
/// one gets a new id, and a notice goes out (ACC-07). Returns the new
/// cookie value.
pub async fn change_password(
    app: &App,
    session: &Session,
    current: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<String, AppError> {
    super::activation::require_active(session)?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = subject_key(app, session.customer_id).await?;
    let email = account_email(&key, &account)?;
    let mut problems = Vec::new();
    if !verify_password(app, current, Some(&account.password_hash)).await? {
        problems.push((
            "current_password".to_string(),
            "auth.password_wrong".to_string(),
        ));
    }
    if let Err(p) = super::password::check_new_password(new, Some(&email)) {
        problems.push(("new_password".to_string(), p.code().to_string()));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let fresh = hash_password(app, new).await?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    repo::update_account(
        &mut tx,
        account.id,
        "password_hash = $2",
        vec![SqlValue::Text(fresh)],
        now,
    )
    .await?;
    repo::delete_sessions(&mut tx, account.id, Some(session.id)).await?;
    let token = session::step_up(&mut tx, app, session.id, SessionState::Active).await?;
    security_notice(
        &mut tx,
        app,
        &key,
        &account,
        "password_changed",
        None,
        vec![],
    )
    .await?;
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "account.password_changed",
        "protect_systems",
        &["accounts.password_hash"],
    )
    .await?;
    commit(tx).await?;
    Ok(token)
}

/// Sends a reset link if the address belongs to an account; answers the
/// same either way (ACC-05, ACC-07).
pub async fn request_reset(app: &App, email: &str, client: &ClientInfo) -> Result<(), AppError> {
    let email = normalized_email(email);
    let address_key = throttle::address_key(app, client.address);
    for scope in [throttle::ADDRESS, throttle::RESET] {
        if let Gate::Locked(_) = throttle::gate(app, scope, &address_key).await? {
            return Err(invalid("form", "auth.address_locked"));
        }
    }
    let account = repo::account_by_email(app.db(), &email_index(app, &email)).await?;
    let mut tx = app.db().begin_write().await?;
    // Every request counts against the address (also against mail bombing).
    throttle::fail(&mut tx, app, throttle::RESET, &address_key).await?;
    if let Some(account) = account.filter(|a| a.status != "frozen") {
        let key = subject_key(app, account.customer_id).await?;
        let now = app.clock().now().timestamp();
        repo::expire_tokens(&mut tx, account.id, "reset_password", now).await?;
        let token = secrets::url_token();
        repo::insert_token(
            &mut tx,
            &secret_hash(app, "account_tokens", &token),
            account.id,
            "reset_password",
            None,
            now + super::RESET_LINK_SECS,
            now,
        )
        .await?;
        let sender = Sender::for_customer(app, account.customer_id, account.entity_id).await?;
        let report = super::report_link(&mut tx, app, account.id).await?;
        let mail = Mail {
            kind: "reset_password",
            args: vec![],
            link: Some(public_link(app, &format!("/password/reset/{token}"))),
            report_link: Some(report),
        };
        let message = crate::messages::email(
            &sender,
            account_language(&account),
            account.customer_id,
            &account_email(&key, &account)?,
            &mail,
        )?;
        crate::outbox::enqueue(&mut tx, app, &message).await?;
        record_customer(
            &mut tx,
            app,
            client,
            account.customer_id,
            "account.reset_requested",
            "protect_systems",
            &[],
        )
        .await?;
    }
    commit(tx).await
}

/// Whether a reset link is still usable (for showing its form).
pub async fn reset_link_valid(app: &App, token: &str) -> Result<bool, AppError> {
    let now = app.clock().now().timestamp();
    let mut conn = super::read_conn(app).await?;
    let row = repo::token(
        &mut conn,
        &secret_hash(app, "account_tokens", token),
        "reset_password",
    )
    .await?;
    Ok(row.is_some_and(|r| r.used_at.is_none() && r.expires_at > now))
}

/// Sets a new password with a reset link (single use, 30 minutes): every
/// session ends, a notice goes out, and a temporary lock is lifted (the
/// customer proved they own the address).
pub async fn reset_password(
    app: &App,
    token: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let hash = secret_hash(app, "account_tokens", token);
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let row = repo::token(&mut tx, &hash, "reset_password").await?;
    let Some(row) = row.filter(|r| r.used_at.is_none() && r.expires_at > now) else {
        return Err(invalid("token", "reset.link_invalid"));
    };
    let account = repo::account_tx(&mut tx, row.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = subject_key(app, account.customer_id).await?;
    let email = account_email(&key, &account)?;
    if let Err(p) = super::password::check_new_password(new, Some(&email)) {
        return Err(invalid("new_password", p.code()));
    }
    // Hashing takes a while: do not hold the write lock meanwhile.
    drop(tx);
    let fresh = hash_password(app, new).await?;
    let mut tx = app.db().begin_write().await?;
    if !repo::use_token(&mut tx, &hash, now).await? {
        return Err(invalid("token", "reset.link_invalid"));
    }
    repo::update_account(
        &mut tx,
        account.id,
        "password_hash = $2, status = CASE WHEN status = 'unverified' THEN 'active' ELSE status END, \
         email_verified_at = COALESCE(email_verified_at, $3)",
        vec![SqlValue::Text(fresh), SqlValue::Int(now)],
        now,
    )
    .await?;
    repo::delete_sessions(&mut tx, account.id, None).await?;
    throttle::clear(
        &mut tx,
        throttle::ACCOUNT,
        &throttle::account_key(app, &email),
    )
    .await?;
    security_notice(
        &mut tx,
        app,
        &key,
        &account,
        "password_changed",
        None,
        vec![],
    )
    .await?;
    record_customer(
        &mut tx,
        app,
        client,
        account.customer_id,
        "account.password_reset",
        "protect_systems",
        &["accounts.password_hash"],
    )
    .await?;
    commit(tx).await
}

/// Asks to change the sign-in e-mail address (password required): a link
/// goes to the new address; nothing changes until it is opened.
pub async fn request_email_change(
    app: &App,
    session: &Session,
    new_email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    super::activation::require_active(session)?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut problems = Vec::new();
    let new_email = match EmailAddress::parse(new_email) {
        Ok(e) => e.normalized(),
        Err(_) => {
            problems.push(("email".to_string(), "form.email_invalid".to_string()));
            String::new()
        }
    };
    if !verify_password(app, password, Some(&account.password_hash)).await? {
        problems.push(("password".to_string(), "auth.password_wrong".to_string()));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let key = subject_key(app, session.customer_id).await?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    repo::expire_tokens(&mut tx, account.id, "change_email", now).await?;
    let token = secrets::url_token();
    let hash = secret_hash(app, "account_tokens", &token);
    // The new address is sealed like the account's own (row: the account).
    let sealed = seal(&key, "account_tokens", "new_email", account.id, &new_email)?;
    repo::insert_token(
        &mut tx,
        &hash,
        account.id,
        "change_email",
        Some(sealed),
        now + super::VERIFY_LINK_SECS,
        now,
    )
    .await?;
    let sender = Sender::for_customer(app, account.customer_id, account.entity_id).await?;
    let mail = Mail {
        kind: "confirm_new_email",
        args: vec![],
        link: Some(public_link(app, &format!("/email/confirm/{token}"))),
        report_link: None,
    };
    let message = crate::messages::email(
        &sender,
        account_language(&account),
        account.customer_id,
        &new_email,
        &mail,
    )?;
    crate::outbox::enqueue(&mut tx, app, &message).await?;
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "account.email_change_requested",
        "provide_portal",
        &[],
    )
    .await?;
    commit(tx).await
}

/// Confirms a new e-mail address with its link; the old address gets a
/// notice (ACC-07). `false` for an unusable link or an address taken since.
pub async fn confirm_email_change(
    app: &App,
    token: &str,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let hash = secret_hash(app, "account_tokens", token);
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let row = repo::token(&mut tx, &hash, "change_email").await?;
    let Some(row) = row.filter(|r| r.used_at.is_none() && r.expires_at > now) else {
        return Ok(false);
    };
    let Some(account) = repo::account_tx(&mut tx, row.account_id).await? else {
        return Ok(false);
    };
    let key = subject_key(app, account.customer_id).await?;
    let Some(sealed) = &row.new_email else {
        return Ok(false);
    };
    let new_email = open(&key, "account_tokens", "new_email", account.id, sealed)?;
    let bidx = email_index(app, &new_email);
    if repo::email_taken(&mut tx, &bidx, account.id).await? {
        return Ok(false);
    }
    let old_email = account_email(&key, &account)?;
    repo::use_token(&mut tx, &hash, now).await?;
    repo::update_account(
        &mut tx,
        account.id,
        "email = $2, email_bidx = $3",
        vec![
            SqlValue::Blob(seal(&key, "accounts", "email", account.id, &new_email)?),
            SqlValue::Blob(bidx),
        ],
        now,
    )
    .await?;
    security_notice(
        &mut tx,
        app,
        &key,
        &account,
        "email_changed",
        Some(&old_email),
        vec![],
    )
    .await?;
    record_customer(
        &mut tx,
        app,
        client,
        account.customer_id,
        "account.email_changed",
        "provide_portal",
        &["accounts.email"],
    )
    .await?;
    commit(tx).await?;
    Ok(true)
}

async fn freeze_account(
    tx: &mut AnyConnection,
    app: &App,
    account: &AccountRow,
    client: &ClientInfo,
) -> Result<i64, AppError> {
    let now = app.clock().now().timestamp();
    if account.status == "frozen" {
        return Ok(account.frozen_at.unwrap_or(now));
    }
    let key = subject_key(app, account.customer_id).await?;
    repo::update_account(
        tx,
        account.id,
        "status = 'frozen', frozen_at = $2",
        vec![SqlValue::Int(now)],
        now,
    )
    .await?;
    repo::delete_sessions(tx, account.id, None).await?;
    // The security officer's queue gets the review (ACC-08, BOF-02).
    crate::staff::queues::open_freeze_request(tx, app, account, now).await?;
    let sender = Sender::for_customer(app, account.customer_id, account.entity_id).await?;
    let lang = account_language(account);
    let mail = Mail {
        kind: "access_reported",
        args: vec![
            ("reported_at", crate::messages::local_time(lang, now)),
            ("phone", sender.entity.service_phone.clone()),
        ],
        link: None,
        report_link: None,
    };
    let message = crate::messages::email(
        &sender,
        lang,
        account.customer_id,
        &account_email(&key, account)?,
        &mail,
    )?;
    crate::outbox::enqueue(tx, app, &message).await?;
    record_customer(
        tx,
        app,
        client,
        account.customer_id,
        "account.frozen",
        "protect_systems",
        &["accounts.status"],
    )
    .await?;
    Ok(now)
}

/// Reports unauthorised access from the portal (ACC-08): the account is
/// frozen, every session ends, a confirmation with the report's time goes
/// out. Returns that time.
pub async fn report_unauthorised_access(
    app: &App,
    session: &Session,
    client: &ClientInfo,
) -> Result<i64, AppError> {
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db().begin_write().await?;
    let at = freeze_account(&mut tx, app, &account, client).await?;
    commit(tx).await?;
    Ok(at)
}

/// Whether a report link is usable (for showing its page).
pub async fn report_link_valid(app: &App, token: &str) -> Result<bool, AppError> {
    let now = app.clock().now().timestamp();
    let mut conn = super::read_conn(app).await?;
    let row = repo::token(
        &mut conn,
        &secret_hash(app, "account_tokens", token),
        "report_access",
    )
    .await?;
    Ok(row.is_some_and(|r| r.expires_at > now))
}

/// Reports unauthorised access with the link of a security e-mail (no
/// sign-in needed: the intruder may have changed the password). Returns
/// the report's time, or `None` for an unusable link.
pub async fn report_with_link(
    app: &App,
    token: &str,
    client: &ClientInfo,
) -> Result<Option<i64>, AppError> {
    let hash = secret_hash(app, "account_tokens", token);
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let row = repo::token(&mut tx, &hash, "report_access").await?;
    let Some(row) = row.filter(|r| r.expires_at > now) else {
        return Ok(None);
    };
    let Some(account) = repo::account_tx(&mut tx, row.account_id).await? else {
        return Ok(None);
    };
    let at = freeze_account(&mut tx, app, &account, client).await?;
    commit(tx).await?;
    Ok(Some(at))
}

/// Closes the account at the customer's request, at once (ACC-09): the
/// password is asked again; portal-only data is deleted; contract records
/// stay under their own retention.
pub async fn close(
    app: &App,
    session: &Session,
    password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    super::activation::require_active(session)?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !verify_password(app, password, Some(&account.password_hash)).await? {
        return Err(invalid("password", "auth.password_wrong"));
    }
    let mut tx = app.db().begin_write().await?;
    close_in(&mut tx, app, &account, "account_closed", client).await?;
    commit(tx).await
}

async fn close_in(
    tx: &mut AnyConnection,
    app: &App,
    account: &AccountRow,
    kind: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let key = subject_key(app, account.customer_id).await?;
    let sender = Sender::for_customer(app, account.customer_id, account.entity_id).await?;
    let mail = Mail {
        kind,
        args: vec![],
        link: None,
        report_link: None,
    };
    let message = crate::messages::email(
        &sender,
        account_language(account),
        account.customer_id,
        &account_email(&key, account)?,
        &mail,
    )?;
    crate::outbox::enqueue(tx, app, &message).await?;
    repo::delete_account(tx, account.id).await?;
    let mut entry = customer_audit(
        client,
        account.customer_id,
        "account.closed",
        "provide_portal",
        &["accounts", "sessions"],
    );
    if kind == "account_expired" {
        entry = crate::audit::AuditEntry {
            subject_id: Some(account.customer_id),
            ..crate::audit::AuditEntry::system(
                app,
                "account.closed",
                "provide_portal",
                &["accounts", "sessions"],
            )
        };
    }
    audit(tx, app, entry).await
}

/// What the daily lifetime job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifetimeReport {
    /// Customers told their account closes in 30 days.
    pub notified: usize,
    /// Accounts closed.
    pub closed: usize,
}

/// The daily job of ACC-09: an account closes 18 months after the
/// customer's last contract ended, with an e-mail 30 days before.
pub async fn close_expired(app: &App) -> Result<LifetimeReport, AppError> {
    let today = app.clock().now().date_naive();
    let mut report = LifetimeReport::default();
    for (account_id, customer_id) in repo::all_accounts(app.db()).await? {
        let (running, last_end) = repo::contract_lifetime(app.db(), customer_id).await?;
        let Some(end) = last_end
            .as_deref()
            .and_then(parse_date)
            .filter(|_| !running)
        else {
            continue;
        };
        let Some(closes_on) = end.checked_add_months(Months::new(super::LIFETIME_MONTHS)) else {
            continue;
        };
        let Some(account) = repo::account(app.db(), account_id).await? else {
            continue;
        };
        let client = ClientInfo {
            request_id: format!("run-{}", app.ids().next()),
            ..ClientInfo::default()
        };
        if today >= closes_on {
            let mut tx = app.db().begin_write().await?;
            close_in(&mut tx, app, &account, "account_expired", &client).await?;
            commit(tx).await?;
            report.closed += 1;
        } else if (closes_on - today).num_days() <= super::CLOSURE_NOTICE_DAYS
            && account.closure_notice_at.is_none()
        {
            let key = subject_key(app, customer_id).await?;
            let sender = Sender::for_customer(app, customer_id, account.entity_id).await?;
            let lang = account_language(&account);
            let mail = Mail {
                kind: "account_expiring",
                args: vec![("date", crate::messages::local_date(lang, closes_on))],
                link: Some(public_link(app, "/my/privacy")),
                report_link: None,
            };
            let now = app.clock().now().timestamp();
            let mut tx = app.db().begin_write().await?;
            let message = crate::messages::email(
                &sender,
                lang,
                customer_id,
                &account_email(&key, &account)?,
                &mail,
            )?;
            crate::outbox::enqueue(&mut tx, app, &message).await?;
            repo::update_account(
                &mut tx,
                account.id,
                "closure_notice_at = $2",
                vec![SqlValue::Int(now)],
                now,
            )
            .await?;
            commit(tx).await?;
            report.notified += 1;
        }
    }
    Ok(report)
}

/// The account's sign-in e-mail and second factor, for the security page.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub email: String,
    pub second_factor: String,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub language: Language,
}

/// The signed-in customer's account.
pub async fn view(app: &App, session: &Session) -> Result<AccountView, AppError> {
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = subject_key(app, session.customer_id).await?;
    Ok(AccountView {
        email: account_email(&key, &account)?,
        second_factor: account.second_factor.clone(),
        created_at: account.created_at,
        last_login_at: account.last_login_at,
        language: account_language(&account),
    })
}

/// Whether a "frozen" account's owner may be shown why: the frozen time.
pub fn frozen_since(account: &AccountRow) -> Option<i64> {
    account.frozen_at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_ways_people_type_them() {
        let d = NaiveDate::from_ymd_opt(1980, 5, 17);
        assert_eq!(parse_date("1980-05-17"), d);
        assert_eq!(parse_date("17-05-1980"), d);
        assert_eq!(parse_date("17/05/1980"), d);
        assert_eq!(parse_date("17.05.1980"), d);
        assert_eq!(parse_date("1980-13-01"), None);
    }

    // ACC-10: nobody under 16.
    #[test]
    fn ages_count_birthdays() {
        let birth = NaiveDate::from_ymd_opt(2010, 3, 2).unwrap_or_default();
        let day_before = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
        let birthday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default();
        assert_eq!(age_on(birth, day_before), 15);
        assert_eq!(age_on(birth, birthday), 16);
    }
}
