//! Legal entities, brands and dealers (ENT-01, ENT-02). None of this is
//! personal data: these are companies and their role addresses.

use super::{Insert, SqlValue};
use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A legal entity: a data controller in its country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub legal_form: String,
    pub country: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub registration_number: String,
    pub vat_number: String,
    pub supervisory_authority: String,
    pub supervisory_authority_url: String,
    pub dpo_email: String,
    pub dpo_phone: String,
    pub dpo_postal_address: String,
    pub service_email: String,
    pub service_phone: String,
    /// Comma-separated language codes, e.g. `nl,fr`.
    pub languages: String,
    pub default_language: String,
    pub contract_retention_years: i64,
    /// The account customers pay into (CON-03 payment instructions).
    pub bank_iban: String,
    pub bank_bic: String,
    pub created_at: i64,
}

const ENTITY_COLUMNS: &[&str] = &[
    "id",
    "slug",
    "name",
    "legal_form",
    "country",
    "street",
    "postcode",
    "city",
    "registration_number",
    "vat_number",
    "supervisory_authority",
    "supervisory_authority_url",
    "dpo_email",
    "dpo_phone",
    "dpo_postal_address",
    "service_email",
    "service_phone",
    "languages",
    "default_language",
    "contract_retention_years",
    "bank_iban",
    "bank_bic",
    "created_at",
];

impl EntityRow {
    fn values(&self) -> Vec<SqlValue> {
        vec![
            self.id.into(),
            self.slug.as_str().into(),
            self.name.as_str().into(),
            self.legal_form.as_str().into(),
            self.country.as_str().into(),
            self.street.as_str().into(),
            self.postcode.as_str().into(),
            self.city.as_str().into(),
            self.registration_number.as_str().into(),
            self.vat_number.as_str().into(),
            self.supervisory_authority.as_str().into(),
            self.supervisory_authority_url.as_str().into(),
            self.dpo_email.as_str().into(),
            self.dpo_phone.as_str().into(),
            self.dpo_postal_address.as_str().into(),
            self.service_email.as_str().into(),
            self.service_phone.as_str().into(),
            self.languages.as_str().into(),
            self.default_language.as_str().into(),
            self.contract_retention_years.into(),
            self.bank_iban.as_str().into(),
            self.bank_bic.as_str().into(),
            self.created_at.into(),
        ]
    }

    fn from_row(row: &AnyRow) -> Result<EntityRow> {
        Ok(EntityRow {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            legal_form: row.try_get("legal_form")?,
            country: row.try_get("country")?,
            street: row.try_get("street")?,
            postcode: row.try_get("postcode")?,
            city: row.try_get("city")?,
            registration_number: row.try_get("registration_number")?,
            vat_number: row.try_get("vat_number")?,
            supervisory_authority: row.try_get("supervisory_authority")?,
            supervisory_authority_url: row.try_get("supervisory_authority_url")?,
            dpo_email: row.try_get("dpo_email")?,
            dpo_phone: row.try_get("dpo_phone")?,
            dpo_postal_address: row.try_get("dpo_postal_address")?,
            service_email: row.try_get("service_email")?,
            service_phone: row.try_get("service_phone")?,
            languages: row.try_get("languages")?,
            default_language: row.try_get("default_language")?,
            contract_retention_years: row.try_get("contract_retention_years")?,
            bank_iban: row.try_get("bank_iban")?,
            bank_bic: row.try_get("bank_bic")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// A brand an entity trades under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandRow {
    pub id: i64,
    pub entity_id: i64,
    pub slug: String,
    pub name: String,
    pub website: String,
    pub created_at: i64,
}

/// A dealer (a company) that sells vehicles financed by an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealerRow {
    pub id: i64,
    pub entity_id: i64,
    pub name: String,
    pub registration_number: String,
    pub city: String,
    pub email: String,
    pub phone: String,
    pub created_at: i64,
}

/// Inserts legal entities.
pub async fn insert_entities(tx: &mut AnyConnection, rows: &[EntityRow]) -> Result<()> {
    let mut insert = Insert::new("legal_entities", ENTITY_COLUMNS);
    for row in rows {
        insert.row(row.values());
    }
    insert.execute(tx).await?;
    Ok(())
}

/// Inserts brands.
pub async fn insert_brands(tx: &mut AnyConnection, rows: &[BrandRow]) -> Result<()> {
    let mut insert = Insert::new(
        "brands",
        &["id", "entity_id", "slug", "name", "website", "created_at"],
    );
    for b in rows {
        insert.row(vec![
            b.id.into(),
            b.entity_id.into(),
            b.slug.as_str().into(),
            b.name.as_str().into(),
            b.website.as_str().into(),
            b.created_at.into(),
        ]);
    }
    insert.execute(tx).await?;
    Ok(())
}

/// Inserts dealers.
pub async fn insert_dealers(tx: &mut AnyConnection, rows: &[DealerRow]) -> Result<()> {
    let mut insert = Insert::new(
        "dealers",
        &[
            "id",
            "entity_id",
            "name",
            "registration_number",
            "city",
            "email",
            "phone",
            "created_at",
        ],
    );
    for d in rows {
        insert.row(vec![
            d.id.into(),
            d.entity_id.into(),
            d.name.as_str().into(),
            d.registration_number.as_str().into(),
            d.city.as_str().into(),
            d.email.as_str().into(),
            d.phone.as_str().into(),
            d.created_at.into(),
        ]);
    }
    insert.execute(tx).await?;
    Ok(())
}

/// Every legal entity, by name.
pub async fn list_entities(db: &Db) -> Result<Vec<EntityRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM legal_entities ORDER BY name",
        ENTITY_COLUMNS.join(", ")
    ))
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(EntityRow::from_row).collect()
}

/// Every brand, by name.
pub async fn list_brands(db: &Db) -> Result<Vec<BrandRow>> {
    let rows = sqlx::query(
        "SELECT id, entity_id, slug, name, website, created_at FROM brands ORDER BY name",
    )
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BrandRow {
                id: r.try_get(0)?,
                entity_id: r.try_get(1)?,
                slug: r.try_get(2)?,
                name: r.try_get(3)?,
                website: r.try_get(4)?,
                created_at: r.try_get(5)?,
            })
        })
        .collect()
}

/// Every dealer of an entity, by name.
pub async fn list_dealers(db: &Db, entity_id: i64) -> Result<Vec<DealerRow>> {
    let rows = sqlx::query(
        "SELECT id, entity_id, name, registration_number, city, email, phone, created_at \
         FROM dealers WHERE entity_id = $1 ORDER BY name",
    )
    .bind(entity_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DealerRow {
                id: r.try_get(0)?,
                entity_id: r.try_get(1)?,
                name: r.try_get(2)?,
                registration_number: r.try_get(3)?,
                city: r.try_get(4)?,
                email: r.try_get(5)?,
                phone: r.try_get(6)?,
                created_at: r.try_get(7)?,
            })
        })
        .collect()
}

/// Whether any legal entity exists (an empty database gets demo data).
pub async fn any_entity(db: &Db) -> Result<bool> {
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM legal_entities")
        .fetch_one(db.reader())
        .await?
        .try_get(0)?;
    Ok(count > 0)
}
