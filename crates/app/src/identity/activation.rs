//! Contract activation (ACC-03) and the SMS codes it shares with the
//! sign-in second factor (ACC-04): six digits, valid 10 minutes, at most 5
//! attempts, resent at most once a minute and 5 times an hour, stored as a
//! keyed hash, sent only to the mobile number already on file, and every
//! attempt audited.

use super::session::{Session, SessionState};
use super::{record_customer, secret_hash, secrets, ClientInfo};
use crate::messages::Sender;
use crate::{App, AppError};
use carfin_domain::{Language, PhoneNumber};
use carfin_store::repo::customers::{self, Personal};
use carfin_store::repo::identity as repo;
pub use carfin_store::repo::identity::PortalContract;
use sqlx::AnyConnection;

/// How long a code is valid.
pub const CODE_VALID_SECS: i64 = 600;
/// Wrong entries before a code is dead.
pub const MAX_ATTEMPTS: i64 = 5;
/// Least time between two codes.
pub const RESEND_AFTER_SECS: i64 = 60;
/// Most codes per hour.
pub const MAX_PER_HOUR: usize = 5;

/// What sending a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// A code went to the masked number.
    Sent,
    /// The last code is younger than a minute: wait this many seconds.
    TooSoon(i64),
    /// Five codes in the last hour.
    TooMany,
    /// No mobile number on file: the customer must call customer service.
    NoMobile,
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Right code.
    Accepted,
    /// Wrong code; this many attempts are left.
    Wrong(i64),
    /// Five wrong attempts: the code is dead, a new one must be requested.
    Locked,
    /// The code expired, or none was sent.
    Expired,
}

/// The customer's mobile number on file, if it is a mobile number.
pub(crate) async fn mobile_on_file(
    app: &App,
    customer_id: i64,
) -> Result<Option<PhoneNumber>, AppError> {
    let Some(record) = customers::get(app.db(), app.keys(), customer_id).await? else {
        return Ok(None);
    };
    let Personal::Known(personal) = record.personal else {
        return Ok(None);
    };
    Ok(personal
        .phone
        .and_then(|p| PhoneNumber::parse(&p).ok())
        .filter(PhoneNumber::is_mobile))
}

fn code_hash(app: &App, code_id: i64, code: &str) -> Vec<u8> {
    secret_hash(app, "one_time_codes", &format!("{code_id}:{code}"))
}

/// Sends a new code for (account, purpose, contract) to `phone`, within the
/// resend limits.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_code(
    tx: &mut AnyConnection,
    app: &App,
    account_id: i64,
    customer_id: i64,
    entity_id: i64,
    language: Language,
    purpose: &str,
    contract_id: Option<i64>,
    phone: &PhoneNumber,
) -> Result<SendOutcome, AppError> {
    let now = app.clock().now().timestamp();
    let recent = repo::codes_since(tx, account_id, purpose, contract_id, now - 3600).await?;
    if let Some(last) = recent.first() {
        if now - last.created_at < RESEND_AFTER_SECS {
            return Ok(SendOutcome::TooSoon(
                RESEND_AFTER_SECS - (now - last.created_at),
            ));
        }
    }
    if recent.len() >= MAX_PER_HOUR {
        return Ok(SendOutcome::TooMany);
    }
    let code = secrets::six_digit_code();
    let id = app.ids().next();
    repo::insert_code(
        tx,
        id,
        account_id,
        purpose,
        contract_id,
        &code_hash(app, id, &code),
        now + CODE_VALID_SECS,
        now,
    )
    .await?;
    let sender = Sender::for_customer(app, customer_id, entity_id).await?;
    let kind = if purpose == "activation" {
        "activation_code"
    } else {
        "login_code"
    };
    let message = crate::messages::sms(
        &sender,
        language,
        customer_id,
        phone.as_str(),
        kind,
        &[("code", code.clone())],
    );
    crate::outbox::enqueue(tx, app, &message).await?;
    Ok(SendOutcome::Sent)
}

/// Checks `code` against the newest open code of (account, purpose,
/// contract), counting the attempt.
pub(crate) async fn check_code(
    tx: &mut AnyConnection,
    app: &App,
    account_id: i64,
    purpose: &str,
    contract_id: Option<i64>,
    code: &str,
) -> Result<CheckOutcome, AppError> {
    let now = app.clock().now().timestamp();
    let recent = repo::codes_since(tx, account_id, purpose, contract_id, now - 3600).await?;
    let Some(last) = recent.into_iter().next() else {
        return Ok(CheckOutcome::Expired);
    };
    match last.state.as_str() {
        "exhausted" => return Ok(CheckOutcome::Locked),
        "open" => {}
        _ => return Ok(CheckOutcome::Expired),
    }
    if now >= last.expires_at {
        return Ok(CheckOutcome::Expired);
    }
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let attempts = last.attempts + 1;
    let right = typed.len() == 6
        && subtle::ConstantTimeEq::ct_eq(
            code_hash(app, last.id, &typed).as_slice(),
            last.code_hash.as_slice(),
        )
        .into();
    if right {
        repo::update_code(tx, last.id, attempts, "used").await?;
        return Ok(CheckOutcome::Accepted);
    }
    if attempts >= MAX_ATTEMPTS {
        repo::update_code(tx, last.id, attempts, "exhausted").await?;
        return Ok(CheckOutcome::Locked);
    }
    repo::update_code(tx, last.id, attempts, "open").await?;
    Ok(CheckOutcome::Wrong(MAX_ATTEMPTS - attempts))
}

/// The customer's contracts as the portal lists them (holder or co-holder,
/// not pending), with whether each is activated.
pub async fn contracts(app: &App, session: &Session) -> Result<Vec<PortalContract>, AppError> {
    require_active(session)?;
    Ok(repo::portal_contracts(app.db(), session.customer_id, session.account_id).await?)
}

/// One of the customer's contracts; `NotFound` for anybody else's.
pub async fn contract(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<PortalContract, AppError> {
    contracts(app, session)
        .await?
        .into_iter()
        .find(|c| c.id == contract_id)
        .ok_or(AppError::NotFound)
}

/// What the activation page shows.
#[derive(Debug, Clone)]
pub struct ActivationView {
    pub contract: PortalContract,
    /// The number the code goes to, masked (`+31 6 ••• ••• 78`).
    pub masked_phone: Option<String>,
    /// Whether an open code is waiting to be entered.
    pub code_pending: bool,
}

/// The activation page of one of the customer's contracts.
pub async fn view(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<ActivationView, AppError> {
    let contract = contract(app, session, contract_id).await?;
    let masked_phone = mobile_on_file(app, session.customer_id)
        .await?
        .map(|p| p.masked());
    let now = app.clock().now().timestamp();
    let mut conn = super::read_conn(app).await?;
    let recent = repo::codes_since(
        &mut conn,
        session.account_id,
        "activation",
        Some(contract_id),
        now - 3600,
    )
    .await?;
    let code_pending = recent
        .first()
        .is_some_and(|c| c.state == "open" && c.expires_at > now);
    Ok(ActivationView {
        contract,
        masked_phone,
        code_pending,
    })
}

/// Sends an activation code for one of the customer's contracts.
pub async fn send_code(
    app: &App,
    session: &Session,
    contract_id: i64,
    client: &ClientInfo,
) -> Result<SendOutcome, AppError> {
    let contract = contract(app, session, contract_id).await?;
    if contract.activated_at.is_some() {
        return Err(AppError::Invalid(vec![(
            "code".into(),
            "activation.already_active".into(),
        )]));
    }
    let Some(phone) = mobile_on_file(app, session.customer_id).await? else {
        return Ok(SendOutcome::NoMobile);
    };
    let mut tx = app.db().begin_write().await?;
    let outcome = issue_code(
        &mut tx,
        app,
        session.account_id,
        session.customer_id,
        session.entity_id,
        session.language,
        "activation",
        Some(contract_id),
        &phone,
    )
    .await?;
    if outcome == SendOutcome::Sent {
        record_customer(
            &mut tx,
            app,
            client,
            session.customer_id,
            "contract.activation_code_sent",
            "provide_portal",
            &["customers.phone"],
        )
        .await?;
    }
    super::commit(tx).await?;
    Ok(outcome)
}

/// Activates one of the customer's contracts with the code from the SMS.
/// Every attempt, right or wrong, is audited.
pub async fn activate(
    app: &App,
    session: &Session,
    contract_id: i64,
    code: &str,
    client: &ClientInfo,
) -> Result<CheckOutcome, AppError> {
    let contract = contract(app, session, contract_id).await?;
    if contract.activated_at.is_some() {
        return Ok(CheckOutcome::Accepted);
    }
    let mut tx = app.db().begin_write().await?;
    let outcome = check_code(
        &mut tx,
        app,
        session.account_id,
        "activation",
        Some(contract_id),
        code,
    )
    .await?;
    let action = match outcome {
        CheckOutcome::Accepted => {
            let now = app.clock().now().timestamp();
            repo::activate_contract(&mut tx, session.account_id, contract_id, now).await?;
            "contract.activated"
        }
        CheckOutcome::Wrong(_) => "contract.activation_failed",
        CheckOutcome::Locked => "contract.activation_locked",
        CheckOutcome::Expired => "contract.activation_expired",
    };
    record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        action,
        "provide_portal",
        &[],
    )
    .await?;
    super::commit(tx).await?;
    Ok(outcome)
}

/// Whether one of the customer's contracts is activated; `NotFound` for
/// anybody else's contract.
pub async fn is_activated(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<bool, AppError> {
    Ok(contract(app, session, contract_id)
        .await?
        .activated_at
        .is_some())
}

/// A plate as printed on the car: the stored canonical form with the
/// country's dashes (`GB-N12-X`, `1-ABC-123`); anything else as stored.
pub fn display_plate(canonical: &str) -> String {
    use carfin_domain::{BePlate, NlPlate};
    NlPlate::parse(canonical)
        .map(|p| p.to_string())
        .or_else(|_| BePlate::parse(canonical).map(|p| p.to_string()))
        .unwrap_or_else(|_| canonical.to_string())
}

/// Refuses sessions that are not fully signed in.
pub fn require_active(session: &Session) -> Result<(), AppError> {
    if session.state == SessionState::Active {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// An activated contract's details for its holder: the current terms and
/// the vehicle with its plate opened.
#[derive(Debug, Clone)]
pub struct ContractDetails {
    pub overview: carfin_store::repo::finance::ContractOverview,
    pub plate: String,
}

/// The details of one of the customer's contracts, once it is activated
/// (ACC-03); `NotFound` for anybody else's contract and for one that is not
/// activated yet, which reveals nothing beyond the list.
pub async fn details(
    app: &App,
    session: &Session,
    contract_id: i64,
) -> Result<ContractDetails, AppError> {
    let listed = contract(app, session, contract_id).await?;
    if listed.activated_at.is_none() {
        return Err(AppError::NotFound);
    }
    let overview = carfin_store::repo::finance::contract_overview(app.db(), contract_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let plate = match app.keys().get(overview.subject_id).await? {
        carfin_store::keystore::KeyState::Live(key) => super::open(
            &key,
            "vehicles",
            "licence_plate",
            overview.vehicle_id,
            &overview.licence_plate,
        )?,
        _ => String::new(),
    };
    let plate = display_plate(&plate);
    Ok(ContractDetails { overview, plate })
}
