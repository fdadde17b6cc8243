//! The development outbox (OPS-05): `GET /dev/outbox` lists every e-mail
//! and SMS in plaintext, newest first, with the links in their bodies made
//! clickable; `GET /dev/outbox.json` gives the same as JSON for scripts and
//! browser tests. Mounted only when `dev.outbox` is on (`carfin demo`);
//! never in production. Its texts are English only, in the template.

use crate::context::PageContext;
use crate::error::WebError;
use crate::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use carfin_app::outbox::{self, OutboxView};

/// How many messages the pages show.
const LIMIT: i64 = 500;

/// The development outbox's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/outbox", get(page))
        .route("/dev/outbox.json", get(json))
}

/// One message as the page shows it.
pub struct Entry {
    pub message: OutboxView,
    pub created_at: String,
    pub links: Vec<String>,
}

#[derive(Template)]
#[template(path = "dev_outbox.html")]
struct OutboxPage {
    ctx: PageContext,
    entries: Vec<Entry>,
}

/// `GET /dev/outbox`.
pub async fn page(State(state): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let messages = outbox::recent(state.app(), LIMIT).await?;
    let entries = messages
        .into_iter()
        .map(|message| Entry {
            created_at: outbox::rfc3339(message.created_at),
            links: links(&message.text),
            message,
        })
        .collect();
    render(&OutboxPage { ctx, entries })
}

/// `GET /dev/outbox.json`.
pub async fn json(State(state): State<AppState>) -> Result<Response, WebError> {
    let messages = outbox::recent(state.app(), LIMIT).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        outbox::dev_json(&messages),
    )
        .into_response())
}

/// Every `http://` and `https://` URL in a text, in order, without
/// trailing punctuation.
pub fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = [rest.find("https://"), rest.find("http://")]
        .into_iter()
        .flatten()
        .min()
    {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
        if url.len() > "https://".len() {
            found.push(url.to_string());
        }
        rest = &candidate[end.max(1)..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::links;

    #[test]
    fn finds_links_without_trailing_punctuation() {
        assert_eq!(
            links("Open https://x.test/v?t=1. Or (http://y.test/a), not ftp://z."),
            ["https://x.test/v?t=1", "http://y.test/a"]
        );
        assert!(links("no links here: https:// alone").is_empty());
    }
}
