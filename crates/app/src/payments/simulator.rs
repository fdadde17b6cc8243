//! The Adyen-compatible provider simulator (PAY-05): with
//! `payments.provider = "simulator"`, carfin serves the parts of Adyen
//! Checkout it uses itself, so the whole payment flow runs offline in
//! `carfin demo` and in tests, through the very client code that talks to
//! Adyen ([`super::adyen::Checkout`]), pointed here by its base URL.
//!
//! What it does, as Adyen does:
//!
//! * `POST /sessions` (API key, `Idempotency-Key`) opens a session with a
//!   hosted payment page; `GET /sessions/{id}` tells its status;
//! * on the page the shopper pays, is refused or cancels; the browser is sent
//!   back to the session's `returnUrl` with `sessionId` and `sessionResult`;
//! * an AUTHORISATION notification (none for a cancel), and REFUND,
//!   CANCELLATION and CHARGEBACK notifications for the modifications, are
//!   signed with the configured HMAC key and posted to carfin's webhook
//!   (HTTP Basic when configured) in a background task, retried with
//!   exponential backoff until it answers `[accepted]`.
//!
//! This is a development and test tool: sessions, payments and idempotency
//! keys live in memory only, are lost on restart and are never cleaned up.
//! Never enable it in production — anybody can "pay" on its page.

use super::adyen::{Amount, NotificationItem, NotificationItemWrapper, NotificationRequest};
use crate::config::{Config, Secret};
use carfin_domain::{Language, Money};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Where the simulated Checkout API is served (its base URL's path).
pub const API_PATH: &str = "/simulator/adyen/checkout/v71";
/// Where the hosted payment pages are served (`{PAGE_PATH}/{session id}`).
pub const PAGE_PATH: &str = "/simulator/adyen/pay";
/// What a webhook answers when it stored a notification.
pub const ACCEPTED: &str = "[accepted]";
/// The longest `Idempotency-Key` accepted (Adyen's limit).
pub const MAX_IDEMPOTENCY_KEY: usize = 64;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// When a failed notification delivery is tried again: after attempt `n`
/// (1-based) the simulator waits `first_delay · 2ⁿ⁻¹`, at most `max_delay`,
/// and gives up after `attempts` attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Attempts in all (at least one is made).
    pub attempts: u32,
    /// The wait after the first failed attempt.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetrySchedule {
    /// 8 attempts, waiting 0.5 s, 1 s, 2 s, 4 s, 8 s, 16 s, 30 s between them.
    fn default() -> Self {
        RetrySchedule {
            attempts: 8,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetrySchedule {
    /// The wait after failed attempt `attempt` (1-based) before the next.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Where notifications go, and the HTTP Basic credentials the webhook
/// requires (if any).
#[derive(Clone)]
pub struct Webhook {
    /// The webhook's URL (`{server.public_url}/webhooks/adyen`).
    pub url: String,
    /// User name and password for HTTP Basic.
    pub basic_auth: Option<(String, Secret)>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("basic_auth", &self.basic_auth.is_some())
            .finish()
    }
}

/// What the simulator needs to know; [`Settings::from_config`] reads it
/// from carfin's configuration.
#[derive(Clone)]
pub struct Settings {
    /// The API key callers must send as `X-API-Key`.
    pub api_key: Secret,
    /// The only merchant account accepted.
    pub merchant_account: String,
    /// The notification HMAC key (bytes).
    pub hmac_key: Vec<u8>,
    /// `server.public_url`, for the hosted pages' URLs.
    pub public_url: String,
    /// Where notifications are delivered.
    pub webhook: Webhook,
    /// How failed deliveries are retried.
    pub retry: RetrySchedule,
    /// How long a delivery attempt may take.
    pub timeout: Duration,
    /// How long a session stays open when the request names no `expiresAt`.
    pub session_minutes: i64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("merchant_account", &self.merchant_account)
            .field("public_url", &self.public_url)
            .field("webhook", &self.webhook)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The settings for carfin's configuration: the `payments` keys, and
    /// the webhook at `{server.public_url}/webhooks/adyen`.
    pub fn from_config(config: &Config) -> Settings {
        let payments = &config.payments;
        let public_url = config.server.public_url.trim_end_matches('/').to_string();
        let basic_auth = (!payments.webhook_username.is_empty()).then(|| {
            (
                payments.webhook_username.clone(),
                payments.webhook_password.clone(),
            )
        });
        Settings {
            api_key: payments.api_key.clone(),
            merchant_account: payments.merchant_account.clone(),
            hmac_key: payments.hmac_key_bytes().unwrap_or_default(),
            webhook: Webhook {
                url: format!("{public_url}/webhooks/adyen"),
                basic_auth,
            },
            public_url,
            retry: RetrySchedule::default(),
            timeout: Duration::from_secs(payments.timeout_secs.max(1)),
            session_minutes: payments.session_minutes.max(1),
        }
    }
}

// ---------------------------------------------------------------------------
// Answers of the API
// ---------------------------------------------------------------------------

/// An answer of the simulated API: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// JSON text.
    pub body: String,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            body: value.to_string(),
        }
    }

    /// Adyen's error shape.
    fn error(status: u16, code: &str, message: &str, error_type: &str) -> Reply {
        Reply::json(
            status,
            &json!({
                "status": status,
                "errorCode": code,
                "message": message,
                "errorType": error_type,
            }),
        )
    }

    fn unauthorized() -> Reply {
        Reply::error(
            401,
            "000",
            "HTTP Status Response - Unauthorized",
            "security",
        )
    }

    fn invalid(code: &str, message: &str) -> Reply {
        Reply::error(422, code, message, "validation")
    }

    fn not_found(code: &str, message: &str) -> Reply {
        Reply::error(404, code, message, "validation")
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

// Error codes: Adyen's where they are known; carfin reads only the status.
const CODE_UNPARSABLE: &str = "702";
const CODE_MERCHANT: &str = "901";
const CODE_AMOUNT: &str = "137";
const CODE_CURRENCY: &str = "138";
const CODE_REFERENCE: &str = "130";
const CODE_RETURN_URL: &str = "14_006";
const CODE_EXPIRES_AT: &str = "14_007";
const CODE_IDEMPOTENCY: &str = "704";
const CODE_ORIGINAL: &str = "167";
const CODE_NOT_FOUND: &str = "000";

// ---------------------------------------------------------------------------
// Sessions and payments
// ---------------------------------------------------------------------------

/// A session's status, as `GET /sessions/{id}` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Open: the shopper has not acted yet.
    Active,
    /// Paid (authorised).
    Completed,
    /// The payment was refused.
    Refused,
    /// The shopper cancelled.
    Canceled,
    /// Not acted on before `expiresAt`.
    Expired,
}

impl SessionStatus {
    /// Adyen's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Refused => "refused",
            SessionStatus::Canceled => "canceled",
            SessionStatus::Expired => "expired",
        }
    }
}

/// What the shopper does on the hosted page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pay: the payment is authorised.
    Pay,
    /// The payment is refused (as by the issuer).
    Refuse,
    /// The shopper cancels: no payment, no notification.
    Cancel,
}

impl Action {
    /// `pay`, `refuse` or `cancel`.
    pub fn parse(text: &str) -> Option<Action> {
        match text {
            "pay" => Some(Action::Pay),
            "refuse" => Some(Action::Refuse),
            "cancel" => Some(Action::Cancel),
            _ => None,
        }
    }
}

/// The payment methods the page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    Ideal,
    Bancontact,
    Visa,
}

impl PaymentMethod {
    /// Every method, in the page's order.
    pub const ALL: [PaymentMethod; 3] = [
        PaymentMethod::Ideal,
        PaymentMethod::Bancontact,
        PaymentMethod::Visa,
    ];

    /// Adyen's `paymentMethod` variant: `ideal`, `bcmc`, `visa`.
    pub fn code(self) -> &'static str {
        match self {
            PaymentMethod::Ideal => "ideal",
            PaymentMethod::Bancontact => "bcmc",
            PaymentMethod::Visa => "visa",
        }
    }

    /// The method for its code.
    pub fn parse(code: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The method a shopper of `country_code` most likely uses.
    pub fn usual_for(country_code: &str) -> PaymentMethod {
        match country_code.trim().to_ascii_uppercase().as_str() {
            "NL" => PaymentMethod::Ideal,
            "BE" => PaymentMethod::Bancontact,
            _ => PaymentMethod::Visa,
        }
    }
}

/// The page's language for an Adyen `shopperLocale` (`nl-NL`, `nl-BE` → nl;
/// `fr-BE` → fr; anything else → en).
pub fn language_of(shopper_locale: &str) -> Language {
    let language = shopper_locale
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match language.as_str() {
        "nl" => Language::Nl,
        "fr" => Language::Fr,
        _ => Language::En,
    }
}

/// An amount in minor units for a reader of `language`: euro as carfin
/// writes them everywhere; other currencies as `USD 12.34` / `USD 12,34`.
pub fn format_amount(value: i64, currency: &str, language: Language) -> String {
    if currency == "EUR" {
        return Money::from_cents(value).format(language);
    }
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let separator = if language == Language::En { '.' } else { ',' };
    format!("{currency} {sign}{}{separator}{:02}", abs / 100, abs % 100)
}

/// What the hosted page shows of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    pub id: String,
    pub merchant_account: String,
    pub reference: String,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// The session's `shopperStatement` (may be empty).
    pub shopper_statement: String,
    /// From the session's `shopperLocale`.
    pub language: Language,
    pub status: SessionStatus,
    /// The method selected at first.
    pub default_method: PaymentMethod,
}

impl PageView {
    /// Whether the shopper can still act.
    pub fn is_open(&self) -> bool {
        self.status == SessionStatus::Active
    }

    /// The amount in the page's language.
    pub fn amount_text(&self) -> String {
        format_amount(self.amount, &self.currency, self.language)
    }
}

/// Why the shopper cannot act on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActError {
    /// No such session.
    NotFound,
    /// The session is finished or expired (its status).
    Closed(SessionStatus),
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The webhook answered `[accepted]` at this attempt.
    Accepted { attempts: u32 },
    /// Every attempt failed.
    GaveUp { attempts: u32 },
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    session_data: String,
    merchant_account: String,
    amount: i64,
    currency: String,
    reference: String,
    return_url: String,
    shopper_locale: String,
    country_code: String,
    shopper_statement: String,
    expires_at: DateTime<Utc>,
    /// `None` while the shopper has not acted.
    outcome: Option<SessionStatus>,
}

impl Session {
    fn status(&self, now: DateTime<Utc>) -> SessionStatus {
        match self.outcome {
            Some(outcome) => outcome,
            None if now >= self.expires_at => SessionStatus::Expired,
            None => SessionStatus::Active,
        }
    }

    fn page_url(&self, public_url: &str) -> String {
        format!("{public_url}{PAGE_PATH}/{}", self.id)
    }
}

#[derive(Debug, Clone)]
struct Payment {
    psp_reference: String,
    merchant_reference: String,
    amount: i64,
    currency: String,
    method: PaymentMethod,
    authorised: bool,
    refunded: i64,
    canceled: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    /// The endpoint and the request body it was used with.
    request: Value,
    reply: Reply,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    payments: HashMap<String, Payment>,
    idempotency: HashMap<String, Stored>,
}

/// The simulator: its settings and its in-memory state. Cheap to clone;
/// clones share the state.
#[derive(Clone)]
pub struct Simulator {
    settings: Arc<Settings>,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator with no sessions yet.
    pub fn new(settings: Settings) -> Simulator {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // The webhook is carfin itself, usually on this machine.
            .no_proxy()
            .user_agent("Adyen HttpClient (carfin simulator)")
            .build()
            .unwrap_or_else(|error| {
                tracing::error!(%error, "simulator: HTTP client with defaults instead");
                reqwest::Client::default()
            });
        Simulator {
            settings: Arc::new(settings),
            state: Arc::new(Mutex::new(State::default())),
            http,
        }
    }

    /// A simulator for carfin's configuration.
    pub fn from_config(config: &Config) -> Simulator {
        Simulator::new(Settings::from_config(config))
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn authorised(&self, api_key: Option<&str>) -> bool {
        let expected = self.settings.api_key.expose().as_bytes();
        match api_key {
            Some(given) if !expected.is_empty() => bool::from(given.as_bytes().ct_eq(expected)),
            _ => false,
        }
    }

    /// The JSON body of an API request with a valid API key; else the
    /// reply (401, or 422 for a body that is not a JSON object).
    fn authorised_request(
        &self,
        api_key: Option<&str>,
        body: &[u8],
        empty_allowed: bool,
    ) -> Result<Value, Reply> {
        if !self.authorised(api_key) {
            return Err(Reply::unauthorized());
        }
        parse_body(body, empty_allowed)
    }

    /// `POST /sessions`: opens a session. `api_key` is the `X-API-Key`
    /// header, `idempotency_key` the `Idempotency-Key` header; `body` the
    /// JSON request.
    pub fn create_session(
        &self,
        api_key: Option<&str>,
        idempotency_key: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Reply {
        let request = match self.authorised_request(api_key, body, false) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        let session = match self.session_from(&request, now) {
            Ok(session) => session,
            Err(reply) => return reply,
        };
        self.idempotent(idempotency_key, "sessions", &request, |state| {
            let reply = Reply::json(
                201,
                &json!({
                    "id": session.id,
                    "url": session.page_url(&self.settings.public_url),
                    "expiresAt": session.expires_at.to_rfc3339_opts(SecondsFormat::Secs, false),
                    "reference": session.reference,
                    "sessionData": session.session_data,
                    "amount": {"value": session.amount, "currency": session.currency},
                    "merchantAccount": session.merchant_account,
                    "returnUrl": session.return_url,
                    "shopperLocale": session.shopper_locale,
                    "countryCode": session.country_code,
                    "mode": "hosted",
                }),
            );
            state.sessions.insert(session.id.clone(), session);
            (reply, Vec::new())
        })
    }

    /// Validates a session request.
    fn session_from(&self, request: &Value, now: DateTime<Utc>) -> Result<Session, Reply> {
        self.check_merchant(request)?;
        let (amount, currency) = amount_of(request.get("amount"))?.ok_or_else(|| {
            Reply::invalid(CODE_AMOUNT, "Required field 'amount' is not provided.")
        })?;
        let reference = text(request, "reference");
        if reference.trim().is_empty() {
            return Err(Reply::invalid(
                CODE_REFERENCE,
                "Required field 'reference' is not provided.",
            ));
        }
        if reference.chars().count() > 80 {
            return Err(Reply::invalid(
                CODE_REFERENCE,
                "Field 'reference' is longer than 80 characters.",
            ));
        }
        let return_url = text(request, "returnUrl");
        if return_url.trim().is_empty() {
            return Err(Reply::invalid(
                CODE_RETURN_URL,
                "Required field 'returnUrl' is not provided.",
            ));
        }
        if !is_http_url(&return_url) {
            return Err(Reply::invalid(
                CODE_RETURN_URL,
                "Field 'returnUrl' is not an http or https URL.",
            ));
        }
        let expires_at = match request.get("expiresAt") {
            None | Some(Value::Null) => {
                now + chrono::Duration::minutes(self.settings.session_minutes)
            }
            Some(Value::String(at)) if at.trim().is_empty() => {
                now + chrono::Duration::minutes(self.settings.session_minutes)
            }
            Some(Value::String(at)) => parse_time(at).ok_or_else(|| {
                Reply::invalid(
                    CODE_EXPIRES_AT,
                    "Field 'expiresAt' is not an ISO 8601 time.",
                )
            })?,
            Some(_) => {
                return Err(Reply::invalid(
                    CODE_EXPIRES_AT,
                    "Field 'expiresAt' is not an ISO 8601 time.",
                ))
            }
        };
        Ok(Session {
            id: format!("CS{}", random_upper(16)),
            session_data: random_token(48),
            merchant_account: self.settings.merchant_account.clone(),
            amount,
            currency,
            reference,
            return_url,
            shopper_locale: text(request, "shopperLocale"),
            country_code: text(request, "countryCode"),
            shopper_statement: text(request, "shopperStatement"),
            expires_at,
            outcome: None,
        })
    }

    fn check_merchant(&self, request: &Value) -> Result<(), Reply> {
        let merchant = text(request, "merchantAccount");
        if merchant.is_empty() {
            return Err(Reply::invalid(
                CODE_MERCHANT,
                "Required field 'merchantAccount' is not provided.",
            ));
        }
        if merchant != self.settings.merchant_account {
            return Err(Reply::invalid(CODE_MERCHANT, "Invalid Merchant Account"));
        }
        Ok(())
    }

    /// `GET /sessions/{id}?sessionResult=…`: the session's status. Like the
    /// real one it answers from the session; the `sessionResult` is not
    /// needed for that and is not checked.
    pub fn session_status(&self, api_key: Option<&str>, id: &str, now: DateTime<Utc>) -> Reply {
        if !self.authorised(api_key) {
            return Reply::unauthorized();
        }
        match self.lock().sessions.get(id) {
            Some(session) => Reply::json(
                200,
                &json!({"id": session.id, "status": session.status(now).as_str()}),
            ),
            None => Reply::not_found(CODE_NOT_FOUND, "Session not found"),
        }
    }

    /// What the hosted page shows for a session; `None` for an unknown id.
    pub fn page(&self, id: &str, now: DateTime<Utc>) -> Option<PageView> {
        let state = self.lock();
        let session = state.sessions.get(id)?;
        Some(PageView {
            id: session.id.clone(),
            merchant_account: session.merchant_account.clone(),
            reference: session.reference.clone(),
            amount: session.amount,
            currency: session.currency.clone(),
            shopper_statement: session.shopper_statement.clone(),
            language: language_of(&session.shopper_locale),
            status: session.status(now),
            default_method: PaymentMethod::usual_for(&session.country_code),
        })
    }

    /// The shopper's choice on the hosted page. Finishes the session, sends
    /// the AUTHORISATION notification (in the background; none for a
    /// cancel) and answers the URL to send the browser to: the session's
    /// `returnUrl` with `sessionId` and `sessionResult`.
    pub fn act(
        &self,
        id: &str,
        action: Action,
        method: PaymentMethod,
        now: DateTime<Utc>,
    ) -> Result<String, ActError> {
        let (redirect, notification) = {
            let mut state = self.lock();
            let session = state.sessions.get_mut(id).ok_or(ActError::NotFound)?;
            let status = session.status(now);
            if status != SessionStatus::Active {
                return Err(ActError::Closed(status));
            }
            let outcome = match action {
                Action::Pay => SessionStatus::Completed,
                Action::Refuse => SessionStatus::Refused,
                Action::Cancel => SessionStatus::Canceled,
            };
            session.outcome = Some(outcome);
            let result = random_token(40);
            let redirect = with_query(
                &session.return_url,
                &format!("sessionId={}&sessionResult={result}", session.id),
            );
            let session = session.clone();
            let notification = match action {
                Action::Cancel => None,
                Action::Pay | Action::Refuse => {
                    let authorised = action == Action::Pay;
                    let payment = Payment {
                        psp_reference: random_upper(16),
                        merchant_reference: session.reference.clone(),
                        amount: session.amount,
                        currency: session.currency.clone(),
                        method,
                        authorised,
                        refunded: 0,
                        canceled: false,
                    };
                    let mut item = self.item(&payment, "AUTHORISATION", now);
                    item.psp_reference = payment.psp_reference.clone();
                    item.success = authorised.to_string();
                    if !authorised {
                        item.reason = "Refused".into();
                    }
                    state
                        .payments
                        .insert(payment.psp_reference.clone(), payment);
                    Some(item)
                }
            };
            (redirect, notification)
        };
        if let Some(item) = notification {
            self.dispatch(item);
        }
        Ok(redirect)
    }

    /// A notification item about `payment` (psp reference and success to
    /// be filled in).
    fn item(&self, payment: &Payment, event_code: &str, now: DateTime<Utc>) -> NotificationItem {
        NotificationItem {
            psp_reference: String::new(),
            original_reference: String::new(),
            merchant_account_code: self.settings.merchant_account.clone(),
            merchant_reference: payment.merchant_reference.clone(),
            amount: Some(Amount {
                currency: payment.currency.clone(),
                value: Some(payment.amount),
            }),
            event_code: event_code.into(),
            event_date: now.to_rfc3339_opts(SecondsFormat::Secs, false),
            success: String::new(),
            payment_method: payment.method.code().into(),
            reason: String::new(),
            additional_data: None,
        }
    }

    /// `POST /payments/{pspReference}/refunds`: answers `received` and sends
    /// a REFUND notification, successful unless more is refunded than was
    /// paid.
    pub fn refund(
        &self,
        api_key: Option<&str>,
        idempotency_key: Option<&str>,
        psp_reference: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Reply {
        let request = match self.authorised_request(api_key, body, false) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        if let Err(reply) = self.check_merchant(&request) {
            return reply;
        }
        let (amount, currency) = match amount_of(request.get("amount")) {
            Ok(Some(amount)) => amount,
            Ok(None) => {
                return Reply::invalid(CODE_AMOUNT, "Required field 'amount' is not provided.")
            }
            Err(reply) => return reply,
        };
        let scope = format!("refunds/{psp_reference}");
        self.idempotent(idempotency_key, &scope, &request, |state| {
            let payment = match original(state, psp_reference) {
                Ok(payment) => payment,
                Err(reply) => return (reply, Vec::new()),
            };
            if payment.currency != currency {
                return (
                    Reply::invalid(CODE_CURRENCY, "Currency does not match the payment's."),
                    Vec::new(),
                );
            }
            let psp = random_upper(16);
            let refundable = payment.amount - payment.refunded;
            let success = !payment.canceled && amount <= refundable;
            if success {
                payment.refunded += amount;
            }
            let mut item = self.item(payment, "REFUND", now);
            item.psp_reference = psp.clone();
            item.original_reference = payment.psp_reference.clone();
            item.amount = Some(Amount {
                currency: currency.clone(),
                value: Some(amount),
            });
            item.success = success.to_string();
            if !success {
                item.reason = "Insufficient balance on payment".into();
            }
            let reply = Reply::json(
                201,
                &json!({
                    "merchantAccount": self.settings.merchant_account,
                    "paymentPspReference": payment.psp_reference,
                    "pspReference": psp,
                    "reference": text(&request, "reference"),
                    "status": "received",
                    "amount": {"value": amount, "currency": currency},
                }),
            );
            (reply, vec![item])
        })
    }

    /// `POST /payments/{pspReference}/cancels`: answers `received` and
    /// sends a CANCELLATION notification (unsuccessful for a payment already
    /// cancelled or refunded).
    pub fn cancel(
        &self,
        api_key: Option<&str>,
        idempotency_key: Option<&str>,
        psp_reference: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Reply {
        let request = match self.authorised_request(api_key, body, false) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        if let Err(reply) = self.check_merchant(&request) {
            return reply;
        }
        let scope = format!("cancels/{psp_reference}");
        self.idempotent(idempotency_key, &scope, &request, |state| {
            let payment = match original(state, psp_reference) {
                Ok(payment) => payment,
                Err(reply) => return (reply, Vec::new()),
            };
            let psp = random_upper(16);
            let success = !payment.canceled && payment.refunded == 0;
            payment.canceled = true;
            let mut item = self.item(payment, "CANCELLATION", now);
            item.psp_reference = psp.clone();
            item.original_reference = payment.psp_reference.clone();
            item.success = success.to_string();
            if !success {
                item.reason = "Payment already cancelled or refunded".into();
            }
            let reply = Reply::json(
                201,
                &json!({
                    "merchantAccount": self.settings.merchant_account,
                    "paymentPspReference": payment.psp_reference,
                    "pspReference": psp,
                    "reference": text(&request, "reference"),
                    "status": "received",
                }),
            );
            (reply, vec![item])
        })
    }

    /// `POST /chargebacks/{pspReference}` (the simulator's own, for tests
    /// and the demo): sends a CHARGEBACK notification for the whole payment,
    /// or for the `amount` of an optional JSON body (which may also give a
    /// `reason`).
    pub fn chargeback(
        &self,
        api_key: Option<&str>,
        idempotency_key: Option<&str>,
        psp_reference: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Reply {
        let request = match self.authorised_request(api_key, body, true) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        let amount = match amount_of(request.get("amount")) {
            Ok(amount) => amount,
            Err(reply) => return reply,
        };
        let reason = match text(&request, "reason") {
            reason if reason.trim().is_empty() => "Simulated chargeback".to_string(),
            reason => reason,
        };
        let scope = format!("chargebacks/{psp_reference}");
        self.idempotent(idempotency_key, &scope, &request, |state| {
            let payment = match original(state, psp_reference) {
                Ok(payment) => payment,
                Err(reply) => return (reply, Vec::new()),
            };
            let (value, currency) = amount
                .clone()
                .unwrap_or((payment.amount, payment.currency.clone()));
            if currency != payment.currency {
                return (
                    Reply::invalid(CODE_CURRENCY, "Currency does not match the payment's."),
                    Vec::new(),
                );
            }
            let psp = random_upper(16);
            let mut item = self.item(payment, "CHARGEBACK", now);
            item.psp_reference = psp.clone();
            item.original_reference = payment.psp_reference.clone();
            item.amount = Some(Amount {
                currency: currency.clone(),
                value: Some(value),
            });
            item.success = "true".into();
            item.reason = reason.clone();
            let reply = Reply::json(
                201,
                &json!({
                    "merchantAccount": self.settings.merchant_account,
                    "paymentPspReference": payment.psp_reference,
                    "pspReference": psp,
                    "status": "received",
                    "amount": {"value": value, "currency": currency},
                }),
            );
            (reply, vec![item])
        })
    }

    /// Runs `run` once per idempotency key: a repeat with the same endpoint
    /// and body answers the stored reply and does nothing; the same key with
    /// anything else is refused. Only successful replies are stored.
    /// Notifications `run` produces are sent after the lock is released.
    fn idempotent(
        &self,
        key: Option<&str>,
        scope: &str,
        request: &Value,
        run: impl FnOnce(&mut State) -> (Reply, Vec<NotificationItem>),
    ) -> Reply {
        let key = key.map(str::trim).filter(|k| !k.is_empty());
        if key.is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY) {
            return Reply::invalid(CODE_IDEMPOTENCY, "Idempotency-Key is too long.");
        }
        let fingerprint = json!({"endpoint": scope, "body": request});
        let (reply, items) = {
            let mut state = self.lock();
            if let Some(stored) = key.and_then(|k| state.idempotency.get(k)) {
                return if stored.request == fingerprint {
                    stored.reply.clone()
                } else {
                    Reply::invalid(
                        CODE_IDEMPOTENCY,
                        "Idempotency-Key was already used with a different request.",
                    )
                };
            }
            let (reply, items) = run(&mut state);
            if let Some(key) = key.filter(|_| reply.is_success()) {
                state.idempotency.insert(
                    key.to_string(),
                    Stored {
                        request: fingerprint,
                        reply: reply.clone(),
                    },
                );
            }
            (reply, items)
        };
        for item in items {
            self.dispatch(item);
        }
        reply
    }

    /// Signs a notification item and delivers it in a background task.
    fn dispatch(&self, mut item: NotificationItem) {
        item.sign(&self.settings.hmac_key);
        let request = NotificationRequest {
            live: "false".into(),
            items: vec![NotificationItemWrapper { item }],
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let http = self.http.clone();
                let settings = Arc::clone(&self.settings);
                runtime.spawn(async move {
                    deliver(&http, &settings.webhook, &request, &settings.retry).await;
                });
            }
            Err(_) => {
                tracing::error!("simulator: no async runtime, notification not delivered");
            }
        }
    }
}

/// Posts a notification request to the webhook until it answers 2xx with
/// `[accepted]`, waiting between attempts as `retry` says. Each failed
/// attempt is logged with the event code and what went wrong (never the
/// references, amounts or signature).
pub async fn deliver(
    http: &reqwest::Client,
    webhook: &Webhook,
    request: &NotificationRequest,
    retry: &RetrySchedule,
) -> Delivery {
    let event_code = request
        .items
        .first()
        .map(|w| w.item.event_code.as_str())
        .unwrap_or("");
    let attempts = retry.attempts.max(1);
    for attempt in 1..=attempts {
        let mut post = http.post(&webhook.url).json(request);
        if let Some((user, password)) = &webhook.basic_auth {
            post = post.basic_auth(user, Some(password.expose()));
        }
        let problem = match post.send().await {
            Ok(response) => {
                let status = response.status();
                match response.text().await {
                    Ok(body) if status.is_success() && body.trim() == ACCEPTED => {
                        tracing::debug!(event_code, attempt, "simulator: notification accepted");
                        return Delivery::Accepted { attempts: attempt };
                    }
                    Ok(_) if status.is_success() => "answer is not [accepted]".to_string(),
                    Ok(_) => format!("HTTP {}", status.as_u16()),
                    Err(_) => "answer could not be read".to_string(),
                }
            }
            Err(error) if error.is_timeout() => "timeout".to_string(),
            Err(error) if error.is_connect() => "connection failed".to_string(),
            Err(_) => "transport error".to_string(),
        };
        tracing::warn!(
            event_code,
            attempt,
            attempts,
            problem = %problem,
            "simulator: notification delivery failed"
        );
        if attempt < attempts {
            tokio::time::sleep(retry.delay_after(attempt)).await;
        }
    }
    tracing::error!(event_code, attempts, "simulator: notification given up");
    Delivery::GaveUp { attempts }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The JSON object of a request body; an empty body is `{}` when
/// `empty_allowed`.
fn parse_body(body: &[u8], empty_allowed: bool) -> Result<Value, Reply> {
    if empty_allowed && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Reply::invalid(
            CODE_UNPARSABLE,
            "The request body is not a JSON object.",
        )),
    }
}

/// A string field, or empty.
fn text(request: &Value, field: &str) -> String {
    request
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// `amount` as (value, currency): `None` when absent; refused unless the
/// value is a whole number above zero and the currency three capitals.
fn amount_of(amount: Option<&Value>) -> Result<Option<(i64, String)>, Reply> {
    let amount = match amount {
        None | Some(Value::Null) => return Ok(None),
        Some(amount) => amount,
    };
    let value = amount
        .get("value")
        .and_then(Value::as_i64)
        .filter(|v| *v > 0)
        .ok_or_else(|| Reply::invalid(CODE_AMOUNT, "Invalid amount specified"))?;
    let currency = amount
        .get("currency")
        .and_then(Value::as_str)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| Reply::invalid(CODE_CURRENCY, "Unsupported currency specified"))?;
    Ok(Some((value, currency.to_string())))
}

/// The payment a modification refers to: authorised ones only.
fn original<'a>(state: &'a mut State, psp_reference: &str) -> Result<&'a mut Payment, Reply> {
    match state.payments.get_mut(psp_reference) {
        None => Err(Reply::not_found(
            CODE_ORIGINAL,
            "Original pspReference not found",
        )),
        Some(payment) if !payment.authorised => Err(Reply::invalid(
            CODE_ORIGINAL,
            "The original payment was not authorised.",
        )),
        Some(payment) => Ok(payment),
    }
}

fn is_http_url(url: &str) -> bool {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    // Printable ASCII only: it becomes a `Location` header as it is.
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && url.bytes().all(|b| b.is_ascii_graphic())
}

/// An RFC 3339 time, or one without an offset (read as UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// `url` with `query` appended (`?` or `&`), before any fragment.
fn with_query(url: &str, query: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, format!("#{fragment}")),
        None => (url, String::new()),
    };
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{base}{separator}{query}{fragment}")
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], length: usize) -> String {
    let mut rng = OsRng;
    (0..length)
        .map(|_| char::from(*alphabet.choose(&mut rng).unwrap_or(&b'0')))
        .collect()
}

/// Upper-case letters and digits (pspReference, session ids).
fn random_upper(length: usize) -> String {
    random_from(UPPER, length)
}

/// Letters and digits (sessionData, sessionResult): URL-safe as they are.
fn random_token(length: usize) -> String {
    random_from(MIXED, length)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::payments::adyen::verify;
    use chrono::TimeZone;

    const KEY: &str = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
    }

    fn settings(webhook: &str) -> Settings {
        Settings {
            api_key: Secret::new("test-api-key"),
            merchant_account: "CarfinTest".into(),
            hmac_key: hex::decode(KEY).unwrap(),
            public_url: "http://carfin.test".into(),
            webhook: Webhook {
                url: webhook.into(),
                basic_auth: None,
            },
            retry: RetrySchedule {
                attempts: 3,
                first_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
            },
            timeout: Duration::from_secs(5),
            session_minutes: 60,
        }
    }

    fn body(reference: &str) -> Vec<u8> {
        json!({
            "merchantAccount": "CarfinTest",
            "amount": {"value": 12345, "currency": "EUR"},
            "reference": reference,
            "returnUrl": "http://carfin.test/pay/return?payment=7",
            "shopperLocale": "fr-BE",
            "countryCode": "BE",
            "mode": "hosted",
            "expiresAt": "2026-03-02T10:00:00+00:00",
        })
        .to_string()
        .into_bytes()
    }

    fn value(reply: &Reply) -> Value {
        serde_json::from_str(&reply.body).unwrap()
    }

    const API_KEY: Option<&str> = Some("test-api-key");

    // PAY-05: the retry schedule doubles from its first delay up to its cap.
    #[test]
    fn retry_schedule_doubles_up_to_its_cap() {
        let retry = RetrySchedule::default();
        let delays: Vec<u64> = (1..8)
            .map(|n| retry.delay_after(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000]);
        assert_eq!(retry.attempts, 8);
        assert_eq!(retry.delay_after(40), Duration::from_secs(30));
    }

    // PAY-05: shopper locales choose the page's language; amounts are written
    // for that language.
    #[test]
    fn locales_and_amounts() {
        assert_eq!(language_of("nl-NL"), Language::Nl);
        assert_eq!(language_of("nl-BE"), Language::Nl);
        assert_eq!(language_of("fr-BE"), Language::Fr);
        assert_eq!(language_of("en-GB"), Language::En);
        assert_eq!(language_of("de-DE"), Language::En);
        assert_eq!(language_of(""), Language::En);
        assert_eq!(format_amount(123456, "EUR", Language::Nl), "€ 1.234,56");
        assert_eq!(format_amount(123456, "EUR", Language::En), "€1,234.56");
        assert_eq!(format_amount(1205, "USD", Language::En), "USD 12.05");
        assert_eq!(format_amount(1205, "USD", Language::Fr), "USD 12,05");
    }

    // PAY-05: the redirect back keeps the returnUrl's own query and fragment.
    #[test]
    fn query_is_appended_with_the_right_separator() {
        assert_eq!(
            with_query("https://a.test/r", "x=1"),
            "https://a.test/r?x=1"
        );
        assert_eq!(
            with_query("https://a.test/r?p=2", "x=1"),
            "https://a.test/r?p=2&x=1"
        );
        assert_eq!(
            with_query("https://a.test/r?", "x=1"),
            "https://a.test/r?x=1"
        );
        assert_eq!(
            with_query("https://a.test/r?p=2#top", "x=1"),
            "https://a.test/r?p=2&x=1#top"
        );
    }

    // PAY-05: the API key is required and compared exactly.
    #[test]
    fn api_key_is_required() {
        let sim = Simulator::new(settings("http://127.0.0.1:9/none"));
        for key in [None, Some(""), Some("test-api-ke"), Some("test-api-key ")] {
            let reply = sim.create_session(key, None, &body("INV-1"), now());
            assert_eq!(reply.status, 401, "{key:?}");
            assert_eq!(value(&reply)["errorType"], "security");
        }
        assert_eq!(sim.session_status(None, "CS1", now()).status, 401);
        assert_eq!(sim.refund(None, None, "X", b"{}", now()).status, 401);
        assert_eq!(sim.cancel(None, None, "X", b"{}", now()).status, 401);
        assert_eq!(sim.chargeback(None, None, "X", b"", now()).status, 401);
    }

    // PAY-05: invalid requests are refused with 422 and Adyen's error shape.
    #[test]
    fn invalid_session_requests_are_refused() {
        let sim = Simulator::new(settings("http://127.0.0.1:9/none"));
        let good: Value = serde_json::from_slice(&body("INV-1")).unwrap();
        let cases: Vec<(&str, Value)> = vec![
            ("merchantAccount", json!("Someone")),
            ("merchantAccount", Value::Null),
            ("amount", json!({"value": 0, "currency": "EUR"})),
            ("amount", json!({"value": -5, "currency": "EUR"})),
            ("amount", json!({"value": 12.5, "currency": "EUR"})),
            ("amount", json!({"value": 100, "currency": "eur"})),
            ("amount", json!({"value": 100, "currency": "EURO"})),
            ("amount", Value::Null),
            ("reference", json!("  ")),
            ("returnUrl", json!("")),
            ("returnUrl", json!("javascript:alert(1)")),
            ("returnUrl", json!("ftp://carfin.test/x")),
            ("expiresAt", json!("tomorrow")),
        ];
        for (field, bad) in cases {
            let mut request = good.clone();
            request[field] = bad.clone();
            let reply = sim.create_session(API_KEY, None, request.to_string().as_bytes(), now());
            assert_eq!(reply.status, 422, "{field} = {bad}");
            let v = value(&reply);
            assert_eq!(v["status"], 422);
            assert_eq!(v["errorType"], "validation");
            assert!(v["errorCode"].as_str().is_some_and(|c| !c.is_empty()));
        }
        assert_eq!(
            sim.create_session(API_KEY, None, b"not json", now()).status,
            422
        );
        assert_eq!(sim.create_session(API_KEY, None, b"[1]", now()).status, 422);
        assert!(sim.lock().sessions.is_empty());
    }

    // PAY-05, PAY-04: the same Idempotency-Key and body give the same
    // session; another body with that key is refused.
    #[test]
    fn idempotency_key_returns_the_same_session() {
        let sim = Simulator::new(settings("http://127.0.0.1:9/none"));
        let first = sim.create_session(API_KEY, Some("key-1"), &body("INV-1"), now());
        assert_eq!(first.status, 201);
        let again = sim.create_session(API_KEY, Some("key-1"), &body("INV-1"), now());
        assert_eq!(again, first);
        assert_eq!(sim.lock().sessions.len(), 1);
        let other = sim.create_session(API_KEY, Some("key-1"), &body("INV-2"), now());
        assert_eq!(other.status, 422);
        let fresh = sim.create_session(API_KEY, Some("key-2"), &body("INV-1"), now());
        assert_eq!(fresh.status, 201);
        assert_ne!(value(&fresh)["id"], value(&first)["id"]);
        let v = value(&first);
        let id = v["id"].as_str().unwrap();
        assert!(id.starts_with("CS"));
        assert_eq!(
            v["url"].as_str().unwrap(),
            format!("http://carfin.test/simulator/adyen/pay/{id}")
        );
        assert_eq!(v["expiresAt"], "2026-03-02T10:00:00+00:00");
        assert_eq!(v["mode"], "hosted");
    }

    // PAY-05: a session expires at its expiresAt; the page shows it closed
    // and acting on it is refused.
    #[test]
    fn sessions_expire() {
        let sim = Simulator::new(settings("http://127.0.0.1:9/none"));
        let reply = sim.create_session(API_KEY, None, &body("INV-1"), now());
        let id = value(&reply)["id"].as_str().unwrap().to_string();
        let page = sim.page(&id, now()).unwrap();
        assert!(page.is_open());
        assert_eq!(page.language, Language::Fr);
        assert_eq!(page.default_method, PaymentMethod::Bancontact);
        assert_eq!(page.amount_text(), "123,45\u{a0}€");
        let later = now() + chrono::Duration::hours(1);
        assert_eq!(
            value(&sim.session_status(API_KEY, &id, later))["status"],
            "expired"
        );
        assert!(!sim.page(&id, later).unwrap().is_open());
        assert_eq!(
            sim.act(&id, Action::Pay, PaymentMethod::Visa, later),
            Err(ActError::Closed(SessionStatus::Expired))
        );
        assert_eq!(
            sim.act("CSUNKNOWN", Action::Pay, PaymentMethod::Visa, now()),
            Err(ActError::NotFound)
        );
        assert_eq!(sim.session_status(API_KEY, "CSUNKNOWN", now()).status, 404);
    }

    /// A webhook that records what it receives and answers `[accepted]`
    /// after `failures` failures.
    async fn webhook(failures: usize) -> (String, Arc<Mutex<Vec<String>>>) {
        use axum::routing::post;
        let received = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/webhooks/adyen",
            post(move |body: String| {
                let seen = Arc::clone(&seen);
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push(body);
                    if seen.len() <= failures {
                        (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "no".to_string(),
                        )
                    } else {
                        (axum::http::StatusCode::OK, ACCEPTED.to_string())
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/webhooks/adyen"), received)
    }

    async fn wait_for(received: &Arc<Mutex<Vec<String>>>, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let now = received.lock().unwrap().clone();
            if now.len() >= count {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "expected {count} deliveries, got {:?}",
            received.lock().unwrap()
        );
    }

    fn item_of(delivery: &str) -> NotificationItem {
        let request: NotificationRequest = serde_json::from_str(delivery).unwrap();
        assert_eq!(request.live, "false");
        assert_eq!(request.items.len(), 1);
        request.items.into_iter().next().unwrap().item
    }

    // PAY-05: paying sends a signed AUTHORISATION; refunds, cancels and
    // chargebacks send signed notifications naming the payment; acting
    // twice is refused.
    #[tokio::test]
    async fn pay_refund_cancel_and_chargeback_notify() {
        let (url, received) = webhook(0).await;
        let sim = Simulator::new(settings(&url));
        let key = hex::decode(KEY).unwrap();
        let reply = sim.create_session(API_KEY, None, &body("INV-9"), now());
        let id = value(&reply)["id"].as_str().unwrap().to_string();

        let redirect = sim
            .act(&id, Action::Pay, PaymentMethod::Bancontact, now())
            .unwrap();
        let prefix =
            format!("http://carfin.test/pay/return?payment=7&sessionId={id}&sessionResult=");
        assert!(redirect.starts_with(&prefix), "{redirect}");
        assert!(redirect.len() > prefix.len());
        assert_eq!(
            sim.act(&id, Action::Refuse, PaymentMethod::Visa, now()),
            Err(ActError::Closed(SessionStatus::Completed))
        );
        let auth = item_of(&wait_for(&received, 1).await[0]);
        assert_eq!(verify(&key, &auth), Ok(()));
        assert_eq!(auth.event_code, "AUTHORISATION");
        assert_eq!(auth.success, "true");
        assert_eq!(auth.merchant_reference, "INV-9");
        assert_eq!(auth.merchant_account_code, "CarfinTest");
        assert_eq!(auth.payment_method, "bcmc");
        assert_eq!(auth.event_date, "2026-03-02T09:00:00+00:00");
        assert_eq!(
            auth.amount,
            Some(Amount {
                currency: "EUR".into(),
                value: Some(12345)
            })
        );
        let psp = auth.psp_reference.clone();
        assert_eq!(psp.len(), 16);
        assert!(psp
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));

        // A refund of part, then one of more than is left.
        let refund = json!({"merchantAccount": "CarfinTest", "amount": {"value": 10000, "currency": "EUR"}, "reference": "R1"});
        let reply = sim.refund(
            API_KEY,
            Some("r1"),
            &psp,
            refund.to_string().as_bytes(),
            now(),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(value(&reply)["paymentPspReference"], psp.as_str());
        assert_eq!(value(&reply)["status"], "received");
        // The same key again: the same answer and no second refund.
        let again = sim.refund(
            API_KEY,
            Some("r1"),
            &psp,
            refund.to_string().as_bytes(),
            now(),
        );
        assert_eq!(again, reply);
        let item = item_of(&wait_for(&received, 2).await[1]);
        assert_eq!(verify(&key, &item), Ok(()));
        assert_eq!(item.event_code, "REFUND");
        assert_eq!(item.success, "true");
        assert_eq!(item.original_reference, psp);
        assert_eq!(item.merchant_reference, "INV-9");
        assert_eq!(
            item.psp_reference,
            value(&reply)["pspReference"].as_str().unwrap()
        );
        assert_eq!(item.amount.as_ref().unwrap().value, Some(10000));

        let too_much =
            json!({"merchantAccount": "CarfinTest", "amount": {"value": 2346, "currency": "EUR"}});
        assert_eq!(
            sim.refund(API_KEY, None, &psp, too_much.to_string().as_bytes(), now())
                .status,
            201
        );
        let item = item_of(&wait_for(&received, 3).await[2]);
        assert_eq!(
            (item.event_code.as_str(), item.success.as_str()),
            ("REFUND", "false")
        );

        let cancel = json!({"merchantAccount": "CarfinTest", "reference": "C1"});
        assert_eq!(
            sim.cancel(API_KEY, None, &psp, cancel.to_string().as_bytes(), now())
                .status,
            201
        );
        let item = item_of(&wait_for(&received, 4).await[3]);
        assert_eq!(item.event_code, "CANCELLATION");
        assert_eq!(item.original_reference, psp);

        let reply = sim.chargeback(API_KEY, None, &psp, b"", now());
        assert_eq!(reply.status, 201);
        let item = item_of(&wait_for(&received, 5).await[4]);
        assert_eq!(verify(&key, &item), Ok(()));
        assert_eq!(item.event_code, "CHARGEBACK");
        assert_eq!(item.success, "true");
        assert_eq!(item.original_reference, psp);
        assert_eq!(item.amount.as_ref().unwrap().value, Some(12345));
        let partial = json!({"amount": {"value": 500, "currency": "EUR"}});
        sim.chargeback(API_KEY, None, &psp, partial.to_string().as_bytes(), now());
        let item = item_of(&wait_for(&received, 6).await[5]);
        assert_eq!(item.amount.as_ref().unwrap().value, Some(500));

        assert_eq!(
            sim.refund(API_KEY, None, "NOPE", refund.to_string().as_bytes(), now())
                .status,
            404
        );
        assert_eq!(
            sim.chargeback(API_KEY, None, "NOPE", b"", now()).status,
            404
        );
    }

    // PAY-05: refusing sends AUTHORISATION success "false" with a reason;
    // cancelling sends nothing; a refused payment cannot be refunded.
    #[tokio::test]
    async fn refuse_notifies_and_cancel_does_not() {
        let (url, received) = webhook(0).await;
        let sim = Simulator::new(settings(&url));
        let first = value(&sim.create_session(API_KEY, None, &body("INV-1"), now()));
        let second = value(&sim.create_session(API_KEY, None, &body("INV-2"), now()));
        let cancelled = first["id"].as_str().unwrap();
        let refused = second["id"].as_str().unwrap();
        sim.act(cancelled, Action::Cancel, PaymentMethod::Ideal, now())
            .unwrap();
        sim.act(refused, Action::Refuse, PaymentMethod::Ideal, now())
            .unwrap();
        let items = wait_for(&received, 1).await;
        let item = item_of(&items[0]);
        assert_eq!(item.event_code, "AUTHORISATION");
        assert_eq!(item.success, "false");
        assert_eq!(item.reason, "Refused");
        assert_eq!(item.merchant_reference, "INV-2");
        assert_eq!(
            value(&sim.session_status(API_KEY, cancelled, now()))["status"],
            "canceled"
        );
        assert_eq!(
            value(&sim.session_status(API_KEY, refused, now()))["status"],
            "refused"
        );
        let refund =
            json!({"merchantAccount": "CarfinTest", "amount": {"value": 1, "currency": "EUR"}});
        assert_eq!(
            sim.refund(
                API_KEY,
                None,
                &item.psp_reference,
                refund.to_string().as_bytes(),
                now()
            )
            .status,
            422
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(received.lock().unwrap().len(), 1, "the cancel sent nothing");
    }

    // PAY-05: delivery retries until [accepted], and gives up after the
    // schedule's attempts.
    #[tokio::test]
    async fn delivery_retries_and_gives_up() {
        let (url, received) = webhook(2).await;
        let settings = settings(&url);
        let mut item = NotificationItem {
            psp_reference: "ABC".into(),
            event_code: "AUTHORISATION".into(),
            success: "true".into(),
            ..NotificationItem::default()
        };
        item.sign(&settings.hmac_key);
        let request = NotificationRequest {
            live: "false".into(),
            items: vec![NotificationItemWrapper { item }],
        };
        let http = reqwest::Client::new();
        let delivery = deliver(&http, &settings.webhook, &request, &settings.retry).await;
        assert_eq!(delivery, Delivery::Accepted { attempts: 3 });
        assert_eq!(received.lock().unwrap().len(), 3);

        let (url, received) = webhook(100).await;
        let webhook = Webhook {
            url,
            basic_auth: None,
        };
        let delivery = deliver(&http, &webhook, &request, &settings.retry).await;
        assert_eq!(delivery, Delivery::GaveUp { attempts: 3 });
        assert_eq!(received.lock().unwrap().len(), 3);

        // Nobody listening: every attempt fails to connect.
        let closed = Webhook {
            url: "http://127.0.0.1:9/webhooks/adyen".into(),
            basic_auth: None,
        };
        let delivery = deliver(&http, &closed, &request, &settings.retry).await;
        assert_eq!(delivery, Delivery::GaveUp { attempts: 3 });
    }
}
