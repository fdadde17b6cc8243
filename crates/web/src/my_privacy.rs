//! My privacy under `/my/privacy` (PRV-04, PRV-08, PRV-16): the customer's
//! rights in plain words, "download my data" (a CSRF-protected POST that
//! answers with the ZIP as an attachment) and "who accessed my data" (staff
//! reads and changes by role and purpose, and disclosures to recipients).
//! Handlers take a [`Customer`]; the application layer does the work.

use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::session::{Client, Customer};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use carfin_app::identity::activation;
use carfin_app::my_data::{self, AccessHistory};
use serde::Deserialize;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/my/privacy", get(page))
        .route("/my/privacy/export", post(export))
}

/// The controller's contacts the page names.
#[derive(Debug, Clone, Default)]
struct Controller {
    name: String,
    dpo_email: String,
    dpo_phone: String,
    dpo_postal_address: String,
    authority: String,
    authority_url: String,
}

#[derive(Template)]
#[template(path = "my/privacy.html")]
struct PrivacyPage {
    ctx: PageContext,
    controller: Controller,
    /// Contracts listed in the portal but not activated (numbers).
    restricted: Vec<String>,
    history: AccessHistory,
    history_intro: String,
    page_of: String,
}

impl PrivacyPage {
    fn previous_page(&self) -> Option<i64> {
        (self.history.page > 1).then(|| self.history.page - 1)
    }
    fn next_page(&self) -> Option<i64> {
        (self.history.page < self.history.pages).then(|| self.history.page + 1)
    }
}

/// `?page=` of the access history.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<String>,
}

/// `GET /my/privacy`: rights, the export form and the access history.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    Customer(session): Customer,
    Query(query): Query<PageQuery>,
) -> Result<Response, WebError> {
    let app = state.app();
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1);
    let history = my_data::access_history(app, &session, ctx.lang, page).await?;
    let restricted = activation::contracts(app, &session)
        .await?
        .into_iter()
        .filter(|c| c.activated_at.is_none())
        .map(|c| c.contract_number)
        .collect();
    let controller = app
        .directory()
        .await?
        .entity_by_id(session.entity_id)
        .map(|e| Controller {
            name: format!("{} {}", e.name, e.legal_form),
            dpo_email: e.dpo_email.clone(),
            dpo_phone: e.dpo_phone.clone(),
            dpo_postal_address: e.dpo_postal_address.clone(),
            authority: e.supervisory_authority.clone(),
            authority_url: e.supervisory_authority_url.clone(),
        })
        .unwrap_or_default();
    let history_intro = ctx.tf("privacy.page.access_intro", &[("since", &history.since)]);
    let page_of = ctx.tf(
        "privacy.page.page_of",
        &[
            ("page", &history.page.to_string()),
            ("pages", &history.pages.to_string()),
        ],
    );
    render(&PrivacyPage {
        ctx,
        controller,
        restricted,
        history,
        history_intro,
        page_of,
    })
}

/// `POST /my/privacy/export`: the ZIP of everything held about the
/// customer, as an attachment, in the page's language.
pub async fn export(
    State(state): State<AppState>,
    ctx: PageContext,
    Client(client): Client,
    Customer(session): Customer,
) -> Result<Response, WebError> {
    let file = my_data::export(state.app(), &session, ctx.lang, &client).await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename))
        .map_err(|_| WebError::Internal)?;
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(CONTENT_DISPOSITION, disposition);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
