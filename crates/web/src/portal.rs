//! The customer portal's account pages under `/my` (ACC-03 … ACC-09):
//! contract activation by SMS code and the security page (password, e-mail, second factor, sessions, reporting
//! unauthorised access, closing the account). Every handler takes a
//! [`Customer`]; every id in a path is checked against that customer in
//! the application layer (another customer's id gives 404).

use crate::auth::{render_with, send_notice, Notice};
use crate::context::PageContext;
use crate::error::WebError;
use crate::form::FormState;
use crate::pages::render;
use crate::session::{clear_cookie, redirect_with_cookie, set_cookie, Client, Customer};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use carfin_app::identity::account::{self, AccountView};
use carfin_app::identity::activation::PortalContract;
use carfin_app::identity::activation::{self, CheckOutcome};
use carfin_app::identity::session::{self, SessionView};
use carfin_app::identity::two_factor::{self, TotpSetup};
use carfin_app::messages::local_time;
use serde::Deserialize;

/// A contract in the list.
#[derive(Debug, Clone)]
pub struct ContractLine {
    pub id: i64,
    pub number: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub activated: bool,
}

fn line(ctx: &PageContext, c: &PortalContract) -> ContractLine {
    ContractLine {
        id: c.id,
        number: c.contract_number.clone(),
        kind: ctx.t(&format!("contract.type.{}", c.contract_type)),
        status: ctx.t(&format!("contract.status.{}", c.status)),
        activated: c.activated_at.is_some(),
    }
}

#[derive(Template)]
#[template(path = "my/activate.html")]
struct ActivatePage {
    ctx: PageContext,
    contract: ContractLine,
    masked_phone: Option<String>,
    code_pending: bool,
    notice: Option<Notice>,
}

async fn activate_page(
    state: &AppState,
    ctx: PageContext,
    session: &carfin_app::identity::session::Session,
    contract_id: i64,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let view = activation::view(state.app(), session, contract_id).await?;
    if view.contract.activated_at.is_some() {
        return Ok(Redirect::to(&format!("/my/contracts/{contract_id}")).into_response());
    }
    render_with(
        status,
        &ActivatePage {
            contract: line(&ctx, &view.contract),
            masked_phone: view.masked_phone,
            code_pending: view.code_pending,
            notice,
            ctx,
        },
    )
}

/// `GET /my/contracts/{id}/activate` (ACC-03).
pub async fn activate_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    activate_page(&state, ctx, &session, id, None, StatusCode::OK).await
}

/// `POST /my/contracts/{id}/activate/send`: an SMS code to the number on
/// file.
pub async fn send_activation_code(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let outcome = activation::send_code(state.app(), &session, id, &client).await?;
    let masked = activation::view(state.app(), &session, id)
        .await?
        .masked_phone;
    let notice = send_notice(&ctx, outcome, masked.as_deref());
    activate_page(&state, ctx, &session, id, notice, StatusCode::OK).await
}

/// The activation code field.
#[derive(Debug, Deserialize)]
pub struct CodeFields {
    #[serde(default)]
    code: String,
}

/// `POST /my/contracts/{id}/activate`: the code from the SMS.
pub async fn activate(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Path(id): Path<i64>,
    Form(f): Form<CodeFields>,
) -> Result<Response, WebError> {
    let text = match activation::activate(state.app(), &session, id, &f.code, &client).await? {
        CheckOutcome::Accepted => {
            return Ok(Redirect::to(&format!("/my/contracts/{id}?activated=1")).into_response())
        }
        CheckOutcome::Wrong(left) => ctx.tf("code.wrong_left", &[("left", &left.to_string())]),
        CheckOutcome::Locked => ctx.t("activation.locked").to_string(),
        CheckOutcome::Expired => ctx.t("code.expired").to_string(),
    };
    activate_page(
        &state,
        ctx,
        &session,
        id,
        Notice::error(text),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ---------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------

/// A session line as shown.
#[derive(Debug, Clone)]
pub struct SessionLine {
    pub id: i64,
    pub device: String,
    pub network: String,
    pub started: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "my/security.html")]
struct SecurityPage {
    ctx: PageContext,
    account: AccountView,
    sessions: Vec<SessionLine>,
    recovery_text: String,
    form: FormState,
    notice: Option<Notice>,
}

async fn security_page(
    state: &AppState,
    ctx: PageContext,
    session: &carfin_app::identity::session::Session,
    form: FormState,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let account = account::view(state.app(), session).await?;
    let sessions = session::list(state.app(), session)
        .await?
        .into_iter()
        .map(|s: SessionView| SessionLine {
            id: s.id,
            device: s.device,
            network: s.network,
            started: local_time(ctx.lang, s.created_at),
            last_seen: local_time(ctx.lang, s.last_seen_at),
            current: s.current,
        })
        .collect();
    let recovery_left = two_factor::recovery_codes_left(state.app(), session).await?;
    let recovery_text = ctx.tf(
        "security.recovery_left",
        &[("count", &recovery_left.to_string())],
    );
    render_with(
        status,
        &SecurityPage {
            ctx,
            account,
            sessions,
            recovery_text,
            form,
            notice,
        },
    )
}

/// The security page again after a refused form (422), with the problems.
async fn security_refused(
    state: &AppState,
    ctx: PageContext,
    session: &carfin_app::identity::session::Session,
    typed: FormState,
    error: carfin_app::AppError,
) -> Result<Response, WebError> {
    let form = typed.refused(error)?;
    security_page(
        state,
        ctx,
        session,
        form,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Query of the security page: which change just succeeded.
#[derive(Debug, Deserialize)]
pub struct SecurityQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /my/security` (ACC-04, ACC-06, ACC-07, ACC-08, ACC-09).
pub async fn security(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, WebError> {
    let notice = match query.done.as_deref() {
        Some(what @ ("password" | "email" | "sessions" | "session" | "two_factor_off")) => {
            Notice::success(ctx.t(&format!("security.done.{what}")).to_string())
        }
        _ => None,
    };
    security_page(
        &state,
        ctx,
        &session,
        FormState::new(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// The password change fields.
#[derive(Debug, Deserialize)]
pub struct PasswordFields {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /my/security/password` (ACC-07): the session gets a new id.
pub async fn change_password(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Form(f): Form<PasswordFields>,
) -> Result<Response, WebError> {
    match account::change_password(
        state.app(),
        &session,
        &f.current_password,
        &f.new_password,
        &client,
    )
    .await
    {
        Ok(token) => Ok(redirect_with_cookie(
            "/my/security?done=password",
            set_cookie(&state, &token),
        )),
        Err(error) => security_refused(&state, ctx, &session, FormState::new(), error).await,
    }
}

/// The e-mail change fields.
#[derive(Debug, Deserialize)]
pub struct EmailFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /my/security/email` (ACC-07): a link to the new address.
pub async fn change_email(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Form(f): Form<EmailFields>,
) -> Result<Response, WebError> {
    match account::request_email_change(state.app(), &session, &f.email, &f.password, &client).await
    {
        Ok(()) => {
            let notice = Notice::info(ctx.t("security.email_link_sent").to_string());
            security_page(
                &state,
                ctx,
                &session,
                FormState::new(),
                notice,
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            security_refused(
                &state,
                ctx,
                &session,
                FormState::with_values(&[("email", &f.email)]),
                error,
            )
            .await
        }
    }
}

/// `POST /my/security/sessions/{id}/end` ("end this session", ACC-06).
pub async fn end_session(
    State(state): State<AppState>,
    Client(client): Client,
    Customer(session): Customer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    session::end(state.app(), &session, id, &client).await?;
    if id == session.id {
        return Ok(redirect_with_cookie("/login", clear_cookie(&state)));
    }
    Ok(Redirect::to("/my/security?done=session").into_response())
}

/// `POST /my/security/sessions/end-others` ("sign out everywhere else").
pub async fn end_other_sessions(
    State(state): State<AppState>,
    Client(client): Client,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    session::end_others(state.app(), &session, &client).await?;
    Ok(Redirect::to("/my/security?done=sessions").into_response())
}

#[derive(Template)]
#[template(path = "my/totp.html")]
struct TotpPage {
    ctx: PageContext,
    setup: Option<TotpSetup>,
    recovery_codes: Vec<String>,
    notice: Option<Notice>,
}

/// `GET /my/security/two-factor/totp`: a QR code for the authenticator app.
pub async fn totp_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    match two_factor::begin_totp(state.app(), &session).await {
        Ok(setup) => render(&TotpPage {
            ctx,
            setup: Some(setup),
            recovery_codes: Vec::new(),
            notice: None,
        }),
        Err(carfin_app::AppError::Invalid(_)) => Ok(Redirect::to("/my/security").into_response()),
        Err(other) => Err(other.into()),
    }
}

/// `POST /my/security/two-factor/totp`: the first code confirms the set-up;
/// the recovery codes are shown once.
pub async fn totp_confirm(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Form(f): Form<CodeFields>,
) -> Result<Response, WebError> {
    match two_factor::confirm_totp(state.app(), &session, &f.code, &client).await {
        Ok(codes) => render(&TotpPage {
            notice: Notice::success(ctx.t("two_factor.on").to_string()),
            ctx,
            setup: None,
            recovery_codes: codes,
        }),
        Err(carfin_app::AppError::Invalid(_)) => {
            let setup = two_factor::begin_totp(state.app(), &session).await?;
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &TotpPage {
                    notice: Notice::error(ctx.t("two_factor.code_wrong").to_string()),
                    ctx,
                    setup: Some(setup),
                    recovery_codes: Vec::new(),
                },
            )
        }
        Err(other) => Err(other.into()),
    }
}

/// The password confirmation field.
#[derive(Debug, Deserialize)]
pub struct PasswordOnly {
    #[serde(default)]
    password: String,
}

/// `POST /my/security/two-factor/sms`: SMS codes at every sign-in.
pub async fn sms_enable(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Form(f): Form<PasswordOnly>,
) -> Result<Response, WebError> {
    match two_factor::enable_sms(state.app(), &session, &f.password, &client).await {
        Ok(codes) => render(&TotpPage {
            notice: Notice::success(ctx.t("two_factor.on").to_string()),
            ctx,
            setup: None,
            recovery_codes: codes,
        }),
        Err(error) => security_refused(&state, ctx, &session, FormState::new(), error).await,
    }
}

/// `POST /my/security/two-factor/off`.
pub async fn two_factor_off(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Form(f): Form<PasswordOnly>,
) -> Result<Response, WebError> {
    match two_factor::disable(state.app(), &session, &f.password, &client).await {
        Ok(()) => Ok(Redirect::to("/my/security?done=two_factor_off").into_response()),
        Err(error) => security_refused(&state, ctx, &session, FormState::new(), error).await,
    }
}

#[derive(Template)]
#[template(path = "my/reported.html")]
struct ReportedPage {
    ctx: PageContext,
    text: String,
}

/// `POST /my/security/report` (ACC-08): freezes the account at once.
pub async fn report(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    let at = account::report_unauthorised_access(state.app(), &session, &client).await?;
    let text = ctx.tf("report.done", &[("reported_at", &local_time(ctx.lang, at))]);
    let mut response = render(&ReportedPage { ctx, text })?;
    if let Some(cookie) = clear_cookie(&state) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "my/closed.html")]
struct ClosedPage {
    ctx: PageContext,
}

/// `POST /my/account/close` (ACC-09): password again, then at once.
pub async fn close_account(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
    Form(f): Form<PasswordOnly>,
) -> Result<Response, WebError> {
    match account::close(state.app(), &session, &f.password, &client).await {
        Ok(()) => {
            let mut response = render(&ClosedPage { ctx })?;
            if let Some(cookie) = clear_cookie(&state) {
                response
                    .headers_mut()
                    .append(axum::http::header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Err(error) => security_refused(&state, ctx, &session, FormState::new(), error).await,
    }
}
