//! Sessions (ACC-06): a random id in the cookie, only its keyed hash in the
//! database; idle and absolute expiry from the injected clock; a new id at
//! every step-up (second factor, accepted terms, password change); the
//! customer's list of their sessions with device and approximate network.

use super::{open, seal, secret_hash, secrets, subject_key, ClientInfo};
use crate::{App, AppError};
use carfin_domain::Language;
use carfin_store::repo::identity::{self as repo, AccountRow, NewSession};
use sqlx::AnyConnection;
use std::net::IpAddr;

/// Cookie name when cookies are `Secure` (`__Host-` prefix: host-only,
/// path `/`, secure).
pub const COOKIE_SECURE: &str = "__Host-carfin-session";
/// Cookie name for plain-HTTP development.
pub const COOKIE_PLAIN: &str = "carfin-session";
/// Activity is written at most this often (seconds), so page views do not
/// each cost a write; the idle timeout is exact to within this.
const TOUCH_EVERY_SECS: i64 = 60;
const TOKEN_DOMAIN: &str = "sessions.token";

/// How far a session has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Password checked; the second factor is still due (ACC-04).
    SecondFactor,
    /// Signed in, but a new version of the terms must be accepted (ACC-11).
    Terms,
    /// Signed in.
    Active,
}

impl SessionState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::SecondFactor => "second_factor",
            SessionState::Terms => "terms",
            SessionState::Active => "active",
        }
    }

    fn parse(s: &str) -> SessionState {
        match s {
            "active" => SessionState::Active,
            "terms" => SessionState::Terms,
            _ => SessionState::SecondFactor,
        }
    }
}

/// The signed-in customer of a request.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's public handle.
    pub id: i64,
    pub account_id: i64,
    pub customer_id: i64,
    pub entity_id: i64,
    pub state: SessionState,
    pub language: Language,
    /// `none`, `totp` or `sms`.
    pub second_factor: String,
}

/// One line of "your sessions".
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: i64,
    pub device: String,
    pub network: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub current: bool,
}

/// "Firefox on Linux" from a `User-Agent` header: the browser family and
/// the operating system, nothing that identifies the device further.
pub fn device_summary(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        "?"
    };
    let os = if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        "?"
    };
    format!("{browser} / {os}")
}

/// The network address truncated to what says roughly where, not who: the
/// /24 of IPv4 (`192.0.2.x`), the /48 of IPv6. carfin has no location
/// database and calls no outside service, so this is the "approximate
/// place" (ACC-06).
pub fn network_summary(address: Option<IpAddr>) -> String {
    match address {
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.x", o[0], o[1], o[2])
        }
        Some(IpAddr::V6(v6)) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return network_summary(Some(IpAddr::V4(v4)));
            }
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        None => "?".to_string(),
    }
}

/// Starts a session for `account` in `state`; returns the cookie value.
pub(crate) async fn start(
    tx: &mut AnyConnection,
    app: &App,
    account: &AccountRow,
    state: SessionState,
    client: &ClientInfo,
) -> Result<String, AppError> {
    let key = subject_key(app, account.customer_id).await?;
    let now = app.clock().now().timestamp();
    let id = app.ids().next();
    let token = secrets::url_token();
    let session = NewSession {
        id,
        token_hash: secret_hash(app, TOKEN_DOMAIN, &token),
        account_id: account.id,
        state: state.as_str().to_string(),
        device: seal(
            &key,
            "sessions",
            "device",
            id,
            &device_summary(&client.user_agent),
        )?,
        network: seal(
            &key,
            "sessions",
            "network",
            id,
            &network_summary(client.address),
        )?,
        now,
        expires_at: now + app.config().auth.session_absolute_hours * 3600,
    };
    repo::insert_session(tx, &session).await?;
    Ok(token)
}

/// The session of a cookie value, if it is still valid; ends it when it
/// has expired (idle or absolute).
pub async fn current(app: &App, token: &str) -> Result<Option<Session>, AppError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let hash = secret_hash(app, TOKEN_DOMAIN, token);
    let Some(row) = repo::session_by_token(app.db(), &hash).await? else {
        return Ok(None);
    };
    let now = app.clock().now().timestamp();
    let idle = app.config().auth.session_idle_minutes * 60;
    if now >= row.expires_at || now - row.last_seen_at >= idle {
        let mut tx = app.db().begin_write().await?;
        repo::delete_session(&mut tx, row.account_id, row.id).await?;
        super::commit(tx).await?;
        return Ok(None);
    }
    let Some(account) = repo::account(app.db(), row.account_id).await? else {
        return Ok(None);
    };
    if account.status != "active" {
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_EVERY_SECS {
        repo::touch_session(app.db(), row.id, now).await?;
    }
    Ok(Some(Session {
        id: row.id,
        account_id: account.id,
        customer_id: account.customer_id,
        entity_id: account.entity_id,
        state: SessionState::parse(&row.state),
        language: super::account_language(&account),
        second_factor: account.second_factor,
    }))
}

/// Moves a session to `state` under a new id (ACC-06); returns the new
/// cookie value.
pub(crate) async fn step_up(
    tx: &mut AnyConnection,
    app: &App,
    session_id: i64,
    state: SessionState,
) -> Result<String, AppError> {
    let token = secrets::url_token();
    let now = app.clock().now().timestamp();
    repo::rotate_session(
        tx,
        session_id,
        &secret_hash(app, TOKEN_DOMAIN, &token),
        state.as_str(),
        now,
    )
    .await?;
    Ok(token)
}

/// The account's sessions, newest activity first.
pub async fn list(app: &App, session: &Session) -> Result<Vec<SessionView>, AppError> {
    let key = subject_key(app, session.customer_id).await?;
    let rows = repo::sessions_of(app.db(), session.account_id).await?;
    rows.iter()
        .map(|row| {
            Ok(SessionView {
                id: row.id,
                device: open(&key, "sessions", "device", row.id, &row.device)?,
                network: open(&key, "sessions", "network", row.id, &row.network)?,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                current: row.id == session.id,
            })
        })
        .collect()
}

/// Ends one of the account's sessions ("end this session"); `NotFound` for
/// a session that is not the account's.
pub async fn end(
    app: &App,
    session: &Session,
    id: i64,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let mut tx = app.db().begin_write().await?;
    if !repo::delete_session(&mut tx, session.account_id, id).await? {
        return Err(AppError::NotFound);
    }
    super::record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "session.ended",
        "protect_systems",
        &[],
    )
    .await?;
    super::commit(tx).await
}

/// Ends every other session of the account ("sign out everywhere").
pub async fn end_others(
    app: &App,
    session: &Session,
    client: &ClientInfo,
) -> Result<u64, AppError> {
    let mut tx = app.db().begin_write().await?;
    let n = repo::delete_sessions(&mut tx, session.account_id, Some(session.id)).await?;
    super::record_customer(
        &mut tx,
        app,
        client,
        session.customer_id,
        "session.ended_others",
        "protect_systems",
        &[],
    )
    .await?;
    super::commit(tx).await?;
    Ok(n)
}

/// Signs out: ends this session.
pub async fn sign_out(app: &App, session: &Session) -> Result<(), AppError> {
    let mut tx = app.db().begin_write().await?;
    repo::delete_session(&mut tx, session.account_id, session.id).await?;
    super::commit(tx).await
}

/// Deletes expired sessions (a scheduled clean-up).
pub async fn prune(app: &App) -> Result<u64, AppError> {
    let now = app.clock().now().timestamp();
    let idle = app.config().auth.session_idle_minutes * 60;
    let ended = repo::delete_expired_sessions(app.db(), now, now - idle).await?;
    // Throttle rows without a lock and a week without failures are history.
    repo::prune_throttle(app.db(), now - 7 * 24 * 3600, now).await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_networks_are_summarised() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device_summary(firefox), "Firefox / Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_summary(iphone), "Safari / iOS");
        assert_eq!(network_summary("203.0.113.77".parse().ok()), "203.0.113.x");
        assert_eq!(
            network_summary("2001:db8:abcd:12::1".parse().ok()),
            "2001:db8:abcd::/48"
        );
    }
}
