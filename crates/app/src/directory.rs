//! The public directory: legal entities and the brands they trade under
//! (ENT-01, ENT-02, POL-04). Nothing here is personal data.

use crate::{App, AppError};
use carfin_domain::Language;
use carfin_store::repo::entities;

/// A legal entity as the public pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub legal_form: String,
    /// `NL` or `BE`.
    pub country: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    /// KvK (NL) or KBO/BCE (BE) number.
    pub registration_number: String,
    pub vat_number: String,
    pub supervisory_authority: String,
    pub supervisory_authority_url: String,
    pub dpo_email: String,
    pub dpo_phone: String,
    pub dpo_postal_address: String,
    pub service_email: String,
    pub service_phone: String,
    pub languages: Vec<Language>,
    pub default_language: Language,
    /// The account customers pay into.
    pub bank_iban: String,
    pub bank_bic: String,
}

/// A brand as the public pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub website: String,
    pub entity_id: i64,
}

/// Every entity and brand.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub entities: Vec<EntityView>,
    pub brands: Vec<BrandView>,
}

impl Directory {
    /// The entity a brand belongs to.
    pub fn entity_of(&self, brand: &BrandView) -> Option<&EntityView> {
        self.entities.iter().find(|e| e.id == brand.entity_id)
    }

    /// A brand by its slug.
    pub fn brand(&self, slug: &str) -> Option<&BrandView> {
        self.brands.iter().find(|b| b.slug == slug)
    }

    /// A brand by its id.
    pub fn brand_by_id(&self, id: i64) -> Option<&BrandView> {
        self.brands.iter().find(|b| b.id == id)
    }

    /// An entity by its id.
    pub fn entity_by_id(&self, id: i64) -> Option<&EntityView> {
        self.entities.iter().find(|e| e.id == id)
    }

    /// An entity by its slug.
    pub fn entity(&self, slug: &str) -> Option<&EntityView> {
        self.entities.iter().find(|e| e.slug == slug)
    }

    /// The brands of an entity.
    pub fn brands_of<'a>(
        &'a self,
        entity: &'a EntityView,
    ) -> impl Iterator<Item = &'a BrandView> + 'a {
        self.brands.iter().filter(move |b| b.entity_id == entity.id)
    }
}

impl App {
    /// The public directory of entities and brands.
    pub async fn directory(&self) -> Result<Directory, AppError> {
        let entities = entities::list_entities(self.db())
            .await?
            .into_iter()
            .map(|e| EntityView {
                languages: e
                    .languages
                    .split(',')
                    .filter_map(|l| l.parse().ok())
                    .collect(),
                default_language: e.default_language.parse().unwrap_or_default(),
                id: e.id,
                slug: e.slug,
                name: e.name,
                legal_form: e.legal_form,
                country: e.country,
                street: e.street,
                postcode: e.postcode,
                city: e.city,
                registration_number: e.registration_number,
                vat_number: e.vat_number,
                supervisory_authority: e.supervisory_authority,
                supervisory_authority_url: e.supervisory_authority_url,
                dpo_email: e.dpo_email,
                dpo_phone: e.dpo_phone,
                dpo_postal_address: e.dpo_postal_address,
                service_email: e.service_email,
                service_phone: e.service_phone,
                bank_iban: e.bank_iban,
                bank_bic: e.bank_bic,
            })
            .collect();
        let brands = entities::list_brands(self.db())
            .await?
            .into_iter()
            .map(|b| BrandView {
                id: b.id,
                slug: b.slug,
                name: b.name,
                website: b.website,
                entity_id: b.entity_id,
            })
            .collect();
        Ok(Directory { entities, brands })
    }
}
