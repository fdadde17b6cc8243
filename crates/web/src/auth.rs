//! Registration, sign-in and everything reachable without a session:
//! e-mail verification, the second step of sign-in, accepting new terms,
//! password reset, confirming a new e-mail address, and reporting
//! unauthorised access from a security e-mail (ACC-01 … ACC-08, ACC-10,
//! ACC-11). Handlers stay thin: they call `carfin_app::identity`.

use crate::context::PageContext;
use crate::error::WebError;
use crate::form::FormState;
use crate::pages::render;
use crate::session::{clear_cookie, redirect_with_cookie, set_cookie, AnySession, Client};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use carfin_app::identity::account::{self, LoginOutcome, Registration};
use carfin_app::identity::activation::SendOutcome;
use carfin_app::identity::session::{self, SessionState};
use carfin_app::identity::two_factor::{self, StepOutcome};
use carfin_app::messages::local_time;
use serde::Deserialize;

/// Renders `page` with `status` (422 for a refused form).
pub(crate) fn render_with(status: StatusCode, page: &impl Template) -> Result<Response, WebError> {
    let mut response = render(page)?;
    *response.status_mut() = status;
    Ok(response)
}

/// A notice on a page: a message key and its placeholders, already filled.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    /// `info`, `success` or `error`.
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    pub(crate) fn info(text: String) -> Option<Notice> {
        Some(Notice { kind: "info", text })
    }
    pub(crate) fn success(text: String) -> Option<Notice> {
        Some(Notice {
            kind: "success",
            text,
        })
    }
    pub(crate) fn error(text: String) -> Option<Notice> {
        Some(Notice {
            kind: "error",
            text,
        })
    }
}

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/register.html")]
struct RegisterPage {
    ctx: PageContext,
    form: FormState,
    sent: bool,
}

/// `GET /register`.
pub async fn register_form(ctx: PageContext) -> Result<Response, WebError> {
    render(&RegisterPage {
        ctx,
        form: FormState::with_values(&[("holder", "person")]),
        sent: false,
    })
}

/// The registration form's fields.
#[derive(Debug, Deserialize)]
pub struct RegisterFields {
    #[serde(default)]
    holder: String,
    #[serde(default)]
    contract_number: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    company_number: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    accept_terms: Option<String>,
    #[serde(default)]
    confirm_age: Option<String>,
}

/// `POST /register` (ACC-01, ACC-10, ACC-11): the same answer whether or
/// not the facts match a contract.
pub async fn register(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Form(f): Form<RegisterFields>,
) -> Result<Response, WebError> {
    let holder = if f.holder == "company" {
        "company"
    } else {
        "person"
    };
    let form = Registration {
        holder: holder.to_string(),
        contract_number: f.contract_number.clone(),
        date_of_birth: f.date_of_birth.clone(),
        company_number: f.company_number.clone(),
        postcode: f.postcode.clone(),
        email: f.email.clone(),
        password: f.password,
        accept_terms: f.accept_terms.is_some(),
        confirm_age: f.confirm_age.is_some(),
    };
    match account::register(state.app(), &form, &client).await {
        Ok(()) => render(&RegisterPage {
            ctx,
            form: FormState::new(),
            sent: true,
        }),
        Err(error) => {
            let accept = if form.accept_terms { "on" } else { "" };
            let age = if form.confirm_age { "on" } else { "" };
            let typed = FormState::with_values(&[
                ("holder", holder),
                ("contract_number", &f.contract_number),
                ("date_of_birth", &f.date_of_birth),
                ("company_number", &f.company_number),
                ("postcode", &f.postcode),
                ("email", &f.email),
                ("accept_terms", accept),
                ("confirm_age", age),
            ]);
            let form = typed.refused(error)?;
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RegisterPage {
                    ctx,
                    form,
                    sent: false,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "auth/confirm_link.html")]
struct ConfirmLinkPage {
    ctx: PageContext,
    heading: &'static str,
    text: String,
    button: &'static str,
    action: String,
    notice: Option<Notice>,
    done: bool,
}

/// `GET /register/verify/{token}`: a button, so that a mail scanner that
/// follows links does not use up the single-use link.
pub async fn verify_form(
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    render(&ConfirmLinkPage {
        heading: ctx.t("verify.heading"),
        text: ctx.t("verify.text").to_string(),
        button: ctx.t("verify.button"),
        action: format!("/register/verify/{}", token_path(&token)),
        notice: None,
        done: false,
        ctx,
    })
}

fn token_path(token: &str) -> String {
    token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(100)
        .collect()
}

/// `POST /register/verify/{token}`.
pub async fn verify(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let ok = account::verify_email(state.app(), &token_path(&token), &client).await?;
    let (status, notice) = if ok {
        (
            StatusCode::OK,
            Notice::success(ctx.t("verify.done").to_string()),
        )
    } else {
        (
            StatusCode::GONE,
            Notice::error(ctx.t("link.invalid").to_string()),
        )
    };
    render_with(
        status,
        &ConfirmLinkPage {
            heading: ctx.t("verify.heading"),
            text: String::new(),
            button: "",
            action: String::new(),
            notice,
            done: true,
            ctx,
        },
    )
}

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    ctx: PageContext,
    form: FormState,
    notice: Option<Notice>,
}

/// `GET /login`.
pub async fn login_form(ctx: PageContext) -> Result<Response, WebError> {
    render(&LoginPage {
        ctx,
        form: FormState::new(),
        notice: None,
    })
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginFields {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /login` (ACC-02, ACC-05): unknown address and wrong password get
/// the same page.
pub async fn login(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Form(f): Form<LoginFields>,
) -> Result<Response, WebError> {
    let outcome = account::login(state.app(), &f.email, &f.password, &client).await?;
    let refuse = |ctx: PageContext, text: String, status: StatusCode| {
        render_with(
            status,
            &LoginPage {
                form: FormState::with_values(&[("email", &f.email)]),
                notice: Notice::error(text),
                ctx,
            },
        )
    };
    match outcome {
        LoginOutcome::Session { token, state: step } => {
            let to = match step {
                SessionState::SecondFactor => "/login/verify",
                SessionState::Terms => "/login/terms",
                SessionState::Active => "/my",
            };
            Ok(redirect_with_cookie(to, set_cookie(&state, &token)))
        }
        LoginOutcome::Refused => {
            let text = ctx.t("login.refused").to_string();
            refuse(ctx, text, StatusCode::UNAUTHORIZED)
        }
        LoginOutcome::Wait(seconds) => {
            let text = ctx.tf("login.wait", &[("seconds", &seconds.to_string())]);
            refuse(ctx, text, StatusCode::TOO_MANY_REQUESTS)
        }
        LoginOutcome::Locked(until) => {
            let now = state.app().clock().now().timestamp();
            let minutes = ((until - now).max(60) + 59) / 60;
            let text = ctx.tf("login.locked", &[("minutes", &minutes.to_string())]);
            refuse(ctx, text, StatusCode::TOO_MANY_REQUESTS)
        }
        LoginOutcome::Unverified => {
            let text = ctx.t("login.unverified").to_string();
            refuse(ctx, text, StatusCode::FORBIDDEN)
        }
        LoginOutcome::Frozen(since) => {
            let directory = state.app().directory().await?;
            let phones: Vec<String> = directory
                .entities
                .iter()
                .map(|e| format!("{} {}", e.name, e.service_phone))
                .collect();
            let text = ctx.tf(
                "login.frozen",
                &[
                    ("since", &local_time(ctx.lang, since)),
                    ("phone", &phones.join(" · ")),
                ],
            );
            refuse(ctx, text, StatusCode::FORBIDDEN)
        }
    }
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    AnySession(session): AnySession,
) -> Result<Response, WebError> {
    session::sign_out(state.app(), &session).await?;
    Ok(redirect_with_cookie(
        "/login?signed_out=1",
        clear_cookie(&state),
    ))
}

#[derive(Template)]
#[template(path = "auth/second_factor.html")]
struct SecondFactorPage {
    ctx: PageContext,
    sms: bool,
    notice: Option<Notice>,
}

/// `GET /login/verify`: the second step (ACC-04).
pub async fn second_factor_form(
    ctx: PageContext,
    AnySession(session): AnySession,
) -> Result<Response, WebError> {
    if session.state != SessionState::SecondFactor {
        return Ok(Redirect::to("/my").into_response());
    }
    render(&SecondFactorPage {
        ctx,
        sms: session.second_factor == "sms",
        notice: None,
    })
}

/// The second step's field.
#[derive(Debug, Deserialize)]
pub struct CodeFields {
    #[serde(default)]
    code: String,
}

/// `POST /login/verify`.
pub async fn second_factor(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    AnySession(session): AnySession,
    Form(f): Form<CodeFields>,
) -> Result<Response, WebError> {
    let sms = session.second_factor == "sms";
    let notice = match two_factor::verify(state.app(), &session, &f.code, &client).await? {
        StepOutcome::Passed { token, state: step } => {
            let to = if step == SessionState::Terms {
                "/login/terms"
            } else {
                "/my"
            };
            return Ok(redirect_with_cookie(to, set_cookie(&state, &token)));
        }
        StepOutcome::Wrong(Some(left)) => ctx.tf("code.wrong_left", &[("left", &left.to_string())]),
        StepOutcome::Wrong(None) => ctx.t("code.wrong").to_string(),
        StepOutcome::Expired => ctx.t("code.expired").to_string(),
        StepOutcome::Locked => {
            let mut response = render_with(
                StatusCode::TOO_MANY_REQUESTS,
                &LoginPage {
                    notice: Notice::error(ctx.t("code.too_many").to_string()),
                    form: FormState::new(),
                    ctx,
                },
            )?;
            if let Some(cookie) = clear_cookie(&state) {
                response
                    .headers_mut()
                    .append(axum::http::header::SET_COOKIE, cookie);
            }
            return Ok(response);
        }
    };
    render_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SecondFactorPage {
            ctx,
            sms,
            notice: Notice::error(notice),
        },
    )
}

/// `POST /login/verify/resend`: a new sign-in SMS code.
pub async fn resend_login_code(
    State(state): State<AppState>,
    ctx: PageContext,
    AnySession(session): AnySession,
) -> Result<Response, WebError> {
    let outcome = two_factor::resend_sms(state.app(), &session).await?;
    render(&SecondFactorPage {
        notice: send_notice(&ctx, outcome, None),
        sms: true,
        ctx,
    })
}

/// The notice after asking for an SMS code.
pub(crate) fn send_notice(
    ctx: &PageContext,
    outcome: SendOutcome,
    masked: Option<&str>,
) -> Option<Notice> {
    match outcome {
        SendOutcome::Sent => {
            Notice::success(ctx.tf("code.sent", &[("phone", masked.unwrap_or(""))]))
        }
        SendOutcome::TooSoon(seconds) => {
            Notice::error(ctx.tf("code.too_soon", &[("seconds", &seconds.to_string())]))
        }
        SendOutcome::TooMany => Notice::error(ctx.t("code.too_many_sent").to_string()),
        SendOutcome::NoMobile => Notice::error(ctx.t("code.no_mobile").to_string()),
    }
}

#[derive(Template)]
#[template(path = "auth/terms_accept.html")]
struct TermsAcceptPage {
    ctx: PageContext,
    text: String,
    form: FormState,
}

/// `GET /login/terms`: accept the terms in force (ACC-11).
pub async fn terms_form(
    State(state): State<AppState>,
    ctx: PageContext,
    AnySession(session): AnySession,
) -> Result<Response, WebError> {
    if session.state != SessionState::Terms {
        return Ok(Redirect::to("/my").into_response());
    }
    let version = account::terms_version_in_force(state.app(), session.entity_id)
        .await?
        .unwrap_or_default();
    render(&TermsAcceptPage {
        text: ctx.tf("terms.accept_text", &[("version", &version)]),
        ctx,
        form: FormState::new(),
    })
}

/// The terms form's field.
#[derive(Debug, Deserialize)]
pub struct AcceptFields {
    #[serde(default)]
    accept_terms: Option<String>,
}

/// `POST /login/terms`.
pub async fn accept_terms(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    AnySession(session): AnySession,
    Form(f): Form<AcceptFields>,
) -> Result<Response, WebError> {
    if f.accept_terms.is_none() {
        let version = account::terms_version_in_force(state.app(), session.entity_id)
            .await?
            .unwrap_or_default();
        return render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &TermsAcceptPage {
                text: ctx.tf("terms.accept_text", &[("version", &version)]),
                ctx,
                form: FormState::new().error_on("accept_terms", "register.accept_terms_required"),
            },
        );
    }
    let token = account::accept_terms(state.app(), &session, &client).await?;
    Ok(redirect_with_cookie("/my", set_cookie(&state, &token)))
}

// ---------------------------------------------------------------------------
// Password reset, e-mail confirmation, reports
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    ctx: PageContext,
    form: FormState,
    sent: bool,
}

/// `GET /password/forgot`.
pub async fn forgot_form(ctx: PageContext) -> Result<Response, WebError> {
    render(&ForgotPage {
        ctx,
        form: FormState::new(),
        sent: false,
    })
}

/// The reset request's field.
#[derive(Debug, Deserialize)]
pub struct EmailFields {
    #[serde(default)]
    email: String,
}

/// `POST /password/forgot` (ACC-05, ACC-07): the same answer for every
/// address.
pub async fn forgot(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Form(f): Form<EmailFields>,
) -> Result<Response, WebError> {
    match account::request_reset(state.app(), &f.email, &client).await {
        Ok(()) => render(&ForgotPage {
            ctx,
            form: FormState::new(),
            sent: true,
        }),
        Err(error) => {
            let form = FormState::with_values(&[("email", &f.email)]).refused(error)?;
            render_with(
                StatusCode::TOO_MANY_REQUESTS,
                &ForgotPage {
                    ctx,
                    form,
                    sent: false,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    ctx: PageContext,
    action: String,
    form: FormState,
    valid: bool,
    done: bool,
}

/// `GET /password/reset/{token}`.
pub async fn reset_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let token = token_path(&token);
    let valid = account::reset_link_valid(state.app(), &token).await?;
    render_with(
        if valid {
            StatusCode::OK
        } else {
            StatusCode::GONE
        },
        &ResetPage {
            ctx,
            action: format!("/password/reset/{token}"),
            form: FormState::new(),
            valid,
            done: false,
        },
    )
}

/// The reset form's field.
#[derive(Debug, Deserialize)]
pub struct NewPasswordFields {
    #[serde(default)]
    new_password: String,
}

/// `POST /password/reset/{token}`.
pub async fn reset(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Path(token): Path<String>,
    Form(f): Form<NewPasswordFields>,
) -> Result<Response, WebError> {
    let token = token_path(&token);
    match account::reset_password(state.app(), &token, &f.new_password, &client).await {
        Ok(()) => {
            let mut response = render(&ResetPage {
                ctx,
                action: String::new(),
                form: FormState::new(),
                valid: true,
                done: true,
            })?;
            if let Some(cookie) = clear_cookie(&state) {
                response
                    .headers_mut()
                    .append(axum::http::header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Err(error) => {
            let form = FormState::new().refused(error)?;
            let valid = form.error("token").is_none();
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ResetPage {
                    ctx,
                    action: format!("/password/reset/{token}"),
                    form,
                    valid,
                    done: false,
                },
            )
        }
    }
}

/// `GET /email/confirm/{token}`.
pub async fn email_confirm_form(
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    render(&ConfirmLinkPage {
        heading: ctx.t("email_change.heading"),
        text: ctx.t("email_change.text").to_string(),
        button: ctx.t("email_change.button"),
        action: format!("/email/confirm/{}", token_path(&token)),
        notice: None,
        done: false,
        ctx,
    })
}

/// `POST /email/confirm/{token}` (ACC-07).
pub async fn email_confirm(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let ok = account::confirm_email_change(state.app(), &token_path(&token), &client).await?;
    let (status, notice) = if ok {
        (
            StatusCode::OK,
            Notice::success(ctx.t("email_change.done").to_string()),
        )
    } else {
        (
            StatusCode::GONE,
            Notice::error(ctx.t("link.invalid").to_string()),
        )
    };
    render_with(
        status,
        &ConfirmLinkPage {
            heading: ctx.t("email_change.heading"),
            text: String::new(),
            button: "",
            action: String::new(),
            notice,
            done: true,
            ctx,
        },
    )
}

/// `GET /report/{token}`: the link in every security e-mail (ACC-08).
pub async fn report_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let token = token_path(&token);
    if !account::report_link_valid(state.app(), &token).await? {
        return render_with(
            StatusCode::GONE,
            &ConfirmLinkPage {
                heading: ctx.t("report.heading"),
                text: String::new(),
                button: "",
                action: String::new(),
                notice: Notice::error(ctx.t("link.invalid").to_string()),
                done: true,
                ctx,
            },
        );
    }
    render(&ConfirmLinkPage {
        heading: ctx.t("report.heading"),
        text: ctx.t("report.text").to_string(),
        button: ctx.t("report.button"),
        action: format!("/report/{token}"),
        notice: None,
        done: false,
        ctx,
    })
}

/// `POST /report/{token}`: freezes the account.
pub async fn report(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let at = account::report_with_link(state.app(), &token_path(&token), &client).await?;
    let (status, notice) = match at {
        Some(at) => (
            StatusCode::OK,
            Notice::success(ctx.tf("report.done", &[("reported_at", &local_time(ctx.lang, at))])),
        ),
        None => (
            StatusCode::GONE,
            Notice::error(ctx.t("link.invalid").to_string()),
        ),
    };
    let mut response = render_with(
        status,
        &ConfirmLinkPage {
            heading: ctx.t("report.heading"),
            text: String::new(),
            button: "",
            action: String::new(),
            notice,
            done: true,
            ctx,
        },
    )?;
    if let Some(cookie) = clear_cookie(&state) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "auth/terms.html")]
struct TermsPage {
    ctx: PageContext,
    entities: Vec<(String, String)>,
}

/// `GET /terms`: the terms of use in force per entity (ACC-11).
pub async fn terms(State(state): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let directory = state.app().directory().await?;
    let mut entities = Vec::new();
    for entity in &directory.entities {
        let version = account::terms_version_in_force(state.app(), entity.id)
            .await?
            .unwrap_or_default();
        entities.push((format!("{} {}", entity.name, entity.legal_form), version));
    }
    render(&TermsPage { ctx, entities })
}
