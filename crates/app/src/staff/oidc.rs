//! Staff single sign-on through the company's OpenID Connect provider
//! (BOF-01): the authorization code flow with PKCE (S256), a nonce, and a
//! state that is used once and bound to the browser that started the
//! sign-in. The ID token is checked here (RS256 signature against the
//! provider's JWKS, `iss`, `aud`/`azp`, `exp`, `iat`, `nbf`, `nonce`); the
//! staff member's roles come from a configured claim through
//! `staff_sso.role_map`. Signing in itself is [`super::auth::sign_in_sso`].
//!
//! The provider's discovery document and JWKS are kept in memory for an
//! hour per issuer; an ID token signed with a key id the cached JWKS does
//! not hold makes it fetch the JWKS again (key rotation). Only `https://`
//! is spoken to a provider, except to a loopback issuer (development and
//! tests). Failures are logged with a reason, never with a token, code or
//! claim value.

use super::auth;
use super::Role;
use crate::identity::{secret_hash, secrets, ClientInfo};
use crate::{App, AppError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use carfin_store::StoreError;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The domain of the state's keyed hash.
const STATE_DOMAIN: &str = "staff-sso-state";
/// How long a started sign-in may take (seconds).
pub const ATTEMPT_SECONDS: i64 = 600;
/// Clock skew allowed between carfin and the provider (seconds).
pub const LEEWAY_SECONDS: i64 = 60;
/// How long discovery and JWKS are kept.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// The largest answer read from the provider.
const MAX_BODY: usize = 256 * 1024;
/// The scopes asked for: the roles claim must come with these (most
/// providers release group or role claims with `profile`, or always).
pub const SCOPES: &str = "openid email profile";

/// Where `/staff/sso/start` sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// To the provider's authorization endpoint; `state` is also set in a
    /// cookie so the callback can tell it comes back to the same browser.
    Redirect { url: String, state: String },
    /// The provider could not be reached or answered nonsense.
    Unavailable,
}

/// What came back to `/staff/sso/callback`.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's `error` (the user cancelled, access denied …).
    pub error: Option<String>,
    /// The provider's `iss` (RFC 9207), when it sends one.
    pub iss: Option<String>,
    /// The state in the cookie set by `/staff/sso/start`.
    pub bound_state: Option<String>,
}

/// How a callback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Signed in: the staff session's cookie value.
    SignedIn { token: String },
    /// Unknown, expired, used or foreign state (400).
    BadState,
    /// The provider reported an error instead of a code (400).
    ProviderError,
    /// The provider's answer did not pass the checks (403).
    Unverified,
    /// The provider could not be reached (503).
    Unavailable,
    /// The account holds no claim value that maps to a role (403).
    NoRole,
    /// The back-office account is blocked or linked to another subject (403).
    Refused,
}

/// Why a provider answer was not accepted (logged, never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The ID token names a key the JWKS does not hold.
    UnknownKey,
    /// Anything else: the reason.
    Invalid(&'static str),
}

/// What the checks expect of an ID token.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// The claims carfin reads from a checked ID token (and userinfo).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// Every claim, to find the roles claim in.
    pub claims: serde_json::Map<String, Value>,
}

// ---------------------------------------------------------------------------
// Role mapping

/// The carfin roles that a roles claim's value grants under `role_map`
/// (`claim value=role code` pairs; a value that is a role code maps to
/// itself). The claim may be an array of strings or one string of values
/// separated by spaces or commas; values that map to nothing are ignored.
/// In [`Role::ALL`] order, without repeats.
pub fn map_roles(claim: Option<&Value>, role_map: &[String]) -> Vec<Role> {
    let values: Vec<&str> = match claim {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(text)) => text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|v| !v.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    let mut granted: Vec<Role> = Vec::new();
    for value in values {
        let value = value.trim();
        if let Ok(role) = value.parse::<Role>() {
            granted.push(role);
        }
        for pair in role_map {
            if let Some((claim_value, role)) = pair.split_once('=') {
                if claim_value.trim() == value {
                    if let Ok(role) = role.trim().parse::<Role>() {
                        granted.push(role);
                    }
                }
            }
        }
    }
    Role::ALL
        .into_iter()
        .filter(|r| granted.contains(r))
        .collect()
}

/// The roles claim in `claims`: the claim called `name`, or, when there is
/// none and the name has dots, the nested claim on that path
/// (`realm_access.roles`).
pub fn find_claim<'a>(claims: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

// ---------------------------------------------------------------------------
// ID token checks

fn signing_key<'a>(header: &jsonwebtoken::Header, jwks: &'a JwkSet) -> Result<&'a Jwk, Rejection> {
    let usable = |jwk: &&Jwk| {
        matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
            && jwk
                .common
                .public_key_use
                .as_ref()
                .is_none_or(|u| *u == PublicKeyUse::Signature)
            && jwk
                .common
                .key_algorithm
                .is_none_or(|a| a == KeyAlgorithm::RS256)
    };
    match &header.kid {
        Some(kid) => jwks
            .keys
            .iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid.as_str()))
            .filter(usable)
            .ok_or(Rejection::UnknownKey),
        None => {
            let mut candidates = jwks.keys.iter().filter(usable);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(Rejection::UnknownKey),
            }
        }
    }
}

fn reason(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => "algorithm not allowed",
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => "unusable key",
        _ => "malformed token",
    }
}

/// Checks an ID token (OIDC Core 3.1.3.7) against the provider's keys at
/// `now` (unix seconds): RS256 only (`none` and HMAC are refused), the
/// signature, `iss`, `aud` (and `azp` when there are several audiences),
/// `exp`, `iat` and `nbf` with [`LEEWAY_SECONDS`], and the nonce.
pub fn validate_id_token(
    id_token: &str,
    jwks: &JwkSet,
    expected: &Expected<'_>,
    now: i64,
) -> Result<Identity, Rejection> {
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|_| Rejection::Invalid("malformed token"))?;
    if header.alg != Algorithm::RS256 {
        return Err(Rejection::Invalid("algorithm not allowed"));
    }
    let jwk = signing_key(&header, jwks)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Rejection::Invalid("unusable key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Times are checked below against carfin's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(id_token, &key, &validation)
        .map_err(|e| Rejection::Invalid(reason(&e)))?;
    let claims = data.claims;

    let time = |name: &str| {
        claims
            .get(name)
            .map(|v| v.as_i64().ok_or(Rejection::Invalid("malformed time")))
    };
    let exp = time("exp").ok_or(Rejection::Invalid("missing claim"))??;
    let iat = time("iat").ok_or(Rejection::Invalid("missing claim"))??;
    if now > exp + LEEWAY_SECONDS {
        return Err(Rejection::Invalid("expired"));
    }
    if iat > now + LEEWAY_SECONDS {
        return Err(Rejection::Invalid("issued in the future"));
    }
    if let Some(nbf) = time("nbf").transpose()? {
        if nbf > now + LEEWAY_SECONDS {
            return Err(Rejection::Invalid("not yet valid"));
        }
    }
    let several_audiences = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    match claims.get("azp") {
        Some(azp) if azp.as_str() != Some(expected.client_id) => {
            return Err(Rejection::Invalid("wrong authorized party"))
        }
        None if several_audiences => return Err(Rejection::Invalid("wrong authorized party")),
        _ => {}
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if nonce.is_empty() || !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(Rejection::Invalid("wrong nonce"));
    }
    identity(claims)
}

fn identity(claims: serde_json::Map<String, Value>) -> Result<Identity, Rejection> {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(Rejection::Invalid("bad subject"))?
        .to_string();
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(200).collect::<String>())
    };
    Ok(Identity {
        email: text("email"),
        name: text("name"),
        email_verified: claims.get("email_verified").and_then(|v| match v {
            Value::Bool(b) => Some(*b),
            // Some providers send it as a string.
            Value::String(s) => Some(s == "true"),
            _ => None,
        }),
        subject,
        claims,
    })
}

// ---------------------------------------------------------------------------
// The provider

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
struct ProviderInfo {
    discovery: Discovery,
    jwks: JwkSet,
    fetched: Instant,
}

/// Discovery and JWKS per issuer.
fn cache() -> &'static Mutex<HashMap<String, Arc<ProviderInfo>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ProviderInfo>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A failure talking to the provider: logged with its reason.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// Not reachable, timed out, or a server error.
    Unavailable(&'static str),
    /// An answer that must not be accepted.
    Invalid(&'static str),
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether carfin may talk to `url`: `https://`, or `http://` on loopback
/// when the issuer itself is a loopback address.
fn allowed(url: &str, loopback_issuer: bool) -> Option<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).ok()?;
    match parsed.scheme() {
        "https" => Some(parsed),
        "http" if loopback_issuer && is_loopback(&parsed) => Some(parsed),
        _ => None,
    }
}

struct Provider<'a> {
    app: &'a App,
    issuer: &'a str,
    loopback: bool,
    http: reqwest::Client,
}

impl<'a> Provider<'a> {
    fn new(app: &'a App) -> Result<Option<Provider<'a>>, AppError> {
        let config = &app.config().staff_sso;
        let issuer = config.issuer.trim();
        let Ok(parsed) = reqwest::Url::parse(issuer) else {
            tracing::error!("staff_sso.issuer is not a URL");
            return Ok(None);
        };
        let loopback = is_loopback(&parsed);
        if allowed(issuer, loopback).is_none() {
            tracing::error!("staff_sso.issuer must be https:// (http:// only on loopback)");
            return Ok(None);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("carfin");
        if loopback {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|_| {
            AppError::Config("cannot build the HTTP client for single sign-on".into())
        })?;
        Ok(Some(Provider {
            app,
            issuer,
            loopback,
            http,
        }))
    }

    async fn read(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), Failure> {
        let mut response = request
            .send()
            .await
            .map_err(|_| Failure::Unavailable("provider not reachable"))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| Failure::Unavailable("provider answer broken off"))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Failure::Invalid("provider answer too large"));
            }
            body.extend_from_slice(&chunk);
        }
        if status >= 500 {
            return Err(Failure::Unavailable("provider server error"));
        }
        Ok((status, body))
    }

    async fn get_json(&self, url: &str) -> Result<Value, Failure> {
        let url = allowed(url, self.loopback).ok_or(Failure::Invalid("endpoint not https"))?;
        let (status, body) = self
            .read(self.http.get(url).header("accept", "application/json"))
            .await?;
        if status != 200 {
            return Err(Failure::Unavailable("provider refused a metadata request"));
        }
        serde_json::from_slice(&body).map_err(|_| Failure::Invalid("provider metadata is not JSON"))
    }

    async fn fetch_jwks(&self, discovery: &Discovery) -> Result<JwkSet, Failure> {
        let value = self.get_json(&discovery.jwks_uri).await?;
        // Keys carfin cannot read (other types, encryption keys) are left out.
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(Failure::Invalid("JWKS without keys"))?
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect();
        Ok(JwkSet { keys })
    }

    /// Discovery and JWKS, from the cache or fetched (`refresh`: fetched).
    async fn info(&self, refresh: bool) -> Result<Arc<ProviderInfo>, Failure> {
        if !refresh {
            let cached = cache()
                .lock()
                .ok()
                .and_then(|c| c.get(self.issuer).cloned());
            if let Some(info) = cached.filter(|i| i.fetched.elapsed() < CACHE_FOR) {
                return Ok(info);
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|_| Failure::Invalid("discovery document incomplete"))?;
        if discovery.issuer != self.issuer {
            return Err(Failure::Invalid("discovery names another issuer"));
        }
        for endpoint in [
            Some(&discovery.authorization_endpoint),
            Some(&discovery.token_endpoint),
            Some(&discovery.jwks_uri),
            discovery.userinfo_endpoint.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if allowed(endpoint, self.loopback).is_none() {
                return Err(Failure::Invalid("endpoint not https"));
            }
        }
        let jwks = self.fetch_jwks(&discovery).await?;
        let info = Arc::new(ProviderInfo {
            discovery,
            jwks,
            fetched: Instant::now(),
        });
        if let Ok(mut c) = cache().lock() {
            c.insert(self.issuer.to_string(), info.clone());
        }
        Ok(info)
    }

    fn redirect_uri(&self) -> String {
        format!(
            "{}/staff/sso/callback",
            self.app.config().server.public_url.trim_end_matches('/')
        )
    }

    /// The code for tokens (client_secret_basic, or client_secret_post
    /// when that is all the provider takes).
    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, Failure> {
        let config = &self.app.config().staff_sso;
        let url = allowed(&discovery.token_endpoint, self.loopback)
            .ok_or(Failure::Invalid("endpoint not https"))?;
        let methods = discovery
            .token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        let post = !methods.iter().any(|m| m == "client_secret_basic")
            && methods.iter().any(|m| m == "client_secret_post");
        let redirect_uri = self.redirect_uri();
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", code_verifier),
        ];
        let mut request = self.http.post(url).header("accept", "application/json");
        if post {
            form.push(("client_id", &config.client_id));
            form.push(("client_secret", config.client_secret.expose()));
        } else {
            // RFC 6749 2.3.1: both are form-encoded before Basic encoding.
            request = request.basic_auth(
                form_encode(&config.client_id),
                Some(form_encode(config.client_secret.expose())),
            );
        }
        let (status, body) = self.read(request.form(&form)).await?;
        if status != 200 {
            return Err(Failure::Invalid("token request refused"));
        }
        serde_json::from_slice(&body).map_err(|_| Failure::Invalid("token answer is not JSON"))
    }

    /// The userinfo claims for an access token (OIDC Core 5.3).
    async fn userinfo(
        &self,
        discovery: &Discovery,
        access_token: &str,
    ) -> Result<serde_json::Map<String, Value>, Failure> {
        let endpoint = discovery
            .userinfo_endpoint
            .as_deref()
            .ok_or(Failure::Invalid("no userinfo endpoint"))?;
        let url = allowed(endpoint, self.loopback).ok_or(Failure::Invalid("endpoint not https"))?;
        let (status, body) = self
            .read(
                self.http
                    .get(url)
                    .bearer_auth(access_token)
                    .header("accept", "application/json"),
            )
            .await?;
        if status != 200 {
            return Err(Failure::Invalid("userinfo refused"));
        }
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => Ok(map),
            // A signed or encrypted userinfo answer is not asked for.
            _ => Err(Failure::Invalid("userinfo is not JSON")),
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The PKCE S256 challenge of a verifier (RFC 7636 4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

// ---------------------------------------------------------------------------
// The flow

/// Starts a sign-in (`GET /staff/sso/start`): a random state, nonce and
/// PKCE verifier, the attempt stored for [`ATTEMPT_SECONDS`] under the
/// state's keyed hash, and the provider's authorization URL. Not
/// configured: [`AppError::NotFound`].
pub async fn start(app: &App) -> Result<Start, AppError> {
    let config = &app.config().staff_sso;
    if !config.enabled() {
        return Err(AppError::NotFound);
    }
    let Some(provider) = Provider::new(app)? else {
        return Ok(Start::Unavailable);
    };
    let info = match provider.info(false).await {
        Ok(info) => info,
        Err(Failure::Unavailable(why) | Failure::Invalid(why)) => {
            tracing::warn!(
                reason = why,
                "staff single sign-on: provider discovery failed"
            );
            return Ok(Start::Unavailable);
        }
    };
    let state = secrets::url_token();
    let nonce = secrets::url_token();
    let verifier = secrets::url_token();
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    sqlx::query("DELETE FROM staff_sso_attempts WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    sqlx::query(
        "INSERT INTO staff_sso_attempts (state_hash, nonce, code_verifier, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(secret_hash(app, STATE_DOMAIN, &state))
    .bind(nonce.clone())
    .bind(verifier.clone())
    .bind(now)
    .bind(now + ATTEMPT_SECONDS)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    tx.commit().await.map_err(StoreError::from)?;

    let Some(mut url) = allowed(&info.discovery.authorization_endpoint, provider.loopback) else {
        return Ok(Start::Unavailable);
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", &provider.redirect_uri())
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &code_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    Ok(Start::Redirect {
        url: url.to_string(),
        state,
    })
}

/// The attempt of `state`, deleted (used once); `None` when unknown or
/// expired.
async fn take_attempt(app: &App, state: &str) -> Result<Option<(String, String)>, AppError> {
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let row = sqlx::query(
        "DELETE FROM staff_sso_attempts WHERE state_hash = $1 \
         RETURNING nonce, code_verifier, expires_at",
    )
    .bind(secret_hash(app, STATE_DOMAIN, state))
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    tx.commit().await.map_err(StoreError::from)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let expires_at: i64 = row.try_get(2).map_err(StoreError::from)?;
    if now >= expires_at {
        return Ok(None);
    }
    Ok(Some((
        row.try_get(0).map_err(StoreError::from)?,
        row.try_get(1).map_err(StoreError::from)?,
    )))
}

fn refused(why: &'static str) -> Finish {
    tracing::warn!(reason = why, "staff single sign-on refused");
    Finish::Unverified
}

fn failed(failure: Failure) -> Finish {
    match failure {
        Failure::Unavailable(why) => {
            tracing::warn!(reason = why, "staff single sign-on: provider unavailable");
            Finish::Unavailable
        }
        Failure::Invalid(why) => refused(why),
    }
}

/// Completes a sign-in (`GET /staff/sso/callback`): the state must be the
/// one this browser started with and still be waiting (it is used up
/// here), the code is exchanged (with the PKCE verifier), the ID token is
/// checked ([`validate_id_token`]), roles are mapped ([`map_roles`]), and
/// the staff member is signed in ([`auth::sign_in_sso`]).
pub async fn finish(
    app: &App,
    callback: &Callback,
    client: &ClientInfo,
) -> Result<Finish, AppError> {
    let config = &app.config().staff_sso;
    if !config.enabled() {
        return Err(AppError::NotFound);
    }
    let state = callback.state.as_deref().unwrap_or("");
    if state.is_empty() || state.len() > 100 {
        tracing::warn!(reason = "no state", "staff single sign-on refused");
        return Ok(Finish::BadState);
    }
    let bound = callback.bound_state.as_deref().unwrap_or("");
    if !bool::from(bound.as_bytes().ct_eq(state.as_bytes())) {
        tracing::warn!(
            reason = "state of another browser",
            "staff single sign-on refused"
        );
        return Ok(Finish::BadState);
    }
    let Some((nonce, verifier)) = take_attempt(app, state).await? else {
        tracing::warn!(
            reason = "unknown, used or expired state",
            "staff single sign-on refused"
        );
        return Ok(Finish::BadState);
    };
    if let Some(error) = &callback.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        tracing::warn!(error = %code, "staff single sign-on: the provider answered an error");
        return Ok(Finish::ProviderError);
    }
    let Some(provider) = Provider::new(app)? else {
        return Ok(Finish::Unavailable);
    };
    if callback
        .iss
        .as_deref()
        .is_some_and(|iss| iss != provider.issuer)
    {
        return Ok(refused("callback from another issuer"));
    }
    let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(refused("no code"));
    };
    let info = match provider.info(false).await {
        Ok(info) => info,
        Err(failure) => return Ok(failed(failure)),
    };
    let tokens = match provider.exchange(&info.discovery, code, &verifier).await {
        Ok(tokens) => tokens,
        Err(failure) => return Ok(failed(failure)),
    };
    let Some(id_token) = tokens.id_token.as_deref() else {
        return Ok(refused("no ID token"));
    };
    let expected = Expected {
        issuer: provider.issuer,
        client_id: &config.client_id,
        nonce: &nonce,
    };
    let now = app.clock().now().timestamp();
    let mut identity = match validate_id_token(id_token, &info.jwks, &expected, now) {
        Ok(identity) => identity,
        Err(Rejection::UnknownKey) => {
            // The provider may have rotated its keys: fetch them again, once.
            let fresh = match provider.info(true).await {
                Ok(info) => info,
                Err(failure) => return Ok(failed(failure)),
            };
            match validate_id_token(id_token, &fresh.jwks, &expected, now) {
                Ok(identity) => identity,
                Err(Rejection::UnknownKey) => return Ok(refused("unknown signing key")),
                Err(Rejection::Invalid(why)) => return Ok(refused(why)),
            }
        }
        Err(Rejection::Invalid(why)) => return Ok(refused(why)),
    };
    // Providers that keep the ID token small put the rest at userinfo.
    let complete =
        |i: &Identity| i.email.is_some() && find_claim(&i.claims, &config.roles_claim).is_some();
    if !complete(&identity) && info.discovery.userinfo_endpoint.is_some() {
        if let Some(access_token) = tokens.access_token.as_deref() {
            match provider.userinfo(&info.discovery, access_token).await {
                Ok(more) => {
                    if more.get("sub").and_then(Value::as_str) != Some(identity.subject.as_str()) {
                        return Ok(refused("userinfo of another subject"));
                    }
                    for (name, value) in more {
                        identity.claims.entry(name).or_insert(value);
                    }
                    identity = match self::identity(identity.claims) {
                        Ok(i) => i,
                        Err(Rejection::UnknownKey) => return Ok(refused("bad subject")),
                        Err(Rejection::Invalid(why)) => return Ok(refused(why)),
                    };
                }
                Err(failure) => return Ok(failed(failure)),
            }
        }
    }
    let roles = map_roles(
        find_claim(&identity.claims, &config.roles_claim),
        &config.role_map,
    );
    if roles.is_empty() {
        tracing::warn!(reason = "no mapped role", "staff single sign-on refused");
        return Ok(Finish::NoRole);
    }
    let Some(email) = identity.email.as_deref().filter(|e| e.contains('@')) else {
        return Ok(refused("no e-mail address"));
    };
    // An address the provider says it has not verified must not link an
    // existing back-office account.
    if identity.email_verified == Some(false) {
        return Ok(refused("e-mail address not verified"));
    }
    let name = identity.name.as_deref().unwrap_or(email);
    match auth::sign_in_sso(app, &identity.subject, email, name, &roles, client).await? {
        Some(token) => Ok(Finish::SignedIn { token }),
        None => {
            tracing::warn!(
                reason = "account blocked or linked elsewhere",
                "staff single sign-on refused"
            );
            Ok(Finish::Refused)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn map(pairs: &[&str]) -> Vec<String> {
        pairs.iter().map(|p| p.to_string()).collect()
    }

    // BOF-01: roles from an array claim, a string claim; unknown values
    // ignored; role codes map to themselves.
    #[test]
    fn roles_are_mapped_from_the_claim() {
        let role_map = map(&[
            "cs-agents=customer_service",
            "dpo = privacy_officer",
            "admins=administrator",
        ]);
        assert_eq!(
            map_roles(
                Some(&json!(["dpo", "cs-agents", "marketing", 7])),
                &role_map
            ),
            vec![Role::CustomerService, Role::PrivacyOfficer]
        );
        assert_eq!(
            map_roles(Some(&json!("admins, marketing cs-agents")), &role_map),
            vec![Role::CustomerService, Role::Administrator]
        );
        assert_eq!(
            map_roles(Some(&json!(["auditor", "auditor"])), &role_map),
            vec![Role::Auditor]
        );
        assert!(map_roles(Some(&json!(["marketing", "sales"])), &role_map).is_empty());
        assert!(map_roles(Some(&json!({"cs-agents": true})), &role_map).is_empty());
        assert!(map_roles(None, &role_map).is_empty());
        // A pair naming no carfin role grants nothing.
        assert!(map_roles(Some(&json!(["x"])), &map(&["x=root"])).is_empty());
    }

    #[test]
    fn the_roles_claim_may_be_nested() {
        let claims = json!({"realm_access": {"roles": ["cs-agents"]}, "roles": "auditor"});
        let claims = claims.as_object().unwrap();
        assert_eq!(find_claim(claims, "roles"), Some(&json!("auditor")));
        assert_eq!(
            find_claim(claims, "realm_access.roles"),
            Some(&json!(["cs-agents"]))
        );
        assert_eq!(find_claim(claims, "groups"), None);
    }

    #[test]
    fn pkce_challenge_is_base64url_sha256() {
        // `printf %s VERIFIER | openssl dgst -sha256 -binary | base64url`.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUofOhc8DPjxyHqbdGlOk"),
            "mraq0ezpz0E3aon3NTbkmTSzaF-GW2sk1eemguMmxWw"
        );
        assert_eq!(form_encode("a b:c/é"), "a+b%3Ac%2F%C3%A9");
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(allowed("https://idp.example/x", false).is_some());
        assert!(allowed("http://idp.example/x", false).is_none());
        assert!(allowed("http://idp.example/x", true).is_none());
        assert!(allowed("http://127.0.0.1:8080/x", true).is_some());
        assert!(allowed("http://127.0.0.1:8080/x", false).is_none());
        assert!(allowed("http://[::1]:8080/x", true).is_some());
        assert!(allowed("ftp://idp.example/x", true).is_none());
    }

    /// An RSA key made by `openssl` (installed by .ci/run) for this test.
    fn rsa_key() -> (EncodingKey, JwkSet) {
        let dir = tempfile_dir();
        let key = dir.join("key.pem");
        let status = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is needed for this test");
        assert!(status.success());
        let pem = std::fs::read(&key).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let encoding = EncodingKey::from_rsa_pem(&pem).unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some("k1".into());
        (encoding, JwkSet { keys: vec![jwk] })
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("carfin-oidc-{}", secrets::url_token()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        json!({
            "iss": "https://idp.example",
            "aud": "carfin",
            "sub": "u-1",
            "exp": NOW + 300,
            "iat": NOW,
            "nonce": "n-1",
            "email": "ann@corp.example",
            "roles": ["cs-agents"],
        })
    }

    fn sign(key: &EncodingKey, claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(String::from);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn with(change: &[(&str, Value)]) -> Value {
        let mut c = claims();
        for (name, value) in change {
            if value.is_null() {
                c.as_object_mut().unwrap().remove(*name);
            } else {
                c[*name] = value.clone();
            }
        }
        c
    }

    // BOF-01: the ID token checks refuse wrong nonce, audience, issuer,
    // times, signature and algorithm.
    #[test]
    fn id_tokens_are_checked() {
        let (key, jwks) = rsa_key();
        let expected = Expected {
            issuer: "https://idp.example",
            client_id: "carfin",
            nonce: "n-1",
        };
        let check = |claims: &Value| {
            validate_id_token(&sign(&key, claims, Some("k1")), &jwks, &expected, NOW)
        };

        let identity = check(&claims()).unwrap();
        assert_eq!(identity.subject, "u-1");
        assert_eq!(identity.email.as_deref(), Some("ann@corp.example"));
        assert_eq!(
            map_roles(
                find_claim(&identity.claims, "roles"),
                &map(&["cs-agents=customer_service"])
            ),
            vec![Role::CustomerService]
        );
        // Without a kid, the only signing key is used.
        assert!(validate_id_token(&sign(&key, &claims(), None), &jwks, &expected, NOW).is_ok());
        // Several audiences: azp must name carfin.
        assert!(check(&with(&[
            ("aud", json!(["carfin", "other"])),
            ("azp", json!("carfin"))
        ]))
        .is_ok());
        assert!(check(&with(&[("aud", json!(["carfin", "other"]))])).is_err());
        // Within the leeway.
        assert!(check(&with(&[("exp", json!(NOW - 30))])).is_ok());

        let refused = [
            (with(&[("nonce", json!("n-2"))]), "wrong nonce"),
            (with(&[("nonce", Value::Null)]), "wrong nonce"),
            (with(&[("aud", json!("other"))]), "wrong audience"),
            (
                with(&[("aud", json!(["other", "another"]))]),
                "wrong audience",
            ),
            (with(&[("aud", Value::Null)]), "missing claim"),
            (with(&[("azp", json!("other"))]), "wrong authorized party"),
            (
                with(&[("iss", json!("https://evil.example"))]),
                "wrong issuer",
            ),
            (with(&[("exp", json!(NOW - 61))]), "expired"),
            (with(&[("exp", json!("never"))]), "missing claim"),
            (with(&[("iat", json!(NOW + 61))]), "issued in the future"),
            (with(&[("iat", Value::Null)]), "missing claim"),
            (with(&[("nbf", json!(NOW + 120))]), "not yet valid"),
            (with(&[("sub", json!(""))]), "bad subject"),
        ];
        for (claims, why) in refused {
            let outcome = check(&claims);
            assert!(
                matches!(outcome, Err(Rejection::Invalid(r)) if r == why || (why == "missing claim" && r == "malformed time")),
                "{claims}: {outcome:?}, expected {why}"
            );
        }

        // Another key's signature, or an unknown key id.
        let (other, _) = rsa_key();
        assert_eq!(
            validate_id_token(&sign(&other, &claims(), Some("k1")), &jwks, &expected, NOW),
            Err(Rejection::Invalid("bad signature"))
        );
        assert_eq!(
            validate_id_token(&sign(&key, &claims(), Some("k2")), &jwks, &expected, NOW),
            Err(Rejection::UnknownKey)
        );

        // `alg: none` and HMAC (keyed with the public key, the classic
        // confusion) are refused.
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "kid": "k1"})),
            b64(&claims())
        );
        assert!(validate_id_token(&unsigned, &jwks, &expected, NOW).is_err());
        let hmac = jsonwebtoken::encode(
            &Header {
                kid: Some("k1".into()),
                ..Header::new(Algorithm::HS256)
            },
            &claims(),
            &EncodingKey::from_secret(b"the public modulus"),
        )
        .unwrap();
        assert_eq!(
            validate_id_token(&hmac, &jwks, &expected, NOW),
            Err(Rejection::Invalid("algorithm not allowed"))
        );
        assert!(validate_id_token("not.a.token", &jwks, &expected, NOW).is_err());
    }
}
