//! Brute-force protection (ACC-05), kept in the database so that it holds
//! across nodes: per account (keyed by a hash of the typed e-mail address,
//! so unknown addresses are throttled exactly like known ones) a
//! progressive delay from the third consecutive failure (1, 2, 4 … 60 s)
//! and a temporary lock after `auth.lockout_failures`; per network address
//! a temporary lock after `auth.address_failures` failures within an hour.

use super::secret_hash;
use crate::{App, AppError};
use carfin_store::repo::identity::{self as repo, ThrottleRow};
use sqlx::AnyConnection;
use std::net::IpAddr;

/// Throttle scope of sign-in attempts per account.
pub const ACCOUNT: &str = "account";
/// Throttle scope of failed attempts per network address.
pub const ADDRESS: &str = "address";

/// Throttle scope of registrations per network address.
pub const REGISTRATION: &str = "registration";
/// Throttle scope of password-reset requests per network address.
pub const RESET: &str = "reset";
/// Throttle scope of wrong second-factor codes per account.
pub const SECOND_FACTOR: &str = "second_factor";

/// Failures from which each further attempt waits.
const DELAY_FROM: i64 = 3;
/// The longest delay between attempts.
const MAX_DELAY_SECS: i64 = 60;
/// The window in which failures of an address are counted.
const ADDRESS_WINDOW_SECS: i64 = 3600;
/// The window in which failures of an account are counted.
const ACCOUNT_WINDOW_SECS: i64 = 24 * 3600;

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead.
    Open,
    /// Too soon after the last failure: wait this many seconds.
    Wait(i64),
    /// Locked until this time.
    Locked(i64),
}

/// The throttle key of a typed e-mail address (lowercased).
pub fn account_key(app: &App, email: &str) -> Vec<u8> {
    secret_hash(app, "throttle.account", email)
}

/// The throttle key of a network address: the address itself for IPv4, the
/// /64 prefix for IPv6 (one subscriber's network).
pub fn address_key(app: &App, address: Option<IpAddr>) -> Vec<u8> {
    let text = match address {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    };
    secret_hash(app, "throttle.address", &text)
}

/// Whether an attempt under (scope, key) may go ahead now.
pub async fn gate(app: &App, scope: &str, key: &[u8]) -> Result<Gate, AppError> {
    let now = app.clock().now().timestamp();
    let Some(row) = repo::throttle(app.db(), scope, key).await? else {
        return Ok(Gate::Open);
    };
    if let Some(until) = row.locked_until {
        if until > now {
            return Ok(Gate::Locked(until));
        }
    }
    if scope == ACCOUNT && row.failures >= DELAY_FROM {
        let exponent = u32::try_from(row.failures - DELAY_FROM)
            .unwrap_or(u32::MAX)
            .min(6);
        let delay = (1i64 << exponent).min(MAX_DELAY_SECS);
        let ready = row.last_failure_at + delay;
        if now < ready {
            return Ok(Gate::Wait(ready - now));
        }
    }
    Ok(Gate::Open)
}

/// Counts a failure; returns whether it started a lock.
pub async fn fail(
    tx: &mut AnyConnection,
    app: &App,
    scope: &str,
    key: &[u8],
) -> Result<bool, AppError> {
    let now = app.clock().now().timestamp();
    let auth = &app.config().auth;
    let (threshold, window) = if scope == ACCOUNT || scope == SECOND_FACTOR {
        (auth.lockout_failures, ACCOUNT_WINDOW_SECS)
    } else {
        (auth.address_failures, ADDRESS_WINDOW_SECS)
    };
    let mut row = repo::throttle(app.db(), scope, key)
        .await?
        .unwrap_or(ThrottleRow {
            failures: 0,
            window_start: now,
            last_failure_at: now,
            locked_until: None,
        });
    if row.window_start + window < now {
        row.failures = 0;
        row.window_start = now;
    }
    row.failures += 1;
    row.last_failure_at = now;
    let mut locked = false;
    if row.failures >= threshold {
        row.locked_until = Some(now + auth.lockout_minutes * 60);
        row.failures = 0;
        row.window_start = now;
        locked = true;
    }
    repo::save_throttle(tx, scope, key, &row).await?;
    Ok(locked)
}

/// Forgets the failures of (scope, key) after a success.
pub async fn clear(tx: &mut AnyConnection, scope: &str, key: &[u8]) -> Result<(), AppError> {
    repo::clear_throttle(tx, scope, key).await?;
    Ok(())
}
