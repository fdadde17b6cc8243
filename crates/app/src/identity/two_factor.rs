//! The optional second factor at every sign-in (ACC-04): a TOTP
//! authenticator app (QR code rendered on the server) or an SMS code to the
//! number on file, and ten single-use recovery codes.

use super::activation::{self, CheckOutcome, SendOutcome};
use super::session::{self, Session, SessionState};
use super::throttle::{self, Gate};
use super::{
    account_email, open, record_customer, seal, secret_hash, secrets, security_notice, subject_key,
    totp, ClientInfo,
};
use crate::{App, AppError};
use carfin_store::repo::identity as repo;
use carfin_store::repo::SqlValue;
use sqlx::AnyConnection;

/// What the TOTP set-up page shows.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// The secret in base32, for typing into the app by hand.
    pub secret: String,
    /// The QR code as an `image/svg+xml` data URI.
    pub qr: String,
}

/// The outcome of the second step of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Signed in; the new cookie value and where the session now stands.
    Passed { token: String, state: SessionState },
    /// Wrong code; attempts left (SMS) or `None` (TOTP, recovery code).
    Wrong(Option<i64>),
    /// The SMS code is dead (5 wrong attempts) or expired: ask for a new one.
    Expired,
    /// Too many wrong codes: the session ended; sign in again later.
    Locked,
}

fn recovery_hash(app: &App, account_id: i64, code: &str) -> Vec<u8> {
    secret_hash(
        app,
        "recovery_codes",
        &format!("{account_id}:{}", secrets::normalize_recovery_code(code)),
    )
}

async fn new_recovery_codes(
    tx: &mut AnyConnection,
    app: &App,
    account_id: i64,
) -> Result<Vec<String>, AppError> {
    let codes = secrets::recovery_codes();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| recovery_hash(app, account_id, c))
        .collect();
    repo::replace_recovery_codes(tx, account_id, &hashes, app.clock().now().timestamp()).await?;
    Ok(codes)
}

async fn check_password(app: &App, session: &Session, password: &str) -> Result<(), AppError> {
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if app
        .hasher()
        .verify(password, Some(&account.password_hash))
        .await
        .map_err(|_| AppError::Config("password hashing failed".into()))?
    {
        Ok(())
    } else {
        Err(super::invalid("password", "auth.password_wrong"))
    }
}

/// Starts setting up TOTP: a new secret, kept sealed until confirmed.
pub async fn begin_totp(app: &App, session: &Session) -> Result<TotpSetup, AppError> {
    activation::require_active(session)?;
    let key = subject_key(app, session.customer_id).await?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if account.second_factor == "totp" {
        return Err(super::invalid("code", "two_factor.already_on"));
    }
    let secret = totp::TotpSecret::generate();
    let now = app.clock().now().timestamp();
    let sealed = seal(
        &key,
        "accounts",
        "totp_secret",
        account.id,
        &secret.to_base32(),
    )?;
    let mut tx = app.db().begin_write().await?;
    repo::update_account(
        &mut tx,
        account.id,
        "totp_secret = $2",
        vec![SqlValue::Blob(sealed)],
        now,
    )
    .await?;
    super::commit(tx).await?;
    let sender =
        crate::messages::Sender::for_customer(app, session.customer_id, session.entity_id).await?;
    let label = account_email(&key, &account)?;
    let uri = totp::otpauth_uri(&secret, &sender.brand.name, &label);
    let qr = totp::qr_data_uri(&uri).ok_or_else(|| AppError::Config("QR code failed".into()))?;
    Ok(TotpSetup {
        secret: secret.to_base32(),
        qr,
    })
}

/// Confirms TOTP with a first code from the app; turns it on and returns
/// ten new recovery codes (shown once).
pub async fn confirm_totp(
    app: &App,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<Vec<String>, AppError> {
    activation::require_active(session)?;
    let key = subject_key(app, session.customer_id).await?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let sealed = account
        .totp_secret
        .as_ref()
        .ok_or_else(|| super::invalid("code", "two_factor.setup_expired"))?;
    let secret =
        totp::TotpSecret::from_base32(&open(&key, "accounts", "totp_secret", account.id, sealed)?)
            .ok_or_else(|| super::invalid("code", "two_factor.setup_expired"))?;
    let now = app.clock().now().timestamp();
    let Some(step) = totp::verify(&secret, code, now, None) else {
        return Err(super::invalid("code", "two_factor.code_wrong"));
    };
    let mut tx = app.db().begin_write().await?;
    repo::update_account(
        &mut tx,
        account.id,
        "second_factor = 'totp', totp_last_step = $2",
        vec![SqlValue::Int(step)],
        now,
    )
    .await?;
    let codes = new_recovery_codes(&mut tx, app, account.id).await?;
    security_notice(&mut tx, app, &key, &account, "two_factor_on", None, vec![]).await?;
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "account.two_factor_on",
        "protect_systems",
        &["accounts.second_factor"],
    )
    .await?;
    super::commit(tx).await?;
    Ok(codes)
}

/// Turns on SMS codes at sign-in (password required); returns ten new
/// recovery codes.
pub async fn enable_sms(
    app: &App,
    session: &Session,
    password: &str,
    client: &ClientInfo,
) -> Result<Vec<String>, AppError> {
    activation::require_active(session)?;
    check_password(app, session, password).await?;
    if activation::mobile_on_file(app, session.customer_id)
        .await?
        .is_none()
    {
        return Err(super::invalid("password", "two_factor.no_mobile"));
    }
    let key = subject_key(app, session.customer_id).await?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    repo::update_account(
        &mut tx,
        account.id,
        "second_factor = 'sms', totp_secret = NULL, totp_last_step = NULL",
        Vec::new(),
        now,
    )
    .await?;
    let codes = new_recovery_codes(&mut tx, app, account.id).await?;
    security_notice(&mut tx, app, &key, &account, "two_factor_on", None, vec![]).await?;
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "account.two_factor_on",
        "protect_systems",
        &["accounts.second_factor"],
    )
    .await?;
    super::commit(tx).await?;
    Ok(codes)
}

/// Turns the second factor off (password required).
pub async fn disable(
    app: &App,
    session: &Session,
    password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    activation::require_active(session)?;
    check_password(app, session, password).await?;
    let key = subject_key(app, session.customer_id).await?;
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    repo::update_account(
        &mut tx,
        account.id,
        "second_factor = 'none', totp_secret = NULL, totp_last_step = NULL",
        Vec::new(),
        now,
    )
    .await?;
    repo::replace_recovery_codes(&mut tx, account.id, &[], now).await?;
    security_notice(&mut tx, app, &key, &account, "two_factor_off", None, vec![]).await?;
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "account.two_factor_off",
        "protect_systems",
        &["accounts.second_factor"],
    )
    .await?;
    super::commit(tx).await
}

/// Unused recovery codes left.
pub async fn recovery_codes_left(app: &App, session: &Session) -> Result<i64, AppError> {
    Ok(repo::recovery_codes_left(app.db(), session.account_id).await?)
}

/// Sends the sign-in SMS code again (same limits as activation codes).
pub async fn resend_sms(app: &App, session: &Session) -> Result<SendOutcome, AppError> {
    if session.state != SessionState::SecondFactor || session.second_factor != "sms" {
        return Err(AppError::NotFound);
    }
    let Some(phone) = activation::mobile_on_file(app, session.customer_id).await? else {
        return Ok(SendOutcome::NoMobile);
    };
    let mut tx = app.db().begin_write().await?;
    let outcome = activation::issue_code(
        &mut tx,
        app,
        session.account_id,
        session.customer_id,
        session.entity_id,
        session.language,
        "login",
        None,
        &phone,
    )
    .await?;
    super::commit(tx).await?;
    Ok(outcome)
}

/// The second step of a sign-in: a TOTP code, the SMS code, or a recovery
/// code. On success the session gets a new id (ACC-06).
pub async fn verify(
    app: &App,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<StepOutcome, AppError> {
    if session.state != SessionState::SecondFactor {
        return Err(AppError::NotFound);
    }
    let account = repo::account(app.db(), session.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = app.clock().now().timestamp();
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let throttle_key = secret_hash(app, "throttle.second_factor", &account.id.to_string());
    if let Gate::Locked(_) = throttle::gate(app, throttle::SECOND_FACTOR, &throttle_key).await? {
        let mut tx = app.db().begin_write().await?;
        repo::delete_session(&mut tx, account.id, session.id).await?;
        super::commit(tx).await?;
        return Ok(StepOutcome::Locked);
    }
    let mut tx = app.db().begin_write().await?;
    let mut passed = false;
    let mut outcome = StepOutcome::Wrong(None);
    if compact.len() > 6 {
        // A recovery code.
        passed = repo::use_recovery_code(
            &mut tx,
            account.id,
            &recovery_hash(app, account.id, &compact),
            now,
        )
        .await?;
        if passed {
            record_customer(
                &mut tx,
                app,
                client,
                session.customer_id,
                "account.recovery_code_used",
                "protect_systems",
                &[],
            )
            .await?;
        }
    } else if account.second_factor == "totp" {
        let key = subject_key(app, session.customer_id).await?;
        if let Some(sealed) = &account.totp_secret {
            let secret = totp::TotpSecret::from_base32(&open(
                &key,
                "accounts",
                "totp_secret",
                account.id,
                sealed,
            )?);
            if let Some(step) =
                secret.and_then(|s| totp::verify(&s, &compact, now, account.totp_last_step))
            {
                repo::update_account(
                    &mut tx,
                    account.id,
                    "totp_last_step = $2",
                    vec![SqlValue::Int(step)],
                    now,
                )
                .await?;
                passed = true;
            }
        }
    } else {
        match activation::check_code(&mut tx, app, account.id, "login", None, &compact).await? {
            CheckOutcome::Accepted => passed = true,
            CheckOutcome::Wrong(left) => outcome = StepOutcome::Wrong(Some(left)),
            CheckOutcome::Locked | CheckOutcome::Expired => outcome = StepOutcome::Expired,
        }
    }
    if passed {
        let state = if super::account::terms_outdated(app, &account).await? {
            SessionState::Terms
        } else {
            SessionState::Active
        };
        let token = session::step_up(&mut tx, app, session.id, state).await?;
        record_customer(
            &mut tx,
            app,
            client,
            session.customer_id,
            "account.second_factor_passed",
            "protect_systems",
            &[],
        )
        .await?;
        throttle::clear(&mut tx, throttle::SECOND_FACTOR, &throttle_key).await?;
        outcome = StepOutcome::Passed { token, state };
    } else {
        record_customer(
            &mut tx,
            app,
            client,
            session.customer_id,
            "account.second_factor_failed",
            "protect_systems",
            &[],
        )
        .await?;
        if throttle::fail(&mut tx, app, throttle::SECOND_FACTOR, &throttle_key).await? {
            repo::delete_session(&mut tx, account.id, session.id).await?;
            outcome = StepOutcome::Locked;
        }
    }
    super::commit(tx).await?;
    Ok(outcome)
}
