//! The customer's session in the web layer (ACC-06): the cookie, and the
//! extractors that turn it into a signed-in customer or send the browser
//! to the sign-in page.

use crate::client_addr::ClientAddr;
use crate::context::PageContext;
use crate::cookies::{self, Lifetime, SameSite};
use crate::error::WebError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Redirect, Response};
use carfin_app::identity::session::{self, Session, SessionState};
use carfin_app::identity::ClientInfo;

/// The session cookie's name for this configuration.
pub fn cookie_name(secure_cookies: bool) -> &'static str {
    if secure_cookies {
        session::COOKIE_SECURE
    } else {
        session::COOKIE_PLAIN
    }
}

/// `Set-Cookie` for a session id: HttpOnly, SameSite=Lax (so a link from
/// an e-mail lands signed in), Secure with the `__Host-` prefix, and no
/// expiry (the server enforces idle and absolute limits).
pub fn set_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    cookies::set_cookie(
        cookie_name(state.secure_cookies()),
        token,
        Lifetime::Session,
        SameSite::Lax,
        state.secure_cookies(),
        true,
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> Option<HeaderValue> {
    cookies::set_cookie(
        cookie_name(state.secure_cookies()),
        "x",
        Lifetime::MaxAge(0),
        SameSite::Lax,
        state.secure_cookies(),
        true,
    )
}

/// A 303 to `to` that also sets (or clears) the session cookie.
pub fn redirect_with_cookie(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The caller as the application layer needs it: network address (after
/// trusted proxies), user agent, request id and language.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = PageContext::from_request_parts(parts, state).await?;
        let ClientAddr(address) = ClientAddr::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(400)
            .collect();
        Ok(Client(ClientInfo {
            address: Some(address),
            user_agent,
            request_id: ctx.request_id.as_str().to_string(),
            language: ctx.lang,
        }))
    }
}

async fn session_of(parts: &Parts, state: &AppState) -> Result<Option<Session>, WebError> {
    let Some(token) = cookies::get(&parts.headers, cookie_name(state.secure_cookies())) else {
        return Ok(None);
    };
    Ok(session::current(state.app(), token).await?)
}

/// A fully signed-in customer. Without one the browser goes to `/login`
/// (or on to the step of sign-in it has not finished).
#[derive(Debug, Clone)]
pub struct Customer(pub Session);

impl FromRequestParts<AppState> for Customer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match session_of(parts, state).await {
            Ok(Some(s)) if s.state == SessionState::Active => Ok(Customer(s)),
            Ok(Some(s)) if s.state == SessionState::SecondFactor => {
                Err(Redirect::to("/login/verify").into_response())
            }
            Ok(Some(_)) => Err(Redirect::to("/login/terms").into_response()),
            Ok(None) => Err(redirect_with_cookie("/login", clear_cookie(state))),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// A session half-way through sign-in (second factor or terms), or any.
#[derive(Debug, Clone)]
pub struct AnySession(pub Session);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match session_of(parts, state).await {
            Ok(Some(s)) => Ok(AnySession(s)),
            Ok(None) => Err(redirect_with_cookie("/login", clear_cookie(state))),
            Err(error) => Err(error.into_response()),
        }
    }
}
