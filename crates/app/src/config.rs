//! Configuration: defaults → file (`--config carfin.toml`) → environment
//! (`CARFIN_…`, which wins). Validated at start; every problem is reported
//! with the key's name. Secrets are wrapped and never printed.
//!
//! `carfin.example.toml` at the repository root documents every key; a test
//! keeps it in step with [`KEYS`].

use crate::error::AppError;
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A secret value: redacted in `Debug` and `Display`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database, key store and demo keys live.
    pub data_dir: Option<PathBuf>,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub keystore: KeyStoreConfig,
    pub keys: KeysConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub outbox: OutboxConfig,
    pub dev: DevConfig,
    pub auth: AuthConfig,
    pub payments: PaymentsConfig,
    pub staff_sso: StaffSsoConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// The URL customers reach carfin at (for links in e-mails).
    pub public_url: String,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Whether cookies carry `Secure` and the `__Host-` prefix (turn off only
    /// for plain-HTTP development on a host other than localhost).
    pub secure_cookies: bool,
    /// Seconds a request may take before it is answered with 503.
    pub request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish at shutdown.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            trusted_proxies: Vec::new(),
            secure_cookies: true,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; default: `DATA_DIR/carfin.db`.
    pub url: Option<Secret>,
    /// Pool size.
    pub max_connections: u32,
    /// SQLite `synchronous`: `full` (default) or `normal`.
    pub sqlite_synchronous: String,
    /// SQLite page cache per connection, in MiB.
    pub sqlite_cache_mib: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 10,
            sqlite_synchronous: "full".into(),
            sqlite_cache_mib: 32,
        }
    }
}

impl DatabaseConfig {
    /// Whether SQLite runs with `synchronous = FULL`.
    pub fn sqlite_synchronous_full(&self) -> bool {
        !self.sqlite_synchronous.eq_ignore_ascii_case("normal")
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeyStoreConfig {
    /// Where subject keys live; default: `DATA_DIR/keys.db` with SQLite, the
    /// `carfin_keys` schema of the main database with PostgreSQL.
    pub url: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Master key wrapping subject keys (64 hex digits or base64 of 32 bytes).
    pub master_key: Option<Secret>,
    /// A file holding the master key instead.
    pub master_key_file: Option<PathBuf>,
    /// Former master keys, still accepted for unwrapping subject keys while
    /// `carfin keys rotate` re-wraps them under the current one.
    pub previous_master_keys: Vec<Secret>,
    /// Key of the blind indexes.
    pub blind_index_key: Option<Secret>,
    /// A file holding the blind-index key instead.
    pub blind_index_key_file: Option<PathBuf>,
}

impl KeysConfig {
    /// The master key (after validation it is present).
    pub fn master_key(&self) -> Result<&Secret, AppError> {
        self.master_key
            .as_ref()
            .ok_or_else(|| AppError::Config("keys.master_key is not set".into()))
    }

    /// The blind-index key (after validation it is present).
    pub fn blind_index_key(&self) -> Result<&Secret, AppError> {
        self.blind_index_key
            .as_ref()
            .ok_or_else(|| AppError::Config("keys.blind_index_key is not set".into()))
    }
}

/// Customer sign-in (ACC-02, ACC-05, ACC-06).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Minutes without a request after which a session ends.
    pub session_idle_minutes: i64,
    /// Hours after sign-in after which a session ends regardless.
    pub session_absolute_hours: i64,
    /// Password hashes computed at once (0: one per CPU core); further
    /// sign-ins wait, so page views keep their threads.
    pub hash_concurrency: usize,
    /// Failed sign-ins on one account before it is locked temporarily.
    pub lockout_failures: i64,
    /// Minutes a locked account stays locked.
    pub lockout_minutes: i64,
    /// Failed sign-ins or registrations from one network address within an
    /// hour before that address is locked temporarily.
    pub address_failures: i64,
    /// Minutes without a request after which a staff session ends (BOF-01).
    pub staff_idle_minutes: i64,
    /// Hours after sign-in after which a staff session ends regardless.
    pub staff_absolute_hours: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_idle_minutes: 15,
            session_absolute_hours: 12,
            hash_concurrency: 0,
            lockout_failures: 10,
            lockout_minutes: 15,
            address_failures: 50,
            staff_idle_minutes: 10,
            staff_absolute_hours: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Bearer token for `/metrics`; without it only loopback clients that
    /// did not come through a proxy may read metrics.
    pub token: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default) or `pretty`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `carfin=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "json".into(),
            level: "info".into(),
        }
    }
}

/// Outgoing e-mail, delivered from the outbox (OPS-05).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server as a lettre URL: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`; empty: e-mail is not
    /// delivered and stays pending.
    pub smtp_url: Secret,
    /// The sender address.
    pub from: String,
    /// A PEM file with an extra root certificate (private mail relays).
    pub smtp_ca_file: Option<PathBuf>,
    /// Seconds one SMTP conversation may take.
    pub timeout_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_url: Secret::default(),
            from: "noreply@carfin.example".into(),
            smtp_ca_file: None,
            timeout_secs: 30,
        }
    }
}

impl EmailConfig {
    /// Whether e-mail is delivered (an SMTP URL is configured).
    pub fn enabled(&self) -> bool {
        !self.smtp_url.is_empty()
    }
}

/// What is wrong with an SMTP URL, if anything.
fn smtp_url_problem(url: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = url.trim().split_once("://") else {
        return Some("expected smtp://… or smtps://…");
    };
    if !["smtp", "smtps"].contains(&scheme) {
        return Some("expected the scheme smtp or smtps");
    }
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = before_query.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // `[v6]:port`, `host:port` or a bare host.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => return Some("unbalanced [ in the host"),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Some("the port is not a number");
    }
    if host.is_empty() {
        return Some("the host is missing");
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some(tls) = pair.strip_prefix("tls=") {
            if !["required", "opportunistic"].contains(&tls) {
                return Some("tls= must be required or opportunistic");
            }
        }
    }
    None
}

/// Outgoing SMS through an HTTP gateway (OPS-05; the request format is in
/// `docs/outbox.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// The gateway's endpoint (`https://…`); empty: SMS is not delivered
    /// and stays pending.
    pub gateway_url: String,
    /// Bearer token for the gateway.
    pub api_token: Secret,
    /// Sender shown on the phone: up to 11 letters and digits, or a number.
    pub sender: String,
    /// Seconds one gateway request may take.
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            gateway_url: String::new(),
            api_token: Secret::default(),
            sender: "Carfin".into(),
            timeout_secs: 15,
        }
    }
}

impl SmsConfig {
    /// Whether SMS is delivered (a gateway URL is configured).
    pub fn enabled(&self) -> bool {
        !self.gateway_url.trim().is_empty()
    }
}

/// The outbox worker (OPS-05).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Attempts before a message is given up (`failed`).
    pub max_attempts: u32,
    /// Messages claimed per pass.
    pub batch_size: u32,
    /// Seconds between passes.
    pub poll_secs: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 10,
            batch_size: 50,
            poll_secs: 5,
        }
    }
}

/// Online payments through Adyen Checkout (PAY-01 … PAY-05). The built-in
/// simulator speaks the same API, so switching to Adyen is configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// `off` (no online payment), `adyen`, or `simulator`: carfin serves an
    /// Adyen-compatible checkout itself (`carfin demo`, tests; never in
    /// production — anybody could "pay" there).
    pub provider: String,
    /// `test` or `live` (which Adyen endpoints are used).
    pub environment: String,
    /// The live endpoint prefix from the Adyen Customer Area (live only).
    pub live_url_prefix: String,
    /// The Checkout API base URL; empty: derived from the provider and
    /// environment (the simulator: `server.public_url` +
    /// `/simulator/adyen/checkout/v71`).
    pub checkout_url: String,
    /// Checkout API key (`X-API-Key`).
    pub api_key: Secret,
    /// The Adyen merchant account.
    pub merchant_account: String,
    /// The notification HMAC key, hex, as shown in the Customer Area.
    pub hmac_key: Secret,
    /// HTTP Basic user name the webhook requires (empty: none).
    pub webhook_username: String,
    /// HTTP Basic password the webhook requires.
    pub webhook_password: Secret,
    /// Working days between authorisation and booking (PAY-03).
    pub settlement_days: u32,
    /// Seconds a call to the provider may take (PAY-04).
    pub timeout_secs: u64,
    /// Minutes a checkout session stays open.
    pub session_minutes: i64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            provider: "off".into(),
            environment: "test".into(),
            live_url_prefix: String::new(),
            checkout_url: String::new(),
            api_key: Secret::default(),
            merchant_account: String::new(),
            hmac_key: Secret::default(),
            webhook_username: String::new(),
            webhook_password: Secret::default(),
            settlement_days: 2,
            timeout_secs: 10,
            session_minutes: 60,
        }
    }
}

impl PaymentsConfig {
    /// Whether customers can pay online.
    pub fn enabled(&self) -> bool {
        self.provider != "off"
    }

    /// Whether carfin serves the provider simulator.
    pub fn simulator(&self) -> bool {
        self.provider == "simulator"
    }

    /// The Checkout API base URL (no trailing slash).
    pub fn checkout_base(&self, public_url: &str) -> String {
        let configured = self.checkout_url.trim().trim_end_matches('/');
        if !configured.is_empty() {
            return configured.to_string();
        }
        if self.simulator() {
            return format!(
                "{}/simulator/adyen/checkout/v71",
                public_url.trim_end_matches('/')
            );
        }
        if self.environment == "live" {
            format!(
                "https://{}-checkout-live.adyenpayments.com/checkout/v71",
                self.live_url_prefix.trim()
            )
        } else {
            "https://checkout-test.adyen.com/v71".to_string()
        }
    }

    /// Origins of the provider's hosted payment pages, which the portal's
    /// pay forms are redirected to (`form-action` of the content security
    /// policy); empty for the simulator, which is this origin.
    pub fn hosted_page_origins(&self) -> &'static [&'static str] {
        match (self.provider.as_str(), self.environment.as_str()) {
            ("adyen", "live") => &[
                "https://checkoutshopper-live.adyen.com",
                "https://checkoutshopper-live-us.adyen.com",
                "https://checkoutshopper-live-au.adyen.com",
                "https://checkoutshopper-live-apse.adyen.com",
                "https://checkoutshopper-live-in.adyen.com",
            ],
            ("adyen", _) => &["https://checkoutshopper-test.adyen.com"],
            _ => &[],
        }
    }

    /// The HMAC key's bytes (validated at start).
    pub fn hmac_key_bytes(&self) -> Option<Vec<u8>> {
        let key = self.hmac_key.expose().trim();
        if key.is_empty() || key.len() % 2 != 0 {
            return None;
        }
        hex::decode(key).ok()
    }
}

impl PaymentsConfig {
    fn validate(&self, problem: &mut impl FnMut(&str, &str)) {
        if !["off", "adyen", "simulator"].contains(&self.provider.as_str()) {
            problem("payments.provider", "expected off, adyen or simulator");
        }
        if !["test", "live"].contains(&self.environment.as_str()) {
            problem("payments.environment", "expected test or live");
        }
        let prefix = self.live_url_prefix.trim();
        if self.environment == "live"
            && self.provider == "adyen"
            && self.checkout_url.trim().is_empty()
            && (prefix.is_empty()
                || !prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            problem(
                "payments.live_url_prefix",
                "the live environment needs the prefix from the Customer Area (letters, digits, dashes)",
            );
        }
        let url = self.checkout_url.trim();
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            problem(
                "payments.checkout_url",
                "expected an http:// or https:// URL",
            );
        }
        if self.enabled() {
            if self.hmac_key_bytes().is_none_or(|k| k.len() < 16) {
                problem(
                    "payments.hmac_key",
                    "expected the HMAC key in hex (at least 32 hex digits)",
                );
            }
            if self.merchant_account.trim().is_empty() {
                problem(
                    "payments.merchant_account",
                    "is required for online payment",
                );
            }
            if self.api_key.is_empty() {
                problem("payments.api_key", "is required for online payment");
            }
        }
        if self.webhook_username.contains(':') {
            problem("payments.webhook_username", "must not contain ':'");
        }
        if !self.webhook_username.is_empty() && self.webhook_password.is_empty() {
            problem(
                "payments.webhook_password",
                "is required when payments.webhook_username is set",
            );
        }
        if self.settlement_days > 30 {
            problem("payments.settlement_days", "expected 0 to 30");
        }
        if !(1..=120).contains(&self.timeout_secs) {
            problem("payments.timeout_secs", "expected 1 to 120");
        }
        if !(5..=1440).contains(&self.session_minutes) {
            problem("payments.session_minutes", "expected 5 to 1440");
        }
    }
}

/// Staff single sign-on through the company's OpenID Connect provider
/// (BOF-01): authorization code flow with PKCE; roles from a claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffSsoConfig {
    /// The issuer URL (its `/.well-known/openid-configuration` is read);
    /// empty: single sign-on is off.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The ID-token claim that carries the staff member's groups or roles.
    pub roles_claim: String,
    /// `claim value = carfin role` pairs, e.g.
    /// `["cs-agents=customer_service", "dpo=privacy_officer"]`; a value
    /// that is a carfin role code maps to itself.
    pub role_map: Vec<String>,
    /// Seconds a call to the provider may take.
    pub timeout_secs: u64,
}

impl Default for StaffSsoConfig {
    fn default() -> Self {
        StaffSsoConfig {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            roles_claim: "roles".into(),
            role_map: Vec::new(),
            timeout_secs: 10,
        }
    }
}

impl StaffSsoConfig {
    /// Whether single sign-on is configured.
    pub fn enabled(&self) -> bool {
        !self.issuer.trim().is_empty()
    }
}

/// Development aids; all off in production.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DevConfig {
    /// Serve `/dev/outbox`: every message in plaintext (`carfin demo` turns
    /// it on). Never in production.
    pub outbox: bool,
}

/// One configuration key: its dotted name, its environment variable, and
/// how the environment's text sets it.
pub struct Key {
    /// Dotted name as in the file.
    pub name: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Whether the value is secret.
    pub secret: bool,
    set: fn(&mut Config, &str) -> Result<(), String>,
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "expected a whole number".to_string())
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Every key that the environment can set.
#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    Key { name: "data_dir", env: "CARFIN_DATA_DIR", secret: false, set: |c, v| { c.data_dir = Some(v.into()); Ok(()) } },
    Key { name: "server.listen", env: "CARFIN_LISTEN", secret: false, set: |c, v| { c.server.listen = v.into(); Ok(()) } },
    Key { name: "server.public_url", env: "CARFIN_PUBLIC_URL", secret: false, set: |c, v| { c.server.public_url = v.into(); Ok(()) } },
    Key { name: "server.trusted_proxies", env: "CARFIN_TRUSTED_PROXIES", secret: false, set: |c, v| { c.server.trusted_proxies = list(v); Ok(()) } },
    Key { name: "server.secure_cookies", env: "CARFIN_SECURE_COOKIES", secret: false, set: |c, v| { c.server.secure_cookies = parse_bool(v)?; Ok(()) } },
    Key { name: "server.request_timeout_secs", env: "CARFIN_REQUEST_TIMEOUT_SECS", secret: false, set: |c, v| { c.server.request_timeout_secs = parse_num(v)?; Ok(()) } },
    Key { name: "server.shutdown_grace_secs", env: "CARFIN_SHUTDOWN_GRACE_SECS", secret: false, set: |c, v| { c.server.shutdown_grace_secs = parse_num(v)?; Ok(()) } },
    Key { name: "database.url", env: "CARFIN_DATABASE_URL", secret: true, set: |c, v| { c.database.url = Some(Secret::new(v)); Ok(()) } },
    Key { name: "database.max_connections", env: "CARFIN_DATABASE_MAX_CONNECTIONS", secret: false, set: |c, v| { c.database.max_connections = parse_num(v)?; Ok(()) } },
    Key { name: "database.sqlite_synchronous", env: "CARFIN_DATABASE_SQLITE_SYNCHRONOUS", secret: false, set: |c, v| { c.database.sqlite_synchronous = v.into(); Ok(()) } },
    Key { name: "database.sqlite_cache_mib", env: "CARFIN_DATABASE_SQLITE_CACHE_MIB", secret: false, set: |c, v| { c.database.sqlite_cache_mib = parse_num(v)?; Ok(()) } },
    Key { name: "keystore.url", env: "CARFIN_KEYSTORE_URL", secret: true, set: |c, v| { c.keystore.url = Some(Secret::new(v)); Ok(()) } },
    Key { name: "keys.master_key", env: "CARFIN_MASTER_KEY", secret: true, set: |c, v| { c.keys.master_key = Some(Secret::new(v)); Ok(()) } },
    Key { name: "keys.master_key_file", env: "CARFIN_MASTER_KEY_FILE", secret: false, set: |c, v| { c.keys.master_key_file = Some(v.into()); Ok(()) } },
    Key { name: "keys.previous_master_keys", env: "CARFIN_PREVIOUS_MASTER_KEYS", secret: true, set: |c, v| { c.keys.previous_master_keys = list(v).into_iter().map(Secret::new).collect(); Ok(()) } },
    Key { name: "keys.blind_index_key", env: "CARFIN_BLIND_INDEX_KEY", secret: true, set: |c, v| { c.keys.blind_index_key = Some(Secret::new(v)); Ok(()) } },
    Key { name: "keys.blind_index_key_file", env: "CARFIN_BLIND_INDEX_KEY_FILE", secret: false, set: |c, v| { c.keys.blind_index_key_file = Some(v.into()); Ok(()) } },
    Key { name: "auth.session_idle_minutes", env: "CARFIN_AUTH_SESSION_IDLE_MINUTES", secret: false, set: |c, v| { c.auth.session_idle_minutes = parse_num(v)?; Ok(()) } },
    Key { name: "auth.session_absolute_hours", env: "CARFIN_AUTH_SESSION_ABSOLUTE_HOURS", secret: false, set: |c, v| { c.auth.session_absolute_hours = parse_num(v)?; Ok(()) } },
    Key { name: "auth.hash_concurrency", env: "CARFIN_AUTH_HASH_CONCURRENCY", secret: false, set: |c, v| { c.auth.hash_concurrency = parse_num(v)?; Ok(()) } },
    Key { name: "auth.lockout_failures", env: "CARFIN_AUTH_LOCKOUT_FAILURES", secret: false, set: |c, v| { c.auth.lockout_failures = parse_num(v)?; Ok(()) } },
    Key { name: "auth.lockout_minutes", env: "CARFIN_AUTH_LOCKOUT_MINUTES", secret: false, set: |c, v| { c.auth.lockout_minutes = parse_num(v)?; Ok(()) } },
    Key { name: "auth.address_failures", env: "CARFIN_AUTH_ADDRESS_FAILURES", secret: false, set: |c, v| { c.auth.address_failures = parse_num(v)?; Ok(()) } },
    Key { name: "metrics.token", env: "CARFIN_METRICS_TOKEN", secret: true, set: |c, v| { c.metrics.token = Some(Secret::new(v)); Ok(()) } },
    Key { name: "log.format", env: "CARFIN_LOG_FORMAT", secret: false, set: |c, v| { c.log.format = v.into(); Ok(()) } },
    Key { name: "log.level", env: "CARFIN_LOG", secret: false, set: |c, v| { c.log.level = v.into(); Ok(()) } },
    Key { name: "email.smtp_url", env: "CARFIN_EMAIL_SMTP_URL", secret: true, set: |c, v| { c.email.smtp_url = Secret::new(v); Ok(()) } },
    Key { name: "email.from", env: "CARFIN_EMAIL_FROM", secret: false, set: |c, v| { c.email.from = v.trim().into(); Ok(()) } },
    Key { name: "email.smtp_ca_file", env: "CARFIN_EMAIL_SMTP_CA_FILE", secret: false, set: |c, v| { c.email.smtp_ca_file = (!v.trim().is_empty()).then(|| v.trim().into()); Ok(()) } },
    Key { name: "email.timeout_secs", env: "CARFIN_EMAIL_TIMEOUT_SECS", secret: false, set: |c, v| { c.email.timeout_secs = parse_num(v)?; Ok(()) } },
    Key { name: "sms.gateway_url", env: "CARFIN_SMS_GATEWAY_URL", secret: false, set: |c, v| { c.sms.gateway_url = v.trim().into(); Ok(()) } },
    Key { name: "sms.api_token", env: "CARFIN_SMS_API_TOKEN", secret: true, set: |c, v| { c.sms.api_token = Secret::new(v); Ok(()) } },
    Key { name: "sms.sender", env: "CARFIN_SMS_SENDER", secret: false, set: |c, v| { c.sms.sender = v.trim().into(); Ok(()) } },
    Key { name: "sms.timeout_secs", env: "CARFIN_SMS_TIMEOUT_SECS", secret: false, set: |c, v| { c.sms.timeout_secs = parse_num(v)?; Ok(()) } },
    Key { name: "outbox.max_attempts", env: "CARFIN_OUTBOX_MAX_ATTEMPTS", secret: false, set: |c, v| { c.outbox.max_attempts = parse_num(v)?; Ok(()) } },
    Key { name: "outbox.batch_size", env: "CARFIN_OUTBOX_BATCH_SIZE", secret: false, set: |c, v| { c.outbox.batch_size = parse_num(v)?; Ok(()) } },
    Key { name: "outbox.poll_secs", env: "CARFIN_OUTBOX_POLL_SECS", secret: false, set: |c, v| { c.outbox.poll_secs = parse_num(v)?; Ok(()) } },
    Key { name: "payments.provider", env: "CARFIN_PAYMENTS_PROVIDER", secret: false, set: |c, v| { c.payments.provider = v.trim().to_ascii_lowercase(); Ok(()) } },
    Key { name: "payments.environment", env: "CARFIN_ADYEN_ENVIRONMENT", secret: false, set: |c, v| { c.payments.environment = v.trim().to_ascii_lowercase(); Ok(()) } },
    Key { name: "payments.live_url_prefix", env: "CARFIN_ADYEN_LIVE_URL_PREFIX", secret: false, set: |c, v| { c.payments.live_url_prefix = v.trim().into(); Ok(()) } },
    Key { name: "payments.checkout_url", env: "CARFIN_ADYEN_CHECKOUT_URL", secret: false, set: |c, v| { c.payments.checkout_url = v.trim().into(); Ok(()) } },
    Key { name: "payments.api_key", env: "CARFIN_ADYEN_API_KEY", secret: true, set: |c, v| { c.payments.api_key = Secret::new(v.trim()); Ok(()) } },
    Key { name: "payments.merchant_account", env: "CARFIN_ADYEN_MERCHANT_ACCOUNT", secret: false, set: |c, v| { c.payments.merchant_account = v.trim().into(); Ok(()) } },
    Key { name: "payments.hmac_key", env: "CARFIN_ADYEN_HMAC_KEY", secret: true, set: |c, v| { c.payments.hmac_key = Secret::new(v.trim()); Ok(()) } },
    Key { name: "payments.webhook_username", env: "CARFIN_ADYEN_WEBHOOK_USERNAME", secret: false, set: |c, v| { c.payments.webhook_username = v.into(); Ok(()) } },
    Key { name: "payments.webhook_password", env: "CARFIN_ADYEN_WEBHOOK_PASSWORD", secret: true, set: |c, v| { c.payments.webhook_password = Secret::new(v); Ok(()) } },
    Key { name: "payments.settlement_days", env: "CARFIN_PAYMENTS_SETTLEMENT_DAYS", secret: false, set: |c, v| { c.payments.settlement_days = parse_num(v)?; Ok(()) } },
    Key { name: "payments.timeout_secs", env: "CARFIN_ADYEN_TIMEOUT_SECS", secret: false, set: |c, v| { c.payments.timeout_secs = parse_num(v)?; Ok(()) } },
    Key { name: "payments.session_minutes", env: "CARFIN_ADYEN_SESSION_MINUTES", secret: false, set: |c, v| { c.payments.session_minutes = parse_num(v)?; Ok(()) } },
    Key { name: "auth.staff_idle_minutes", env: "CARFIN_AUTH_STAFF_IDLE_MINUTES", secret: false, set: |c, v| { c.auth.staff_idle_minutes = parse_num(v)?; Ok(()) } },
    Key { name: "auth.staff_absolute_hours", env: "CARFIN_AUTH_STAFF_ABSOLUTE_HOURS", secret: false, set: |c, v| { c.auth.staff_absolute_hours = parse_num(v)?; Ok(()) } },
    Key { name: "staff_sso.issuer", env: "CARFIN_STAFF_SSO_ISSUER", secret: false, set: |c, v| { c.staff_sso.issuer = v.trim().into(); Ok(()) } },
    Key { name: "staff_sso.client_id", env: "CARFIN_STAFF_SSO_CLIENT_ID", secret: false, set: |c, v| { c.staff_sso.client_id = v.trim().into(); Ok(()) } },
    Key { name: "staff_sso.client_secret", env: "CARFIN_STAFF_SSO_CLIENT_SECRET", secret: true, set: |c, v| { c.staff_sso.client_secret = Secret::new(v.trim()); Ok(()) } },
    Key { name: "staff_sso.roles_claim", env: "CARFIN_STAFF_SSO_ROLES_CLAIM", secret: false, set: |c, v| { c.staff_sso.roles_claim = v.trim().into(); Ok(()) } },
    Key { name: "staff_sso.role_map", env: "CARFIN_STAFF_SSO_ROLE_MAP", secret: false, set: |c, v| { c.staff_sso.role_map = list(v); Ok(()) } },
    Key { name: "staff_sso.timeout_secs", env: "CARFIN_STAFF_SSO_TIMEOUT_SECS", secret: false, set: |c, v| { c.staff_sso.timeout_secs = parse_num(v)?; Ok(()) } },
    Key { name: "dev.outbox", env: "CARFIN_DEV_OUTBOX", secret: false, set: |c, v| { c.dev.outbox = parse_bool(v)?; Ok(()) } },
];

/// A problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key name (or the file).
    pub key: String,
    /// What is wrong, in English for operators.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The problems found while loading, all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Config {
    /// Loads defaults, then the file (if any), then the environment given as
    /// `(name, value)` pairs; resolves key files; validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Problems> {
        Config::layered(file, env, |_| {})
    }

    /// As [`Config::load`], with `adjust` applied after the environment and
    /// before validation (command-line flags, demo defaults).
    pub fn layered(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        adjust: impl FnOnce(&mut Config),
    ) -> Result<Config, Problems> {
        let mut problems = Vec::new();
        let mut config = match file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => match toml::from_str::<Config>(&text) {
                    Ok(c) => c,
                    Err(e) => {
                        problems.push(Problem {
                            key: path.display().to_string(),
                            message: e.message().to_string() + &span_hint(&text, e.span()),
                        });
                        Config::default()
                    }
                },
                Err(e) => {
                    problems.push(Problem {
                        key: path.display().to_string(),
                        message: format!("cannot read: {e}"),
                    });
                    Config::default()
                }
            },
            None => Config::default(),
        };
        for (name, value) in env {
            if let Some(key) = KEYS.iter().find(|k| k.env == name) {
                if let Err(message) = (key.set)(&mut config, &value) {
                    problems.push(Problem {
                        key: format!("{} ({})", key.name, key.env),
                        message,
                    });
                }
            }
        }
        adjust(&mut config);
        config.resolve_key_files(&mut problems);
        problems.extend(config.validate());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Problems(problems))
        }
    }

    fn resolve_key_files(&mut self, problems: &mut Vec<Problem>) {
        let slots = [
            (
                "keys.master_key_file",
                &self.keys.master_key_file,
                &mut self.keys.master_key,
            ),
            (
                "keys.blind_index_key_file",
                &self.keys.blind_index_key_file,
                &mut self.keys.blind_index_key,
            ),
        ];
        for (name, file, slot) in slots {
            if let (Some(path), None) = (file, slot.as_ref()) {
                match std::fs::read_to_string(path) {
                    Ok(text) => *slot = Some(Secret::new(text.trim())),
                    Err(e) => problems.push(Problem {
                        key: name.into(),
                        message: format!("cannot read {}: {e}", path.display()),
                    }),
                }
            }
        }
    }

    /// Every problem with the loaded values.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: &str| {
            problems.push(Problem {
                key: key.into(),
                message: message.into(),
            })
        };
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problem(
                "server.listen",
                "expected an address and port such as 127.0.0.1:8080",
            );
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            problem("server.public_url", "expected an http:// or https:// URL");
        }
        for proxy in &self.server.trusted_proxies {
            if proxy.parse::<IpAddr>().is_err() {
                problem("server.trusted_proxies", "expected IP addresses");
            }
        }
        if self.server.request_timeout_secs == 0 {
            problem("server.request_timeout_secs", "must be at least 1");
        }
        if self.database.max_connections == 0 {
            problem("database.max_connections", "must be at least 1");
        }
        if !(1..=16_384).contains(&self.database.sqlite_cache_mib) {
            problem("database.sqlite_cache_mib", "expected 1 to 16384");
        }
        if !["full", "normal"].contains(
            &self
                .database
                .sqlite_synchronous
                .to_ascii_lowercase()
                .as_str(),
        ) {
            problem("database.sqlite_synchronous", "expected full or normal");
        }
        if let Some(url) = &self.database.url {
            if carfin_store::Engine::from_url(url.expose()).is_err() {
                problem(
                    "database.url",
                    "unsupported scheme: use sqlite:// or postgres://",
                );
            }
        } else if self.data_dir.is_none() {
            problem("database.url", "set database.url or data_dir");
        }
        for (name, key) in [
            ("keys.master_key", &self.keys.master_key),
            ("keys.blind_index_key", &self.keys.blind_index_key),
        ] {
            match key {
                None => problem(name, "is required (or its _file variant)"),
                Some(k)
                    if k.is_empty()
                        || carfin_store::crypto::parse_key_material(k.expose()).is_none() =>
                {
                    problem(name, "expected 64 hex digits or base64 of 32 bytes")
                }
                Some(_) => {}
            }
        }
        if self
            .keys
            .previous_master_keys
            .iter()
            .any(|k| k.is_empty() || carfin_store::crypto::parse_key_material(k.expose()).is_none())
        {
            problem(
                "keys.previous_master_keys",
                "expected 64 hex digits or base64 of 32 bytes each",
            );
        }
        if let (Some(a), Some(b)) = (&self.keys.master_key, &self.keys.blind_index_key) {
            if a.expose().trim() == b.expose().trim() {
                problem("keys.blind_index_key", "must differ from keys.master_key");
            }
        }
        if !(1..=1440).contains(&self.auth.session_idle_minutes) {
            problem("auth.session_idle_minutes", "expected 1 to 1440");
        }
        if !(1..=168).contains(&self.auth.session_absolute_hours) {
            problem("auth.session_absolute_hours", "expected 1 to 168");
        }
        if !(3..=100).contains(&self.auth.lockout_failures) {
            problem("auth.lockout_failures", "expected 3 to 100");
        }
        if !(1..=1440).contains(&self.auth.lockout_minutes) {
            problem("auth.lockout_minutes", "expected 1 to 1440");
        }
        if self.auth.address_failures < self.auth.lockout_failures {
            problem(
                "auth.address_failures",
                "must be at least auth.lockout_failures",
            );
        }
        if !["json", "pretty"].contains(&self.log.format.as_str()) {
            problem("log.format", "expected json or pretty");
        }
        if self.email.enabled() {
            if let Some(message) = smtp_url_problem(self.email.smtp_url.expose()) {
                problem("email.smtp_url", message);
            }
        }
        if carfin_domain::EmailAddress::parse(&self.email.from).is_err() {
            problem("email.from", "expected an e-mail address");
        }
        if let Some(path) = &self.email.smtp_ca_file {
            if !path.is_file() {
                problem("email.smtp_ca_file", "no such file");
            }
        }
        if !(1..=600).contains(&self.email.timeout_secs) {
            problem("email.timeout_secs", "expected 1 to 600");
        }
        if self.sms.enabled()
            && !(self.sms.gateway_url.starts_with("https://")
                || self.sms.gateway_url.starts_with("http://"))
        {
            problem("sms.gateway_url", "expected an http:// or https:// URL");
        }
        let sender = self.sms.sender.as_str();
        let alphanumeric =
            (1..=11).contains(&sender.len()) && sender.bytes().all(|b| b.is_ascii_alphanumeric());
        let number = sender.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
        if !(alphanumeric || number) {
            problem(
                "sms.sender",
                "expected up to 11 letters and digits, or a number in E.164 form",
            );
        }
        if !(1..=600).contains(&self.sms.timeout_secs) {
            problem("sms.timeout_secs", "expected 1 to 600");
        }
        if !(1..=100).contains(&self.outbox.max_attempts) {
            problem("outbox.max_attempts", "expected 1 to 100");
        }
        if !(1..=10_000).contains(&self.outbox.batch_size) {
            problem("outbox.batch_size", "expected 1 to 10000");
        }
        if !(1..=3600).contains(&self.outbox.poll_secs) {
            problem("outbox.poll_secs", "expected 1 to 3600");
        }
        self.payments.validate(&mut problem);
        if !(1..=120).contains(&self.auth.staff_idle_minutes) {
            problem("auth.staff_idle_minutes", "expected 1 to 120");
        }
        if !(1..=24).contains(&self.auth.staff_absolute_hours) {
            problem("auth.staff_absolute_hours", "expected 1 to 24");
        }
        if self.staff_sso.enabled() {
            let issuer = self.staff_sso.issuer.trim();
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                problem("staff_sso.issuer", "expected an https:// URL");
            }
            if self.staff_sso.client_id.is_empty() {
                problem("staff_sso.client_id", "is required for single sign-on");
            }
            if self.staff_sso.roles_claim.is_empty() {
                problem("staff_sso.roles_claim", "is required for single sign-on");
            }
            if self.staff_sso.role_map.iter().any(|pair| {
                pair.split_once('=')
                    .is_none_or(|(_, role)| role.trim().parse::<crate::staff::Role>().is_err())
            }) {
                problem(
                    "staff_sso.role_map",
                    "expected claim=role pairs with carfin role codes",
                );
            }
        }
        if !(1..=120).contains(&self.staff_sso.timeout_secs) {
            problem("staff_sso.timeout_secs", "expected 1 to 120");
        }
        problems
    }

    /// The main database URL.
    pub fn database_url(&self) -> String {
        match (&self.database.url, &self.data_dir) {
            (Some(url), _) => url.expose().to_string(),
            (None, Some(dir)) => carfin_store::db::sqlite_url(&dir.join("carfin.db")),
            (None, None) => carfin_store::db::sqlite_url(Path::new("carfin.db")),
        }
    }

    /// The key store URL: configured, else beside the SQLite file, else the
    /// main PostgreSQL database (in its own schema).
    pub fn keystore_url(&self) -> String {
        if let Some(url) = &self.keystore.url {
            return url.expose().to_string();
        }
        let main = self.database_url();
        match carfin_store::Engine::from_url(&main) {
            Ok(carfin_store::Engine::Postgres) => main,
            _ => {
                let dir = self.data_dir.clone().unwrap_or_else(|| PathBuf::from("."));
                carfin_store::db::sqlite_url(&dir.join("keys.db"))
            }
        }
    }

    /// The listen address (validated).
    pub fn listen_addr(&self) -> SocketAddr {
        self.server
            .listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// Trusted proxies (validated).
    pub fn trusted_proxies(&self) -> Vec<IpAddr> {
        self.server
            .trusted_proxies
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const K1: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    const K2: &str = "0000000000000000000000000000000000000000000000000000000000000002";

    // OPS-02: defaults → file → environment, the environment wins.
    #[test]
    fn environment_wins_over_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("carfin-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("carfin.toml");
        std::fs::write(&file, format!("data_dir = \"/srv\"\n[server]\nlisten = \"0.0.0.0:9000\"\n[keys]\nmaster_key = \"{K1}\"\nblind_index_key = \"{K2}\"\n")).unwrap();
        let c = Config::load(Some(&file), env(&[("CARFIN_LISTEN", "127.0.0.1:7000")])).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:7000");
        assert_eq!(c.database_url(), "sqlite:///srv/carfin.db?mode=rwc");
        assert_eq!(c.keystore_url(), "sqlite:///srv/keys.db?mode=rwc");
        assert_eq!(c.server.request_timeout_secs, 30);
    }

    // OPS-02: every problem is reported with its key's name; secrets are redacted.
    #[test]
    fn problems_name_their_keys_and_secrets_stay_hidden() {
        let err = Config::load(
            None,
            env(&[
                ("CARFIN_LISTEN", "nowhere"),
                ("CARFIN_DATABASE_URL", "mysql://u:hunter2@h/db"),
                ("CARFIN_SECURE_COOKIES", "maybe"),
                ("CARFIN_MASTER_KEY", "short"),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        for key in [
            "server.listen",
            "database.url",
            "server.secure_cookies",
            "keys.master_key",
            "keys.blind_index_key",
        ] {
            assert!(text.contains(key), "{key} missing in {text}");
        }
        assert!(!text.contains("hunter2"));
        let c = Config {
            database: DatabaseConfig {
                url: Some(Secret::new("postgres://u:hunter2@h/db")),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_file_keys_are_refused_with_their_line() {
        let dir = std::env::temp_dir().join(format!("carfin-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("carfin.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:1\"\nlistne = \"x\"\n",
        )
        .unwrap();
        let text = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(text.contains("listne") && text.contains("line 3"), "{text}");
    }

    // The example file documents every key the environment can set.
    #[test]
    fn example_file_documents_every_key() {
        let example = include_str!("../../../carfin.example.toml");
        for key in KEYS {
            let leaf = key.name.rsplit('.').next().unwrap_or(key.name);
            assert!(
                example.contains(leaf) && example.contains(key.env),
                "{} / {} not documented",
                key.name,
                key.env
            );
        }
        let parsed: Result<Config, _> = toml::from_str(example);
        assert!(parsed.is_ok(), "example does not parse: {parsed:?}");
    }
}
