//! Staff single sign-on (BOF-01): `GET /staff/sso/start` sends the browser
//! to the company's OpenID provider, `GET /staff/sso/callback` takes it
//! back (see [`carfin_app::staff::oidc`]). Both answer 404 when single
//! sign-on is not configured.
//!
//! The state also goes into a short-lived cookie (SameSite=Lax, so that it
//! comes along on the provider's redirect back), which the callback must
//! match: a callback link made in another browser signs nobody in.
//!
//! Signed in, the callback does not redirect straight to `/staff`: the
//! staff cookie is SameSite=Strict, and a browser does not send it on a
//! redirect chain that began at the provider. It answers a page that moves
//! on to `/staff` itself (a `Refresh` header, and a link), a navigation
//! that starts on carfin's own page.

use super::set_cookie;
use crate::context::PageContext;
use crate::cookies::{self, Lifetime, SameSite};
use crate::error::WebError;
use crate::pages::render;
use crate::session::Client;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{REFRESH, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use carfin_app::staff::oidc::{self, Callback, Finish, Start};
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/sso/start", get(start))
        .route("/staff/sso/callback", get(callback))
}

/// The state cookie with `Secure` (the `__Host-` prefix).
pub const STATE_COOKIE_SECURE: &str = "__Host-carfin-staff-sso";
/// The state cookie on plain-HTTP development setups.
pub const STATE_COOKIE_PLAIN: &str = "carfin-staff-sso";

fn state_cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies() {
        STATE_COOKIE_SECURE
    } else {
        STATE_COOKIE_PLAIN
    }
}

fn state_cookie(state: &AppState, value: &str, lifetime: Lifetime) -> Option<HeaderValue> {
    cookies::set_cookie(
        state_cookie_name(state),
        value,
        lifetime,
        SameSite::Lax,
        state.secure_cookies(),
        true,
    )
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{% extends "staff/base.html" %}
{% block title %}{{ title }}{% endblock %}
{% block content %}
<h1>{{ title }}</h1>
<p class="lead">{{ text }}</p>
<p><a class="button" href="{{ link }}">{{ link_text }}</a></p>
{% endblock %}"#
)]
struct SsoPage {
    ctx: PageContext,
    title: &'static str,
    text: &'static str,
    link: &'static str,
    link_text: &'static str,
}

/// A page with a status, ending with a link back to the sign-in page.
fn problem(
    ctx: PageContext,
    status: StatusCode,
    title: &'static str,
    text: &'static str,
) -> Result<Response, WebError> {
    let link_text = ctx.t("staff_sso.back");
    let mut response = render(&SsoPage {
        ctx,
        title,
        text,
        link: "/staff/login",
        link_text,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

fn unavailable(ctx: PageContext) -> Result<Response, WebError> {
    let (title, text) = (
        ctx.t("staff_sso.unavailable.title"),
        ctx.t("staff_sso.unavailable.text"),
    );
    problem(ctx, StatusCode::SERVICE_UNAVAILABLE, title, text)
}

/// `GET /staff/sso/start`: to the provider.
pub async fn start(State(state): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    match oidc::start(state.app()).await? {
        Start::Redirect { url, state: value } => {
            let mut response = Redirect::to(&url).into_response();
            let cookie = state_cookie(
                &state,
                &value,
                Lifetime::MaxAge(oidc::ATTEMPT_SECONDS as u64),
            )
            .ok_or(WebError::Internal)?;
            response.headers_mut().append(SET_COOKIE, cookie);
            Ok(response)
        }
        Start::Unavailable => unavailable(ctx),
    }
}

/// The provider's redirect back.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    iss: Option<String>,
}

/// `GET /staff/sso/callback`: back from the provider.
pub async fn callback(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, WebError> {
    let bound_state = cookies::get(&headers, state_cookie_name(&state)).map(str::to_string);
    let outcome = oidc::finish(
        state.app(),
        &Callback {
            state: query.state,
            code: query.code,
            error: query.error,
            iss: query.iss,
            bound_state,
        },
        &client,
    )
    .await?;
    let mut response = match outcome {
        Finish::SignedIn { token } => {
            let cookie = set_cookie(&state, &token).ok_or(WebError::Internal)?;
            let link_text = ctx.t("staff_sso.signed_in.continue");
            let (title, text) = (
                ctx.t("staff_sso.signed_in.title"),
                ctx.t("staff_sso.signed_in.text"),
            );
            let mut response = render(&SsoPage {
                ctx,
                title,
                text,
                link: "/staff",
                link_text,
            })?;
            response.headers_mut().append(SET_COOKIE, cookie);
            response
                .headers_mut()
                .insert(REFRESH, HeaderValue::from_static("0; url=/staff"));
            response
        }
        Finish::BadState => {
            let (title, text) = (
                ctx.t("staff_sso.bad_state.title"),
                ctx.t("staff_sso.bad_state.text"),
            );
            problem(ctx, StatusCode::BAD_REQUEST, title, text)?
        }
        Finish::ProviderError => {
            let (title, text) = (
                ctx.t("staff_sso.provider_error.title"),
                ctx.t("staff_sso.provider_error.text"),
            );
            problem(ctx, StatusCode::BAD_REQUEST, title, text)?
        }
        Finish::Unverified => {
            let (title, text) = (
                ctx.t("staff_sso.unverified.title"),
                ctx.t("staff_sso.unverified.text"),
            );
            problem(ctx, StatusCode::FORBIDDEN, title, text)?
        }
        Finish::Unavailable => unavailable(ctx)?,
        Finish::NoRole => {
            let (title, text) = (
                ctx.t("staff_sso.no_role.title"),
                ctx.t("staff_sso.no_role.text"),
            );
            problem(ctx, StatusCode::FORBIDDEN, title, text)?
        }
        Finish::Refused => {
            let (title, text) = (
                ctx.t("staff_sso.refused.title"),
                ctx.t("staff_sso.refused.text"),
            );
            problem(ctx, StatusCode::FORBIDDEN, title, text)?
        }
    };
    // The state is used up, whatever happened.
    if let Some(clear) = state_cookie(&state, "x", Lifetime::MaxAge(0)) {
        response.headers_mut().append(SET_COOKIE, clear);
    }
    Ok(response)
}
