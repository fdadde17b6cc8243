//! Vehicles, contracts with versions and parties, invoices and the ledger
//! (CON-01 … CON-04). Licence plates and VINs are sealed under the holder's
//! key (linked to a person they are personal data) and found by blind index.

use super::{Insert, SqlValue};
use crate::crypto::{BlindIndexKey, FieldRef, SubjectKey};
use crate::error::Result;
use crate::keystore::{KeyState, KeyStore};
use crate::repo::customers::Personal;
use sqlx::AnyConnection;

/// Blind-index domain of licence plates (canonical, without dashes).
pub const PLATE_INDEX: &str = "vehicles.licence_plate";

/// A vehicle to insert.
#[derive(Debug, Clone)]
pub struct NewVehicle {
    pub id: i64,
    pub entity_id: i64,
    /// The holder whose key seals the plate and VIN.
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    pub fuel: String,
    pub plate_country: String,
    /// Canonical plate (no dashes).
    pub licence_plate: String,
    pub vin: String,
    pub first_registration: String,
    pub created_at: i64,
}

/// An odometer reading to insert.
#[derive(Debug, Clone)]
pub struct NewOdometerReading {
    pub id: i64,
    pub vehicle_id: i64,
    pub reading_date: String,
    pub kilometres: i64,
    pub source: String,
    pub created_at: i64,
}

/// A contract to insert with its first version and parties.
#[derive(Debug, Clone)]
pub struct NewContract {
    pub id: i64,
    pub entity_id: i64,
    pub brand_id: i64,
    pub dealer_id: Option<i64>,
    pub vehicle_id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub ended_on: Option<String>,
    pub closed_on: Option<String>,
    pub created_at: i64,
    pub terms: ContractTerms,
    pub parties: Vec<NewParty>,
}

/// A party to a contract.
#[derive(Debug, Clone)]
pub struct NewParty {
    pub customer_id: i64,
    /// `holder`, `co_holder` or `guarantor`.
    pub role: String,
    /// The party's registration proof ([`registration_index`]), if known.
    pub registration_bidx: Option<Vec<u8>>,
}

/// Blind-index domain of registration proofs.
pub const REGISTRATION_INDEX: &str = "contract_parties.registration";

/// The registration proof of a contract party (ACC-01): a keyed hash over
/// the contract number, the person's date of birth (ISO) or the company's
/// number, and the postcode, each normalized the way a person types them
/// (case, spaces, dots and dashes do not matter).
pub fn registration_index(
    bidx: &BlindIndexKey,
    contract_number: &str,
    birth_date_or_company_number: &str,
    postcode: &str,
) -> Vec<u8> {
    let compact = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let fact = birth_date_or_company_number.trim();
    // Dates keep their dashes (ISO); numbers lose separators.
    let fact = if fact.len() == 10 && fact.as_bytes().get(4) == Some(&b'-') {
        fact.to_string()
    } else {
        compact(fact)
    };
    bidx.index(
        REGISTRATION_INDEX,
        &format!(
            "{}\u{1f}{}\u{1f}{}",
            compact(contract_number),
            fact,
            compact(postcode)
        ),
    )
}

/// The agreed terms of one contract version (CON-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractTerms {
    pub version: i64,
    pub valid_from: String,
    pub start_date: String,
    pub end_date: String,
    pub term_months: i64,
    pub financed_amount_cents: i64,
    pub down_payment_cents: i64,
    pub balloon_cents: i64,
    pub nominal_rate_bp: i64,
    pub apr_bp: i64,
    pub monthly_instalment_cents: i64,
    pub km_per_year: Option<i64>,
    pub excess_km_price_cents: Option<i64>,
    pub change_reason: String,
}

/// An invoice to insert.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub id: i64,
    pub entity_id: i64,
    pub contract_id: i64,
    pub invoice_number: String,
    pub kind: String,
    pub period: Option<String>,
    pub issue_date: String,
    pub due_date: String,
    pub amount_cents: i64,
    pub paid_cents: i64,
    pub status: String,
    pub payment_reference: String,
    pub created_at: i64,
}

/// A ledger entry to insert (debits positive, credits negative).
#[derive(Debug, Clone)]
pub struct NewLedgerEntry {
    pub id: i64,
    pub contract_id: i64,
    pub invoice_id: Option<i64>,
    pub entry_date: String,
    pub kind: String,
    pub amount_cents: i64,
    pub created_at: i64,
}

/// The columns of `invoices` as new invoices are written (seed, import,
/// invoice runs).
pub const INVOICE_COLUMNS: &[&str] = &[
    "id",
    "entity_id",
    "contract_id",
    "invoice_number",
    "kind",
    "period",
    "issue_date",
    "due_date",
    "amount_cents",
    "paid_cents",
    "status",
    "payment_reference",
    "created_at",
    "updated_at",
];

/// The values of a new invoice in [`INVOICE_COLUMNS`] order.
pub fn invoice_values(i: &NewInvoice) -> Vec<SqlValue> {
    vec![
        i.id.into(),
        i.entity_id.into(),
        i.contract_id.into(),
        i.invoice_number.as_str().into(),
        i.kind.as_str().into(),
        i.period.clone().into(),
        i.issue_date.as_str().into(),
        i.due_date.as_str().into(),
        i.amount_cents.into(),
        i.paid_cents.into(),
        i.status.as_str().into(),
        i.payment_reference.as_str().into(),
        i.created_at.into(),
        i.created_at.into(),
    ]
}

/// Buffers vehicles, contracts, invoices and ledger entries and writes them
/// in foreign-key order with multi-row inserts.
#[derive(Debug)]
pub struct FinanceInsert {
    vehicles: Insert,
    odometer: Insert,
    contracts: Insert,
    versions: Insert,
    parties: Insert,
    invoices: Insert,
    ledger: Insert,
}

impl Default for FinanceInsert {
    fn default() -> Self {
        FinanceInsert {
            vehicles: Insert::new(
                "vehicles",
                &[
                    "id",
                    "entity_id",
                    "subject_id",
                    "make",
                    "model",
                    "fuel",
                    "plate_country",
                    "licence_plate",
                    "vin",
                    "plate_bidx",
                    "first_registration",
                    "created_at",
                ],
            ),
            odometer: Insert::new(
                "odometer_readings",
                &[
                    "id",
                    "vehicle_id",
                    "reading_date",
                    "kilometres",
                    "source",
                    "created_at",
                ],
            ),
            contracts: Insert::new(
                "contracts",
                &[
                    "id",
                    "entity_id",
                    "brand_id",
                    "dealer_id",
                    "vehicle_id",
                    "contract_number",
                    "contract_type",
                    "status",
                    "current_version",
                    "ended_on",
                    "closed_on",
                    "created_at",
                    "updated_at",
                ],
            ),
            versions: Insert::new(
                "contract_versions",
                &[
                    "contract_id",
                    "version",
                    "valid_from",
                    "start_date",
                    "end_date",
                    "term_months",
                    "financed_amount_cents",
                    "down_payment_cents",
                    "balloon_cents",
                    "nominal_rate_bp",
                    "apr_bp",
                    "monthly_instalment_cents",
                    "km_per_year",
                    "excess_km_price_cents",
                    "change_reason",
                    "created_at",
                ],
            ),
            parties: Insert::new(
                "contract_parties",
                &["contract_id", "customer_id", "role", "registration_bidx"],
            ),
            invoices: Insert::new("invoices", INVOICE_COLUMNS),
            ledger: Insert::new(
                "ledger_entries",
                &[
                    "id",
                    "contract_id",
                    "invoice_id",
                    "entry_date",
                    "kind",
                    "amount_cents",
                    "created_at",
                ],
            ),
        }
    }
}

impl FinanceInsert {
    /// Seals and buffers a vehicle under its holder's key.
    pub fn vehicle(
        &mut self,
        v: &NewVehicle,
        key: &SubjectKey,
        bidx: &BlindIndexKey,
    ) -> Result<()> {
        let plate = key.seal(
            FieldRef {
                table: "vehicles",
                column: "licence_plate",
                row: v.id,
            },
            &v.licence_plate,
        )?;
        let vin = key.seal(
            FieldRef {
                table: "vehicles",
                column: "vin",
                row: v.id,
            },
            &v.vin,
        )?;
        self.vehicles.row(vec![
            v.id.into(),
            v.entity_id.into(),
            v.subject_id.into(),
            v.make.as_str().into(),
            v.model.as_str().into(),
            v.fuel.as_str().into(),
            v.plate_country.as_str().into(),
            plate.into(),
            vin.into(),
            bidx.index(PLATE_INDEX, &v.licence_plate).into(),
            v.first_registration.as_str().into(),
            v.created_at.into(),
        ]);
        Ok(())
    }

    /// Buffers an odometer reading.
    pub fn odometer(&mut self, r: &NewOdometerReading) {
        self.odometer.row(vec![
            r.id.into(),
            r.vehicle_id.into(),
            r.reading_date.as_str().into(),
            r.kilometres.into(),
            r.source.as_str().into(),
            r.created_at.into(),
        ]);
    }

    /// Buffers a contract with its first version and its parties.
    pub fn contract(&mut self, c: &NewContract) {
        self.contracts.row(vec![
            c.id.into(),
            c.entity_id.into(),
            c.brand_id.into(),
            c.dealer_id.into(),
            c.vehicle_id.into(),
            c.contract_number.as_str().into(),
            c.contract_type.as_str().into(),
            c.status.as_str().into(),
            c.terms.version.into(),
            c.ended_on.clone().into(),
            c.closed_on.clone().into(),
            c.created_at.into(),
            c.created_at.into(),
        ]);
        self.version(c.id, &c.terms, c.created_at);
        for party in &c.parties {
            self.parties.row(vec![
                c.id.into(),
                party.customer_id.into(),
                party.role.as_str().into(),
                party.registration_bidx.clone().into(),
            ]);
        }
    }

    /// Buffers a contract version.
    pub fn version(&mut self, contract_id: i64, t: &ContractTerms, created_at: i64) {
        let values: Vec<SqlValue> = vec![
            contract_id.into(),
            t.version.into(),
            t.valid_from.as_str().into(),
            t.start_date.as_str().into(),
            t.end_date.as_str().into(),
            t.term_months.into(),
            t.financed_amount_cents.into(),
            t.down_payment_cents.into(),
            t.balloon_cents.into(),
            t.nominal_rate_bp.into(),
            t.apr_bp.into(),
            t.monthly_instalment_cents.into(),
            t.km_per_year.into(),
            t.excess_km_price_cents.into(),
            t.change_reason.as_str().into(),
            created_at.into(),
        ];
        self.versions.row(values);
    }

    /// Buffers an invoice.
    pub fn invoice(&mut self, i: &NewInvoice) {
        self.invoices.row(invoice_values(i));
    }

    /// Buffers a ledger entry.
    pub fn ledger(&mut self, e: &NewLedgerEntry) {
        self.ledger.row(vec![
            e.id.into(),
            e.contract_id.into(),
            e.invoice_id.into(),
            e.entry_date.as_str().into(),
            e.kind.as_str().into(),
            e.amount_cents.into(),
            e.created_at.into(),
        ]);
    }

    /// Number of buffered rows in all tables.
    pub fn len(&self) -> usize {
        [
            &self.vehicles,
            &self.odometer,
            &self.contracts,
            &self.versions,
            &self.parties,
            &self.invoices,
            &self.ledger,
        ]
        .iter()
        .map(|i| i.len())
        .sum()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes everything buffered, in foreign-key order; returns the rows written.
    pub async fn execute(&mut self, tx: &mut AnyConnection) -> Result<u64> {
        let mut written = 0;
        for insert in [
            &mut self.vehicles,
            &mut self.odometer,
            &mut self.contracts,
            &mut self.versions,
            &mut self.parties,
            &mut self.invoices,
            &mut self.ledger,
        ] {
            written += insert.execute(tx).await?;
        }
        Ok(written)
    }
}

/// Marks open invoices whose due date is before `today` as overdue; returns
/// how many changed (CON-03).
pub async fn mark_overdue(tx: &mut AnyConnection, today: &str, now: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE invoices SET status = 'overdue', updated_at = $2 WHERE status = 'open' AND due_date < $1",
    )
    .bind(today)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Number of contracts.
pub async fn count_contracts(db: &crate::Db) -> Result<i64> {
    use sqlx::Row;
    Ok(sqlx::query("SELECT COUNT(*) FROM contracts")
        .fetch_one(db.reader())
        .await?
        .try_get(0)?)
}

/// Ids of the vehicles whose canonical plate (no dashes) is `plate`.
pub async fn vehicle_ids_by_plate(
    db: &crate::Db,
    bidx: &BlindIndexKey,
    plate: &str,
) -> Result<Vec<i64>> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT id FROM vehicles WHERE plate_bidx = $1")
        .bind(bidx.index(PLATE_INDEX, plate))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The vehicles held by a subject, as `(vehicle id, plate)`, the plate
/// opened with the subject's key or [`Personal::Erased`] once it is shredded.
pub async fn plates_of(
    db: &crate::Db,
    keys: &KeyStore,
    subject_id: i64,
) -> Result<Vec<(i64, Personal<String>)>> {
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT id, licence_plate FROM vehicles WHERE subject_id = $1 ORDER BY id")
            .bind(subject_id)
            .fetch_all(db.reader())
            .await?;
    let key = keys.get(subject_id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let sealed: Vec<u8> = row.try_get(1)?;
        let plate = match &key {
            KeyState::Live(key) => {
                let field = FieldRef {
                    table: "vehicles",
                    column: "licence_plate",
                    row: id,
                };
                Personal::Known(key.open(field, &sealed)?)
            }
            KeyState::Shredded(_) => Personal::Erased,
            KeyState::Missing => {
                return Err(crate::StoreError::Crypto(format!(
                    "no key for subject {subject_id}"
                )))
            }
        };
        out.push((id, plate));
    }
    Ok(out)
}

/// A contract's current terms with its vehicle, as the portal shows an
/// activated contract (the plate still sealed under `subject_id`'s key).
#[derive(Debug, Clone)]
pub struct ContractOverview {
    pub id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub brand_id: i64,
    pub ended_on: Option<String>,
    pub terms: ContractTerms,
    pub vehicle_id: i64,
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    pub fuel: String,
    pub licence_plate: Vec<u8>,
}

/// The overview of one contract.
pub async fn contract_overview(
    db: &crate::Db,
    contract_id: i64,
) -> Result<Option<ContractOverview>> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT c.id, c.contract_number, c.contract_type, c.status, c.brand_id, c.ended_on, \
         v.version, v.valid_from, v.start_date, v.end_date, v.term_months, v.financed_amount_cents, \
         v.down_payment_cents, v.balloon_cents, v.nominal_rate_bp, v.apr_bp, \
         v.monthly_instalment_cents, v.km_per_year, v.excess_km_price_cents, v.change_reason, \
         h.id, h.subject_id, h.make, h.model, h.fuel, h.licence_plate \
         FROM contracts c \
         JOIN contract_versions v ON v.contract_id = c.id AND v.version = c.current_version \
         JOIN vehicles h ON h.id = c.vehicle_id WHERE c.id = $1",
    )
    .bind(contract_id)
    .fetch_optional(db.reader())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(ContractOverview {
        id: r.try_get(0)?,
        contract_number: r.try_get(1)?,
        contract_type: r.try_get(2)?,
        status: r.try_get(3)?,
        brand_id: r.try_get(4)?,
        ended_on: r.try_get(5)?,
        terms: ContractTerms {
            version: r.try_get(6)?,
            valid_from: r.try_get(7)?,
            start_date: r.try_get(8)?,
            end_date: r.try_get(9)?,
            term_months: r.try_get(10)?,
            financed_amount_cents: r.try_get(11)?,
            down_payment_cents: r.try_get(12)?,
            balloon_cents: r.try_get(13)?,
            nominal_rate_bp: r.try_get(14)?,
            apr_bp: r.try_get(15)?,
            monthly_instalment_cents: r.try_get(16)?,
            km_per_year: r.try_get(17)?,
            excess_km_price_cents: r.try_get(18)?,
            change_reason: r.try_get(19)?,
        },
        vehicle_id: r.try_get(20)?,
        subject_id: r.try_get(21)?,
        make: r.try_get(22)?,
        model: r.try_get(23)?,
        fuel: r.try_get(24)?,
        licence_plate: r.try_get(25)?,
    }))
}

/// Adds `terms` as a new version of a contract and makes it the current one
/// (CON-01): earlier versions stay as they were. `terms.version` must be the
/// next number; the primary key refuses a version that exists.
pub async fn amend(
    tx: &mut AnyConnection,
    contract_id: i64,
    terms: &ContractTerms,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO contract_versions (contract_id, version, valid_from, start_date, end_date, \
         term_months, financed_amount_cents, down_payment_cents, balloon_cents, nominal_rate_bp, \
         apr_bp, monthly_instalment_cents, km_per_year, excess_km_price_cents, change_reason, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(contract_id)
    .bind(terms.version)
    .bind(terms.valid_from.as_str())
    .bind(terms.start_date.as_str())
    .bind(terms.end_date.as_str())
    .bind(terms.term_months)
    .bind(terms.financed_amount_cents)
    .bind(terms.down_payment_cents)
    .bind(terms.balloon_cents)
    .bind(terms.nominal_rate_bp)
    .bind(terms.apr_bp)
    .bind(terms.monthly_instalment_cents)
    .bind(terms.km_per_year)
    .bind(terms.excess_km_price_cents)
    .bind(terms.change_reason.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE contracts SET current_version = $1, updated_at = $2 WHERE id = $3")
        .bind(terms.version)
        .bind(now)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
