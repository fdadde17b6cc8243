//! My privacy over HTTP (PRV-04, PRV-08, PRV-16), as a signed-in customer
//! uses it: the page, "download my data" (the ZIP with data.json, CSVs,
//! report.html and report.pdf) and "who accessed my data".

use carfin_app::audit::{self, ActorKind, AuditEntry, VerifyReport};
use carfin_app::demo::DEMO_PASSWORD;
use carfin_app::my_data;
use carfin_app::privacy;
use carfin_app::Clock;
use carfin_domain::Language;
use carfin_store::crypto::FieldRef;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{self, Personal};
use carfin_testkit::{Client, TestApp, TestResponse};
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The e-mail addresses of the demo's registered customers.
async fn demo_logins(t: &TestApp) -> Vec<String> {
    carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("demo customer: "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// (customer id, account id) of an account's e-mail address.
async fn ids_of_email(t: &TestApp, email: &str) -> (i64, i64) {
    let bidx = t
        .app
        .blind_index()
        .index(carfin_store::repo::identity::ACCOUNT_EMAIL_INDEX, email);
    let account = carfin_store::repo::identity::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap();
    (account.customer_id, account.id)
}

async fn login(c: &Client, email: &str, password: &str) -> TestResponse {
    c.get("/login").await;
    c.post_form("/login", &[("email", email), ("password", password)])
        .await
}

async fn signed_in(t: &TestApp, email: &str, language: Option<&str>) -> Client {
    let mut c = t.client();
    if let Some(language) = language {
        c = c.with_header("accept-language", language);
    }
    let r = login(&c, email, DEMO_PASSWORD).await;
    assert_eq!(r.status, 303, "sign-in: {}", r.text);
    c
}

/// The files of an export.
struct Export {
    files: BTreeMap<String, Vec<u8>>,
    bytes: Vec<u8>,
    filename: String,
}

impl Export {
    fn text(&self, name: &str) -> String {
        String::from_utf8(
            self.files
                .get(name)
                .unwrap_or_else(|| panic!("no {name} in the ZIP"))
                .clone(),
        )
        .unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text("data.json")).unwrap()
    }

    /// Every file's text but the PDF's (which `all_text` reads with
    /// pdftotext), for "appears nowhere" checks.
    fn all_text_but_pdf(&self) -> String {
        let mut all = String::new();
        for (name, bytes) in &self.files {
            if !name.ends_with(".pdf") {
                all.push_str(&String::from_utf8_lossy(bytes));
                all.push('\n');
            }
        }
        all
    }

    /// Every file's text, for "appears nowhere" checks (the PDF as text).
    fn all_text(&self) -> String {
        let mut all = String::new();
        for (name, bytes) in &self.files {
            if name.ends_with(".pdf") {
                all.push_str(&pdf_text(bytes));
            } else {
                all.push_str(&String::from_utf8_lossy(bytes));
            }
            all.push('\n');
        }
        all
    }
}

/// Opens /my/privacy and submits "download my data", like the browser.
async fn export(c: &Client) -> Export {
    let page = c.get("/my/privacy").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let d = c.post_form("/my/privacy/export", &[]).await;
    assert_eq!(d.status, 200, "export: {}", d.text);
    assert_eq!(d.header("content-type"), Some("application/zip"));
    let disposition = d.header("content-disposition").unwrap().to_string();
    let filename = disposition
        .split("filename=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(d.header("cache-control"), Some("no-store"));
    let files = my_data::unpack(&d.bytes)
        .unwrap()
        .into_iter()
        .collect::<BTreeMap<_, _>>();
    Export {
        files,
        bytes: d.bytes,
        filename,
    }
}

/// `pdftotext` of a PDF.
fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile_dir();
    let path = dir.join(format!("report-{}.pdf", rand_suffix()));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir()
}

fn rand_suffix() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Every leaf of a JSON value as text (numbers as JSON writes them).
fn leaves(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            into.insert(b.to_string());
        }
        Value::Number(n) => {
            into.insert(n.to_string());
        }
        Value::String(s) => {
            into.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, into)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, into)),
    }
}

fn leaf_set(value: &Value) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    leaves(value, &mut set);
    set
}

/// What HTML escaping did to a text, undone (askama writes `&#38;` and
/// friends).
fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A page's text without its per-request values (CSRF token, request id),
/// for "this number is not on the page" checks.
fn stable_text(page: &TestResponse) -> String {
    let mut text = page.text.clone();
    for token in [page.form_token(), page.request_id().map(String::from)]
        .into_iter()
        .flatten()
    {
        text = text.replace(&token, "");
    }
    text
}

fn rfc3339(unix: i64) -> String {
    carfin_app::outbox::rfc3339(unix)
}

async fn record_staff(
    t: &TestApp,
    subject: i64,
    staff: i64,
    role: &str,
    purpose: &str,
    fields: &[&str],
) {
    let mut tx = t.app.db().begin_write().await.unwrap();
    audit::record(
        &mut tx,
        &t.app,
        AuditEntry {
            actor_kind: ActorKind::Staff,
            actor_id: Some(staff),
            role: role.into(),
            action: "customer.read".into(),
            subject_id: Some(subject),
            purpose: purpose.into(),
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            request_id: format!("test-{staff}"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The newest message to a customer whose kind is `kind`.
async fn message(t: &TestApp, customer_id: i64, kind: &str) -> carfin_app::outbox::OutboxView {
    let mut all = carfin_app::outbox::messages_for(&t.app, customer_id)
        .await
        .unwrap();
    all.sort_by_key(|m| std::cmp::Reverse(m.id));
    all.into_iter()
        .find(|m| m.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} message"))
}

fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_string()
}

// ---------------------------------------------------------------------------
// PRV-04 / PRV-08 completeness against the register
// ---------------------------------------------------------------------------

/// How the test finds a table's rows linked to the customer, and where the
/// export holds them. SQL binds `$1` customer id, `$2` account id, `$3` and
/// `$4` the keyed hashes the sign-in throttle files the account under;
/// `_row` is the row id bound into sealed values, `_subject` whose key
/// seals them.
struct Mapping {
    table: &'static str,
    section: &'static str,
    sql: &'static str,
}

/// Activated contracts of the customer (ACC-03): only their details are
/// exported; the other contracts are covered by
/// `prv04_acc03_unactivated_contract_terms_stay_out_of_the_export`.
const ACTIVATED: &str = "SELECT a.contract_id FROM contract_activations a \
     JOIN contract_parties p ON p.contract_id = a.contract_id WHERE a.account_id = $2 AND p.customer_id = $1";

fn mappings() -> Vec<Mapping> {
    let vehicles = "SELECT v.*, v.id AS _row, v.subject_id AS _subject FROM vehicles v WHERE \
         v.id IN (SELECT c.vehicle_id FROM contracts c WHERE c.id IN (ACTIVATED)) \
         OR (v.subject_id = $1 AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.vehicle_id = v.id))";
    let owned =
        |s: &str| -> &'static str { Box::leak(s.replace("ACTIVATED", ACTIVATED).into_boxed_str()) };
    vec![
        Mapping {
            table: "customers",
            section: "customer",
            sql: "SELECT c.*, c.id AS _row, c.id AS _subject FROM customers c WHERE c.id = $1",
        },
        Mapping {
            table: "vehicles",
            section: "vehicles",
            sql: owned(vehicles),
        },
        Mapping {
            table: "odometer_readings",
            section: "odometer_readings",
            sql: owned(&format!(
                "SELECT o.* FROM odometer_readings o WHERE o.vehicle_id IN (SELECT id FROM ({}) x)",
                vehicles.replace("v.*, v.id AS _row, v.subject_id AS _subject", "v.id")
            )),
        },
        Mapping {
            table: "contracts",
            section: "contracts",
            sql: owned("SELECT c.* FROM contracts c WHERE c.id IN (ACTIVATED)"),
        },
        Mapping {
            table: "contract_versions",
            section: "contract_versions",
            sql: owned("SELECT v.* FROM contract_versions v WHERE v.contract_id IN (ACTIVATED)"),
        },
        // Every party row of the customer: number, type, status and role
        // are shown for contracts not activated too.
        Mapping {
            table: "contract_parties",
            section: "contracts",
            sql: "SELECT p.* FROM contract_parties p WHERE p.customer_id = $1",
        },
        Mapping {
            table: "invoices",
            section: "invoices",
            sql: owned("SELECT i.* FROM invoices i WHERE i.contract_id IN (ACTIVATED)"),
        },
        Mapping {
            table: "ledger_entries",
            section: "ledger_entries",
            sql: owned("SELECT e.* FROM ledger_entries e WHERE e.contract_id IN (ACTIVATED)"),
        },
        // The actor's id only where the actor is the customer: a staff
        // member's id is the employee's data (checked as withheld below).
        Mapping {
            table: "audit_log",
            section: "access_log",
            sql: "SELECT CASE WHEN actor_kind = 'customer' THEN actor_id END AS actor_id, subject_id \
                  FROM audit_log WHERE subject_id = $1",
        },
        Mapping {
            table: "disclosures",
            section: "disclosures",
            sql: "SELECT * FROM disclosures WHERE subject_id = $1",
        },
        Mapping {
            table: "terms_acceptances",
            section: "terms_acceptances",
            sql: "SELECT * FROM terms_acceptances WHERE customer_id = $1",
        },
        Mapping {
            table: "accounts",
            section: "portal_account",
            sql: "SELECT a.*, a.id AS _row, a.customer_id AS _subject FROM accounts a WHERE a.customer_id = $1",
        },
        Mapping {
            table: "contract_activations",
            section: "contract_activations",
            sql: "SELECT * FROM contract_activations WHERE account_id = $2",
        },
        Mapping {
            table: "one_time_codes",
            section: "one_time_codes",
            sql: "SELECT * FROM one_time_codes WHERE account_id = $2",
        },
        Mapping {
            table: "account_tokens",
            section: "email_links",
            sql: "SELECT t.*, t.account_id AS _row, $1 AS _subject FROM account_tokens t WHERE t.account_id = $2",
        },
        Mapping {
            table: "recovery_codes",
            section: "recovery_codes",
            sql: "SELECT * FROM recovery_codes WHERE account_id = $2",
        },
        Mapping {
            table: "sessions",
            section: "sessions",
            sql: "SELECT s.*, s.id AS _row, $1 AS _subject FROM sessions s WHERE s.account_id = $2",
        },
        Mapping {
            table: "auth_throttle",
            section: "sign_in_throttling",
            sql: "SELECT * FROM auth_throttle WHERE ((scope = 'account' AND key = $3) \
                  OR (scope = 'second_factor' AND key = $4)) \
                  AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = $2 AND a.customer_id = $1)",
        },
        Mapping {
            table: "outbox",
            section: "messages",
            sql: "SELECT o.*, o.id AS _row, o.subject_id AS _subject FROM outbox o WHERE o.subject_id = $1",
        },
        Mapping {
            table: "issued_documents",
            section: "documents",
            sql: "SELECT * FROM issued_documents WHERE customer_id = $1",
        },
        // Online payments (PAY-01 … PAY-06): the customer's own, whatever
        // contract their invoices belong to, with what hangs off them.
        Mapping {
            table: "payments",
            section: "payments",
            sql: "SELECT * FROM payments WHERE customer_id = $1",
        },
        Mapping {
            table: "payment_invoices",
            section: "payment_invoices",
            sql: "SELECT pi.* FROM payment_invoices pi JOIN payments p ON p.id = pi.payment_id \
                  WHERE p.customer_id = $1",
        },
        Mapping {
            table: "payment_notifications",
            section: "payment_notifications",
            sql: "SELECT n.* FROM payment_notifications n \
                  WHERE n.payment_id IN (SELECT id FROM payments WHERE customer_id = $1)",
        },
        // A settlement line names a payment by our reference (the payment's
        // id as text) or by the provider's.
        // Requests about the customer worked in the back office (BOF-02),
        // with every event and note, and staff openings of their file
        // (BOF-03): staff ids are withheld below.
        Mapping {
            table: "requests",
            section: "requests",
            sql: "SELECT * FROM requests WHERE customer_id = $1",
        },
        Mapping {
            table: "request_events",
            section: "request_events",
            sql: "SELECT e.* FROM request_events e JOIN requests r ON r.id = e.request_id \
                  WHERE r.customer_id = $1",
        },
        Mapping {
            table: "request_notes",
            section: "request_notes",
            sql: "SELECT n.*, n.id AS _row, r.customer_id AS _subject FROM request_notes n \
                  JOIN requests r ON r.id = n.request_id WHERE r.customer_id = $1",
        },
        Mapping {
            table: "staff_file_accesses",
            section: "file_accesses",
            sql: "SELECT f.*, f.id AS _row, f.customer_id AS _subject FROM staff_file_accesses f \
                  WHERE f.customer_id = $1",
        },
        Mapping {
            table: "settlement_lines",
            section: "settlement_lines",
            sql: "SELECT s.* FROM settlement_lines s WHERE EXISTS (SELECT 1 FROM payments p \
                  WHERE p.customer_id = $1 AND (s.merchant_reference = CAST(p.id AS TEXT) \
                  OR s.psp_reference = p.psp_reference))",
        },
    ]
}

/// Tables of the register with personal data of employees only: nothing
/// in them is linked to a customer, so the customer's export has no
/// section for them (checked: none has a column naming a customer).
const STAFF_ONLY: &[(&str, &str)] = &[
    ("staff_accounts", "the employee's identity at work"),
    ("staff_roles", "the roles an employee holds"),
    ("staff_sessions", "the employee's sign-in sessions"),
    ("access_reviews", "who signed an access review off"),
];

/// Personal columns deliberately left out of the export, with the reason.
/// Their values must not appear in data.json.
const WITHHELD: &[(&str, &str, &str)] = &[
    (
        "customers",
        "email_bidx",
        "a keyed look-up hash; nothing the customer can use",
    ),
    ("customers", "phone_bidx", "a keyed look-up hash"),
    ("customers", "name_bidx", "a keyed look-up hash"),
    ("vehicles", "plate_bidx", "a keyed look-up hash"),
    (
        "contract_parties",
        "registration_bidx",
        "the registration proof: a keyed hash",
    ),
    ("accounts", "email_bidx", "a keyed look-up hash"),
    (
        "accounts",
        "password_hash",
        "credentials: Art. 15(4) and security; the export says it exists and when it was set",
    ),
    (
        "accounts",
        "totp_secret",
        "key material: whoever has it makes sign-in codes",
    ),
    (
        "one_time_codes",
        "code_hash",
        "credentials: a hash of a code",
    ),
    (
        "account_tokens",
        "token_hash",
        "credentials: a hash of a link token",
    ),
    (
        "recovery_codes",
        "code_hash",
        "credentials: a hash of a recovery code",
    ),
    (
        "sessions",
        "token_hash",
        "credentials: a hash of a session cookie",
    ),
    (
        "auth_throttle",
        "key",
        "a keyed hash of the e-mail address or account",
    ),
    (
        "requests",
        "assignee_staff_id",
        "a staff member's id is the employee's data, not the customer's",
    ),
    (
        "request_events",
        "staff_id",
        "a staff member's id is the employee's data, not the customer's",
    ),
    (
        "request_notes",
        "staff_id",
        "a staff member's id is the employee's data, not the customer's",
    ),
    (
        "staff_file_accesses",
        "staff_id",
        "a staff member's id is the employee's data, not the customer's",
    ),
];

/// Columns that name the data subject (or their account) the row belongs
/// to: the customer's own id appears in the export; another person's id
/// (a vehicle sealed under the holder's key, for a co-holder) does not.
const LINKS: &[(&str, &str)] = &[
    ("vehicles", "subject_id"),
    ("contract_parties", "customer_id"),
    ("audit_log", "subject_id"),
    ("disclosures", "subject_id"),
    ("terms_acceptances", "customer_id"),
    ("accounts", "customer_id"),
    ("contract_activations", "account_id"),
    ("one_time_codes", "account_id"),
    ("account_tokens", "account_id"),
    ("recovery_codes", "account_id"),
    ("sessions", "account_id"),
    ("outbox", "subject_id"),
    ("issued_documents", "customer_id"),
    ("payments", "customer_id"),
    ("requests", "customer_id"),
    ("staff_file_accesses", "customer_id"),
];

/// Flags stored as 0/1 integers that the export writes as `true`/`false`.
const BOOLS: &[(&str, &str)] = &[
    ("payment_notifications", "success"),
    ("payment_notifications", "live"),
    ("payment_notifications", "needs_review"),
    ("request_events", "visible_to_customer"),
];

/// Stored values that the export splits into parts: the sealed outbox
/// `subject` column holds `from_name LF subject` (store/repo/outbox.rs);
/// disclosure categories are a comma-separated list.
const SPLIT: &[(&str, &str, char)] = &[
    ("outbox", "subject", '\n'),
    ("disclosures", "categories", ','),
];

#[derive(Debug, Clone, PartialEq)]
enum Db {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

fn read(row: &sqlx::any::AnyRow, column: &str) -> Db {
    if let Ok(v) = row.try_get::<Option<i64>, _>(column) {
        return v.map_or(Db::Null, Db::Int);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(column) {
        return v.map_or(Db::Null, Db::Text);
    }
    match row.try_get::<Option<Vec<u8>>, _>(column) {
        Ok(v) => v.map_or(Db::Null, Db::Blob),
        Err(e) => panic!("column {column}: {e}"),
    }
}

fn has_column(row: &sqlx::any::AnyRow, name: &str) -> bool {
    use sqlx::Column;
    row.columns().iter().any(|c| c.name() == name)
}

/// The provider's settlement reference of a line about another customer's
/// payment, which the export must leave out.
const OTHER_PSP_REFERENCE: &str = "PSPOTHERCUSTOMER01";

/// Gives the customer online payments as the payment code stores them: a
/// booked one (checkout session, provider reference, authorisation and
/// booking) paying one of their invoices, a refused one and one that could
/// not reach the provider; the provider's notifications about the first
/// two; a settlement report with a line naming the booked payment by our
/// reference, one naming it by the provider's reference only, and one
/// about somebody else's payment.
async fn add_payments(t: &TestApp, customer_id: i64) {
    let db = t.app.db();
    let invoice = sqlx::query(
        "SELECT i.id, i.entity_id, i.amount_cents FROM invoices i \
         JOIN contract_activations a ON a.contract_id = i.contract_id \
         JOIN accounts ac ON ac.id = a.account_id \
         WHERE ac.customer_id = $1 ORDER BY i.issue_date, i.id",
    )
    .bind(customer_id)
    .fetch_one(db.reader())
    .await
    .unwrap();
    let invoice_id: i64 = invoice.try_get(0).unwrap();
    let entity_id: i64 = invoice.try_get(1).unwrap();
    let amount: i64 = invoice.try_get(2).unwrap();
    let now = t.clock.now().timestamp();
    let booked = t.app.ids().next();
    let refused = t.app.ids().next();
    let failed = t.app.ids().next();
    let mut tx = db.begin_write().await.unwrap();
    let payment = "INSERT INTO payments (id, customer_id, entity_id, amount_cents, currency, \
         status, language, session_id, session_url, session_expires_at, provider_error, \
         psp_reference, authorised_cents, payment_method, refusal_reason, authorised_at, book_on, \
         booked_at, ended_at, created_at, updated_at) VALUES ";
    sqlx::query(&format!(
        "{payment}($1, $2, $3, $4, 'EUR', 'booked', 'nl', 'CSEXPORTBOOKED', \
         'https://checkoutshopper-test.adyen.com/checkoutshopper/v3/pay/CSEXPORTBOOKED', $5, \
         NULL, 'PSPEXPORTBOOKED01', $4, 'ideal', NULL, $6, '2026-03-02', $7, NULL, $8, $7)"
    ))
    .bind(booked)
    .bind(customer_id)
    .bind(entity_id)
    .bind(amount)
    .bind(now - 2 * 86_400 + 3_600)
    .bind(now - 2 * 86_400 + 60)
    .bind(now - 3_600)
    .bind(now - 2 * 86_400)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(&format!(
        "{payment}($1, $2, $3, $4, 'EUR', 'refused', 'nl', 'CSEXPORTREFUSED', \
         'https://checkoutshopper-test.adyen.com/checkoutshopper/v3/pay/CSEXPORTREFUSED', $5, \
         NULL, 'PSPEXPORTREFUSED1', NULL, 'visa', 'Not enough balance', NULL, NULL, NULL, $6, \
         $7, $6)"
    ))
    .bind(refused)
    .bind(customer_id)
    .bind(entity_id)
    .bind(amount)
    .bind(now - 86_400 + 3_600)
    .bind(now - 86_400 + 120)
    .bind(now - 86_400)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(&format!(
        "{payment}($1, $2, $3, $4, 'EUR', 'initiated', 'nl', NULL, NULL, NULL, 'timeout', NULL, \
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, $5, $5)"
    ))
    .bind(failed)
    .bind(customer_id)
    .bind(entity_id)
    .bind(amount)
    .bind(now - 600)
    .execute(&mut *tx)
    .await
    .unwrap();
    for (payment_id, booked_cents) in [(booked, amount), (refused, 0), (failed, 0)] {
        sqlx::query(
            "INSERT INTO payment_invoices (payment_id, invoice_id, requested_cents, booked_cents) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(payment_id)
        .bind(invoice_id)
        .bind(amount)
        .bind(booked_cents)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for (payment_id, psp, success, method, reason, outcome, review) in [
        (
            booked,
            "PSPEXPORTBOOKED01",
            1_i64,
            "ideal",
            "",
            "authorised",
            0_i64,
        ),
        (
            refused,
            "PSPEXPORTREFUSED1",
            0,
            "visa",
            "Not enough balance",
            "refused",
            1,
        ),
    ] {
        sqlx::query(
            "INSERT INTO payment_notifications (id, psp_reference, original_reference, \
             merchant_account, merchant_reference, amount_value, currency, event_code, success, \
             live, event_date, payment_method, reason, received_at, payment_id, claimed_until, \
             attempts, processed_at, outcome, needs_review) VALUES ($1, $2, '', 'M', $3, $4, \
             'EUR', 'AUTHORISATION', $5, 0, '2026-02-28T10:01:00+01:00', $6, $7, $8, $9, $10, 1, \
             $11, $12, $13)",
        )
        .bind(t.app.ids().next())
        .bind(psp)
        .bind(payment_id.to_string())
        .bind(amount)
        .bind(success)
        .bind(method)
        .bind(reason)
        .bind(now - 86_400)
        .bind(payment_id)
        .bind(now - 86_400 + 30)
        .bind(now - 86_400 + 5)
        .bind(outcome)
        .bind(review)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let report = t.app.ids().next();
    sqlx::query(
        "INSERT INTO settlement_reports (id, file_name, sha256, imported_at, imported_lines, \
         rejected_lines) VALUES ($1, 'settlement_detail_report_batch_7.csv', $2, $3, 3, 0)",
    )
    .bind(report)
    .bind(vec![7u8; 32])
    .bind(now - 1_800)
    .execute(&mut *tx)
    .await
    .unwrap();
    for (line_no, psp, merchant_reference, record_type, modification, credit, commission) in [
        (
            1_i64,
            "PSPEXPORTBOOKED01",
            booked.to_string(),
            "Settled",
            "PSPEXPORTBOOKED01",
            amount,
            29_i64,
        ),
        (
            2,
            "PSPEXPORTBOOKED01",
            String::new(),
            "Fee",
            "FEEEXPORT0000001",
            0,
            11,
        ),
        (
            3,
            OTHER_PSP_REFERENCE,
            "999999999999".to_string(),
            "Settled",
            OTHER_PSP_REFERENCE,
            4_321,
            23,
        ),
    ] {
        sqlx::query(
            "INSERT INTO settlement_lines (id, report_id, line_no, merchant_account, \
             psp_reference, merchant_reference, payment_method, booked_at, record_type, \
             modification_reference, gross_currency, gross_debit_cents, gross_credit_cents, \
             net_currency, net_debit_cents, net_credit_cents, commission_cents, batch_number) \
             VALUES ($1, $2, $3, 'M', $4, $5, 'ideal', '2026-03-01 09:15:00', $6, $7, 'EUR', 0, \
             $8, 'EUR', 0, $9, $10, '7')",
        )
        .bind(t.app.ids().next())
        .bind(report)
        .bind(line_no)
        .bind(psp)
        .bind(merchant_reference)
        .bind(record_type)
        .bind(modification)
        .bind(credit)
        .bind(credit - commission)
        .bind(commission)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Signs a demo customer in and makes every table hold rows for them:
/// a failed sign-in, SMS as second factor (recovery codes, a security
/// e-mail with its report link), an e-mail change waiting for confirmation,
/// a sign-in that waits for its SMS code, a staff read, online payments
/// with their invoices, notifications and settlement lines, and two
/// exports (the second lists the first as an issued document).
async fn busy_customer(t: &TestApp) -> (String, i64, i64, Client) {
    let email = demo_logins(t).await[0].clone();
    let (customer_id, account_id) = ids_of_email(t, &email).await;
    let c = signed_in(t, &email, None).await;
    // SMS codes at sign-in.
    c.get("/my/security").await;
    let r = c
        .post_form(
            "/my/security/two-factor/sms",
            &[("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A new e-mail address waiting for confirmation.
    c.get("/my/security").await;
    let r = c
        .post_form(
            "/my/security/email",
            &[
                ("email", "new.address.export@example.test"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.status
    );
    // Another sign-in waits for its SMS code.
    let third = t.client();
    let r = login(&third, &email, DEMO_PASSWORD).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/login/verify"));
    // A wrong SMS code there, and a wrong password elsewhere: both leave a
    // throttle row (a successful sign-in clears them, so these come last).
    third.get("/login/verify").await;
    let r = third
        .post_form("/login/verify", &[("code", "000000")])
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    let other = t.client();
    assert_eq!(
        login(&other, &email, "not the password 123").await.status,
        401
    );
    // A staff read.
    record_staff(
        t,
        customer_id,
        4242,
        "collections",
        "recover_debts",
        &["invoices.paid_cents"],
    )
    .await;
    add_payments(t, customer_id).await;
    add_requests(t, customer_id).await;
    (email, customer_id, account_id, c)
}

/// The note on the customer's request, and on the opening of their file.
const REQUEST_NOTE: &str = "Klant belde terug; identiteit bevestigd met contractnummer.";
const CALL_NOTE: &str = "Belt over de slottermijn; wil een offerte voor afkopen.";

/// Gives the customer what the back office stores about them (BOF-02,
/// BOF-03, ACC-08): an account-freeze request that a security officer
/// took, noted on and resolved by lifting the freeze, with its timeline;
/// and an opening of their file for an inbound call with a note. Notes are
/// sealed under the customer's key, as the back office seals them.
async fn add_requests(t: &TestApp, customer_id: i64) {
    let (staff_id, _) = carfin_app::staff::auth::create_with_password(
        &t.app,
        "export.officer@staff.example",
        "Export Officer",
        "a long staff pass phrase",
        &[carfin_app::staff::Role::SecurityOfficer],
    )
    .await
    .unwrap();
    let KeyState::Live(key) = t.app.keys().get(customer_id).await.unwrap() else {
        panic!("no key for the customer");
    };
    let now = t.clock.now().timestamp();
    let ids = t.app.ids();
    let (request_id, note_id, access_id) = (ids.next(), ids.next(), ids.next());
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query(
        "INSERT INTO requests (id, kind, customer_id, contract_id, status, priority, sla_minutes, \
         due_at, assignee_staff_id, subject_ref, created_at, updated_at, closed_at) \
         VALUES ($1, 'account_freeze', $2, NULL, 'resolved', 'urgent', 240, $3, $4, $5, $6, $7, $7)",
    )
    .bind(request_id)
    .bind(customer_id)
    .bind(now + 4 * 3600)
    .bind(staff_id)
    .bind(format!("account:{customer_id}:{now}"))
    .bind(now)
    .bind(now + 1800)
    .execute(&mut *tx)
    .await
    .unwrap();
    for (offset, event, status, staff, visible) in [
        (0, "created", Some("open"), None, 1_i64),
        (600, "assigned", None, Some(staff_id), 0),
        (900, "note", None, Some(staff_id), 0),
        (1800, "freeze_lifted", Some("resolved"), Some(staff_id), 1),
    ] {
        sqlx::query(
            "INSERT INTO request_events (id, request_id, event, status, staff_id, \
             visible_to_customer, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ids.next())
        .bind(request_id)
        .bind(event)
        .bind(status)
        .bind(staff)
        .bind(visible)
        .bind(now + offset)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let seal = |table: &'static str, column: &'static str, row: i64, text: &str| {
        key.seal(FieldRef { table, column, row }, text).unwrap()
    };
    sqlx::query(
        "INSERT INTO request_notes (id, request_id, staff_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(note_id)
    .bind(request_id)
    .bind(staff_id)
    .bind(seal("request_notes", "body", note_id, REQUEST_NOTE))
    .bind(now + 900)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO staff_file_accesses (id, staff_id, customer_id, purpose, reference, note, \
         opened_at, expires_at) VALUES ($1, $2, $3, 'inbound_call', 'CALL-2026-0042', $4, $5, $6)",
    )
    .bind(access_id)
    .bind(staff_id)
    .bind(customer_id)
    .bind(seal("staff_file_accesses", "note", access_id, CALL_NOTE))
    .bind(now + 60)
    .bind(now + 60 + 1800)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

// PRV-04, PRV-08: for every table of the register with personal columns,
// every value linked to the customer (sealed ones opened with the subject's
// key) is in data.json, in the section for its kind of record and in one
// record with the rest of its row; the columns withheld on purpose are not.
#[tokio::test]
async fn prv04_prv08_export_holds_every_personal_value_of_the_register() {
    // Online payments on, through the built-in simulator (PAY-01).
    let t = TestApp::spawn_with(|c| {
        c.payments.provider = "simulator".into();
        c.payments.api_key = carfin_app::config::Secret::new("k");
        c.payments.merchant_account = "M".into();
        c.payments.hmac_key = carfin_app::config::Secret::new(
            "5A1C9E7B3D2F4A6C8E0B1D3F5A7C9E1B3D5F7A9C1E3B5D7F9A1C3E5B7D9F1A3C",
        );
    })
    .await;
    let (email, customer_id, account_id, c) = busy_customer(&t).await;
    let first = export(&c).await;
    let exported = export(&c).await;
    let json = exported.json();
    assert_eq!(json["schema"], "carfin.export");
    assert_eq!(json["version"], 1);
    assert_ne!(first.bytes, exported.bytes);
    let everything = leaf_set(&json);

    let register = privacy::register().unwrap();
    let mapped: BTreeMap<&str, Mapping> = mappings().into_iter().map(|m| (m.table, m)).collect();
    let personal_tables: Vec<&str> = register
        .tables
        .iter()
        .filter(|(_, table)| table.columns.values().any(|c| c.get_ref().is_personal()))
        .map(|(name, _)| name.as_str())
        .filter(|name| !STAFF_ONLY.iter().any(|(t, _)| t == name))
        .collect();
    // The staff-only tables are in the register and name no customer.
    for (table, _) in STAFF_ONLY {
        let columns = &register
            .tables
            .get(*table)
            .unwrap_or_else(|| panic!("{table} is not in the register"))
            .columns;
        for link in ["customer_id", "subject_id", "account_id"] {
            assert!(!columns.contains_key(link), "{table}.{link}");
        }
    }
    let unmapped: Vec<&&str> = personal_tables
        .iter()
        .filter(|t| !mapped.contains_key(**t))
        .collect();
    assert!(
        unmapped.is_empty(),
        "tables with personal data and no export mapping in this test: {unmapped:?}"
    );

    let throttle_account =
        carfin_app::identity::throttle::account_key(&t.app, &email.to_lowercase());
    let throttle_2fa = carfin_app::identity::secret_hash(
        &t.app,
        "throttle.second_factor",
        &account_id.to_string(),
    );
    let own_ids = [customer_id, account_id];
    let mut checked_values = 0;
    let mut tables_with_rows = BTreeSet::new();
    for table in &personal_tables {
        let m = &mapped[table];
        let columns = &register.tables[*table].columns;
        let params = (1..=4)
            .filter(|n| m.sql.contains(&format!("${n}")))
            .max()
            .unwrap_or(0);
        let mut query = sqlx::query(m.sql);
        for n in 1..=params {
            query = match n {
                1 => query.bind(customer_id),
                2 => query.bind(account_id),
                3 => query.bind(throttle_account.clone()),
                _ => query.bind(throttle_2fa.clone()),
            };
        }
        let rows = query.fetch_all(t.app.db().reader()).await.unwrap();
        if !rows.is_empty() {
            tables_with_rows.insert(*table);
        }
        let section = &json[m.section];
        let objects: Vec<BTreeSet<String>> = match section {
            Value::Array(items) => items.iter().map(leaf_set).collect(),
            Value::Object(_) => vec![leaf_set(section)],
            other => panic!("section {} is {other}", m.section),
        };
        for row in &rows {
            // This export is in issued_documents, but could not list itself.
            if *table == "issued_documents"
                && read(row, "reference")
                    == Db::Text(json["reference"].as_str().unwrap().to_string())
            {
                continue;
            }
            let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
            for (column, class) in columns {
                let class = class.get_ref();
                if !class.is_personal() {
                    continue;
                }
                if !has_column(row, column) {
                    panic!("{table}.{column}: the mapping's SQL does not select it");
                }
                let value = if class.is_sealed() {
                    match read(row, column) {
                        Db::Blob(sealed) => {
                            let rid = match read(row, "_row") {
                                Db::Int(v) => v,
                                other => panic!("{table}: _row is {other:?}"),
                            };
                            let subject = match read(row, "_subject") {
                                Db::Int(v) => v,
                                other => panic!("{table}: _subject is {other:?}"),
                            };
                            let KeyState::Live(key) = t.app.keys().get(subject).await.unwrap()
                            else {
                                panic!("no key for {subject}");
                            };
                            Db::Text(
                                key.open(
                                    FieldRef {
                                        table,
                                        column,
                                        row: rid,
                                    },
                                    &sealed,
                                )
                                .unwrap_or_else(|e| panic!("{table}.{column}: {e}")),
                            )
                        }
                        other => other,
                    }
                } else {
                    read(row, column)
                };
                let withheld = WITHHELD.iter().any(|(t, c, _)| t == table && c == column);
                if withheld {
                    let text = exported.text("data.json");
                    match &value {
                        Db::Null => {}
                        Db::Blob(b) => {
                            assert!(!text.contains(&hex(b)), "{table}.{column} exported");
                            assert!(
                                !text.contains(&hex(b).to_uppercase()),
                                "{table}.{column} exported"
                            );
                        }
                        Db::Text(s) => {
                            assert!(!text.contains(s.as_str()), "{table}.{column} exported")
                        }
                        Db::Int(v) => {
                            assert!(!everything.contains(&v.to_string()), "{table}.{column}")
                        }
                    }
                    continue;
                }
                if LINKS.iter().any(|(t, c)| t == table && c == column) {
                    if let Db::Int(id) = value {
                        if own_ids.contains(&id) {
                            assert!(
                                everything.contains(&id.to_string()),
                                "{table}.{column}: own id missing"
                            );
                        }
                    }
                    continue;
                }
                let forms: Vec<String> = match value {
                    Db::Null => continue,
                    Db::Int(v) if BOOLS.iter().any(|(t, c)| t == table && c == column) => {
                        vec![(v != 0).to_string()]
                    }
                    Db::Int(v) => vec![v.to_string(), rfc3339(v)],
                    Db::Text(s) => match SPLIT.iter().find(|(t, c, _)| t == table && c == column) {
                        Some((_, _, sep)) => {
                            for part in s.split(*sep).filter(|p| !p.is_empty()) {
                                wanted.push((format!("{column} part"), vec![part.to_string()]));
                            }
                            continue;
                        }
                        None => vec![s],
                    },
                    Db::Blob(b) => vec![hex(&b)],
                };
                wanted.push((column.clone(), forms));
            }
            checked_values += wanted.len();
            let found = objects.iter().any(|leaves| {
                wanted
                    .iter()
                    .all(|(_, forms)| forms.iter().any(|f| leaves.contains(f)))
            });
            if !found {
                let missing: Vec<&String> = wanted
                    .iter()
                    .filter(|(_, forms)| !forms.iter().any(|f| everything.contains(f)))
                    .map(|(c, _)| c)
                    .collect();
                panic!(
                    "{table}: a row is not one record of section {} (values missing anywhere: {missing:?})",
                    m.section
                );
            }
        }
    }
    // The setup gave every kind of record rows, so none passed by being empty.
    for table in &personal_tables {
        assert!(
            tables_with_rows.contains(table),
            "{table}: no rows for the customer"
        );
    }
    assert!(checked_values > 500, "{checked_values} values checked");

    // A staff member's id is the employee's data, never the customer's.
    let staff_ids: Vec<i64> = sqlx::query(
        "SELECT DISTINCT actor_id FROM audit_log WHERE subject_id = $1 AND actor_kind = 'staff'",
    )
    .bind(customer_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get(0).unwrap())
    .collect();
    assert!(staff_ids.contains(&4242));
    let log = leaf_set(&json["access_log"]);
    for id in staff_ids {
        assert!(
            !log.contains(&id.to_string()),
            "staff id {id} in the access log"
        );
    }
    // The first export is listed with its SHA-256.
    assert!(everything.contains(&my_data::sha256_hex(&first.bytes)));
    // Secrets are said to exist, with when they were set.
    let withheld = json["withheld"].as_array().unwrap();
    let password = withheld
        .iter()
        .find(|w| w["item"] == "password_hash")
        .unwrap();
    assert_eq!(password["exists"], true);
    assert!(password["set_at"].is_string());
    // Settlement lines about the customer's payments only.
    let lines = json["settlement_lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(!exported.all_text_but_pdf().contains(OTHER_PSP_REFERENCE));
    // The back office's notes about the customer are theirs (Art. 15).
    assert_eq!(json["request_notes"][0]["body"], REQUEST_NOTE);
    assert_eq!(json["file_accesses"][0]["note"], CALL_NOTE);
    assert_eq!(json["request_events"].as_array().unwrap().len(), 4);
    // The report shows the payments, by the provider's reference too.
    let report = unescape(&exported.text("report.html"));
    for shown in [
        "Online betalingen",
        "PSPEXPORTBOOKED01",
        "Not enough balance",
    ] {
        assert!(report.contains(shown), "report.html lacks {shown}");
    }
    t.cleanup().await;
}

// ACC-03, PRV-04: a contract the customer has not activated shows only its
// number, type, status and the customer's role, with a note that activating
// it adds it; its terms, invoices and vehicle appear nowhere in the ZIP.
// After activation by SMS code they are in the next export.
#[tokio::test]
async fn prv04_acc03_unactivated_contract_terms_stay_out_of_the_export() {
    let t = TestApp::spawn().await;
    // Register a demo person without an account; leave the contract as it is.
    let rows = sqlx::query(
        "SELECT cu.id, c.id, c.contract_number FROM customers cu \
         JOIN contract_parties p ON p.customer_id = cu.id JOIN contracts c ON c.id = p.contract_id \
         WHERE cu.kind = 'person' AND c.status = 'active' AND p.role = 'holder' \
         AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = cu.id) ORDER BY cu.id DESC",
    )
    .fetch_all(t.app.db().reader())
    .await
    .unwrap();
    let mut chosen = None;
    for row in rows {
        let id: i64 = row.try_get(0).unwrap();
        let record = customers::get(t.app.db(), t.app.keys(), id)
            .await
            .unwrap()
            .unwrap();
        let Personal::Known(p) = record.personal else {
            continue;
        };
        let mobile = p
            .phone
            .as_deref()
            .and_then(|p| carfin_domain::PhoneNumber::parse(p).ok())
            .is_some_and(|p| p.is_mobile());
        if mobile {
            chosen = Some((
                id,
                row.try_get::<i64, _>(1).unwrap(),
                row.try_get::<String, _>(2).unwrap(),
                p,
            ));
            break;
        }
    }
    let (customer_id, contract_id, number, person) = chosen.expect("an unregistered person");
    let c = t.client();
    c.get("/register").await;
    let r = c
        .post_form(
            "/register",
            &[
                ("holder", "person"),
                ("contract_number", &number),
                ("date_of_birth", person.date_of_birth.as_deref().unwrap()),
                ("company_number", ""),
                ("postcode", &person.postcode),
                ("email", "not.activated@example.test"),
                ("password", "a long enough passphrase 2026"),
                ("accept_terms", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mail = message(&t, customer_id, "mail.verify_email").await;
    let base = t.url("");
    let start = mail.text.find(&format!("{base}/register/verify/")).unwrap();
    let link: String = mail.text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let path = link.trim_start_matches(&base).to_string();
    c.get(&path).await;
    assert_eq!(c.post_form(&path, &[]).await.status, 200);
    let r = login(
        &c,
        "not.activated@example.test",
        "a long enough passphrase 2026",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);

    // What must stay hidden: the contract's invoices, its vehicle's plate
    // and VIN (sealed under the holder's key), its terms.
    let invoice_numbers: Vec<String> = sqlx::query(
        "SELECT invoice_number, payment_reference FROM invoices WHERE contract_id = $1",
    )
    .bind(contract_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .flat_map(|r| {
        [
            r.try_get::<String, _>(0).unwrap(),
            r.try_get::<String, _>(1).unwrap(),
        ]
    })
    .collect();
    assert!(!invoice_numbers.is_empty());
    let plates = carfin_store::repo::finance::plates_of(t.app.db(), t.app.keys(), customer_id)
        .await
        .unwrap();
    let hidden_plates: Vec<String> = plates
        .iter()
        .filter_map(|(_, p)| match p {
            Personal::Known(p) => Some(p.clone()),
            Personal::Erased => None,
        })
        .collect();
    assert!(!hidden_plates.is_empty());
    let version = sqlx::query("SELECT start_date, end_date, financed_amount_cents FROM contract_versions WHERE contract_id = $1")
        .bind(contract_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
    let financed: i64 = version.try_get(2).unwrap();

    let before = export(&c).await;
    let all = before.all_text();
    for secret in invoice_numbers.iter().chain(&hidden_plates) {
        assert!(
            !all.contains(secret.as_str()),
            "a detail of the unactivated contract leaked"
        );
    }
    let json = before.json();
    let contract = json["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contract_number"] == number.as_str())
        .unwrap();
    assert_eq!(contract["activated"], false);
    assert_eq!(contract["your_role"], "holder");
    assert!(contract["contract_type"].is_string() && contract["status"] == "active");
    for hidden in [
        "vehicle_id",
        "current_version",
        "brand",
        "dealer",
        "created_at",
        "parties",
    ] {
        assert!(contract[hidden].is_null(), "{hidden} shown");
    }
    assert!(json["contract_versions"].as_array().unwrap().is_empty());
    assert!(json["invoices"].as_array().unwrap().is_empty());
    assert!(json["vehicles"].as_array().unwrap().is_empty());
    assert!(!leaf_set(&json).contains(&financed.to_string()));
    let report = unescape(&before.text("report.html"));
    assert!(report.contains(&number), "the note names the contract");
    assert!(
        report.contains("Activeer ze in het portaal"),
        "the note says how to add it"
    );
    assert!(json["notes"][0].as_str().unwrap().contains(&number));

    // Activated by the SMS code, the details are in the next export.
    c.get(&format!("/my/contracts/{contract_id}/activate"))
        .await;
    let r = c
        .post_form(&format!("/my/contracts/{contract_id}/activate/send"), &[])
        .await;
    assert_eq!(r.status, 200);
    let sms = message(&t, customer_id, "sms.activation_code").await;
    let r = c
        .post_form(
            &format!("/my/contracts/{contract_id}/activate"),
            &[("code", &six_digits(&sms.text))],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let after = export(&c).await;
    let all = after.all_text();
    assert!(all.contains(&invoice_numbers[0]));
    assert!(hidden_plates.iter().any(|p| all.contains(p.as_str())));
    let json = after.json();
    assert_eq!(
        json["contract_versions"][0]["financed_amount_cents"],
        financed
    );
    t.cleanup().await;
}

// PRV-04, PRV-08: the ZIP holds data.json, one CSV per kind of record with
// its header row (RFC 4180, formula cells guarded), report.html in the
// customer's language with the register's purposes, legal bases,
// recipients, sources and retention periods (self-contained), and
// report.pdf with the same headings and the customer's name.
#[tokio::test]
async fn prv04_zip_has_csvs_and_localized_reports() {
    let t = TestApp::spawn().await;
    let email = demo_logins(&t).await[1].clone();
    let (customer_id, _) = ids_of_email(&t, &email).await;
    let record = customers::get(t.app.db(), t.app.keys(), customer_id)
        .await
        .unwrap()
        .unwrap();
    let Personal::Known(person) = record.personal else {
        panic!("erased")
    };
    let c = signed_in(&t, &email, Some("fr-BE,fr;q=0.9")).await;
    let e = export(&c).await;
    assert_eq!(e.filename, "carfin-mes-donnees-2026-03-02.zip");

    let names: Vec<&String> = e.files.keys().collect();
    for wanted in my_data::file_names() {
        assert!(e.files.contains_key(&wanted), "{wanted} missing: {names:?}");
    }
    for name in [
        "customer.csv",
        "contracts.csv",
        "contract_versions.csv",
        "vehicles.csv",
        "odometer_readings.csv",
        "invoices.csv",
        "ledger_entries.csv",
        "sessions.csv",
        "messages.csv",
        "documents.csv",
        "access_log.csv",
        "disclosures.csv",
    ] {
        let csv = e.text(name);
        let header = csv.split("\r\n").next().unwrap();
        assert!(header.contains(','), "{name}: {header}");
        assert!(
            header
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit() || b == b','),
            "{name}: {header}"
        );
    }
    let customer_csv = e.text("customer.csv");
    assert!(customer_csv.starts_with("id,customer_number,"));
    assert_eq!(
        customer_csv.matches("\r\n").count(),
        2,
        "header and one row"
    );
    let phone = person.phone.clone().unwrap();
    assert!(phone.starts_with('+'));
    assert!(
        customer_csv.contains(&format!(",'{phone},")),
        "a leading + is guarded: {customer_csv}"
    );
    let invoices_csv = e.text("invoices.csv");
    assert!(invoices_csv.starts_with("id,contract_id,entity_id,invoice_number,"));
    assert!(invoices_csv.matches("\r\n").count() > 2, "invoice rows");

    // report.html: French, self-contained, with the register's facts.
    let html = e.text("report.html");
    assert!(html.contains("<html lang=\"fr\">"));
    for external in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "report.html has {external}");
    }
    let text = unescape(&html);
    for heading in [
        "Vos données personnelles",
        "Les données que nous conservons à votre sujet",
        "Ce que nous faisons de vos données",
        "Vos droits",
        "Factures",
    ] {
        assert!(text.contains(heading), "missing heading {heading}");
    }
    assert!(text.contains(&person.display_name()));
    let entity = sqlx::query("SELECT slug FROM legal_entities WHERE id = $1")
        .bind(record.entity_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get::<String, _>(0)
        .unwrap();
    let art30 = privacy::register()
        .unwrap()
        .art30(Some(&entity), Language::Fr)
        .unwrap();
    let controller = &art30.entities[0];
    assert!(text.contains(&controller.entity.controller));
    assert!(text.contains(&controller.entity.dpo));
    assert!(text.contains(&controller.entity.supervisory_authority));
    let mut activities = 0;
    for a in controller
        .activities
        .iter()
        .filter(|a| a.data_subjects.iter().any(|s| s.id == "customers"))
    {
        activities += 1;
        assert!(text.contains(&a.name), "activity {}", a.name);
        assert!(text.contains(&a.retention.name), "retention of {}", a.id);
        for p in &a.purposes {
            assert!(text.contains(&p.name), "purpose {}", p.id);
        }
        for b in &a.legal_basis {
            assert!(
                text.contains(&b.name) && text.contains(&b.article),
                "basis {}",
                b.id
            );
        }
        for r in a.recipients.iter().chain(&a.processors) {
            assert!(text.contains(&r.name), "recipient {}", r.id);
        }
        for s in &a.sources {
            assert!(text.contains(&s.name), "source {}", s.id);
        }
    }
    assert!(activities >= 8, "{activities}");
    // Not the activities about website visitors only.
    assert!(
        !text.contains("Statistiques du site web")
            || controller
                .activities
                .iter()
                .any(|a| a.name == "Statistiques du site web"
                    && a.data_subjects.iter().any(|s| s.id == "customers"))
    );
    // data.json carries the same register facts.
    let json = e.json();
    assert_eq!(json["language"], "fr");
    assert_eq!(
        json["processing"]["controller"]["controller"],
        controller.entity.controller.as_str()
    );
    assert_eq!(
        json["processing"]["activities"].as_array().unwrap().len(),
        activities
    );

    // report.pdf: the name and the headings, as pdftotext reads them.
    let pdf = e.files.get("report.pdf").unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let pdf = pdf_text(pdf);
    for wanted in [
        person.display_name().as_str(),
        "Vos données personnelles",
        "Ce que nous faisons de vos données",
        "Vos droits",
        "Factures",
        "Contrats",
        &controller.entity.controller,
    ] {
        assert!(pdf.contains(wanted), "report.pdf lacks {wanted}");
    }
    t.cleanup().await;
}

// ---------------------------------------------------------------------------
// PRV-16: who accessed my data
// ---------------------------------------------------------------------------

fn headings(html: &str) -> Vec<u8> {
    let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
    main.match_indices("<h")
        .filter_map(|(i, _)| main.as_bytes().get(i + 2).copied())
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect()
}

// PRV-16: the page lists staff reads and changes by role (never the staff
// member's id or name), purpose, what was done and which kinds of data, and
// disclosures by recipient, categories and legal basis; a read recorded now
// appears; another customer's records do not; 50 a page; 24 months back.
#[tokio::test]
async fn prv16_access_history_shows_roles_purposes_and_disclosures() {
    let t = TestApp::spawn().await;
    let logins = demo_logins(&t).await;
    let (customer_id, _) = ids_of_email(&t, &logins[0]).await;
    let (other_id, _) = ids_of_email(&t, &logins[1]).await;
    let c = signed_in(&t, &logins[0], None).await;
    let page = c.get("/my/privacy").await;
    assert_eq!(page.status, 200);
    let text = unescape(&page.text);
    // The seeded reads and the change (demo data).
    for shown in [
        "Klantenservice",
        "Incasso",
        "Contractadministratie",
        "Privacyteam",
        "Ingezien",
        "Gewijzigd",
        "Achterstallige bedragen innen en betalingsregelingen treffen",
        "Voertuigadministratie: registratie, kilometerstanden, verzekering",
        "Bankrekening",
        "Kenteken en chassisnummer",
    ] {
        assert!(text.contains(shown), "missing {shown}");
    }
    // Disclosures, with the register's names.
    let entity: String = sqlx::query("SELECT e.country FROM customers c JOIN legal_entities e ON e.id = c.entity_id WHERE c.id = $1")
        .bind(customer_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let insurer = if entity == "BE" {
        "Assurances Horizon SA (verzekeraar)"
    } else {
        "Veilig Onderweg Verzekeringen N.V. (verzekeraar)"
    };
    assert!(text.contains(insurer), "the insurer disclosure");
    assert!(text.contains("Uitvoering van de overeenkomst (GDPR Art. 6(1)(b))"));
    // No staff ids, request ids or codes.
    let stable = stable_text(&page);
    for hidden in [
        "7101",
        "7103",
        "7105",
        "demo-",
        "contract_administration",
        "customer.read",
        "recover_debts",
    ] {
        assert!(!stable.contains(hidden), "{hidden} on the page");
    }
    let rows_before = page.text.matches("<tr>").count();

    // A read recorded now appears; another customer's does not.
    record_staff(
        &t,
        customer_id,
        4243,
        "privacy_officer",
        "keep_records",
        &["customers.date_of_birth"],
    )
    .await;
    record_staff(
        &t,
        other_id,
        4244,
        "collections",
        "prevent_money_laundering",
        &["customers.surname"],
    )
    .await;
    let page = c.get("/my/privacy").await;
    let text = unescape(&page.text);
    assert_eq!(page.text.matches("<tr>").count(), rows_before + 1);
    assert!(text.contains("Fiscale en boekhoudkundige administratie bewaren"));
    assert!(
        !text.contains("Cliëntenonderzoek"),
        "another customer's record"
    );
    assert!(!stable_text(&page).contains("4243"));
    let other = signed_in(&t, &logins[1], None).await;
    let other_page = unescape(&other.get("/my/privacy").await.text);
    assert!(other_page
        .contains("Cliëntenonderzoek, sanctiescreening en melden van ongebruikelijke transacties"));
    assert!(!other_page.contains("Fiscale en boekhoudkundige administratie bewaren"));

    // Accessibility: headings in order, captions, column headers with scope.
    let levels = headings(&page.text);
    assert_eq!(levels[0], 1);
    assert!(levels.windows(2).all(|w| w[1] <= w[0] + 1), "{levels:?}");
    assert!(page.text.contains("<caption>"));
    assert!(page.text.contains("<th scope=\"col\">Wanneer</th>"));
    for inline in ["<script", "style=", "onclick"] {
        assert!(!page.text.contains(inline));
    }

    // 50 a page, newest first, with links between pages.
    let mut tx = t.app.db().begin_write().await.unwrap();
    for i in 0..55 {
        audit::record(
            &mut tx,
            &t.app,
            AuditEntry {
                actor_kind: ActorKind::Staff,
                actor_id: Some(5000 + i),
                role: "customer_service".into(),
                action: "contract.read".into(),
                subject_id: Some(customer_id),
                purpose: "answer_requests".into(),
                fields: vec!["contracts.status".into()],
                request_id: format!("bulk-{i}"),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let first = c.get("/my/privacy").await;
    let body = |p: &TestResponse| {
        let start = p.text.find("class=\"access-log\"").unwrap();
        let end = start + p.text[start..].find("</table>").unwrap();
        p.text[start..end].matches("<tr>").count() - 1
    };
    assert_eq!(body(&first), 50);
    assert!(first.text.contains("pagina 1 van 2"));
    assert!(first.text.contains("href=\"/my/privacy?page=2#h-access\""));
    let total: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND actor_kind = 'staff' AND action <> 'disclosure'",
    )
    .bind(customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert!(total > 50 && total <= 100, "{total}");
    let second = c.get("/my/privacy?page=2").await;
    assert_eq!(body(&second) as i64, total - 50);
    assert!(second.text.contains("href=\"/my/privacy?page=1#h-access\""));
    assert_eq!(c.get("/my/privacy?page=99").await.status, 200);
    assert_eq!(c.get("/my/privacy?page=x").await.status, 200);

    // After 25 months nothing of this is in the 24-month window.
    t.clock.advance(chrono::Duration::days(25 * 31));
    let c = signed_in(&t, &logins[0], None).await;
    let later = c.get("/my/privacy").await;
    assert!(later
        .text
        .contains("In deze periode heeft geen medewerker uw gegevens ingezien of gewijzigd."));
    assert!(later
        .text
        .contains("In deze periode hebben wij geen gegevens van u aan anderen verstrekt."));
    t.cleanup().await;
}

// PRV-04, OPS-08: the export is a CSRF-protected POST; signed out, the page
// and the export send the browser to the sign-in page.
#[tokio::test]
async fn prv04_export_needs_the_form_token_and_a_signed_in_customer() {
    let t = TestApp::spawn().await;
    let email = demo_logins(&t).await[0].clone();
    let c = signed_in(&t, &email, None).await;
    c.get("/my/privacy").await;
    let without = c.post_form_raw("/my/privacy/export", &[]).await;
    assert_eq!(without.status, 403);
    let wrong = "0".repeat(64);
    let forged = c
        .post_form_raw("/my/privacy/export", &[("csrf_token", &wrong)])
        .await;
    assert_eq!(forged.status, 403);
    let cross = c
        .post_form_with(
            "/my/privacy/export",
            &[],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross.status, 403);
    let exports: i64 =
        sqlx::query("SELECT COUNT(*) FROM issued_documents WHERE kind = 'data_export'")
            .fetch_one(t.app.db().reader())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
    assert_eq!(exports, 0);

    let anonymous = t.client();
    let page = anonymous.get("/my/privacy").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/login"));
    anonymous.get("/").await;
    let post = anonymous.post_form("/my/privacy/export", &[]).await;
    assert_eq!(post.status, 303);
    assert_eq!(post.location(), Some("/login"));
    t.cleanup().await;
}

// PRV-16, OPS-06: the page in Dutch (default), French (Accept-Language) and
// English (?lang=).
#[tokio::test]
async fn prv16_page_in_three_languages() {
    let t = TestApp::spawn().await;
    let email = demo_logins(&t).await[0].clone();
    let c = signed_in(&t, &email, None).await;
    let nl = c.get("/my/privacy").await;
    assert!(nl.text.contains("<html lang=\"nl\">"));
    assert!(nl.text.contains("<h1>Mijn privacy</h1>"));
    assert!(nl.text.contains("Download mijn gegevens"));
    assert!(nl.text.contains("Wie heeft mijn gegevens ingezien?"));
    let en = c.get("/my/privacy?lang=en").await;
    assert!(en.text.contains("<html lang=\"en\">"));
    assert!(en.text.contains("<h1>My privacy</h1>"));
    assert!(en.text.contains("Who accessed my data?"));
    assert!(unescape(&en.text).contains("Recover arrears and agree payment arrangements"));
    let fr_client = signed_in(&t, &email, Some("fr")).await;
    let fr = fr_client.get("/my/privacy").await;
    assert!(fr.text.contains("<html lang=\"fr\">"));
    assert!(unescape(&fr.text).contains("<h1>Ma vie privée</h1>"));
    assert!(unescape(&fr.text).contains("Qui a consulté mes données ?"));
    assert!(unescape(&fr.text).contains("Recouvrer les arriérés et convenir de plans de paiement"));
    t.cleanup().await;
}

// PRV-15, PRV-04: an export is recorded — an audit record (the customer,
// `privacy.export`, purpose answer_requests) and an issued document with
// the ZIP's SHA-256 and the reference printed in the report — the audit
// chain still verifies, and no personal value reaches the logs.
#[tokio::test]
async fn prv15_export_is_recorded_and_the_chain_verifies() {
    let logs = carfin_testkit::LogCapture::start();
    let t = TestApp::spawn().await;
    let email = demo_logins(&t).await[0].clone();
    let (customer_id, _) = ids_of_email(&t, &email).await;
    let c = signed_in(&t, &email, None).await;
    let e = export(&c).await;
    assert_eq!(e.filename, "carfin-mijn-gegevens-2026-03-02.zip");
    let row = sqlx::query(
        "SELECT reference, sha256, language, generated_at FROM issued_documents \
         WHERE customer_id = $1 AND kind = 'data_export'",
    )
    .bind(customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap();
    let reference: String = row.try_get(0).unwrap();
    let sha: Vec<u8> = row.try_get(1).unwrap();
    assert_eq!(hex(&sha), my_data::sha256_hex(&e.bytes));
    assert_eq!(row.try_get::<String, _>(2).unwrap(), "nl");
    assert_eq!(row.try_get::<i64, _>(3).unwrap(), t.clock.now().timestamp());
    assert!(e.text("report.html").contains(&reference));
    assert_eq!(e.json()["reference"], reference.as_str());
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND actor_kind = 'customer' \
         AND actor_id = $1 AND action = 'privacy.export' AND purpose = 'answer_requests'",
    )
    .bind(customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert_eq!(audited, 1);
    assert!(matches!(
        audit::verify(&t.app).await.unwrap(),
        VerifyReport::Intact { .. }
    ));
    let record = customers::get(t.app.db(), t.app.keys(), customer_id)
        .await
        .unwrap()
        .unwrap();
    let Personal::Known(person) = record.personal else {
        panic!("erased")
    };
    t.cleanup().await;
    let text = logs.contents();
    assert!(text.contains("data export issued"), "the export is logged");
    for value in [
        Some(person.display_name()),
        person.email.clone(),
        person.iban.clone(),
        person.phone.clone(),
        Some(person.street.clone()),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!text.contains(&value), "a personal value in the logs");
    }
}
