//! The public pages: landing page, brand pages and legal details (POL-04,
//! ENT-01, ENT-02). Handlers only fetch from the application and render.

use crate::context::PageContext;
use crate::error::WebError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use carfin_app::directory::{BrandView, Directory, EntityView};

/// An entity with the brands it trades under.
#[derive(Debug, Clone)]
pub struct EntitySection {
    pub entity: EntityView,
    pub brands: Vec<BrandView>,
}

fn sections(directory: &Directory) -> Vec<EntitySection> {
    directory
        .entities
        .iter()
        .map(|entity| EntitySection {
            entity: entity.clone(),
            brands: directory.brands_of(entity).cloned().collect(),
        })
        .collect()
}

/// Renders a template into an HTML response.
pub(crate) fn render(template: &impl Template) -> Result<Response, WebError> {
    match template.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(error) => {
            tracing::error!(%error, "template failed");
            Err(WebError::Internal)
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    ctx: PageContext,
    sections: Vec<EntitySection>,
}

/// `GET /`: the product, the brands by entity, the way in.
pub async fn index(State(state): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let directory = state.app().directory().await?;
    render(&IndexPage {
        ctx,
        sections: sections(&directory),
    })
}

#[derive(Template)]
#[template(path = "brand.html")]
struct BrandPage {
    ctx: PageContext,
    brand: BrandView,
    section: EntitySection,
    intro: String,
}

/// `GET /brands/{slug}`: a brand and the legal entity behind it (ENT-02).
pub async fn brand(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let directory = state.app().directory().await?;
    let brand = directory.brand(&slug).ok_or(WebError::NotFound)?;
    let Some(entity) = directory.entity_of(brand) else {
        tracing::error!(brand = brand.id, "brand without an entity");
        return Err(WebError::Internal);
    };
    let legal_name = format!("{} {}", entity.name, entity.legal_form);
    let intro = ctx.tf(
        "brand.trading_name_of",
        &[("brand", &brand.name), ("entity", &legal_name)],
    );
    let section = EntitySection {
        entity: entity.clone(),
        brands: directory.brands_of(entity).cloned().collect(),
    };
    render(&BrandPage {
        brand: brand.clone(),
        section,
        intro,
        ctx,
    })
}

#[derive(Template)]
#[template(path = "legal.html")]
struct LegalPage {
    ctx: PageContext,
    sections: Vec<EntitySection>,
}

/// `GET /legal`: every entity's legal and contact details (POL-04, ENT-01).
pub async fn legal(State(state): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let directory = state.app().directory().await?;
    render(&LegalPage {
        ctx,
        sections: sections(&directory),
    })
}

/// The localized error page.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub(crate) ctx: PageContext,
    pub(crate) status: u16,
    pub(crate) title: &'static str,
    pub(crate) text: &'static str,
}

/// Unknown routes.
pub async fn not_found() -> WebError {
    WebError::NotFound
}
