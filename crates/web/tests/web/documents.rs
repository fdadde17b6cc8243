//! Documents on request over HTTP (SRV-05, CON-06), as a signed-in customer
//! uses them: the documents page, the PDFs (annual statement, tax
//! certificate, early-settlement quote, contract copy) read back with
//! `pdftotext`, and the quote page. Expected amounts are computed here from
//! the database and the repayment schedule, not taken from the code under
//! test.

use carfin_app::demo::{DEMO_PASSWORD, TERMS_VERSION};
use carfin_app::messages::local_time;
use carfin_domain::finance::{amortization_schedule, annuity_instalment, due_date, remaining_on};
use carfin_domain::{Language, Money, ScheduleLine};
use carfin_store::crypto::FieldRef;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{self, Personal};
use carfin_store::repo::finance::{
    ContractTerms, FinanceInsert, NewContract, NewInvoice, NewLedgerEntry, NewParty, NewVehicle,
};
use carfin_store::repo::identity as accounts;
use carfin_testkit::{Client, TestApp, TestResponse};
use chrono::{Datelike, Months, NaiveDate};
use sqlx::Row;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A signed-in customer.
struct SignedIn {
    client: Client,
    customer_id: i64,
    account_id: i64,
}

async fn account_of_email(t: &TestApp, email: &str) -> (i64, i64) {
    let bidx = t
        .app
        .blind_index()
        .index(accounts::ACCOUNT_EMAIL_INDEX, email);
    let account = accounts::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap();
    (account.customer_id, account.id)
}

async fn sign_in(t: &TestApp, email: &str) -> SignedIn {
    let client = t.client();
    client.get("/login").await;
    let response = client
        .post_form("/login", &[("email", email), ("password", DEMO_PASSWORD)])
        .await;
    assert_eq!(
        response.status, 303,
        "sign-in of {email}: {}",
        response.text
    );
    let (customer_id, account_id) = account_of_email(t, email).await;
    SignedIn {
        client,
        customer_id,
        account_id,
    }
}

/// The demo's first registered customer (a person; every contract activated).
async fn demo_person(t: &TestApp) -> SignedIn {
    let lines = carfin_app::demo::login_lines(&t.app).await.unwrap();
    let email = lines
        .iter()
        .find_map(|l| l.strip_prefix("demo customer: "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_string();
    sign_in(t, &email).await
}

/// A demo company with a running or ended contract gets an account (as the
/// demo gives its persons), every contract activated, and signs in.
async fn demo_company(t: &TestApp) -> SignedIn {
    let row = sqlx::query(
        "SELECT cu.id, cu.entity_id, cu.language FROM customers cu WHERE cu.kind = 'company' \
         AND EXISTS (SELECT 1 FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
           WHERE p.customer_id = cu.id AND c.status IN ('active', 'ended')) \
         AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = cu.id) ORDER BY cu.id LIMIT 1",
    )
    .fetch_optional(t.app.db().reader())
    .await
    .unwrap()
    .expect("the demo has a business customer with a running or ended contract");
    let customer_id: i64 = row.try_get(0).unwrap();
    let entity_id: i64 = row.try_get(1).unwrap();
    let language: String = row.try_get(2).unwrap();
    let record = customers::get(t.app.db(), t.app.keys(), customer_id)
        .await
        .unwrap()
        .unwrap();
    let Personal::Known(personal) = record.personal else {
        panic!("company unreadable")
    };
    let email = personal.email.unwrap();
    let KeyState::Live(key) = t.app.keys().get(customer_id).await.unwrap() else {
        panic!("no key")
    };
    let hash = t.app.hasher().hash(DEMO_PASSWORD).await.unwrap();
    let now = t.app.clock().now().timestamp();
    let account_id = t.app.ids().next();
    let mut tx = t.app.db().begin_write().await.unwrap();
    accounts::insert_account(
        &mut tx,
        &accounts::NewAccount {
            id: account_id,
            customer_id,
            entity_id,
            email: key
                .seal(
                    FieldRef {
                        table: "accounts",
                        column: "email",
                        row: account_id,
                    },
                    &email,
                )
                .unwrap(),
            email_bidx: t
                .app
                .blind_index()
                .index(accounts::ACCOUNT_EMAIL_INDEX, &email),
            password_hash: hash,
            language,
            terms_version: TERMS_VERSION.into(),
            now,
        },
    )
    .await
    .unwrap();
    accounts::update_account(
        &mut tx,
        account_id,
        "status = 'active', email_verified_at = $2",
        vec![carfin_store::repo::SqlValue::Int(now)],
        now,
    )
    .await
    .unwrap();
    accounts::record_acceptance(
        &mut tx,
        t.app.ids().next(),
        customer_id,
        entity_id,
        TERMS_VERSION,
        "registration",
        now,
    )
    .await
    .unwrap();
    for contract in accounts::portal_contracts(t.app.db(), customer_id, account_id)
        .await
        .unwrap()
    {
        accounts::activate_contract(&mut tx, account_id, contract.id, now)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    sign_in(t, &email).await
}

/// A response read as bytes (the test client reads text, which would mangle
/// a PDF): a raw HTTP/1.1 GET with the client's session cookie.
struct Download {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn session_cookie(c: &Client) -> String {
    use carfin_app::identity::session::{COOKIE_PLAIN, COOKIE_SECURE};
    for name in [COOKIE_SECURE, COOKIE_PLAIN] {
        if let Some(value) = c.cookie(name) {
            return format!("{name}={value}");
        }
    }
    panic!("not signed in")
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            std::str::from_utf8(&body[..line_end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

async fn download(t: &TestApp, c: &Client, path: &str, lang: &str) -> Download {
    let address = t.address;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {}\r\nAccept-Language: {lang}\r\nConnection: close\r\n\r\n",
        session_cookie(c)
    );
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        Download {
            status,
            body: if chunked { dechunk(&body) } else { body },
            headers,
        }
    })
    .await
    .unwrap()
}

/// The text of a PDF, as `pdftotext` extracts it, with non-breaking spaces
/// as plain spaces.
fn pdftotext(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "carfin-documents-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("document.pdf");
    std::fs::write(&file, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    plain(&String::from_utf8(output.stdout).unwrap())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
}

/// Text with every run of white space (line breaks, non-breaking spaces)
/// as one space, so wrapped lines and typographic spaces compare plainly.
fn plain(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn money(cents: i64, lang: Language) -> String {
    plain(&Money::from_cents(cents).format(lang))
}

fn lang_of(code: &str) -> Language {
    code.parse().unwrap()
}

#[track_caller]
fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
}

/// A PDF download: status, headers, and the text; the issued document as
/// recorded (reference, generation time).
struct Pdf {
    text: String,
    filename: String,
    reference: String,
    generated_at: i64,
    kind: String,
    period: Option<String>,
    language: String,
}

#[track_caller]
fn assert_pdf_headers(d: &Download, what: &str) {
    assert_eq!(d.status, 200, "{what}: {}", d.text());
    assert_eq!(d.header("content-type"), Some("application/pdf"), "{what}");
    assert_eq!(d.header("cache-control"), Some("no-store"), "{what}");
    assert!(d.body.starts_with(b"%PDF-"), "{what}");
}

/// Downloads a PDF and checks what every document carries: the brand, the
/// reference recorded in `issued_documents` (with the SHA-256 of exactly
/// these bytes), and the generation time in the reader's language.
async fn pdf(t: &TestApp, s: &SignedIn, path: &str, lang: &str) -> Pdf {
    let d = download(t, &s.client, path, lang).await;
    assert_pdf_headers(&d, path);
    let disposition = d.header("content-disposition").unwrap().to_string();
    let filename = disposition
        .strip_prefix("attachment; filename=\"")
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{disposition}"))
        .to_string();
    let row = sqlx::query(
        "SELECT reference, generated_at, kind, period, language, sha256 FROM issued_documents \
         WHERE customer_id = $1 ORDER BY generated_at DESC, id DESC LIMIT 1",
    )
    .bind(s.customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap();
    let reference: String = row.try_get(0).unwrap();
    let generated_at: i64 = row.try_get(1).unwrap();
    let sha256: Vec<u8> = row.try_get(5).unwrap();
    assert_eq!(sha256.len(), 32);
    let text = pdftotext(&d.body);
    assert_has(&text, &reference);
    assert_has(&text, &plain(&local_time(lang_of(lang), generated_at)));
    let brand: String = sqlx::query(
        "SELECT b.name FROM issued_documents d JOIN contracts c ON c.id = d.contract_id \
         JOIN brands b ON b.id = c.brand_id WHERE d.reference = $1",
    )
    .bind(&reference)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert_has(&text, &brand);
    // Recorded and audited: the audit record names the customer and the
    // document's reference, never its contents.
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'document.issue' AND actor_id = $1 \
         AND subject_id = $1 AND request_id = $2",
    )
    .bind(s.customer_id)
    .bind(&reference)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert_eq!(audited, 1, "audit record of {reference}");
    Pdf {
        text,
        filename,
        reference,
        generated_at,
        kind: row.try_get(2).unwrap(),
        period: row.try_get(3).unwrap(),
        language: row.try_get(4).unwrap(),
    }
}

/// What a test contract looks like.
struct Spec {
    number: &'static str,
    kind: &'static str,
    principal: i64,
    balloon: i64,
    rate_bp: u32,
    months: u32,
    start: NaiveDate,
    /// Instalment periods (`YYYY-MM`) left unpaid (overdue).
    unpaid: &'static [&'static str],
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Inserts a running contract for the signed-in customer, through the
/// store's repositories, with its monthly invoices (issued a month ahead,
/// paid unless listed in `unpaid`) and ledger, and activates it.
async fn insert_contract(t: &TestApp, s: &SignedIn, spec: &Spec) -> i64 {
    let row = sqlx::query("SELECT entity_id, country FROM customers WHERE id = $1")
        .bind(s.customer_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
    let entity_id: i64 = row.try_get(0).unwrap();
    let brand_id: i64 =
        sqlx::query("SELECT id FROM brands WHERE entity_id = $1 ORDER BY id LIMIT 1")
            .bind(entity_id)
            .fetch_one(t.app.db().reader())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
    let KeyState::Live(key) = t.app.keys().get(s.customer_id).await.unwrap() else {
        panic!("no key")
    };
    let instalment = annuity_instalment(
        Money::from_cents(spec.principal),
        Money::from_cents(spec.balloon),
        spec.rate_bp,
        spec.months,
    )
    .unwrap();
    let now = t.app.clock().now().timestamp();
    let today = t.app.clock().today();
    let ids = t.app.ids();
    let mut insert = FinanceInsert::default();
    let vehicle_id = ids.next();
    insert
        .vehicle(
            &NewVehicle {
                id: vehicle_id,
                entity_id,
                subject_id: s.customer_id,
                make: "Skoda".into(),
                model: "Enyaq".into(),
                fuel: "electric".into(),
                plate_country: "NL".into(),
                licence_plate: "ZZ123X".into(),
                vin: "TMBJC7NY5N0123456".into(),
                first_registration: spec.start.to_string(),
                created_at: now,
            },
            &key,
            t.app.blind_index(),
        )
        .unwrap();
    let contract_id = ids.next();
    let end = spec.start + Months::new(spec.months);
    let lease = spec.kind != "consumer_credit";
    insert.contract(&NewContract {
        id: contract_id,
        entity_id,
        brand_id,
        dealer_id: None,
        vehicle_id,
        contract_number: spec.number.into(),
        contract_type: spec.kind.into(),
        status: "active".into(),
        ended_on: None,
        closed_on: None,
        created_at: now,
        terms: ContractTerms {
            version: 1,
            valid_from: spec.start.to_string(),
            start_date: spec.start.to_string(),
            end_date: end.to_string(),
            term_months: i64::from(spec.months),
            financed_amount_cents: spec.principal,
            down_payment_cents: 0,
            balloon_cents: spec.balloon,
            nominal_rate_bp: i64::from(spec.rate_bp),
            apr_bp: i64::from(spec.rate_bp) + 20,
            monthly_instalment_cents: instalment.cents(),
            km_per_year: lease.then_some(15_000),
            excess_km_price_cents: lease.then_some(9),
            change_reason: "origination".into(),
        },
        parties: vec![NewParty {
            customer_id: s.customer_id,
            role: "holder".into(),
            registration_bidx: None,
        }],
    });
    for month in 1..=spec.months {
        let due = due_date(spec.start, month).unwrap();
        let issue = due - Months::new(1);
        if issue > today {
            break;
        }
        let period = format!("{:04}-{:02}", due.year(), due.month());
        let status = if due >= today {
            "open"
        } else if spec.unpaid.contains(&period.as_str()) {
            "overdue"
        } else {
            "paid"
        };
        let amount = instalment.cents();
        let invoice_id = ids.next();
        insert.invoice(&NewInvoice {
            id: invoice_id,
            entity_id,
            contract_id,
            invoice_number: format!("{}-{period}", spec.number),
            kind: "instalment".into(),
            period: Some(period),
            issue_date: issue.to_string(),
            due_date: due.to_string(),
            amount_cents: amount,
            paid_cents: if status == "paid" { amount } else { 0 },
            status: status.into(),
            payment_reference: format!("{:016}", invoice_id % 10_000_000_000_000_000),
            created_at: now,
        });
        insert.ledger(&NewLedgerEntry {
            id: ids.next(),
            contract_id,
            invoice_id: Some(invoice_id),
            entry_date: issue.to_string(),
            kind: "invoice".into(),
            amount_cents: amount,
            created_at: now,
        });
        if status == "paid" {
            insert.ledger(&NewLedgerEntry {
                id: ids.next(),
                contract_id,
                invoice_id: Some(invoice_id),
                entry_date: due.to_string(),
                kind: "payment".into(),
                amount_cents: -amount,
                created_at: now,
            });
        }
    }
    let mut tx = t.app.db().begin_write().await.unwrap();
    insert.execute(&mut tx).await.unwrap();
    accounts::activate_contract(&mut tx, s.account_id, contract_id, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    contract_id
}

/// The current terms of a contract, read from the database.
async fn terms_of(t: &TestApp, contract_id: i64) -> ContractTerms {
    carfin_store::repo::finance::contract_overview(t.app.db(), contract_id)
        .await
        .unwrap()
        .unwrap()
        .terms
}

fn schedule_of(terms: &ContractTerms) -> Vec<ScheduleLine> {
    amortization_schedule(
        Money::from_cents(terms.financed_amount_cents),
        Money::from_cents(terms.balloon_cents),
        terms.nominal_rate_bp as u32,
        terms.term_months as u32,
        Money::from_cents(terms.monthly_instalment_cents),
    )
    .unwrap()
}

/// `(kind, period, due date, amount, paid, status)` of a contract's invoices.
async fn invoices_of(
    t: &TestApp,
    contract_id: i64,
) -> Vec<(String, Option<String>, String, i64, i64, String)> {
    sqlx::query(
        "SELECT kind, period, due_date, amount_cents, paid_cents, status FROM invoices \
         WHERE contract_id = $1 ORDER BY due_date",
    )
    .bind(contract_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get(0).unwrap(),
            r.try_get(1).unwrap(),
            r.try_get(2).unwrap(),
            r.try_get(3).unwrap(),
            r.try_get(4).unwrap(),
            r.try_get(5).unwrap(),
        )
    })
    .collect()
}

/// Interest and principal of the schedule lines due in `year` (up to `to`)
/// whose instalment invoice is paid; and what was paid on those invoices.
async fn paid_in_year(t: &TestApp, contract_id: i64, year: i32, to: NaiveDate) -> (i64, i64, i64) {
    let terms = terms_of(t, contract_id).await;
    let start: NaiveDate = terms.start_date.parse().unwrap();
    let invoices = invoices_of(t, contract_id).await;
    let (mut interest, mut principal, mut paid) = (0, 0, 0);
    for line in schedule_of(&terms) {
        let due = due_date(start, line.month).unwrap();
        if due.year() != year || due > to {
            continue;
        }
        let period = format!("{:04}-{:02}", due.year(), due.month());
        if let Some(invoice) = invoices.iter().find(|i| {
            i.0 == "instalment" && i.1.as_deref() == Some(period.as_str()) && i.5 == "paid"
        }) {
            interest += line.interest.cents();
            principal += line.principal.cents();
            paid += invoice.4;
        }
    }
    (interest, principal, paid)
}

async fn number_of(t: &TestApp, contract_id: i64) -> String {
    sqlx::query("SELECT contract_number FROM contracts WHERE id = $1")
        .bind(contract_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// The customer's contracts of a type and status.
async fn contracts_of(t: &TestApp, customer_id: i64, kind: &str, status: &str) -> Vec<i64> {
    sqlx::query(
        "SELECT c.id FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
         WHERE p.customer_id = $1 AND c.contract_type = $2 AND c.status = $3 ORDER BY c.id",
    )
    .bind(customer_id)
    .bind(kind)
    .bind(status)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get(0).unwrap())
    .collect()
}

fn round_half_away(numerator: i128, denominator: i128) -> i64 {
    let q = numerator / denominator;
    let r = numerator % denominator;
    (if r.abs() * 2 >= denominator {
        q + numerator.signum()
    } else {
        q
    }) as i64
}

async fn get_lang(c: &Client, path: &str, lang: &str) -> TestResponse {
    c.get_with(path, &[("accept-language", lang)]).await
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

// SRV-05: the annual statement (jaaropgave) of a consumer credit in nl, fr
// and en: interest paid in the year (only paid instalments count), the
// remaining debt on 1 January and 31 December, localized headings, a
// localized file name, the Dutch tax note; this year runs to date; years
// outside the contract are 404.
#[tokio::test]
async fn srv05_annual_statement_in_three_languages() {
    let t = TestApp::spawn().await;
    let s = demo_person(&t).await;
    let id = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000001",
            kind: "consumer_credit",
            principal: 1_200_000,
            balloon: 0,
            rate_bp: 690,
            months: 36,
            start: date(2024, 5, 1),
            unpaid: &["2025-07"],
        },
    )
    .await;
    let terms = terms_of(&t, id).await;
    let schedule = schedule_of(&terms);
    let start = date(2024, 5, 1);
    let principal = Money::from_cents(terms.financed_amount_cents);
    let debt_jan = remaining_on(principal, start, &schedule, date(2024, 12, 31)).cents();
    let debt_dec = remaining_on(principal, start, &schedule, date(2025, 12, 31)).cents();
    let (interest, repaid, paid) = paid_in_year(&t, id, 2025, date(2025, 12, 31)).await;
    // July is unpaid: its interest does not count.
    let all_interest: i64 = schedule
        .iter()
        .filter(|l| due_date(start, l.month).unwrap().year() == 2025)
        .map(|l| l.interest.cents())
        .sum();
    assert!(interest < all_interest && interest > 0);

    let country: String = sqlx::query("SELECT country FROM customers WHERE id = $1")
        .bind(s.customer_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let path = format!("/my/contracts/{id}/documents/annual-statement/2025.pdf");
    for (lang, title, debt_label, interest_label, file) in [
        (
            "nl",
            "Jaaropgave 2025",
            "Resterende schuld op 1 januari 2025",
            "Betaalde rente in 2025",
            "jaaropgave-NL99000001-2025.pdf",
        ),
        (
            "fr",
            "Relevé annuel 2025",
            "Solde restant dû au 1er janvier 2025",
            "Intérêts payés en 2025",
            "releve-annuel-NL99000001-2025.pdf",
        ),
        (
            "en",
            "Annual statement 2025",
            "Remaining debt on 1 January 2025",
            "Interest paid in 2025",
            "annual-statement-NL99000001-2025.pdf",
        ),
    ] {
        let doc = pdf(&t, &s, &path, lang).await;
        let l = lang_of(lang);
        assert_eq!(doc.filename, file);
        assert_eq!(
            (
                doc.kind.as_str(),
                doc.period.as_deref(),
                doc.language.as_str()
            ),
            ("annual_statement", Some("2025"), lang)
        );
        for needle in [title, debt_label, interest_label, "NL99000001"] {
            assert_has(&doc.text, needle);
        }
        for cents in [debt_jan, debt_dec, interest, repaid, paid] {
            assert_has(&doc.text, &money(cents, l));
        }
        if country == "NL" {
            assert_has(&doc.text, "box 3");
        }
    }

    // This year, to date.
    let this_year = pdf(
        &t,
        &s,
        &format!("/my/contracts/{id}/documents/annual-statement/2026.pdf"),
        "en",
    )
    .await;
    let today = t.app.clock().today();
    let (interest_2026, _, _) = paid_in_year(&t, id, 2026, today).await;
    assert_has(&this_year.text, "Annual statement 2026");
    assert_has(&this_year.text, "up to and including 2 March 2026");
    assert_has(&this_year.text, &money(interest_2026, Language::En));
    assert_has(
        &this_year.text,
        &money(
            remaining_on(principal, start, &schedule, today).cents(),
            Language::En,
        ),
    );

    // Outside the contract, or no year at all: 404 and no PDF.
    for bad in ["2023.pdf", "2027.pdf", "2025", "20x5.pdf"] {
        let d = download(
            &t,
            &s.client,
            &format!("/my/contracts/{id}/documents/annual-statement/{bad}"),
            "en",
        )
        .await;
        assert_eq!(d.status, 404, "{bad}");
        assert!(!d.body.starts_with(b"%PDF"));
    }
    t.cleanup().await;
}

// SRV-05, Directive 2008/48/EC Art. 16: the early-settlement quote of a
// consumer credit, as a page and as a PDF: remaining principal, interest
// accrued since the last instalment (actual days / 365), unpaid invoices,
// and the compensation at the statutory cap — 1 % with more than a year
// left; 0.5 % with a year or less, and then no more than the interest
// still to come.
#[tokio::test]
async fn srv05_settlement_quote_caps_consumer_credit_compensation() {
    let t = TestApp::spawn().await;
    let s = demo_person(&t).await;
    let long = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000002",
            kind: "consumer_credit",
            principal: 1_500_000,
            balloon: 0,
            rate_bp: 790,
            months: 48,
            start: date(2025, 1, 1),
            unpaid: &["2026-02"],
        },
    )
    .await;
    let short = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000003",
            kind: "consumer_credit",
            principal: 1_000_000,
            balloon: 0,
            rate_bp: 100,
            months: 24,
            start: date(2024, 5, 1),
            unpaid: &[],
        },
    )
    .await;
    // Today is 2 March 2026: the settlement date is 12 March 2026.
    let on = date(2026, 3, 12);
    struct Expected {
        principal: i64,
        accrued: i64,
        days: i64,
        unpaid: i64,
        rate: &'static str,
        at_rate: i64,
        to_come: i64,
        compensation: i64,
        total: i64,
    }
    let mut expected = Vec::new();
    for id in [long, short] {
        let terms = terms_of(&t, id).await;
        let start: NaiveDate = terms.start_date.parse().unwrap();
        let end: NaiveDate = terms.end_date.parse().unwrap();
        let schedule = schedule_of(&terms);
        let due: Vec<&ScheduleLine> = schedule
            .iter()
            .filter(|l| due_date(start, l.month).unwrap() <= on)
            .collect();
        let last = due.last().unwrap();
        let principal = last.remaining.cents();
        let days = (on - due_date(start, last.month).unwrap()).num_days();
        let accrued = round_half_away(
            i128::from(principal) * i128::from(terms.nominal_rate_bp) * i128::from(days),
            3_650_000,
        );
        let to_come: i64 = schedule
            .iter()
            .filter(|l| due_date(start, l.month).unwrap() > on)
            .map(|l| l.interest.cents())
            .sum::<i64>()
            - accrued;
        let to_come = to_come.max(0);
        let more_than_a_year = end > on + Months::new(12);
        let cap_bp = if more_than_a_year { 100 } else { 50 };
        let at_rate = round_half_away(i128::from(principal) * cap_bp, 10_000);
        let compensation = at_rate.min(to_come);
        let unpaid: i64 = invoices_of(&t, id)
            .await
            .iter()
            .filter(|i| i.5 != "paid" && i.2.parse::<NaiveDate>().unwrap() <= on)
            .map(|i| i.3 - i.4)
            .sum();
        expected.push(Expected {
            principal,
            accrued,
            days,
            unpaid,
            rate: if more_than_a_year { "1.00 %" } else { "0.50 %" },
            at_rate,
            to_come,
            compensation,
            total: principal + accrued + unpaid + compensation,
        });
    }
    // The long credit pays the full 1 %; the short one is held to the
    // interest still to come, below 0.5 %.
    assert_eq!(expected[0].rate, "1.00 %");
    assert_eq!(expected[0].compensation, expected[0].at_rate);
    assert!(expected[0].unpaid > 0);
    assert_eq!(expected[1].rate, "0.50 %");
    assert!(expected[1].to_come < expected[1].at_rate);
    assert_eq!(expected[1].compensation, expected[1].to_come);

    for (id, e) in [long, short].into_iter().zip(&expected) {
        // The page, in English.
        let page = get_lang(
            &s.client,
            &format!("/my/contracts/{id}/settlement-quote"),
            "en",
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.text);
        let html = plain(&page.text);
        for needle in [
            "Early-settlement quote".to_string(),
            "12 March 2026".to_string(),
            format!("{} days", e.days),
            format!("{} of {}", e.rate, money(e.principal, Language::En)),
            money(e.principal, Language::En),
            money(e.accrued, Language::En),
            money(e.unpaid, Language::En),
            money(e.at_rate, Language::En),
            money(e.to_come, Language::En),
            money(e.compensation, Language::En),
            money(e.total, Language::En),
            "2008/48/EC".to_string(),
            format!("/my/contracts/{id}/documents/settlement-quote.pdf"),
        ] {
            assert_has(&html, &needle);
        }
        // The PDF, in Dutch: the same amounts.
        let doc = pdf(
            &t,
            &s,
            &format!("/my/contracts/{id}/documents/settlement-quote.pdf"),
            "nl",
        )
        .await;
        assert_has(&doc.text, "Offerte vervroegde aflossing");
        assert_has(&doc.text, "Geldig tot en met");
        assert_has(&doc.text, "12 maart 2026");
        for cents in [e.principal, e.accrued, e.compensation, e.total] {
            assert_has(&doc.text, &money(cents, Language::Nl));
        }
        assert_has(
            &doc.text,
            if e.rate == "1.00 %" {
                "1,00 %"
            } else {
                "0,50 %"
            },
        );
        assert_eq!(doc.period.as_deref(), Some("2026-03-12"));
    }
    assert_has(
        &plain(
            &get_lang(
                &s.client,
                &format!("/my/contracts/{short}/settlement-quote"),
                "en",
            )
            .await
            .text,
        ),
        "limited to the interest until the agreed end",
    );
    t.cleanup().await;
}

// SRV-05: a financial lease pays the contractual 2 %, named as such; an
// operational lease has no debt, so neither a quote nor an annual
// statement (404).
#[tokio::test]
async fn srv05_lease_quotes_and_operational_lease_refusals() {
    let t = TestApp::spawn().await;
    let s = demo_person(&t).await;
    let lease = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000004",
            kind: "financial_lease",
            principal: 3_000_000,
            balloon: 900_000,
            rate_bp: 590,
            months: 60,
            start: date(2024, 6, 1),
            unpaid: &[],
        },
    )
    .await;
    let terms = terms_of(&t, lease).await;
    let schedule = schedule_of(&terms);
    let remaining = remaining_on(
        Money::from_cents(terms.financed_amount_cents),
        date(2024, 6, 1),
        &schedule,
        date(2026, 3, 12),
    )
    .cents();
    let compensation = round_half_away(i128::from(remaining) * 200, 10_000);
    let doc = pdf(
        &t,
        &s,
        &format!("/my/contracts/{lease}/documents/settlement-quote.pdf"),
        "en",
    )
    .await;
    assert_has(&doc.text, "Contractual early-settlement compensation");
    assert_has(
        &doc.text,
        &format!("2.00 % of {}", money(remaining, Language::En)),
    );
    assert_has(&doc.text, &money(compensation, Language::En));
    assert_eq!(doc.filename, "settlement-quote-NL99000004-2026-03-12.pdf");

    let operational = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000005",
            kind: "operational_lease",
            principal: 2_400_000,
            balloon: 1_000_000,
            rate_bp: 500,
            months: 48,
            start: date(2024, 6, 1),
            unpaid: &[],
        },
    )
    .await;
    for path in [
        format!("/my/contracts/{operational}/documents/annual-statement/2025.pdf"),
        format!("/my/contracts/{operational}/documents/settlement-quote.pdf"),
        format!("/my/contracts/{operational}/settlement-quote"),
        // A person gets no tax certificate.
        format!("/my/contracts/{operational}/documents/tax-certificate/2025.pdf"),
        format!("/my/contracts/{lease}/documents/tax-certificate/2025.pdf"),
    ] {
        let d = download(&t, &s.client, &path, "en").await;
        assert_eq!(d.status, 404, "{path}");
    }
    // The contract copy exists for every contract.
    let copy = pdf(
        &t,
        &s,
        &format!("/my/contracts/{operational}/documents/contract-copy.pdf"),
        "en",
    )
    .await;
    assert_has(&copy.text, "Operational lease");
    t.cleanup().await;
}

// SRV-05, CON-06: the contract copy — every agreed term of the current
// version, the parties with their roles, the vehicle with plate and VIN,
// the lender, and earlier versions with what changed and why — in nl, fr
// and en.
#[tokio::test]
async fn srv05_con06_contract_copy() {
    let t = TestApp::spawn().await;
    let s = demo_person(&t).await;
    let id = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000006",
            kind: "financial_lease",
            principal: 2_500_000,
            balloon: 700_000,
            rate_bp: 575,
            months: 48,
            start: date(2024, 9, 1),
            unpaid: &[],
        },
    )
    .await;
    // An amendment: more kilometres a year at a lower price, from 1 January.
    let mut amended = terms_of(&t, id).await;
    amended.version = 2;
    amended.valid_from = "2026-01-01".into();
    amended.km_per_year = Some(25_000);
    amended.excess_km_price_cents = Some(7);
    amended.change_reason = "mileage_change".into();
    let mut insert = FinanceInsert::default();
    insert.version(id, &amended, t.app.clock().now().timestamp());
    let mut tx = t.app.db().begin_write().await.unwrap();
    insert.execute(&mut tx).await.unwrap();
    sqlx::query("UPDATE contracts SET current_version = 2 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let record = customers::get(t.app.db(), t.app.keys(), s.customer_id)
        .await
        .unwrap()
        .unwrap();
    let Personal::Known(me) = record.personal else {
        panic!("unreadable")
    };
    let entity: (String, String) = {
        let r = sqlx::query(
            "SELECT e.name, e.vat_number FROM contracts c JOIN legal_entities e ON e.id = c.entity_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
        (r.try_get(0).unwrap(), r.try_get(1).unwrap())
    };
    let path = format!("/my/contracts/{id}/documents/contract-copy.pdf");
    let en = pdf(&t, &s, &path, "en").await;
    assert_eq!(en.filename, "contract-copy-NL99000006.pdf");
    assert_eq!(en.period, None);
    for needle in [
        "Contract copy",
        "NL99000006",
        "Financial lease",
        "Skoda Enyaq",
        "ZZ-123-X",
        "TMBJC7NY5N0123456",
        "Holder",
        "Lessor",
        "Change of mileage",
        "Original agreement",
        "version 2, valid from 1 January 2026",
        "Kilometres per year: from 15,000 km to 25,000 km",
        "Price per excess kilometre: from €0.09 to €0.07",
        "1 September 2024",
        "1 September 2028",
        "48 months",
        "5.75 %",
    ] {
        assert_has(&en.text, needle);
    }
    for cents in [
        2_500_000,
        700_000,
        terms_of(&t, id).await.monthly_instalment_cents,
    ] {
        assert_has(&en.text, &money(cents, Language::En));
    }
    assert_has(&en.text, &me.display_name());
    assert_has(&en.text, &entity.0);
    assert_has(&en.text, &entity.1);
    let nl = pdf(&t, &s, &path, "nl").await;
    for needle in [
        "Contractkopie",
        "Wijziging kilometrage",
        "Contracthouder",
        "Restwaarde",
    ] {
        assert_has(&nl.text, needle);
    }
    assert_eq!(nl.filename, "contractkopie-NL99000006.pdf");
    let fr = pdf(&t, &s, &path, "fr").await;
    for needle in [
        "Copie du contrat",
        "Modification du kilométrage",
        "Titulaire",
        "Bailleur",
    ] {
        assert_has(&fr.text, needle);
    }
    assert_ne!(en.reference, nl.reference);
    assert!(nl.generated_at >= en.generated_at);
    t.cleanup().await;
}

// SRV-05: the tax certificate is for business customers: per year the
// amounts invoiced and paid — split into interest and principal for a
// financial lease, lease payments for an operational lease — and the
// remaining debt at year end. A person is refused (404), and the
// documents page offers it to companies only.
#[tokio::test]
async fn srv05_tax_certificate_for_business_customers() {
    let t = TestApp::spawn().await;
    let company = demo_company(&t).await;
    // Besides the demo's contracts: a financial lease with an unpaid month
    // and an operational lease that started in the year.
    insert_contract(
        &t,
        &company,
        &Spec {
            number: "NL99000010",
            kind: "financial_lease",
            principal: 4_200_000,
            balloon: 1_200_000,
            rate_bp: 640,
            months: 48,
            start: date(2024, 6, 1),
            unpaid: &["2025-09"],
        },
    )
    .await;
    insert_contract(
        &t,
        &company,
        &Spec {
            number: "NL99000011",
            kind: "operational_lease",
            principal: 3_600_000,
            balloon: 1_500_000,
            rate_bp: 520,
            months: 36,
            start: date(2025, 2, 1),
            unpaid: &[],
        },
    )
    .await;
    let mut checked = Vec::new();
    for kind in ["financial_lease", "operational_lease", "consumer_credit"] {
        for status in ["active", "ended"] {
            for id in contracts_of(&t, company.customer_id, kind, status).await {
                let terms = terms_of(&t, id).await;
                let start: NaiveDate = terms.start_date.parse().unwrap();
                if start.year() > 2025 {
                    continue;
                }
                let invoices = invoices_of(&t, id).await;
                let in_2025: Vec<_> = invoices
                    .iter()
                    .filter(|i| i.0 == "instalment" && i.2.starts_with("2025-"))
                    .collect();
                if in_2025.is_empty() {
                    continue;
                }
                let invoiced: i64 = in_2025.iter().map(|i| i.3).sum();
                let paid: i64 = in_2025.iter().map(|i| i.4).sum();
                let doc = pdf(
                    &t,
                    &company,
                    &format!("/my/contracts/{id}/documents/tax-certificate/2025.pdf"),
                    "nl",
                )
                .await;
                assert_has(&doc.text, "Fiscaal attest 2025");
                assert_has(&doc.text, &number_of(&t, id).await);
                assert_has(&doc.text, &money(invoiced, Language::Nl));
                assert_has(&doc.text, &money(paid, Language::Nl));
                assert!(doc.filename.starts_with("fiscaal-attest-"));
                if kind == "operational_lease" {
                    assert_has(&doc.text, "Leasetermijnen");
                    assert!(!doc.text.contains("waarvan rente"));
                } else {
                    let (interest, principal, _) =
                        paid_in_year(&t, id, 2025, date(2025, 12, 31)).await;
                    assert_has(&doc.text, "waarvan rente");
                    assert_has(&doc.text, &money(interest, Language::Nl));
                    assert_has(&doc.text, &money(principal, Language::Nl));
                    let debt = remaining_on(
                        Money::from_cents(terms.financed_amount_cents),
                        start,
                        &schedule_of(&terms),
                        date(2025, 12, 31),
                    );
                    assert_has(&doc.text, &money(debt.cents(), Language::Nl));
                }
                checked.push(kind);
            }
        }
    }
    assert!(
        checked.contains(&"financial_lease") && checked.contains(&"operational_lease"),
        "{checked:?}"
    );
    let page = get_lang(&company.client, "/my/documents", "en").await;
    assert_eq!(page.status, 200);
    assert_has(&page.text, "Tax certificate for the year");

    // A person: no tax certificate, not offered.
    let person = demo_person(&t).await;
    let page = get_lang(&person.client, "/my/documents", "en").await;
    assert!(!page.text.contains("Tax certificate for the year"));
    let theirs = sqlx::query(
        "SELECT c.id FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
         WHERE p.customer_id = $1 AND c.status <> 'pending' ORDER BY c.id LIMIT 1",
    )
    .bind(person.customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .try_get::<i64, _>(0)
    .unwrap();
    let d = download(
        &t,
        &person.client,
        &format!("/my/contracts/{theirs}/documents/tax-certificate/2025.pdf"),
        "en",
    )
    .await;
    assert_eq!(d.status, 404);
    t.cleanup().await;
}

// SRV-05: the documents page — per activated contract the contract copy,
// the statement of account, the annual statement per year (a labelled
// year select with a button), the settlement quote for running financing;
// invoice copies through the invoice list; the documents issued before
// with their reference — in nl, fr and en.
#[tokio::test]
async fn srv05_documents_page() {
    let t = TestApp::spawn().await;
    let s = demo_person(&t).await;
    let id = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000007",
            kind: "consumer_credit",
            principal: 800_000,
            balloon: 0,
            rate_bp: 650,
            months: 36,
            start: date(2024, 2, 1),
            unpaid: &[],
        },
    )
    .await;
    let page = get_lang(&s.client, "/my/documents", "nl").await;
    assert_eq!(page.status, 200, "{}", page.text);
    for needle in [
        "Documenten aanvragen".to_string(),
        "NL99000007".to_string(),
        format!("href=\"/my/contracts/{id}/documents/contract-copy.pdf\""),
        format!("href=\"/my/contracts/{id}/statement.pdf\""),
        format!("href=\"/my/contracts/{id}/settlement-quote\""),
        format!("action=\"/my/contracts/{id}/documents/annual-statement\""),
        format!("<label for=\"annual-year-{id}\">Jaaropgave over het jaar</label>"),
        format!("<select id=\"annual-year-{id}\" name=\"year\">"),
        "<option value=\"2024\">2024</option>".to_string(),
        "<option value=\"2025\">2025</option>".to_string(),
        "<option value=\"2026\">2026 (tot nu toe)</option>".to_string(),
        "href=\"/my/invoices\"".to_string(),
        "U heeft nog geen documenten aangevraagd.".to_string(),
    ] {
        assert_has(&page.text, &needle);
    }
    assert!(!page.text.contains("<option value=\"2023\">"));
    // Every demo contract of the customer is offered.
    let all = accounts::portal_contracts(t.app.db(), s.customer_id, s.account_id)
        .await
        .unwrap();
    for c in &all {
        assert_has(&page.text, &c.contract_number);
    }

    // The year form leads to the PDF.
    let chosen = s
        .client
        .get(&format!(
            "/my/contracts/{id}/documents/annual-statement?year=2025"
        ))
        .await;
    assert_eq!(chosen.status, 303);
    assert_eq!(
        chosen.location(),
        Some(format!("/my/contracts/{id}/documents/annual-statement/2025.pdf").as_str())
    );
    let doc = pdf(
        &t,
        &s,
        &format!("/my/contracts/{id}/documents/annual-statement/2025.pdf"),
        "nl",
    )
    .await;
    let copy = pdf(
        &t,
        &s,
        &format!("/my/contracts/{id}/documents/contract-copy.pdf"),
        "nl",
    )
    .await;
    // Listed afterwards, with reference and time.
    for (lang, heading, kind) in [
        ("en", "Documents issued before", "Annual statement"),
        ("fr", "Documents établis précédemment", "Relevé annuel"),
        ("nl", "Eerder aangemaakte documenten", "Jaaropgave"),
    ] {
        let page = get_lang(&s.client, "/my/documents", lang).await;
        let text = plain(&page.text);
        assert_has(&text, heading);
        assert_has(&text, kind);
        assert_has(&text, &doc.reference);
        assert_has(&text, &copy.reference);
        assert_has(&text, &plain(&local_time(lang_of(lang), doc.generated_at)));
    }
    t.cleanup().await;
}

// SRV-05, ACC-03: another customer's contract is 404 on every document
// route, with nothing of that contract in the answer; so is one of the
// customer's own contracts that is not activated; nothing is recorded.
#[tokio::test]
async fn srv05_other_customers_and_inactive_contracts_are_404() {
    let t = TestApp::spawn().await;
    let s = demo_person(&t).await;
    let routes = |id: i64| -> Vec<String> {
        vec![
            format!("/my/contracts/{id}/documents/contract-copy.pdf"),
            format!("/my/contracts/{id}/documents/annual-statement/2025.pdf"),
            format!("/my/contracts/{id}/documents/annual-statement?year=2025"),
            format!("/my/contracts/{id}/documents/tax-certificate/2025.pdf"),
            format!("/my/contracts/{id}/documents/tax-certificate?year=2025"),
            format!("/my/contracts/{id}/documents/settlement-quote.pdf"),
            format!("/my/contracts/{id}/settlement-quote"),
        ]
    };
    // One contract of every type and status of other customers.
    let others: Vec<i64> = sqlx::query(
        "SELECT MIN(c.id), c.contract_type, c.status FROM contracts c WHERE NOT EXISTS \
         (SELECT 1 FROM contract_parties p WHERE p.contract_id = c.id AND p.customer_id = $1) \
         GROUP BY c.contract_type, c.status",
    )
    .bind(s.customer_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<i64, _>(0).unwrap())
    .collect();
    assert!(others.len() >= 9, "every type and status");
    let before: i64 = sqlx::query("SELECT COUNT(*) FROM issued_documents")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    for id in &others {
        let number = number_of(&t, *id).await;
        for path in routes(*id) {
            let d = download(&t, &s.client, &path, "nl").await;
            assert_eq!(d.status, 404, "{path}");
            let text = d.text();
            assert!(!text.contains(&number), "{path} shows the contract number");
            assert!(!d.body.starts_with(b"%PDF"), "{path}");
        }
    }
    // An own contract that is not activated.
    let own = insert_contract(
        &t,
        &s,
        &Spec {
            number: "NL99000008",
            kind: "consumer_credit",
            principal: 900_000,
            balloon: 0,
            rate_bp: 700,
            months: 36,
            start: date(2024, 3, 1),
            unpaid: &[],
        },
    )
    .await;
    assert_eq!(
        download(&t, &s.client, &routes(own)[0], "nl").await.status,
        200,
        "activated, it is served"
    );
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("DELETE FROM contract_activations WHERE contract_id = $1")
        .bind(own)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for path in routes(own) {
        let d = download(&t, &s.client, &path, "nl").await;
        assert_eq!(d.status, 404, "{path}");
        assert!(!d.body.starts_with(b"%PDF"), "{path}");
    }
    let page = get_lang(&s.client, "/my/documents", "en").await;
    assert!(!page
        .text
        .contains(&format!("/my/contracts/{own}/documents/contract-copy.pdf")));
    assert_has(&page.text, "Activate these contracts first");
    let after: i64 = sqlx::query("SELECT COUNT(*) FROM issued_documents")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(
        after,
        before + 1,
        "only the one served document is recorded"
    );
    // Not signed in: to the login page.
    let anonymous = t
        .client()
        .get(&format!("/my/contracts/{own}/documents/contract-copy.pdf"))
        .await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location(), Some("/login"));
    t.cleanup().await;
}
