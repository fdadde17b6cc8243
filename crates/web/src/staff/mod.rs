//! The back office under `/staff/` (BOF-01 … BOF-06, PRV-14): its own
//! sign-in and session cookie (`__Host-carfin-staff`), apart from
//! customers'. Every page takes a [`Staff`]; without a fully signed-in
//! staff member (password and TOTP, or single sign-on) the browser goes
//! to `/staff/login`. What a staff member may see is decided in the
//! application layer ([`carfin_app::staff`]).

pub mod customers;
pub mod imports;
pub mod login;
pub mod queues;
pub mod reconciliation;
pub mod review;
pub mod sso;

use crate::cookies::{self, Lifetime, SameSite};
use crate::error::WebError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use carfin_app::staff::{auth, StaffSession};

/// The staff session cookie with `Secure` (the `__Host-` prefix).
pub const COOKIE_SECURE: &str = "__Host-carfin-staff";
/// The staff session cookie on plain-HTTP development setups.
pub const COOKIE_PLAIN: &str = "carfin-staff";

/// The staff cookie's name for this configuration.
pub fn cookie_name(secure_cookies: bool) -> &'static str {
    if secure_cookies {
        COOKIE_SECURE
    } else {
        COOKIE_PLAIN
    }
}

/// `Set-Cookie` for a staff session id: HttpOnly, SameSite=Strict (the
/// back office is never entered from a link elsewhere), Path=/.
pub fn set_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    cookies::set_cookie(
        cookie_name(state.secure_cookies()),
        token,
        Lifetime::Session,
        SameSite::Strict,
        state.secure_cookies(),
        true,
    )
}

/// `Set-Cookie` removing the staff cookie.
pub fn clear_cookie(state: &AppState) -> Option<HeaderValue> {
    cookies::set_cookie(
        cookie_name(state.secure_cookies()),
        "x",
        Lifetime::MaxAge(0),
        SameSite::Strict,
        state.secure_cookies(),
        true,
    )
}

/// A 303 to `to` setting (or clearing) the staff cookie.
pub fn redirect_with_cookie(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The staff cookie's value, if any.
pub fn token<'a>(parts: &'a Parts, state: &AppState) -> Option<&'a str> {
    cookies::get(&parts.headers, cookie_name(state.secure_cookies()))
}

/// A fully signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff(pub StaffSession);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = token(parts, state) else {
            return Err(Redirect::to("/staff/login").into_response());
        };
        match auth::current(state.app(), token).await {
            Ok(Some(session)) => Ok(Staff(session)),
            Ok(None) => Err(redirect_with_cookie("/staff/login", clear_cookie(state))),
            Err(error) => Err(WebError::from(error).into_response()),
        }
    }
}

/// Every back-office route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(login::routes())
        .merge(sso::routes())
        .merge(customers::routes())
        .merge(queues::routes())
        .merge(imports::routes())
        .merge(review::routes())
        .merge(reconciliation::routes())
}
