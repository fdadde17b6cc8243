//! Reads for the customer's copy of their data (PRV-04, PRV-08) and the
//! "who accessed my data" page (PRV-16): every row linked to one customer,
//! with sealed columns still sealed (the caller opens them with the right
//! subject's key). Columns that hold secrets (password hash, code and token
//! hashes, blind indexes, the TOTP secret) are not selected at all: the
//! export says only that they exist and when they were set.
//!
//! Also the one write of the export: its `issued_documents` row.

use crate::error::Result;
use crate::Db;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A contract the customer is a party to, with their role and whether
/// their portal account activated it (ACC-03).
#[derive(Debug, Clone)]
pub struct ContractRow {
    pub id: i64,
    pub entity_id: i64,
    pub brand_id: i64,
    pub brand_name: String,
    pub dealer_id: Option<i64>,
    pub dealer_name: Option<String>,
    pub vehicle_id: i64,
    pub contract_number: String,
    pub contract_type: String,
    pub status: String,
    pub current_version: i64,
    pub ended_on: Option<String>,
    pub closed_on: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// This customer's role: `holder`, `co_holder` or `guarantor`.
    pub role: String,
    /// When this customer's account activated the contract, if it did.
    pub activated_at: Option<i64>,
}

/// The contracts `customer_id` is a party to, by contract number; activation
/// as seen from `account_id` (none: no account, nothing activated).
pub async fn contracts(
    db: &Db,
    customer_id: i64,
    account_id: Option<i64>,
) -> Result<Vec<ContractRow>> {
    let rows = sqlx::query(
        "SELECT c.id, c.entity_id, c.brand_id, b.name AS brand_name, c.dealer_id, \
         d.name AS dealer_name, c.vehicle_id, c.contract_number, c.contract_type, c.status, \
         c.current_version, c.ended_on, c.closed_on, c.created_at, c.updated_at, p.role, \
         a.activated_at \
         FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id \
         JOIN brands b ON b.id = c.brand_id \
         LEFT JOIN dealers d ON d.id = c.dealer_id \
         LEFT JOIN contract_activations a ON a.contract_id = c.id AND a.account_id = $2 \
         WHERE p.customer_id = $1 ORDER BY c.contract_number",
    )
    .bind(customer_id)
    .bind(account_id.unwrap_or(0))
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ContractRow {
                id: r.try_get("id")?,
                entity_id: r.try_get("entity_id")?,
                brand_id: r.try_get("brand_id")?,
                brand_name: r.try_get("brand_name")?,
                dealer_id: r.try_get("dealer_id")?,
                dealer_name: r.try_get("dealer_name")?,
                vehicle_id: r.try_get("vehicle_id")?,
                contract_number: r.try_get("contract_number")?,
                contract_type: r.try_get("contract_type")?,
                status: r.try_get("status")?,
                current_version: r.try_get("current_version")?,
                ended_on: r.try_get("ended_on")?,
                closed_on: r.try_get("closed_on")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                role: r.try_get("role")?,
                activated_at: r.try_get("activated_at")?,
            })
        })
        .collect()
}

/// `IN ($n, $n+1, …)` for `count` values starting at `$first`.
fn placeholders(first: usize, count: usize) -> String {
    let list: Vec<String> = (first..first + count).map(|n| format!("${n}")).collect();
    list.join(", ")
}

/// Rows of `sql_head … IN (ids) sql_tail`, mapped; none for no ids.
async fn rows_in<T>(
    db: &Db,
    sql_head: &str,
    ids: &[i64],
    sql_tail: &str,
    map: impl Fn(&AnyRow) -> Result<T>,
) -> Result<Vec<T>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{sql_head} IN ({}) {sql_tail}", placeholders(1, ids.len()));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter().map(map).collect()
}

/// The roles of every party of the contracts (no party's identity):
/// `(contract_id, role)`.
pub async fn party_roles(db: &Db, contract_ids: &[i64]) -> Result<Vec<(i64, String)>> {
    rows_in(
        db,
        "SELECT contract_id, role FROM contract_parties WHERE contract_id",
        contract_ids,
        "ORDER BY contract_id, role",
        |r| Ok((r.try_get(0)?, r.try_get(1)?)),
    )
    .await
}

/// One version of a contract's terms (CON-01).
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub contract_id: i64,
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
    pub created_at: i64,
}

/// Every version of the contracts, oldest first.
pub async fn versions(db: &Db, contract_ids: &[i64]) -> Result<Vec<VersionRow>> {
    rows_in(
        db,
        "SELECT contract_id, version, valid_from, start_date, end_date, term_months, \
         financed_amount_cents, down_payment_cents, balloon_cents, nominal_rate_bp, apr_bp, \
         monthly_instalment_cents, km_per_year, excess_km_price_cents, change_reason, created_at \
         FROM contract_versions WHERE contract_id",
        contract_ids,
        "ORDER BY contract_id, version",
        |r| {
            Ok(VersionRow {
                contract_id: r.try_get("contract_id")?,
                version: r.try_get("version")?,
                valid_from: r.try_get("valid_from")?,
                start_date: r.try_get("start_date")?,
                end_date: r.try_get("end_date")?,
                term_months: r.try_get("term_months")?,
                financed_amount_cents: r.try_get("financed_amount_cents")?,
                down_payment_cents: r.try_get("down_payment_cents")?,
                balloon_cents: r.try_get("balloon_cents")?,
                nominal_rate_bp: r.try_get("nominal_rate_bp")?,
                apr_bp: r.try_get("apr_bp")?,
                monthly_instalment_cents: r.try_get("monthly_instalment_cents")?,
                km_per_year: r.try_get("km_per_year")?,
                excess_km_price_cents: r.try_get("excess_km_price_cents")?,
                change_reason: r.try_get("change_reason")?,
                created_at: r.try_get("created_at")?,
            })
        },
    )
    .await
}

/// A vehicle, plate and VIN still sealed under `subject_id`'s key.
#[derive(Debug, Clone)]
pub struct VehicleRow {
    pub id: i64,
    pub entity_id: i64,
    pub subject_id: i64,
    pub make: String,
    pub model: String,
    pub fuel: String,
    pub plate_country: String,
    pub licence_plate: Vec<u8>,
    pub vin: Vec<u8>,
    pub first_registration: String,
    pub created_at: i64,
}

fn vehicle(r: &AnyRow) -> Result<VehicleRow> {
    Ok(VehicleRow {
        id: r.try_get("id")?,
        entity_id: r.try_get("entity_id")?,
        subject_id: r.try_get("subject_id")?,
        make: r.try_get("make")?,
        model: r.try_get("model")?,
        fuel: r.try_get("fuel")?,
        plate_country: r.try_get("plate_country")?,
        licence_plate: r.try_get("licence_plate")?,
        vin: r.try_get("vin")?,
        first_registration: r.try_get("first_registration")?,
        created_at: r.try_get("created_at")?,
    })
}

const VEHICLE_COLUMNS: &str = "id, entity_id, subject_id, make, model, fuel, plate_country, \
     licence_plate, vin, first_registration, created_at";

/// The vehicles with these ids.
pub async fn vehicles(db: &Db, ids: &[i64]) -> Result<Vec<VehicleRow>> {
    rows_in(
        db,
        &format!("SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE id"),
        ids,
        "ORDER BY id",
        vehicle,
    )
    .await
}

/// The ids of vehicles registered to `subject_id` that no contract refers
/// to (a vehicle of a contract is shown with its contract).
pub async fn vehicles_without_contract(db: &Db, subject_id: i64) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT v.id FROM vehicles v WHERE v.subject_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.vehicle_id = v.id) ORDER BY v.id",
    )
    .bind(subject_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// An odometer reading.
#[derive(Debug, Clone)]
pub struct OdometerRow {
    pub id: i64,
    pub vehicle_id: i64,
    pub reading_date: String,
    pub kilometres: i64,
    pub source: String,
    pub created_at: i64,
}

/// The odometer readings of the vehicles, oldest first.
pub async fn odometer_readings(db: &Db, vehicle_ids: &[i64]) -> Result<Vec<OdometerRow>> {
    rows_in(
        db,
        "SELECT id, vehicle_id, reading_date, kilometres, source, created_at \
         FROM odometer_readings WHERE vehicle_id",
        vehicle_ids,
        "ORDER BY vehicle_id, reading_date, id",
        |r| {
            Ok(OdometerRow {
                id: r.try_get("id")?,
                vehicle_id: r.try_get("vehicle_id")?,
                reading_date: r.try_get("reading_date")?,
                kilometres: r.try_get("kilometres")?,
                source: r.try_get("source")?,
                created_at: r.try_get("created_at")?,
            })
        },
    )
    .await
}

/// An invoice.
#[derive(Debug, Clone)]
pub struct InvoiceRow {
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
    pub updated_at: i64,
}

/// The invoices of the contracts, by contract and issue date.
pub async fn invoices(db: &Db, contract_ids: &[i64]) -> Result<Vec<InvoiceRow>> {
    rows_in(
        db,
        "SELECT id, entity_id, contract_id, invoice_number, kind, period, issue_date, due_date, \
         amount_cents, paid_cents, status, payment_reference, created_at, updated_at \
         FROM invoices WHERE contract_id",
        contract_ids,
        "ORDER BY contract_id, issue_date, id",
        |r| {
            Ok(InvoiceRow {
                id: r.try_get("id")?,
                entity_id: r.try_get("entity_id")?,
                contract_id: r.try_get("contract_id")?,
                invoice_number: r.try_get("invoice_number")?,
                kind: r.try_get("kind")?,
                period: r.try_get("period")?,
                issue_date: r.try_get("issue_date")?,
                due_date: r.try_get("due_date")?,
                amount_cents: r.try_get("amount_cents")?,
                paid_cents: r.try_get("paid_cents")?,
                status: r.try_get("status")?,
                payment_reference: r.try_get("payment_reference")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        },
    )
    .await
}

/// A ledger entry (debits positive, credits negative).
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub id: i64,
    pub contract_id: i64,
    pub invoice_id: Option<i64>,
    pub entry_date: String,
    pub kind: String,
    pub amount_cents: i64,
    pub created_at: i64,
}

/// The ledger entries of the contracts, by contract and date.
pub async fn ledger_entries(db: &Db, contract_ids: &[i64]) -> Result<Vec<LedgerRow>> {
    rows_in(
        db,
        "SELECT id, contract_id, invoice_id, entry_date, kind, amount_cents, created_at \
         FROM ledger_entries WHERE contract_id",
        contract_ids,
        "ORDER BY contract_id, entry_date, id",
        |r| {
            Ok(LedgerRow {
                id: r.try_get("id")?,
                contract_id: r.try_get("contract_id")?,
                invoice_id: r.try_get("invoice_id")?,
                entry_date: r.try_get("entry_date")?,
                kind: r.try_get("kind")?,
                amount_cents: r.try_get("amount_cents")?,
                created_at: r.try_get("created_at")?,
            })
        },
    )
    .await
}

/// A portal account without its secrets: whether a password hash and a
/// TOTP secret are stored, not their values. The e-mail is still sealed.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: i64,
    pub customer_id: i64,
    pub entity_id: i64,
    pub email: Vec<u8>,
    pub has_password: bool,
    pub status: String,
    pub language: String,
    pub terms_version: String,
    pub email_verified_at: Option<i64>,
    pub second_factor: String,
    pub has_totp_secret: bool,
    pub totp_last_step: Option<i64>,
    pub frozen_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub closure_notice_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The customer's portal account, if there is one.
pub async fn account(db: &Db, customer_id: i64) -> Result<Option<AccountRow>> {
    let row = sqlx::query(
        "SELECT id, customer_id, entity_id, email, \
         CAST(CASE WHEN password_hash <> '' THEN 1 ELSE 0 END AS BIGINT) AS has_password, status, language, \
         terms_version, email_verified_at, second_factor, \
         CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_totp_secret, totp_last_step, \
         frozen_at, last_login_at, closure_notice_at, created_at, updated_at \
         FROM accounts WHERE customer_id = $1",
    )
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let flag = |name: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(name)? != 0) };
    Ok(Some(AccountRow {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        entity_id: r.try_get("entity_id")?,
        email: r.try_get("email")?,
        has_password: flag("has_password")?,
        status: r.try_get("status")?,
        language: r.try_get("language")?,
        terms_version: r.try_get("terms_version")?,
        email_verified_at: r.try_get("email_verified_at")?,
        second_factor: r.try_get("second_factor")?,
        has_totp_secret: flag("has_totp_secret")?,
        totp_last_step: r.try_get("totp_last_step")?,
        frozen_at: r.try_get("frozen_at")?,
        last_login_at: r.try_get("last_login_at")?,
        closure_notice_at: r.try_get("closure_notice_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    }))
}

/// A one-time code's bookkeeping (never the code or its hash).
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub id: i64,
    pub account_id: i64,
    pub purpose: String,
    pub contract_id: Option<i64>,
    pub expires_at: i64,
    pub attempts: i64,
    pub state: String,
    pub created_at: i64,
}

/// An account's one-time codes, newest first.
pub async fn one_time_codes(db: &Db, account_id: i64) -> Result<Vec<CodeRow>> {
    let rows = sqlx::query(
        "SELECT id, account_id, purpose, contract_id, expires_at, attempts, state, created_at \
         FROM one_time_codes WHERE account_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(account_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CodeRow {
                id: r.try_get("id")?,
                account_id: r.try_get("account_id")?,
                purpose: r.try_get("purpose")?,
                contract_id: r.try_get("contract_id")?,
                expires_at: r.try_get("expires_at")?,
                attempts: r.try_get("attempts")?,
                state: r.try_get("state")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// An e-mailed link's bookkeeping (never the token or its hash); a new
/// e-mail address waiting for confirmation still sealed.
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub account_id: i64,
    pub kind: String,
    pub new_email: Option<Vec<u8>>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

/// An account's e-mailed links, newest first.
pub async fn links(db: &Db, account_id: i64) -> Result<Vec<LinkRow>> {
    let rows = sqlx::query(
        "SELECT account_id, kind, new_email, expires_at, used_at, created_at \
         FROM account_tokens WHERE account_id = $1 ORDER BY created_at DESC",
    )
    .bind(account_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LinkRow {
                account_id: r.try_get("account_id")?,
                kind: r.try_get("kind")?,
                new_email: r.try_get("new_email")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// When each of an account's recovery codes was made and used (never the
/// codes or their hashes): `(created_at, used_at)`, oldest first.
pub async fn recovery_codes(db: &Db, account_id: i64) -> Result<Vec<(i64, Option<i64>)>> {
    let rows = sqlx::query(
        "SELECT created_at, used_at FROM recovery_codes WHERE account_id = $1 \
         ORDER BY created_at, used_at",
    )
    .bind(account_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Failed-attempt bookkeeping under one throttle key (never the key).
#[derive(Debug, Clone)]
pub struct ThrottleRow {
    pub scope: String,
    pub failures: i64,
    pub window_start: i64,
    pub last_failure_at: i64,
    pub locked_until: Option<i64>,
}

/// The throttle rows under (scope, key) for each pair.
pub async fn throttles(db: &Db, keys: &[(&str, Vec<u8>)]) -> Result<Vec<ThrottleRow>> {
    let mut out = Vec::new();
    for (scope, key) in keys {
        let rows = sqlx::query(
            "SELECT scope, failures, window_start, last_failure_at, locked_until \
             FROM auth_throttle WHERE scope = $1 AND key = $2",
        )
        .bind(scope.to_string())
        .bind(key.clone())
        .fetch_all(db.reader())
        .await?;
        for r in &rows {
            out.push(ThrottleRow {
                scope: r.try_get("scope")?,
                failures: r.try_get("failures")?,
                window_start: r.try_get("window_start")?,
                last_failure_at: r.try_get("last_failure_at")?,
                locked_until: r.try_get("locked_until")?,
            });
        }
    }
    Ok(out)
}

/// An accepted version of the terms of use (ACC-11).
#[derive(Debug, Clone)]
pub struct AcceptanceRow {
    pub id: i64,
    pub entity_id: i64,
    pub version: String,
    pub context: String,
    pub accepted_at: i64,
}

/// A customer's acceptances of the terms, oldest first.
pub async fn acceptances(db: &Db, customer_id: i64) -> Result<Vec<AcceptanceRow>> {
    let rows = sqlx::query(
        "SELECT id, entity_id, version, context, accepted_at FROM terms_acceptances \
         WHERE customer_id = $1 ORDER BY accepted_at, id",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AcceptanceRow {
                id: r.try_get("id")?,
                entity_id: r.try_get("entity_id")?,
                version: r.try_get("version")?,
                context: r.try_get("context")?,
                accepted_at: r.try_get("accepted_at")?,
            })
        })
        .collect()
}

/// `(contract_id, activated_at)` of an account's activations.
pub async fn activations(db: &Db, account_id: i64) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT contract_id, activated_at FROM contract_activations WHERE account_id = $1 \
         ORDER BY activated_at, contract_id",
    )
    .bind(account_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// A document issued to the customer.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: i64,
    pub reference: String,
    pub customer_id: i64,
    pub contract_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub kind: String,
    pub period: Option<String>,
    pub language: String,
    pub sha256: Vec<u8>,
    pub generated_at: i64,
}

/// The documents issued to a customer, newest first.
pub async fn documents(db: &Db, customer_id: i64) -> Result<Vec<DocumentRow>> {
    let rows = sqlx::query(
        "SELECT id, reference, customer_id, contract_id, invoice_id, kind, period, language, \
         sha256, generated_at FROM issued_documents WHERE customer_id = $1 \
         ORDER BY generated_at DESC, id DESC",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DocumentRow {
                id: r.try_get("id")?,
                reference: r.try_get("reference")?,
                customer_id: r.try_get("customer_id")?,
                contract_id: r.try_get("contract_id")?,
                invoice_id: r.try_get("invoice_id")?,
                kind: r.try_get("kind")?,
                period: r.try_get("period")?,
                language: r.try_get("language")?,
                sha256: r.try_get("sha256")?,
                generated_at: r.try_get("generated_at")?,
            })
        })
        .collect()
}

/// One audit record about a data subject, as the subject may see it: no
/// actor id, no request id, no hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    /// `customer`, `staff` or `system`.
    pub actor_kind: String,
    /// The actor's id only when the actor is the subject themself.
    pub own_actor_id: Option<i64>,
    pub role: String,
    pub action: String,
    pub purpose: String,
    /// Comma-separated field names (or data-category ids for disclosures).
    pub fields: String,
}

const AUDIT_SELECT: &str = "SELECT seq, at, actor_kind, actor_id, role, action, purpose, fields \
     FROM audit_log WHERE subject_id = $1";

fn audit_record(r: &AnyRow, subject_id: i64) -> Result<AuditRecord> {
    let actor_id: Option<i64> = r.try_get("actor_id")?;
    let actor_kind: String = r.try_get("actor_kind")?;
    Ok(AuditRecord {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        own_actor_id: actor_id.filter(|id| *id == subject_id && actor_kind == "customer"),
        actor_kind,
        role: r.try_get("role")?,
        action: r.try_get("action")?,
        purpose: r.try_get("purpose")?,
        fields: r.try_get("fields")?,
    })
}

/// Every audit record about a subject, newest first.
pub async fn audit_records(db: &Db, subject_id: i64) -> Result<Vec<AuditRecord>> {
    let rows = sqlx::query(&format!("{AUDIT_SELECT} ORDER BY seq DESC"))
        .bind(subject_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(|r| audit_record(r, subject_id)).collect()
}

/// The condition of staff reads and changes (disclosures are listed from
/// the disclosure log instead).
const STAFF_ACCESS: &str = "AND actor_kind = 'staff' AND action <> 'disclosure' AND at >= $2";

/// How many staff reads and changes of a subject's data there are since
/// `since` (Unix seconds).
pub async fn count_staff_access(db: &Db, subject_id: i64, since: i64) -> Result<i64> {
    Ok(sqlx::query(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 {STAFF_ACCESS}"
    ))
    .bind(subject_id)
    .bind(since)
    .fetch_one(db.reader())
    .await?
    .try_get(0)?)
}

/// A page of staff reads and changes of a subject's data since `since`,
/// newest first.
pub async fn staff_access(
    db: &Db,
    subject_id: i64,
    since: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditRecord>> {
    let rows = sqlx::query(&format!(
        "{AUDIT_SELECT} {STAFF_ACCESS} ORDER BY seq DESC LIMIT $3 OFFSET $4"
    ))
    .bind(subject_id)
    .bind(since)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(|r| audit_record(r, subject_id)).collect()
}

/// The ids of every customer with a portal account, in id order (demo data).
pub async fn customers_with_account(db: &Db) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query("SELECT customer_id, entity_id FROM accounts ORDER BY customer_id")
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// An online payment of the customer (PAY-01 … PAY-06), every column.
pub use super::payments::PaymentRow;

/// The customer's online payments, oldest first.
pub async fn payments(db: &Db, customer_id: i64) -> Result<Vec<PaymentRow>> {
    super::payments::all_of_customer(db, customer_id).await
}

/// An invoice a payment pays.
#[derive(Debug, Clone)]
pub struct PaymentInvoiceRow {
    pub payment_id: i64,
    pub invoice_id: i64,
    pub requested_cents: i64,
    pub booked_cents: i64,
}

/// The invoices of the payments, by payment and invoice.
pub async fn payment_invoices(db: &Db, payment_ids: &[i64]) -> Result<Vec<PaymentInvoiceRow>> {
    rows_in(
        db,
        "SELECT payment_id, invoice_id, requested_cents, booked_cents \
         FROM payment_invoices WHERE payment_id",
        payment_ids,
        "ORDER BY payment_id, invoice_id",
        |r| {
            Ok(PaymentInvoiceRow {
                payment_id: r.try_get("payment_id")?,
                invoice_id: r.try_get("invoice_id")?,
                requested_cents: r.try_get("requested_cents")?,
                booked_cents: r.try_get("booked_cents")?,
            })
        },
    )
    .await
}

/// A notification of the payment provider about a payment (PAY-02), every
/// column.
#[derive(Debug, Clone)]
pub struct PaymentNotificationRow {
    pub id: i64,
    pub psp_reference: String,
    pub original_reference: String,
    pub merchant_account: String,
    pub merchant_reference: String,
    pub amount_value: Option<i64>,
    pub currency: String,
    pub event_code: String,
    pub success: bool,
    pub live: bool,
    pub event_date: String,
    pub payment_method: String,
    pub reason: String,
    pub received_at: i64,
    pub payment_id: Option<i64>,
    pub claimed_until: Option<i64>,
    pub attempts: i64,
    pub processed_at: Option<i64>,
    pub outcome: Option<String>,
    pub needs_review: bool,
}

/// The notifications about the payments, in the order received.
pub async fn payment_notifications(
    db: &Db,
    payment_ids: &[i64],
) -> Result<Vec<PaymentNotificationRow>> {
    rows_in(
        db,
        "SELECT id, psp_reference, original_reference, merchant_account, merchant_reference, \
         amount_value, currency, event_code, success, live, event_date, payment_method, reason, \
         received_at, payment_id, claimed_until, attempts, processed_at, outcome, needs_review \
         FROM payment_notifications WHERE payment_id",
        payment_ids,
        "ORDER BY received_at, id",
        |r| {
            let flag = |name: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(name)? != 0) };
            Ok(PaymentNotificationRow {
                id: r.try_get("id")?,
                psp_reference: r.try_get("psp_reference")?,
                original_reference: r.try_get("original_reference")?,
                merchant_account: r.try_get("merchant_account")?,
                merchant_reference: r.try_get("merchant_reference")?,
                amount_value: r.try_get("amount_value")?,
                currency: r.try_get("currency")?,
                event_code: r.try_get("event_code")?,
                success: flag("success")?,
                live: flag("live")?,
                event_date: r.try_get("event_date")?,
                payment_method: r.try_get("payment_method")?,
                reason: r.try_get("reason")?,
                received_at: r.try_get("received_at")?,
                payment_id: r.try_get("payment_id")?,
                claimed_until: r.try_get("claimed_until")?,
                attempts: r.try_get("attempts")?,
                processed_at: r.try_get("processed_at")?,
                outcome: r.try_get("outcome")?,
                needs_review: flag("needs_review")?,
            })
        },
    )
    .await
}

/// A line of a settlement report of the provider (PAY-06), every column.
pub use super::settlements::LineRecord as SettlementLineRow;

/// The settlement lines about the payments: those whose merchant reference
/// is one of `payment_ids` (as text, as sent to the provider) or whose
/// provider reference is one of `psp_references`; by booking time.
pub async fn settlement_lines(
    db: &Db,
    payment_ids: &[i64],
    psp_references: &[String],
) -> Result<Vec<SettlementLineRow>> {
    if payment_ids.is_empty() && psp_references.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Vec::new();
    if !payment_ids.is_empty() {
        conditions.push(format!(
            "merchant_reference IN ({})",
            placeholders(1, payment_ids.len())
        ));
    }
    if !psp_references.is_empty() {
        conditions.push(format!(
            "psp_reference IN ({})",
            placeholders(payment_ids.len() + 1, psp_references.len())
        ));
    }
    let sql = format!(
        "SELECT {} FROM settlement_lines WHERE {} \
         ORDER BY booked_at, report_id, line_no, id",
        super::settlements::LINE_COLUMNS.join(", "),
        conditions.join(" OR ")
    );
    let mut query = sqlx::query(&sql);
    for id in payment_ids {
        query = query.bind(id.to_string());
    }
    for reference in psp_references {
        query = query.bind(reference.clone());
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter().map(super::settlements::line_from_row).collect()
}

/// A request of the customer's (BOF-02), without the staff member it is
/// assigned to (the employee's data).
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: i64,
    pub kind: String,
    pub contract_id: Option<i64>,
    pub status: String,
    pub priority: String,
    pub sla_minutes: i64,
    pub due_at: i64,
    pub subject_ref: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

/// The customer's requests, oldest first.
pub async fn requests(db: &Db, customer_id: i64) -> Result<Vec<RequestRow>> {
    let rows = sqlx::query(
        "SELECT id, kind, contract_id, status, priority, sla_minutes, due_at, subject_ref, \
         created_at, updated_at, closed_at FROM requests WHERE customer_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestRow {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                contract_id: r.try_get("contract_id")?,
                status: r.try_get("status")?,
                priority: r.try_get("priority")?,
                sla_minutes: r.try_get("sla_minutes")?,
                due_at: r.try_get("due_at")?,
                subject_ref: r.try_get("subject_ref")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                closed_at: r.try_get("closed_at")?,
            })
        })
        .collect()
}

/// An event of one of the customer's requests, without the staff member.
#[derive(Debug, Clone)]
pub struct RequestEventRow {
    pub id: i64,
    pub request_id: i64,
    pub event: String,
    pub status: Option<String>,
    pub visible_to_customer: bool,
    pub created_at: i64,
}

/// Every event of the customer's requests (the internal ones too), by
/// request and time.
pub async fn request_events(db: &Db, customer_id: i64) -> Result<Vec<RequestEventRow>> {
    let rows = sqlx::query(
        "SELECT e.id, e.request_id, e.event, e.status, e.visible_to_customer, e.created_at \
         FROM request_events e JOIN requests r ON r.id = e.request_id \
         WHERE r.customer_id = $1 ORDER BY r.created_at, e.request_id, e.created_at, e.id",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestEventRow {
                id: r.try_get("id")?,
                request_id: r.try_get("request_id")?,
                event: r.try_get("event")?,
                status: r.try_get("status")?,
                visible_to_customer: r.try_get::<i64, _>("visible_to_customer")? != 0,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// An internal note on one of the customer's requests (sealed under the
/// customer's key), without its author.
#[derive(Debug, Clone)]
pub struct RequestNoteRow {
    pub id: i64,
    pub request_id: i64,
    pub body: Vec<u8>,
    pub created_at: i64,
}

/// The internal notes on the customer's requests, by request and time.
pub async fn request_notes(db: &Db, customer_id: i64) -> Result<Vec<RequestNoteRow>> {
    let rows = sqlx::query(
        "SELECT n.id, n.request_id, n.body, n.created_at FROM request_notes n \
         JOIN requests r ON r.id = n.request_id WHERE r.customer_id = $1 \
         ORDER BY r.created_at, n.request_id, n.created_at, n.id",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestNoteRow {
                id: r.try_get("id")?,
                request_id: r.try_get("request_id")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// A time staff opened the customer's file (BOF-03, PRV-14), without the
/// staff member; the note (an inbound call's) sealed under the customer's
/// key.
#[derive(Debug, Clone)]
pub struct FileAccessRow {
    pub id: i64,
    pub purpose: String,
    pub reference: String,
    pub note: Option<Vec<u8>>,
    pub opened_at: i64,
    pub expires_at: i64,
}

/// Every opening of the customer's file, oldest first.
pub async fn file_accesses(db: &Db, customer_id: i64) -> Result<Vec<FileAccessRow>> {
    let rows = sqlx::query(
        "SELECT id, purpose, reference, note, opened_at, expires_at FROM staff_file_accesses \
         WHERE customer_id = $1 ORDER BY opened_at, id",
    )
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FileAccessRow {
                id: r.try_get("id")?,
                purpose: r.try_get("purpose")?,
                reference: r.try_get("reference")?,
                note: r.try_get("note")?,
                opened_at: r.try_get("opened_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}
