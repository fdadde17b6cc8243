//! Generated customers, contracts, vehicles and invoices for demos, tests
//! and benchmarks. Every person is invented: names are drawn from lists of
//! common first names and surnames and combined at random; addresses,
//! numbers and plates are generated and valid but belong to nobody.
//!
//! The generator is deterministic for a given seed, so a demo database looks
//! the same every time. Generation and sealing run on a blocking thread and
//! hand batches to the writer through a small channel, so the two cores work
//! in parallel (see `carfin seed`).

use crate::{App, AppError};
use carfin_domain::finance::{amortization_schedule, annuity_instalment, apr_bp};
use carfin_domain::{BePlate, Country, Iban, KboNumber, Money, NlPlate, PaymentReference, Vin};
use carfin_store::crypto::{BlindIndexKey, SubjectKey};
use carfin_store::repo::customers::{CustomerInsert, CustomerPersonal, NewCustomer};
use carfin_store::repo::finance::{
    registration_index, ContractTerms, FinanceInsert, NewContract, NewInvoice, NewLedgerEntry,
    NewOdometerReading, NewParty, NewVehicle,
};
use chrono::{Datelike, Months, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The reference data a generated customer attaches to.
#[derive(Debug, Clone)]
pub struct EntityRefs {
    pub entity_id: i64,
    pub country: Country,
    pub brand_ids: Vec<i64>,
    pub dealer_ids: Vec<i64>,
}

/// Contract types, as stored.
pub const CONTRACT_TYPES: [&str; 3] = ["financial_lease", "operational_lease", "consumer_credit"];
/// Contract statuses, as stored.
pub const CONTRACT_STATUSES: [&str; 4] = ["pending", "active", "ended", "closed"];

const GIVEN_NL: &[&str] = &[
    "Daan", "Sem", "Lucas", "Finn", "Levi", "Bram", "Jesse", "Thijs", "Ruben", "Lars", "Emma",
    "Julia", "Sophie", "Tess", "Anna", "Sanne", "Lotte", "Fleur", "Noor", "Evi", "Maud", "Iris",
    "Joris", "Wouter",
];
const GIVEN_BE: &[&str] = &[
    "Arthur",
    "Louis",
    "Jules",
    "Victor",
    "Noah",
    "Adam",
    "Lucas",
    "Mathis",
    "Olivia",
    "Louise",
    "Camille",
    "Elena",
    "Marie",
    "Lina",
    "Juliette",
    "Charlotte",
    "Wout",
    "Pieter",
    "Sofie",
    "Elise",
    "Lien",
    "Hanne",
];
const SURNAMES_NL: &[&str] = &[
    "Jansen", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters", "Hendriks", "Dekker",
    "Brouwer", "Kok", "Willems", "Schouten", "Postma", "Kuipers", "Veenstra", "Hoekstra", "Koster",
    "Prins",
];
const PREFIXES_NL: &[&str] = &["de", "van", "van der", "van den", "ter"];
const SURNAMES_BE: &[&str] = &[
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "Dubois", "Lambert", "Dupont", "Martin", "Leroy", "Simon", "Laurent", "Lemaire", "Michiels",
    "Desmet", "Hermans",
];
const STREETS_NL: &[&str] = &[
    "Kerkstraat",
    "Schoolstraat",
    "Molenweg",
    "Dorpsstraat",
    "Stationsweg",
    "Julianalaan",
    "Beukenlaan",
    "Kastanjelaan",
    "Wilhelminastraat",
    "Parallelweg",
    "Eikenlaan",
    "Sportlaan",
];
const STREETS_BE: &[&str] = &[
    "Kerkstraat",
    "Stationsstraat",
    "Rue de la Station",
    "Dorpstraat",
    "Rue de l'Église",
    "Nieuwstraat",
    "Avenue des Tilleuls",
    "Molenstraat",
    "Rue du Moulin",
    "Schoolstraat",
];
const CITIES_NL: &[&str] = &[
    "Amsterdam",
    "Rotterdam",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Arnhem",
    "Zwolle",
    "Leiden",
    "Maastricht",
];
const CITIES_BE: &[(&str, u32)] = &[
    ("Brussel", 1000),
    ("Antwerpen", 2000),
    ("Gent", 9000),
    ("Charleroi", 6000),
    ("Liège", 4000),
    ("Brugge", 8000),
    ("Namur", 5000),
    ("Leuven", 3000),
    ("Mons", 7000),
    ("Hasselt", 3500),
];
const COMPANY_WORDS: &[&str] = &[
    "Noordzee", "Polder", "Delta", "Kempen", "Ardennen", "Maas", "Schelde", "Veluwe", "Horizon",
    "Duin",
];
const COMPANY_KINDS: &[&str] = &[
    "Logistiek",
    "Installatietechniek",
    "Bouw",
    "Consultancy",
    "Transport",
    "Zorg",
];
const VEHICLES: &[(&str, &str, &str, &str)] = &[
    ("Volkswagen", "ID.3", "electric", "WVW"),
    ("Volkswagen", "Golf", "petrol", "WVW"),
    ("Kia", "Niro EV", "electric", "KNA"),
    ("Toyota", "Corolla Hybrid", "hybrid", "SB1"),
    ("Peugeot", "e-208", "electric", "VF3"),
    ("Renault", "Clio", "petrol", "VF1"),
    ("Skoda", "Octavia Combi", "diesel", "TMB"),
    ("BMW", "i4", "electric", "WBA"),
    ("Tesla", "Model Y", "electric", "5YJ"),
    ("Ford", "Transit Custom", "diesel", "WF0"),
];
const NL_BANKS: &[&str] = &[
    "ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ",
];

/// Rows generated for one batch of customers, sealed and ready to write.
#[derive(Debug, Default)]
pub struct Batch {
    pub keys: Vec<(i64, SubjectKey)>,
    pub customers: CustomerInsert,
    pub finance: FinanceInsert,
    pub customer_count: usize,
    pub contract_count: usize,
    pub row_count: usize,
}

/// A deterministic generator of customers and their contracts.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    entities: Vec<EntityRefs>,
    today: NaiveDate,
    now: i64,
    ids: carfin_store::IdGen,
    bidx: BlindIndexKey,
    /// Customer sequence (for numbers, e-mail addresses, plates).
    seq: u64,
    contract_seq: u64,
    /// Forces type and status for the first contracts so small demos cover
    /// every combination.
    forced: Vec<(&'static str, &'static str)>,
}

impl Generator {
    /// A generator writing against `entities`, numbering customers after
    /// `start_seq` and contracts after `contract_start_seq`.
    pub fn new(
        app: &App,
        entities: Vec<EntityRefs>,
        seed: u64,
        start_seq: u64,
        contract_start_seq: u64,
    ) -> Generator {
        let mut forced = Vec::new();
        for status in CONTRACT_STATUSES {
            for kind in CONTRACT_TYPES {
                forced.push((kind, status));
            }
        }
        forced.reverse();
        Generator {
            rng: StdRng::seed_from_u64(seed),
            entities,
            today: app.clock().today(),
            now: app.clock().now().timestamp(),
            ids: app.ids().clone(),
            bidx: app.blind_index().clone(),
            seq: start_seq,
            contract_seq: contract_start_seq,
            forced,
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.gen_range(0..items.len())]
    }

    /// Ids come from the wall clock, not the (possibly frozen) business
    /// clock: a frozen millisecond would exhaust the counter after 4 million ids.
    fn id(&mut self) -> i64 {
        self.ids.next()
    }

    /// Generates `count` customers with their contracts into one batch.
    pub fn batch(&mut self, count: usize) -> Result<Batch, AppError> {
        let mut batch = Batch::default();
        for _ in 0..count {
            self.customer(&mut batch)?;
        }
        batch.row_count += batch.customers.len() + batch.finance.len();
        Ok(batch)
    }

    fn customer(&mut self, batch: &mut Batch) -> Result<(), AppError> {
        self.seq += 1;
        let seq = self.seq;
        let entity = if self.rng.gen_bool(0.7) || self.entities.len() == 1 {
            self.entities[0].clone()
        } else {
            self.entities[1].clone()
        };
        let nl = entity.country == Country::Nl;
        let id = self.id();
        let key = SubjectKey::generate();
        let company = self.rng.gen_bool(0.15);
        let given = *self.pick(if nl { GIVEN_NL } else { GIVEN_BE });
        let surname = *self.pick(if nl { SURNAMES_NL } else { SURNAMES_BE });
        let prefix = if nl && self.rng.gen_bool(0.25) {
            Some(self.pick(PREFIXES_NL).to_string())
        } else {
            None
        };
        let (street, postcode, city) = if nl {
            let digits = self.rng.gen_range(1000..10000);
            let letters = loop {
                let a = self.rng.gen_range(b'A'..=b'Z') as char;
                let b = self.rng.gen_range(b'A'..=b'Z') as char;
                let pair: String = [a, b].iter().collect();
                if !["SA", "SD", "SS"].contains(&pair.as_str()) {
                    break pair;
                }
            };
            (
                self.pick(STREETS_NL).to_string(),
                format!("{digits}{letters}"),
                self.pick(CITIES_NL).to_string(),
            )
        } else {
            let (city, base) = *self.pick(CITIES_BE);
            (
                self.pick(STREETS_BE).to_string(),
                (base + self.rng.gen_range(0..99)).to_string(),
                city.to_string(),
            )
        };
        let local = format!("{}.{}{}", given, surname, seq)
            .to_lowercase()
            .replace([' ', '\''], "");
        let email = format!("{local}@example.com");
        let phone = if nl {
            // Mobile ranges 061–065 and 068 (066 is pagers, 067 not mobile).
            let range = *self.pick(&[1u8, 2, 3, 4, 5, 8]);
            format!("+316{range}{:07}", self.rng.gen_range(0..10_000_000u64))
        } else {
            format!("+3247{:07}", self.rng.gen_range(0..10_000_000u64))
        };
        let iban = if nl {
            let bank = *self.pick(NL_BANKS);
            Iban::nl_from_parts(bank, self.rng.gen_range(100_000_000..10_000_000_000u64))
        } else {
            Iban::be_from_account(self.rng.gen_range(1_000_000_000..10_000_000_000u64))
        }
        .map_err(|_| AppError::Config("generated IBAN is invalid".into()))?;
        let birth = NaiveDate::from_ymd_opt(
            self.rng.gen_range(1950..2004),
            self.rng.gen_range(1..13),
            self.rng.gen_range(1..29),
        )
        .unwrap_or(self.today);
        let mut personal = CustomerPersonal {
            street,
            house_number: self.rng.gen_range(1..250).to_string(),
            postcode,
            city,
            email: Some(email),
            phone: Some(phone),
            iban: Some(iban.as_str().to_string()),
            ..CustomerPersonal::default()
        };
        if company {
            personal.company_name = Some(format!(
                "{} {} {}",
                self.pick(COMPANY_WORDS),
                self.pick(COMPANY_KINDS),
                if nl { "B.V." } else { "BV" }
            ));
            personal.company_number = Some(if nl {
                format!("{:08}", 10_000_000 + (seq % 89_999_999))
            } else {
                KboNumber::generate(seq % KboNumber::GENERATED_CAPACITY)
                    .map(|k| k.as_str().to_string())
                    .ok_or_else(|| AppError::Config("KBO generator failed".into()))?
            });
        } else {
            personal.initials = given.chars().next().map(|c| format!("{c}."));
            personal.given_names = Some(given.to_string());
            personal.name_prefix = prefix;
            personal.surname = Some(surname.to_string());
            personal.date_of_birth = Some(birth.to_string());
        }
        let language = if nl {
            "nl"
        } else if self.rng.gen_bool(0.5) {
            "fr"
        } else {
            "nl"
        };
        let customer = NewCustomer {
            id,
            entity_id: entity.entity_id,
            customer_number: format!("K{:09}", seq),
            kind: if company { "company" } else { "person" }.into(),
            language: language.into(),
            country: entity.country.code().into(),
            personal,
            created_at: self.now,
        };
        batch.customers.add(&customer, &key, &self.bidx)?;
        let contracts = if self.rng.gen_bool(0.12) { 2 } else { 1 };
        // What the customer types to register (ACC-01).
        let fact = customer
            .personal
            .date_of_birth
            .clone()
            .or_else(|| customer.personal.company_number.clone())
            .unwrap_or_default();
        let proof = (fact, customer.personal.postcode.clone());
        for _ in 0..contracts {
            self.contract(batch, &entity, id, &key, company, &proof)?;
        }
        batch.keys.push((id, key));
        batch.customer_count += 1;
        Ok(())
    }

    fn contract(
        &mut self,
        batch: &mut Batch,
        entity: &EntityRefs,
        customer_id: i64,
        key: &SubjectKey,
        company: bool,
        proof: &(String, String),
    ) -> Result<(), AppError> {
        self.contract_seq += 1;
        let seq = self.contract_seq;
        let nl = entity.country == Country::Nl;
        let (kind, status) = match self.forced.pop() {
            Some(forced) => forced,
            None => {
                let kind = if company {
                    *self.pick(&["financial_lease", "operational_lease"])
                } else {
                    *self.pick(&CONTRACT_TYPES)
                };
                let roll = self.rng.gen_range(0..100);
                let status = match roll {
                    0..=3 => "pending",
                    4..=73 => "active",
                    74..=89 => "ended",
                    _ => "closed",
                };
                (kind, status)
            }
        };
        // Running contracts have run 24 to 26 months of a 36- to 60-month
        // term; ended and closed ones ran a whole term of 24 or 36 months;
        // pending ones start next month.
        let term: u32 = match status {
            "ended" | "closed" => *self.pick(&[24u32, 36]),
            _ => *self.pick(&[36u32, 48, 60]),
        };
        let months_ago: u32 = match status {
            "pending" => 0,
            "active" => self.rng.gen_range(24..27),
            _ => term + self.rng.gen_range(1..13),
        };
        let first_of_month = self.today.with_day(1).unwrap_or(self.today);
        let start = if status == "pending" {
            first_of_month
                .checked_add_months(Months::new(1))
                .unwrap_or(first_of_month)
        } else {
            first_of_month
                .checked_sub_months(Months::new(months_ago))
                .unwrap_or(first_of_month)
        };
        let end = start.checked_add_months(Months::new(term)).unwrap_or(start);
        let price = self.rng.gen_range(18_000..65_000i64) * 100;
        let down = if kind == "operational_lease" {
            0
        } else {
            price / 100 * self.rng.gen_range(0..20)
        };
        let financed = price - down;
        let balloon = if kind == "consumer_credit" {
            0
        } else {
            financed / 100 * self.rng.gen_range(15..40)
        };
        let rate_bp: u32 = self.rng.gen_range(390..990);
        let instalment = annuity_instalment(
            Money::from_cents(financed),
            Money::from_cents(balloon),
            rate_bp,
            term,
        )
        .ok_or_else(|| AppError::Config("annuity out of range".into()))?;
        let apr = apr_bp(
            Money::from_cents(financed),
            instalment,
            term,
            Money::from_cents(balloon),
            Money::zero(),
        )
        .unwrap_or(rate_bp);
        let lease = kind != "consumer_credit";
        let km_per_year = if lease {
            Some(*self.pick(&[10_000i64, 15_000, 20_000, 25_000, 30_000]))
        } else {
            None
        };
        let (make, model, fuel, wmi) = *self.pick(VEHICLES);

        // Vehicle, with readings at delivery and (for running contracts) later.
        let vehicle_id = self.id();
        let plate = if nl {
            let side = *self.pick(&[9u8, 10, 11, 12, 13, 14]);
            let capacity = NlPlate::generated_capacity(side).unwrap_or(1).max(1);
            NlPlate::generate(side, seq % capacity).map(|p| p.as_str().to_string())
        } else {
            BePlate::generate(seq).map(|p| p.as_str().to_string())
        }
        .ok_or_else(|| AppError::Config("plate generator exhausted".into()))?;
        let vin =
            Vin::generate(wmi, seq).map_err(|_| AppError::Config("VIN generator failed".into()))?;
        batch.finance.vehicle(
            &NewVehicle {
                id: vehicle_id,
                entity_id: entity.entity_id,
                subject_id: customer_id,
                make: make.into(),
                model: model.into(),
                fuel: fuel.into(),
                plate_country: entity.country.code().into(),
                licence_plate: plate,
                vin: vin.as_str().to_string(),
                first_registration: start.to_string(),
                created_at: self.now,
            },
            key,
            &self.bidx,
        )?;
        let yearly_km = km_per_year.unwrap_or(15_000) * self.rng.gen_range(70..130) / 100;
        let mut readings = vec![(start, self.rng.gen_range(5..60), "delivery")];
        if status != "pending" {
            let months_run = months_ago.min(term) as i64;
            let latest = start
                .checked_add_months(Months::new(months_run as u32))
                .unwrap_or(start);
            let km = yearly_km * months_run / 12;
            readings.push((
                latest,
                km,
                if status == "active" {
                    "customer"
                } else {
                    "contract_end"
                },
            ));
        }
        for (date, km, source) in readings {
            let reading_id = self.id();
            batch.finance.odometer(&NewOdometerReading {
                id: reading_id,
                vehicle_id,
                reading_date: date.to_string(),
                kilometres: km,
                source: source.into(),
                created_at: self.now,
            });
        }

        let contract_id = self.id();
        let contract_number = format!("{}{:08}", if nl { "NL" } else { "BE" }, seq);
        let ended_on = matches!(status, "ended" | "closed").then(|| end.to_string());
        let closed_on = (status == "closed").then(|| {
            end.checked_add_months(Months::new(2))
                .unwrap_or(end)
                .to_string()
        });
        let dealer_id = if entity.dealer_ids.is_empty() {
            None
        } else {
            Some(*self.pick(&entity.dealer_ids))
        };
        let brand_id = *self.pick(&entity.brand_ids);
        batch.finance.contract(&NewContract {
            id: contract_id,
            entity_id: entity.entity_id,
            brand_id,
            dealer_id,
            vehicle_id,
            contract_number: contract_number.clone(),
            contract_type: kind.into(),
            status: status.into(),
            ended_on,
            closed_on,
            created_at: self.now,
            terms: ContractTerms {
                version: 1,
                valid_from: start.to_string(),
                start_date: start.to_string(),
                end_date: end.to_string(),
                term_months: term as i64,
                financed_amount_cents: financed,
                down_payment_cents: down,
                balloon_cents: balloon,
                nominal_rate_bp: rate_bp as i64,
                apr_bp: apr as i64,
                monthly_instalment_cents: instalment.cents(),
                km_per_year,
                excess_km_price_cents: lease.then(|| self.rng.gen_range(6..15)),
                change_reason: "origination".into(),
            },
            parties: vec![NewParty {
                customer_id,
                role: "holder".into(),
                registration_bidx: Some(registration_index(
                    &self.bidx,
                    &contract_number,
                    &proof.0,
                    &proof.1,
                )),
            }],
        });
        batch.contract_count += 1;

        // Monthly instalments, billed a month ahead and due on the first of
        // each month: every one issued by today (so a running contract always
        // has its next instalment open). The most recent past-due
        // ones of some running contracts are unpaid (overdue, and the oldest
        // of three in collection); later ones are open.
        let dues: Vec<NaiveDate> = (0..term)
            .filter_map(|m| start.checked_add_months(Months::new(m)))
            .filter(|due| {
                due.checked_sub_months(Months::new(1))
                    .is_some_and(|issue| issue <= self.today)
            })
            .collect();
        let past_due = dues.iter().filter(|d| **d < self.today).count() as u32;
        let overdue_tail = if status == "active" && self.rng.gen_bool(0.08) {
            self.rng.gen_range(1..4)
        } else {
            0
        };
        // The last instalment of a financing contract settles the schedule:
        // the balloon plus the cents of rounding (an operational lease's
        // residual value is not the customer's to pay: the car goes back).
        let last_amount = if kind == "operational_lease" {
            instalment.cents()
        } else {
            amortization_schedule(
                Money::from_cents(financed),
                Money::from_cents(balloon),
                rate_bp,
                term,
                instalment,
            )
            .and_then(|lines| lines.last().map(|l| l.instalment.cents()))
            .unwrap_or(instalment.cents())
        };
        for (m, due) in dues.into_iter().enumerate() {
            let m = m as u32;
            let issue = due.checked_sub_months(Months::new(1)).unwrap_or(due);
            let period_start = due;
            let status = if due >= self.today {
                "open"
            } else if past_due - m <= overdue_tail {
                if past_due - m == 3 {
                    "in_collection"
                } else {
                    "overdue"
                }
            } else {
                "paid"
            };
            let amount = if m + 1 == term {
                last_amount
            } else {
                instalment.cents()
            };
            let invoice_id = self.id();
            let base = (seq % 100_000_000) * 100 + u64::from(m % 100);
            let reference = PaymentReference::for_country(entity.country, base)
                .map(|r| r.as_str().to_string())
                .ok_or_else(|| AppError::Config("payment reference generator failed".into()))?;
            batch.finance.invoice(&NewInvoice {
                id: invoice_id,
                entity_id: entity.entity_id,
                contract_id,
                invoice_number: format!(
                    "{}-{:04}{:02}",
                    contract_number,
                    period_start.year(),
                    period_start.month()
                ),
                kind: "instalment".into(),
                period: Some(format!(
                    "{:04}-{:02}",
                    period_start.year(),
                    period_start.month()
                )),
                issue_date: issue.to_string(),
                due_date: due.to_string(),
                amount_cents: amount,
                paid_cents: if status == "paid" { amount } else { 0 },
                status: status.into(),
                payment_reference: reference,
                created_at: self.now,
            });
            let debit_id = self.id();
            batch.finance.ledger(&NewLedgerEntry {
                id: debit_id,
                contract_id,
                invoice_id: Some(invoice_id),
                entry_date: issue.to_string(),
                kind: "invoice".into(),
                amount_cents: amount,
                created_at: self.now,
            });
            if status == "paid" {
                let credit_id = self.id();
                batch.finance.ledger(&NewLedgerEntry {
                    id: credit_id,
                    contract_id,
                    invoice_id: Some(invoice_id),
                    entry_date: due.to_string(),
                    kind: "payment".into(),
                    amount_cents: -amount,
                    created_at: self.now,
                });
            }
        }
        Ok(())
    }
}

/// Writes a generated batch: subject keys first (a crash in between leaves
/// only an unused key), then the data in one transaction.
/// The batch is audited as `seed.batch` (PRV-15) in the same transaction.
pub async fn write_batch(app: &App, batch: &mut Batch) -> Result<(), AppError> {
    write_batch_audited(app, batch, "seed.batch", "test_data").await
}

/// [`write_batch`] with the audit record's action and purpose.
pub(crate) async fn write_batch_audited(
    app: &App,
    batch: &mut Batch,
    action: &str,
    purpose: &str,
) -> Result<(), AppError> {
    app.keys()
        .insert_many(&batch.keys, app.clock().now().timestamp())
        .await?;
    let mut tx = app.db().begin_write().await?;
    batch.customers.execute(&mut tx).await?;
    batch.finance.execute(&mut tx).await?;
    let entry = crate::audit::AuditEntry::system(
        app,
        action,
        purpose,
        &[
            "customers",
            "vehicles",
            "odometer_readings",
            "contracts",
            "contract_versions",
            "contract_parties",
            "invoices",
            "ledger_entries",
        ],
    );
    crate::audit::record(&mut tx, app, entry).await?;
    tx.commit().await.map_err(carfin_store::StoreError::from)?;
    Ok(())
}
