//! Demo data: a Dutch and a Belgian legal entity with their brands and
//! dealers, and generated customers covering every contract type and status.
//! Everything here is invented.

use crate::seed::{EntityRefs, Generator};
use crate::{App, AppError};
use carfin_domain::Country;
use carfin_store::repo::entities::{self, BrandRow, DealerRow, EntityRow};

/// How many customers the demo generates.
pub const DEMO_CUSTOMERS: usize = 60;
/// The generator seed of the demo (the same demo every time).
pub const DEMO_SEED: u64 = 20_261_121;

/// The version of the demo entities' terms of use (ACC-11).
pub const TERMS_VERSION: &str = "2026-01";
/// The password of the demo customers' accounts (printed by `carfin demo`).
pub const DEMO_PASSWORD: &str = "demo-Carfin-2026";
/// How many demo customers get an account with activated contracts.
pub const DEMO_ACCOUNTS: usize = 3;

/// What [`install`] did.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// Whether the demo data was loaded now (false: it was already there).
    pub loaded: bool,
    pub customers: usize,
    pub contracts: usize,
}

/// The two demo entities.
pub fn entities(now: i64) -> Vec<EntityRow> {
    vec![
        EntityRow {
            id: 1,
            slug: "carfin-nederland".into(),
            name: "Carfin Financial Services Nederland".into(),
            legal_form: "B.V.".into(),
            country: "NL".into(),
            street: "Stationsplein 100".into(),
            postcode: "3511 ED".into(),
            city: "Utrecht".into(),
            registration_number: "KvK 87654321".into(),
            vat_number: "NL864512337B01".into(),
            supervisory_authority: "Autoriteit Persoonsgegevens".into(),
            supervisory_authority_url: "https://autoriteitpersoonsgegevens.nl".into(),
            dpo_email: "privacy@carfin-nederland.example".into(),
            dpo_phone: "+31 30 799 0100".into(),
            dpo_postal_address: "Functionaris Gegevensbescherming, Postbus 2100, 3500 GC Utrecht"
                .into(),
            service_email: "klantenservice@carfin-nederland.example".into(),
            service_phone: "+31 30 799 0000".into(),
            languages: "nl,en".into(),
            default_language: "nl".into(),
            contract_retention_years: 7,
            bank_iban: "NL67INGB0006543210".into(),
            bank_bic: "INGBNL2A".into(),
            created_at: now,
        },
        EntityRow {
            id: 2,
            slug: "carfin-belgique".into(),
            name: "Carfin Financial Services Belgium".into(),
            legal_form: "NV".into(),
            country: "BE".into(),
            street: "Louizalaan 200".into(),
            postcode: "1050".into(),
            city: "Brussel".into(),
            registration_number: "KBO/BCE 0403.199.702".into(),
            vat_number: "BE0403199702".into(),
            supervisory_authority:
                "Gegevensbeschermingsautoriteit / Autorité de protection des données".into(),
            supervisory_authority_url: "https://www.gegevensbeschermingsautoriteit.be".into(),
            dpo_email: "dpo@carfin-belgique.example".into(),
            dpo_phone: "+32 2 555 01 00".into(),
            dpo_postal_address: "Data Protection Officer, Louizalaan 200, 1050 Brussel".into(),
            service_email: "service@carfin-belgique.example".into(),
            service_phone: "+32 2 555 00 00".into(),
            languages: "nl,fr,en".into(),
            default_language: "fr".into(),
            contract_retention_years: 10,
            bank_iban: "BE62310012345661".into(),
            bank_bic: "BBRUBEBB".into(),
            created_at: now,
        },
    ]
}

/// The demo brands: two per entity.
pub fn brands(now: i64) -> Vec<BrandRow> {
    let brand = |id, entity_id, slug: &str, name: &str, website: &str| BrandRow {
        id,
        entity_id,
        slug: slug.into(),
        name: name.into(),
        website: website.into(),
        created_at: now,
    };
    vec![
        brand(
            11,
            1,
            "carfin-lease",
            "Carfin Lease",
            "https://lease.carfin-nederland.example",
        ),
        brand(
            12,
            1,
            "autovia",
            "Autovia Financiering",
            "https://autovia.example",
        ),
        brand(
            21,
            2,
            "carfin-lease-belgie",
            "Carfin Lease België",
            "https://lease.carfin-belgique.example",
        ),
        brand(22, 2, "mobilio", "Mobilio", "https://mobilio.example"),
    ]
}

/// The demo dealers.
pub fn dealers(now: i64) -> Vec<DealerRow> {
    let dealer =
        |id, entity_id, name: &str, reg: &str, city: &str, email: &str, phone: &str| DealerRow {
            id,
            entity_id,
            name: name.into(),
            registration_number: reg.into(),
            city: city.into(),
            email: email.into(),
            phone: phone.into(),
            created_at: now,
        };
    vec![
        dealer(
            101,
            1,
            "Autobedrijf De Brug B.V.",
            "34567890",
            "Amersfoort",
            "verkoop@debrug.example",
            "+31 33 200 0000",
        ),
        dealer(
            102,
            1,
            "Van Dijk Mobiliteit B.V.",
            "45678901",
            "Zwolle",
            "info@vandijk-mobiliteit.example",
            "+31 38 200 0000",
        ),
        dealer(
            103,
            1,
            "EV Centrum Randstad B.V.",
            "56789012",
            "Leiden",
            "info@evcentrum.example",
            "+31 71 200 0000",
        ),
        dealer(
            201,
            2,
            "Garage Central NV",
            "0456.789.012",
            "Namur",
            "vente@garagecentral.example",
            "+32 81 20 00 00",
        ),
        dealer(
            202,
            2,
            "Autohuis Schelde BV",
            "0567.890.123",
            "Antwerpen",
            "info@autohuisschelde.example",
            "+32 3 200 00 00",
        ),
    ]
}

/// Loads the reference data (entities, brands, dealers) if the database has none.
pub async fn install_reference_data(app: &App) -> Result<bool, AppError> {
    if entities::any_entity(app.db()).await? {
        return Ok(false);
    }
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    entities::insert_entities(&mut tx, &entities(now)).await?;
    entities::insert_brands(&mut tx, &brands(now)).await?;
    entities::insert_dealers(&mut tx, &dealers(now)).await?;
    for entity in [1, 2] {
        carfin_store::repo::identity::insert_terms(
            &mut tx,
            entity,
            TERMS_VERSION,
            "2026-01-01",
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(carfin_store::StoreError::from)?;
    Ok(true)
}

/// The entities with their brands and dealers, as the generator needs them.
pub async fn entity_refs(app: &App) -> Result<Vec<EntityRefs>, AppError> {
    let all = entities::list_entities(app.db()).await?;
    let brands = entities::list_brands(app.db()).await?;
    let mut refs = Vec::new();
    for e in all {
        let dealers = entities::list_dealers(app.db(), e.id).await?;
        refs.push(EntityRefs {
            entity_id: e.id,
            country: if e.country == "BE" {
                Country::Be
            } else {
                Country::Nl
            },
            brand_ids: brands
                .iter()
                .filter(|b| b.entity_id == e.id)
                .map(|b| b.id)
                .collect(),
            dealer_ids: dealers.iter().map(|d| d.id).collect(),
        });
    }
    // Dutch entity first: the generator puts most customers there.
    refs.sort_by_key(|r| r.country != Country::Nl);
    if refs.iter().any(|r| r.brand_ids.is_empty()) || refs.is_empty() {
        return Err(AppError::Config(
            "every entity needs at least one brand".into(),
        ));
    }
    Ok(refs)
}

/// Loads the demo data into an empty database; does nothing if it is there.
pub async fn install(app: &App) -> Result<DemoReport, AppError> {
    if !install_reference_data(app).await? {
        return Ok(DemoReport::default());
    }
    let refs = entity_refs(app).await?;
    let mut generator = Generator::new(app, refs, DEMO_SEED, 0, 0);
    let mut batch = generator.batch(DEMO_CUSTOMERS)?;
    // One audit record for the whole install (PRV-15).
    crate::seed::write_batch_audited(app, &mut batch, "demo.install", "demo_data").await?;
    create_demo_accounts(app).await?;
    amend_demo_contracts(app).await?;
    crate::my_data::seed_demo_access(app).await?;
    Ok(DemoReport {
        loaded: true,
        customers: batch.customer_count,
        contracts: batch.contract_count,
    })
}

/// Persons with an active contract and a mobile number, in id order: the
/// first [`DEMO_ACCOUNTS`] get accounts, the next one is left to register.
async fn demo_candidates(app: &App) -> Result<Vec<(i64, i64, String)>, AppError> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT cu.id, cu.entity_id, c.contract_number FROM customers cu \
         JOIN contract_parties p ON p.customer_id = cu.id \
         JOIN contracts c ON c.id = p.contract_id \
         WHERE cu.kind = 'person' AND c.status = 'active' ORDER BY cu.id, c.id",
    )
    .fetch_all(app.db().reader())
    .await
    .map_err(carfin_store::StoreError::from)?;
    let mut out: Vec<(i64, i64, String)> = Vec::new();
    for row in rows {
        let id: i64 = row.try_get(0).map_err(carfin_store::StoreError::from)?;
        if out.iter().any(|(c, _, _)| *c == id) {
            continue;
        }
        let phone_ok = crate::identity::activation::mobile_on_file(app, id)
            .await?
            .is_some();
        if phone_ok {
            out.push((
                id,
                row.try_get(1).map_err(carfin_store::StoreError::from)?,
                row.try_get(2).map_err(carfin_store::StoreError::from)?,
            ));
        }
        if out.len() > DEMO_ACCOUNTS {
            break;
        }
    }
    Ok(out)
}

/// Gives the first demo customers a verified account (their e-mail on file,
/// [`DEMO_PASSWORD`]) with every contract activated, as if they had
/// registered and activated through the portal.
async fn create_demo_accounts(app: &App) -> Result<(), AppError> {
    use carfin_store::repo::customers::{self, Personal};
    use carfin_store::repo::identity as repo;
    let hash = app
        .hasher()
        .hash(DEMO_PASSWORD)
        .await
        .map_err(|_| AppError::Config("password hashing failed".into()))?;
    let now = app.clock().now().timestamp();
    for (customer_id, entity_id, _) in demo_candidates(app).await?.into_iter().take(DEMO_ACCOUNTS) {
        let Some(record) = customers::get(app.db(), app.keys(), customer_id).await? else {
            continue;
        };
        let Personal::Known(personal) = record.personal else {
            continue;
        };
        let Some(email) = personal.email else {
            continue;
        };
        let key = crate::identity::subject_key(app, customer_id).await?;
        let account_id = app.ids().next();
        let mut tx = app.db().begin_write().await?;
        repo::insert_account(
            &mut tx,
            &repo::NewAccount {
                id: account_id,
                customer_id,
                entity_id,
                email: crate::identity::seal(&key, "accounts", "email", account_id, &email)?,
                email_bidx: app.blind_index().index(repo::ACCOUNT_EMAIL_INDEX, &email),
                password_hash: hash.clone(),
                language: record.language.clone(),
                terms_version: TERMS_VERSION.into(),
                now,
            },
        )
        .await?;
        repo::update_account(
            &mut tx,
            account_id,
            "status = 'active', email_verified_at = $2",
            vec![carfin_store::repo::SqlValue::Int(now)],
            now,
        )
        .await?;
        repo::record_acceptance(
            &mut tx,
            app.ids().next(),
            customer_id,
            entity_id,
            TERMS_VERSION,
            "registration",
            now,
        )
        .await?;
        for contract in repo::portal_contracts(app.db(), customer_id, account_id).await? {
            repo::activate_contract(&mut tx, account_id, contract.id, now).await?;
        }
        tx.commit().await.map_err(carfin_store::StoreError::from)?;
    }
    Ok(())
}

/// Gives each demo account's first lease a second version (CON-01): more
/// kilometres per year at a lower excess-kilometre price from the first of
/// the month six months ago, so the contract page has a history to show.
async fn amend_demo_contracts(app: &App) -> Result<(), AppError> {
    use carfin_store::repo::finance;
    use chrono::{Datelike, Months};
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT MIN(c.id) FROM accounts a JOIN contract_parties p ON p.customer_id = a.customer_id \
         JOIN contracts c ON c.id = p.contract_id \
         WHERE c.status = 'active' AND c.contract_type <> 'consumer_credit' GROUP BY a.id",
    )
    .fetch_all(app.db().reader())
    .await
    .map_err(carfin_store::StoreError::from)?;
    let now = app.clock().now();
    let from = now
        .date_naive()
        .with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(6)))
        .unwrap_or(now.date_naive());
    for row in rows {
        let contract_id: Option<i64> = row.try_get(0).map_err(carfin_store::StoreError::from)?;
        let Some(contract_id) = contract_id else {
            continue;
        };
        let Some(overview) = finance::contract_overview(app.db(), contract_id).await? else {
            continue;
        };
        let mut terms = overview.terms.clone();
        terms.version += 1;
        terms.valid_from = from.to_string();
        terms.km_per_year = terms.km_per_year.map(|km| km + 5_000);
        terms.excess_km_price_cents = terms.excess_km_price_cents.map(|p| (p - 2).max(1));
        terms.change_reason = "mileage_change".into();
        let mut tx = app.db().begin_write().await?;
        finance::amend(&mut tx, contract_id, &terms, now.timestamp()).await?;
        tx.commit().await.map_err(carfin_store::StoreError::from)?;
    }
    Ok(())
}

/// The lines `carfin demo` prints: `demo customer: EMAIL PASSWORD` for each
/// demo account and `demo registration: CONTRACT DATE-OF-BIRTH POSTCODE`
/// for a customer who has not registered yet.
pub async fn login_lines(app: &App) -> Result<Vec<String>, AppError> {
    use carfin_store::repo::customers::{self, Personal};
    use carfin_store::repo::identity as repo;
    let mut lines = Vec::new();
    for (customer_id, _, contract_number) in demo_candidates(app).await? {
        let Some(record) = customers::get(app.db(), app.keys(), customer_id).await? else {
            continue;
        };
        let Personal::Known(personal) = record.personal else {
            continue;
        };
        let mut conn = app
            .db()
            .reader()
            .acquire()
            .await
            .map_err(carfin_store::StoreError::from)?;
        if let Some(account) = repo::account_of_customer(&mut conn, customer_id).await? {
            let key = crate::identity::subject_key(app, customer_id).await?;
            let email = crate::identity::account_email(&key, &account)?;
            lines.push(format!("demo customer: {email} {DEMO_PASSWORD}"));
        } else if let Some(birth) = personal.date_of_birth {
            lines.push(format!(
                "demo registration: {contract_number} {birth} {}",
                personal.postcode
            ));
            break;
        }
    }
    Ok(lines)
}
