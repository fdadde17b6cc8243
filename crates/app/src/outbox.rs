//! The outbox (OPS-05): e-mail and SMS are written, sealed under the data
//! subject's key, in the same transaction as the change that causes them
//! ([`enqueue`]), and delivered afterwards by a worker ([`spawn_worker`])
//! over SMTP (lettre) and an HTTP SMS gateway (reqwest), with retries,
//! exponential backoff and an idempotency key (`outbox-{id}`). They survive
//! a crash: a claim is a lease, and a crashed worker's claim expires.
//!
//! Logs name the message id, kind, channel, attempt and an error kind, never
//! a recipient, subject, body, code or token. The delivery model is
//! described in `docs/outbox.md`.

use crate::config::Config;
use crate::{App, AppError};
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::Personal;
use carfin_store::repo::outbox::{self as repo, Content, MessageRecord, NewMessage};
use carfin_store::StoreError;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a claim holds a message: longer than any send may take (the
/// transports' timeouts are at most 600 s each).
pub const LEASE_SECS: i64 = 15 * 60;
/// The first retry's delay; each further one doubles it.
pub const BACKOFF_BASE_SECS: i64 = 30;
/// The longest delay between two attempts.
pub const BACKOFF_MAX_SECS: i64 = 60 * 60;

/// How a message leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    /// The stored name: `email` or `sms`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Message {
    pub channel: Channel,
    pub entity_id: i64,
    /// `customers.id`: the data subject whose key seals the message.
    pub subject_id: i64,
    /// `[a-z0-9_.]+`, e.g. `account.verify_email`.
    pub kind: String,
    /// E-mail address, or E.164 phone number for SMS.
    pub to: String,
    /// Display name of the sender (the brand), e-mail only.
    pub from_name: String,
    /// E-mail subject (required for e-mail, none for SMS).
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages delivered.
    pub sent: usize,
    /// Messages that failed this time and wait for a retry.
    pub retried: usize,
    /// Messages given up (permanent error, too many attempts, erased).
    pub failed: usize,
}

/// A message opened for the development outbox and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxView {
    pub id: i64,
    pub channel: Channel,
    pub kind: String,
    pub to: String,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    /// Unix seconds.
    pub created_at: i64,
}

fn invalid(field: &str, key: &str) -> AppError {
    AppError::Invalid(vec![(field.to_string(), key.to_string())])
}

fn is_header_safe(s: &str) -> bool {
    !s.contains(['\r', '\n'])
}

fn validate(m: &Message) -> Result<(), AppError> {
    if m.kind.is_empty()
        || !m
            .kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
    {
        return Err(invalid("kind", "outbox.kind"));
    }
    if m.text.is_empty() {
        return Err(invalid("text", "outbox.text"));
    }
    match m.channel {
        Channel::Email => {
            if carfin_domain::EmailAddress::parse(&m.to).is_err() {
                return Err(invalid("to", "outbox.recipient"));
            }
            match &m.subject {
                Some(s) if !s.trim().is_empty() && is_header_safe(s) => {}
                _ => return Err(invalid("subject", "outbox.subject")),
            }
            if m.from_name.trim().is_empty() || !is_header_safe(&m.from_name) {
                return Err(invalid("from_name", "outbox.from_name"));
            }
        }
        Channel::Sms => {
            let e164 = m.to.strip_prefix('+').is_some_and(|d| {
                (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
            });
            if !e164 {
                return Err(invalid("to", "outbox.recipient"));
            }
            if m.subject.is_some() || m.html.is_some() {
                return Err(invalid("subject", "outbox.sms_plain_text"));
            }
        }
    }
    Ok(())
}

/// Seals and writes the message in the caller's transaction; returns its
/// id. Nothing leaves until the transaction commits and a worker picks the
/// message up. Refused (`NotFound`) when the subject was erased.
pub async fn enqueue(
    tx: &mut sqlx::AnyConnection,
    app: &App,
    message: &Message,
) -> Result<i64, AppError> {
    validate(message)?;
    let key = match app.keys().get(message.subject_id).await? {
        KeyState::Live(key) => key,
        KeyState::Shredded(_) => return Err(AppError::NotFound),
        KeyState::Missing => {
            return Err(AppError::Store(StoreError::Crypto(format!(
                "no key for subject {}",
                message.subject_id
            ))))
        }
    };
    let id = app.ids().next();
    let row = NewMessage {
        id,
        channel: message.channel.as_str().into(),
        entity_id: message.entity_id,
        subject_id: message.subject_id,
        kind: message.kind.clone(),
        content: Content {
            recipient: message.to.clone(),
            from_name: match message.channel {
                Channel::Email => Some(message.from_name.clone()),
                Channel::Sms => None,
            },
            subject: message.subject.clone(),
            text: message.text.clone(),
            html: message.html.clone(),
        },
        idempotency_key: idempotency_key(id),
        created_at: app.clock().now().timestamp(),
    };
    repo::insert(tx, &row, &key).await?;
    tracing::debug!(
        message_id = id,
        kind = %message.kind,
        channel = message.channel.as_str(),
        "outbox message enqueued"
    );
    Ok(id)
}

/// The idempotency key of a message: `outbox-{id}`. Sent as the SMS
/// gateway's `Idempotency-Key` and as the left part of the e-mail's
/// `Message-ID`.
pub fn idempotency_key(id: i64) -> String {
    format!("outbox-{id}")
}

/// Seconds to wait after the `attempts`-th failed attempt:
/// 30 s × 2^(attempts−1), at most one hour.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exponent = (attempts - 1).clamp(0, 20) as u32;
    (BACKOFF_BASE_SECS << exponent).min(BACKOFF_MAX_SECS)
}

/// One delivery pass over due messages (tests call this directly). Builds
/// the transports for this pass; the worker builds them once.
pub async fn deliver_due(app: &App) -> Result<DeliveryReport, AppError> {
    Deliverer::new(app.clone())?.deliver_due().await
}

/// The background worker: loops [`deliver_due`] every `outbox.poll_secs`
/// until `stop` is true. A pass in progress finishes first.
pub fn spawn_worker(app: App, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let deliverer = match Deliverer::new(app.clone()) {
            Ok(d) => d,
            Err(error) => {
                tracing::error!(%error, "outbox worker cannot start");
                return;
            }
        };
        for channel in [Channel::Email, Channel::Sms] {
            if !deliverer.enabled(channel) {
                tracing::warn!(
                    channel = channel.as_str(),
                    "outbox: no transport configured; these messages stay pending"
                );
            }
        }
        let poll = Duration::from_secs(app.config().outbox.poll_secs.max(1));
        loop {
            if *stop.borrow() {
                return;
            }
            match deliverer.deliver_due().await {
                Ok(report) if report != DeliveryReport::default() => tracing::info!(
                    sent = report.sent,
                    retried = report.retried,
                    failed = report.failed,
                    "outbox pass"
                ),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "outbox pass failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}

fn view(record: MessageRecord) -> Option<OutboxView> {
    let Personal::Known(content) = record.content else {
        return None;
    };
    Some(OutboxView {
        id: record.id,
        channel: Channel::parse(&record.channel)?,
        kind: record.kind,
        to: content.recipient,
        subject: content.subject,
        text: content.text,
        html: content.html,
        status: record.status,
        created_at: record.created_at,
    })
}

/// Recent messages opened for the dev outbox (newest first). Messages of
/// erased subjects cannot be opened and are left out.
pub async fn recent(app: &App, limit: i64) -> Result<Vec<OutboxView>, AppError> {
    let records = repo::recent(app.db(), app.keys(), limit).await?;
    Ok(records.into_iter().filter_map(view).collect())
}

/// A subject's messages, opened (newest first).
pub async fn messages_for(app: &App, subject_id: i64) -> Result<Vec<OutboxView>, AppError> {
    let records = repo::for_subject(app.db(), app.keys(), subject_id).await?;
    Ok(records.into_iter().filter_map(view).collect())
}

/// RFC 3339 (UTC, seconds) of a Unix time.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The `/dev/outbox.json` document: an array of objects with `channel`,
/// `to`, `subject` (null for SMS), `body` (the text body), `created_at`
/// (RFC 3339 UTC), `status` and `kind`.
pub fn dev_json(views: &[OutboxView]) -> String {
    let items: Vec<serde_json::Value> = views
        .iter()
        .map(|v| {
            serde_json::json!({
                "channel": v.channel.as_str(),
                "to": v.to,
                "subject": v.subject,
                "body": v.text,
                "created_at": rfc3339(v.created_at),
                "status": v.status,
                "kind": v.kind,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

// ---------------------------------------------------------------- delivery

/// The outcome of one attempt.
enum Outcome {
    Sent,
    /// Worth another attempt; the error kind.
    Retry(String),
    /// Will never succeed; the error kind.
    Permanent(String),
}

type SmtpTransport = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;

struct EmailTransport {
    smtp: SmtpTransport,
    from: lettre::Address,
}

struct SmsTransport {
    client: reqwest::Client,
    url: String,
    token: crate::config::Secret,
    sender: String,
}

/// The transports, built once per worker.
struct Deliverer {
    app: App,
    email: Option<EmailTransport>,
    sms: Option<SmsTransport>,
}

impl Deliverer {
    fn new(app: App) -> Result<Deliverer, AppError> {
        let email = email_transport(app.config())?;
        let sms = sms_transport(app.config())?;
        Ok(Deliverer { app, email, sms })
    }

    fn enabled(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
        }
    }

    async fn deliver_due(&self) -> Result<DeliveryReport, AppError> {
        let mut report = DeliveryReport::default();
        let channels: Vec<&str> = [Channel::Email, Channel::Sms]
            .into_iter()
            .filter(|c| self.enabled(*c))
            .map(Channel::as_str)
            .collect();
        let db = self.app.db();
        let now = self.app.clock().now().timestamp();
        let limit = i64::from(self.app.config().outbox.batch_size.max(1));
        for id in repo::due_ids(db, now, limit, &channels).await? {
            let now = self.app.clock().now().timestamp();
            if !repo::claim(db, id, now, now + LEASE_SECS).await? {
                continue; // another worker was first
            }
            self.deliver_claimed(id, &mut report).await?;
        }
        Ok(report)
    }

    async fn deliver_claimed(&self, id: i64, report: &mut DeliveryReport) -> Result<(), AppError> {
        let db = self.app.db();
        let record = match repo::get(db, self.app.keys(), id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(()),
            Err(error) => {
                // The key store did not answer or held no key: try again later.
                tracing::warn!(message_id = id, %error, "outbox message cannot be opened");
                let now = self.app.clock().now().timestamp();
                repo::mark_retry(db, id, now + BACKOFF_MAX_SECS, "key_unavailable").await?;
                report.retried += 1;
                return Ok(());
            }
        };
        let channel = Channel::parse(&record.channel);
        let outcome = match (&record.content, channel) {
            (Personal::Erased, _) => Outcome::Permanent("erased".into()),
            (Personal::Known(_), None) => Outcome::Permanent("unknown_channel".into()),
            (Personal::Known(content), Some(Channel::Email)) => match &self.email {
                Some(t) => self.send_email(t, &record, content).await,
                None => Outcome::Retry("no_transport".into()),
            },
            (Personal::Known(content), Some(Channel::Sms)) => match &self.sms {
                Some(t) => send_sms(t, &record, content).await,
                None => Outcome::Retry("no_transport".into()),
            },
        };
        let now = self.app.clock().now().timestamp();
        let max_attempts = i64::from(self.app.config().outbox.max_attempts.max(1));
        let span = (
            record.id,
            record.kind.as_str(),
            record.channel.as_str(),
            record.attempts,
        );
        match outcome {
            Outcome::Sent => {
                repo::mark_sent(db, id, now).await?;
                report.sent += 1;
                tracing::info!(
                    message_id = span.0,
                    kind = span.1,
                    channel = span.2,
                    attempt = span.3,
                    "outbox message sent"
                );
            }
            Outcome::Retry(kind) if record.attempts < max_attempts => {
                let next = now + backoff_secs(record.attempts);
                repo::mark_retry(db, id, next, &kind).await?;
                report.retried += 1;
                tracing::warn!(message_id = span.0, kind = span.1, channel = span.2, attempt = span.3, error = %kind, retry_at = next, "outbox message not sent; will retry");
            }
            Outcome::Retry(kind) | Outcome::Permanent(kind) => {
                repo::mark_failed(db, id, &kind).await?;
                report.failed += 1;
                tracing::warn!(message_id = span.0, kind = span.1, channel = span.2, attempt = span.3, error = %kind, "outbox message failed for good");
            }
        }
        Ok(())
    }

    async fn send_email(
        &self,
        t: &EmailTransport,
        record: &MessageRecord,
        content: &Content,
    ) -> Outcome {
        use lettre::message::{header::ContentType, Mailbox, MultiPart};
        use lettre::AsyncTransport;
        let Ok(to) = content.recipient.parse::<lettre::Address>() else {
            return Outcome::Permanent("invalid_address".into());
        };
        let from = Mailbox::new(content.from_name.clone(), t.from.clone());
        let builder = lettre::Message::builder()
            .from(from)
            .to(Mailbox::new(None, to))
            .subject(content.subject.clone().unwrap_or_default())
            .message_id(Some(format!(
                "<{}@{}>",
                record.idempotency_key,
                t.from.domain()
            )))
            .date(self.app.clock().now().into());
        let built = match &content.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                content.text.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(content.text.clone()),
        };
        let Ok(email) = built else {
            return Outcome::Permanent("invalid_message".into());
        };
        match t.smtp.send(email).await {
            Ok(_) => Outcome::Sent,
            Err(e) => smtp_outcome(&e),
        }
    }
}

/// SMTP replies that refuse this message or recipient for good (on RCPT
/// TO, or its content on DATA): the mailbox or address does not exist or
/// is refused. Everything else (4xx, connection, TLS, authentication,
/// timeouts) is retried.
const SMTP_PERMANENT: &[u16] = &[501, 550, 551, 552, 553, 556];

fn smtp_outcome(e: &lettre::transport::smtp::Error) -> Outcome {
    if let Some(code) = e.status() {
        let code = u16::from(code);
        if e.is_permanent() && SMTP_PERMANENT.contains(&code) {
            return Outcome::Permanent(format!("smtp_{code}"));
        }
        return Outcome::Retry(format!("smtp_{code}"));
    }
    let kind = if e.is_timeout() {
        "smtp_timeout"
    } else if e.is_tls() {
        "smtp_tls"
    } else if e.is_client() {
        "smtp_client"
    } else {
        "smtp_connection"
    };
    Outcome::Retry(kind.into())
}

async fn send_sms(t: &SmsTransport, record: &MessageRecord, content: &Content) -> Outcome {
    let body = serde_json::json!({
        "to": content.recipient,
        "from": t.sender,
        "text": content.text,
        "reference": record.idempotency_key,
    });
    let mut request = t
        .client
        .post(&t.url)
        .header("Idempotency-Key", &record.idempotency_key)
        .json(&body);
    if !t.token.expose().is_empty() {
        request = request.bearer_auth(t.token.expose());
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Outcome::Sent
            } else if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                Outcome::Permanent(format!("http_{}", status.as_u16()))
            } else {
                Outcome::Retry(format!("http_{}", status.as_u16()))
            }
        }
        Err(e) if e.is_timeout() => Outcome::Retry("sms_timeout".into()),
        Err(_) => Outcome::Retry("sms_connection".into()),
    }
}

fn email_transport(config: &Config) -> Result<Option<EmailTransport>, AppError> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let email = &config.email;
    if !email.enabled() {
        return Ok(None);
    }
    let cfg = |m: &str| AppError::Config(format!("email.smtp_url: {m}"));
    let url = email.smtp_url.expose().trim();
    let from: lettre::Address = email
        .from
        .parse()
        .map_err(|_| AppError::Config("email.from is not an e-mail address".into()))?;
    // lettre's own parser sets host, port, credentials and the TLS mode…
    let mut builder = SmtpTransport::from_url(url).map_err(|_| cfg("not a usable SMTP URL"))?;
    // …and the TLS parameters are rebuilt here to add the extra root CA.
    let (scheme, rest) = url.split_once("://").ok_or_else(|| cfg("no scheme"))?;
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let tls_mode = query
        .split('&')
        .find_map(|p| p.strip_prefix("tls="))
        .unwrap_or("");
    if let Some(ca_file) = &email.smtp_ca_file {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
        };
        let pem = std::fs::read(ca_file).map_err(|e| {
            AppError::Config(format!(
                "email.smtp_ca_file: cannot read {}: {e}",
                ca_file.display()
            ))
        })?;
        let certificate = Certificate::from_pem(&pem)
            .map_err(|_| AppError::Config("email.smtp_ca_file: not a PEM certificate".into()))?;
        let parameters = TlsParameters::builder(host.to_string())
            .add_root_certificate(certificate)
            .build()
            .map_err(|_| AppError::Config("email.smtp_ca_file: TLS set-up failed".into()))?;
        let tls = match (scheme, tls_mode) {
            ("smtps", _) => Some(Tls::Wrapper(parameters)),
            ("smtp", "required") => Some(Tls::Required(parameters)),
            ("smtp", "opportunistic") => Some(Tls::Opportunistic(parameters)),
            _ => None, // plain SMTP: nothing to verify
        };
        if let Some(tls) = tls {
            builder = builder.tls(tls);
        }
    }
    let smtp = builder
        .timeout(Some(Duration::from_secs(email.timeout_secs.max(1))))
        .build();
    Ok(Some(EmailTransport { smtp, from }))
}

fn sms_transport(config: &Config) -> Result<Option<SmsTransport>, AppError> {
    let sms = &config.sms;
    if !sms.enabled() {
        return Ok(None);
    }
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(sms.timeout_secs.max(1)))
        // The bearer token must not follow a redirect elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| AppError::Config("sms: cannot build the HTTP client".into()))?;
    Ok(Some(SmsTransport {
        client,
        url: sms.gateway_url.trim().to_string(),
        token: sms.api_token.clone(),
        sender: sms.sender.clone(),
    }))
}
