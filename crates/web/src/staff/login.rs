//! Staff sign-in (BOF-01): `/staff/login` (work e-mail address and
//! password), `/staff/login/verify` (the mandatory TOTP code), `/staff`
//! (the back office's start page), `POST /staff/logout`.

use super::{clear_cookie, redirect_with_cookie, set_cookie, Staff};
use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::Client;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carfin_app::staff::auth::{self, PasswordOutcome};
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(home))
        .route("/staff/login", get(login_form).post(login))
        .route("/staff/login/verify", get(verify_form).post(verify))
        .route("/staff/logout", post(logout))
}

#[derive(Template)]
#[template(path = "staff/login.html")]
struct LoginPage {
    ctx: PageContext,
    email: String,
    error: Option<String>,
    sso: bool,
}

/// `GET /staff/login`.
pub async fn login_form(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    let sso = state.app().config().staff_sso.enabled();
    render(&LoginPage {
        ctx,
        email: String::new(),
        error: None,
        sso,
    })
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /staff/login`: the first factor.
pub async fn login(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let outcome = auth::sign_in_password(state.app(), &form.email, &form.password, &client).await?;
    let (status, key, minutes) = match outcome {
        PasswordOutcome::SecondFactor { token } => {
            return Ok(redirect_with_cookie(
                "/staff/login/verify",
                set_cookie(&state, &token),
            ))
        }
        PasswordOutcome::Refused => (StatusCode::UNAUTHORIZED, "staff.login.refused", 0),
        PasswordOutcome::Wait(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            "staff.login.wait",
            (seconds + 59) / 60,
        ),
        PasswordOutcome::Locked(until) => {
            let now = state.app().clock().now().timestamp();
            (
                StatusCode::TOO_MANY_REQUESTS,
                "staff.login.locked",
                ((until - now) + 59) / 60,
            )
        }
    };
    let error = Some(ctx.tf(key, &[("minutes", &minutes.max(1).to_string())]));
    let sso = state.app().config().staff_sso.enabled();
    let mut response = render(&LoginPage {
        ctx,
        email: form.email.trim().chars().take(200).collect(),
        error,
        sso,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Template)]
#[template(path = "staff/verify.html")]
struct VerifyPage {
    ctx: PageContext,
    error: Option<String>,
}

/// The staff cookie's value of a request.
fn cookie_token(parts_headers: &axum::http::HeaderMap, state: &AppState) -> Option<String> {
    crate::cookies::get(parts_headers, super::cookie_name(state.secure_cookies()))
        .map(str::to_string)
}

/// `GET /staff/login/verify`: only during sign-in.
pub async fn verify_form(
    State(state): State<AppState>,
    ctx: PageContext,
    headers: axum::http::HeaderMap,
) -> Result<Response, WebError> {
    let token = cookie_token(&headers, &state).unwrap_or_default();
    if !auth::awaiting_second_factor(state.app(), &token).await? {
        return Ok(Redirect::to("/staff/login").into_response());
    }
    render(&VerifyPage { ctx, error: None })
}

/// The TOTP form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /staff/login/verify`: the second factor; a new session id.
pub async fn verify(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    headers: axum::http::HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    let token = cookie_token(&headers, &state).unwrap_or_default();
    if !auth::awaiting_second_factor(state.app(), &token).await? {
        return Ok(redirect_with_cookie("/staff/login", clear_cookie(&state)));
    }
    match auth::verify_totp(state.app(), &token, &form.code, &client).await? {
        Some(fresh) => Ok(redirect_with_cookie("/staff", set_cookie(&state, &fresh))),
        None => {
            if !auth::awaiting_second_factor(state.app(), &token).await? {
                // Too many wrong codes: the half session ended.
                return Ok(redirect_with_cookie("/staff/login", clear_cookie(&state)));
            }
            let error = Some(ctx.t("staff.verify.wrong").to_string());
            let mut response = render(&VerifyPage { ctx, error })?;
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(response)
        }
    }
}

/// `POST /staff/logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, WebError> {
    if let Some(token) = cookie_token(&headers, &state) {
        auth::sign_out(state.app(), &token).await?;
    }
    Ok(redirect_with_cookie("/staff/login", clear_cookie(&state)))
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    ctx: PageContext,
    greeting: String,
    roles: Vec<&'static str>,
}

/// `GET /staff`: who is signed in, with which roles.
pub async fn home(ctx: PageContext, Staff(staff): Staff) -> Result<Response, WebError> {
    let greeting = ctx.tf("staff.home.greeting", &[("name", &staff.display_name)]);
    let roles = staff
        .roles
        .iter()
        .map(|r| ctx.t(&format!("staff.role.{}", r.code())))
        .collect();
    render(&HomePage {
        ctx,
        greeting,
        roles,
    })
}
