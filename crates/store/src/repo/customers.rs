//! Customers: data subjects whose personal fields are sealed under their
//! own key (PRV-03) and found by blind index, never by scanning plaintext.

use super::{Insert, SqlValue};
use crate::crypto::{BlindIndexKey, FieldRef, SubjectKey};
use crate::error::{Result, StoreError};
use crate::keystore::{KeyState, KeyStore};
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Blind-index domain of customers' e-mail addresses (lowercased).
pub const EMAIL_INDEX: &str = "customers.email";
/// Blind-index domain of customers' phone numbers (E.164).
pub const PHONE_INDEX: &str = "customers.phone";
/// Blind-index domain of a customer's normalized full or company name
/// (BOF-03: staff find a customer by exact name).
pub const NAME_INDEX: &str = "customers.name";

/// A name as the name index sees it: lower case, one space between words,
/// no space at either end (`"  Jan  de VRIES "` → `"jan de vries"`).
pub fn normalize_name(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

impl CustomerPersonal {
    /// The name the name index holds: given names, prefix and surname of a
    /// person, or a company's name; normalized. None without a name.
    pub fn indexed_name(&self) -> Option<String> {
        let full = match &self.company_name {
            Some(company) if !company.trim().is_empty() => company.clone(),
            _ => [&self.given_names, &self.name_prefix, &self.surname]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        };
        let normalized = normalize_name(&full);
        (!normalized.is_empty()).then_some(normalized)
    }
}

/// A customer's personal fields, in plaintext (only ever in memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPersonal {
    pub initials: Option<String>,
    pub given_names: Option<String>,
    pub name_prefix: Option<String>,
    pub surname: Option<String>,
    /// ISO date.
    pub date_of_birth: Option<String>,
    pub company_name: Option<String>,
    /// KvK or KBO number.
    pub company_number: Option<String>,
    pub street: String,
    pub house_number: String,
    /// Canonical postcode (`1234AB`, `1000`).
    pub postcode: String,
    pub city: String,
    /// Lowercased e-mail address.
    pub email: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Compact IBAN.
    pub iban: Option<String>,
}

/// The sealed columns of `customers`, in order.
pub const SEALED_COLUMNS: &[&str] = &[
    "initials",
    "given_names",
    "name_prefix",
    "surname",
    "date_of_birth",
    "company_name",
    "company_number",
    "street",
    "house_number",
    "postcode",
    "city",
    "email",
    "phone",
    "iban",
];

impl CustomerPersonal {
    fn fields(&self) -> [Option<&str>; 14] {
        [
            self.initials.as_deref(),
            self.given_names.as_deref(),
            self.name_prefix.as_deref(),
            self.surname.as_deref(),
            self.date_of_birth.as_deref(),
            self.company_name.as_deref(),
            self.company_number.as_deref(),
            Some(self.street.as_str()),
            Some(self.house_number.as_str()),
            Some(self.postcode.as_str()),
            Some(self.city.as_str()),
            self.email.as_deref(),
            self.phone.as_deref(),
            self.iban.as_deref(),
        ]
    }

    fn from_fields(mut f: Vec<Option<String>>) -> Result<CustomerPersonal> {
        if f.len() != SEALED_COLUMNS.len() {
            return Err(StoreError::Corrupt("customers"));
        }
        let mut take = |i: usize| f[i].take();
        let required = |v: Option<String>| v.ok_or(StoreError::Corrupt("customers"));
        Ok(CustomerPersonal {
            initials: take(0),
            given_names: take(1),
            name_prefix: take(2),
            surname: take(3),
            date_of_birth: take(4),
            company_name: take(5),
            company_number: take(6),
            street: required(take(7))?,
            house_number: required(take(8))?,
            postcode: required(take(9))?,
            city: required(take(10))?,
            email: take(11),
            phone: take(12),
            iban: take(13),
        })
    }

    /// The name to address the customer by: the company name, or initials,
    /// prefix and surname.
    pub fn display_name(&self) -> String {
        if let Some(company) = &self.company_name {
            return company.clone();
        }
        [
            self.initials.as_deref(),
            self.name_prefix.as_deref(),
            self.surname.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// A customer to insert.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub id: i64,
    pub entity_id: i64,
    pub customer_number: String,
    /// `person` or `company`.
    pub kind: String,
    pub language: String,
    pub country: String,
    pub personal: CustomerPersonal,
    pub created_at: i64,
}

const COLUMNS: &[&str] = &[
    "id",
    "entity_id",
    "customer_number",
    "kind",
    "language",
    "country",
    "initials",
    "given_names",
    "name_prefix",
    "surname",
    "date_of_birth",
    "company_name",
    "company_number",
    "street",
    "house_number",
    "postcode",
    "city",
    "email",
    "phone",
    "iban",
    "email_bidx",
    "phone_bidx",
    "name_bidx",
    "created_at",
    "updated_at",
];

/// Buffers customers for one multi-row insert, sealing their personal fields.
#[derive(Debug)]
pub struct CustomerInsert(Insert);

impl Default for CustomerInsert {
    fn default() -> Self {
        CustomerInsert(Insert::new("customers", COLUMNS))
    }
}

impl CustomerInsert {
    /// Seals and buffers one customer under its subject key.
    pub fn add(&mut self, c: &NewCustomer, key: &SubjectKey, bidx: &BlindIndexKey) -> Result<()> {
        let mut values: Vec<SqlValue> = vec![
            c.id.into(),
            c.entity_id.into(),
            c.customer_number.as_str().into(),
            c.kind.as_str().into(),
            c.language.as_str().into(),
            c.country.as_str().into(),
        ];
        for (column, value) in SEALED_COLUMNS.iter().zip(c.personal.fields()) {
            let field = FieldRef {
                table: "customers",
                column,
                row: c.id,
            };
            values.push(key.seal_opt(field, value)?.into());
        }
        values.push(
            c.personal
                .email
                .as_deref()
                .map(|e| bidx.index(EMAIL_INDEX, e))
                .into(),
        );
        values.push(
            c.personal
                .phone
                .as_deref()
                .map(|p| bidx.index(PHONE_INDEX, p))
                .into(),
        );
        values.push(
            c.personal
                .indexed_name()
                .map(|n| bidx.index(NAME_INDEX, &n))
                .into(),
        );
        values.push(c.created_at.into());
        values.push(c.created_at.into());
        self.0.row(values);
        Ok(())
    }

    /// Number of buffered customers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes the buffered customers.
    pub async fn execute(&mut self, tx: &mut AnyConnection) -> Result<u64> {
        self.0.execute(tx).await
    }
}

/// A value that may have been erased by crypto-shredding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Personal<T> {
    /// The value.
    Known(T),
    /// The subject's key was destroyed: the value is gone for good.
    Erased,
}

/// A stored customer with its personal fields opened (or erased).
#[derive(Debug, Clone)]
pub struct CustomerRecord {
    pub id: i64,
    pub entity_id: i64,
    pub customer_number: String,
    pub kind: String,
    pub language: String,
    pub country: String,
    pub personal: Personal<CustomerPersonal>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Loads one customer and opens its personal fields with the subject's key.
pub async fn get(db: &Db, keys: &KeyStore, id: i64) -> Result<Option<CustomerRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM customers WHERE id = $1",
        COLUMNS.join(", ")
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let key = keys.get(id).await?;
    open_row(&row, &key).map(Some)
}

fn open_row(row: &AnyRow, key: &KeyState) -> Result<CustomerRecord> {
    let id: i64 = row.try_get("id")?;
    let personal = match key {
        KeyState::Live(key) => {
            let mut fields = Vec::with_capacity(SEALED_COLUMNS.len());
            for column in SEALED_COLUMNS {
                let sealed: Option<Vec<u8>> = row.try_get(*column)?;
                let field = FieldRef {
                    table: "customers",
                    column,
                    row: id,
                };
                fields.push(sealed.map(|s| key.open(field, &s)).transpose()?);
            }
            Personal::Known(CustomerPersonal::from_fields(fields)?)
        }
        KeyState::Shredded(_) => Personal::Erased,
        KeyState::Missing => return Err(StoreError::Crypto(format!("no key for subject {id}"))),
    };
    Ok(CustomerRecord {
        id,
        entity_id: row.try_get("entity_id")?,
        customer_number: row.try_get("customer_number")?,
        kind: row.try_get("kind")?,
        language: row.try_get("language")?,
        country: row.try_get("country")?,
        personal,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Ids of the customers whose e-mail address (lowercased) is `email`.
pub async fn ids_by_email(db: &Db, bidx: &BlindIndexKey, email: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT id FROM customers WHERE email_bidx = $1")
        .bind(bidx.index(EMAIL_INDEX, email))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Ids of the customers whose phone number (E.164) is `phone`.
pub async fn ids_by_phone(db: &Db, bidx: &BlindIndexKey, phone: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT id FROM customers WHERE phone_bidx = $1")
        .bind(bidx.index(PHONE_INDEX, phone))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// What [`clear_blind_indexes`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClearedIndexes {
    /// Customer rows whose e-mail and phone indexes were set to NULL.
    pub customers: u64,
    /// Vehicle rows whose plate index was overwritten.
    pub vehicles: u64,
}

/// Clears a data subject's blind indexes in one transaction (erasure):
/// `customers.email_bidx` and `phone_bidx` become NULL; each of the
/// subject's `vehicles.plate_bidx` (a NOT NULL column) is overwritten with
/// random bytes of an index's length, which match no plate (a collision with
/// a real index has probability 2^-128). Idempotent.
pub async fn clear_blind_indexes(db: &Db, subject_id: i64, now: i64) -> Result<ClearedIndexes> {
    use rand::RngCore;
    let mut tx = db.begin_write().await?;
    let customers = sqlx::query(
        "UPDATE customers SET email_bidx = NULL, phone_bidx = NULL, name_bidx = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(subject_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let vehicle_ids: Vec<i64> = sqlx::query("SELECT id FROM vehicles WHERE subject_id = $1")
        .bind(subject_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut vehicles = 0;
    for id in vehicle_ids {
        let mut random = vec![0u8; crate::crypto::BLIND_INDEX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut random);
        vehicles += sqlx::query("UPDATE vehicles SET plate_bidx = $2 WHERE id = $1")
            .bind(id)
            .bind(random)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(ClearedIndexes {
        customers,
        vehicles,
    })
}

/// Number of customers.
pub async fn count(db: &Db) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) FROM customers")
        .fetch_one(db.reader())
        .await?
        .try_get(0)?)
}
