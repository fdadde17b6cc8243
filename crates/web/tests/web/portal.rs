//! The customer portal over HTTP (CON-01 … CON-06, OPS-06, OPS-07): the
//! dashboard, contract and vehicle pages, invoices with filters, paging and
//! PDF, the statement of account as page, CSV and PDF, the repayment
//! schedule with its chart, in three languages — and the walk over every
//! customer-scoped route with another customer's ids.

use carfin_app::demo::DEMO_PASSWORD;
use carfin_domain::{Language, Money};
use carfin_testkit::{Client, Demo, TestApp, TestResponse};
use sqlx::Row;
use std::process::{Command, Stdio};

/// A signed-in demo customer.
struct Customer {
    client: Client,
    customer_id: i64,
    account_id: i64,
}

async fn demo_emails(t: &TestApp) -> Vec<String> {
    carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("demo customer: "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

async fn sign_in(t: &TestApp, email: &str, lang: &str) -> Customer {
    let client = t.client().with_header("accept-language", lang);
    client.get("/login").await;
    let r = client
        .post_form("/login", &[("email", email), ("password", DEMO_PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "login of {email}: {}", r.text);
    let bidx = t
        .app
        .blind_index()
        .index(carfin_store::repo::identity::ACCOUNT_EMAIL_INDEX, email);
    let account = carfin_store::repo::identity::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap();
    Customer {
        client,
        customer_id: account.customer_id,
        account_id: account.id,
    }
}

async fn contracts_of(t: &TestApp, customer_id: i64) -> Vec<(i64, String, String)> {
    sqlx::query(
        "SELECT c.id, c.contract_number, c.contract_type FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id WHERE p.customer_id = $1 \
         AND c.status <> 'pending' ORDER BY c.id",
    )
    .bind(customer_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

async fn scalar(t: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

fn language(code: &str) -> Language {
    Language::negotiate(code).unwrap()
}

fn pdftotext(pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let mut child = Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils) must be installed");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Text without whitespace differences (pdftotext lays out columns with
/// spaces; French money uses no-break spaces).
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect()
}

fn assert_ok_html(r: &TestResponse, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert!(r.is_html(), "{what}");
    // A message missing in a catalogue would show as "…" (see i18n::t).
    assert!(!r.text.contains(">…<"), "{what}: a message is missing");
}

// CON-01, CON-02, CON-03, CON-04: the dashboard shows per activated contract
// the vehicle and plate, the next instalment, the balance and the overdue
// amount, each equal to what the database holds.
#[tokio::test]
async fn dashboard_shows_each_contract_with_its_figures() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    for email in demo_emails(&t).await {
        let c = sign_in(&t, &email, "nl").await;
        let page = c.client.get("/my").await;
        assert_ok_html(&page, "/my");
        for (contract_id, number, _) in contracts_of(&t, c.customer_id).await {
            assert!(page.text.contains(&number), "{number} on the dashboard");
            let balance = scalar(
                &t,
                "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entries \
                 WHERE contract_id = $1",
                contract_id,
            )
            .await;
            assert!(
                page.text
                    .contains(&Money::from_cents(balance).format(Language::Nl)),
                "balance {balance} of {number}"
            );
            let overdue = scalar(
                &t,
                "SELECT CAST(COALESCE(SUM(amount_cents - paid_cents), 0) AS BIGINT) FROM invoices \
                 WHERE contract_id = $1 AND status IN ('overdue', 'in_collection')",
                contract_id,
            )
            .await;
            if overdue > 0 {
                assert!(page
                    .text
                    .contains(&Money::from_cents(overdue).format(Language::Nl)));
                assert!(page.text.contains(&format!(
                    "/my/invoices?status=unpaid&amp;contract={contract_id}"
                )));
            }
            let plates =
                carfin_store::repo::finance::plates_of(t.app.db(), t.app.keys(), c.customer_id)
                    .await
                    .unwrap();
            let any_plate = plates.iter().any(|(_, p)| match p {
                carfin_store::repo::customers::Personal::Known(p) => page
                    .text
                    .contains(&carfin_app::identity::activation::display_plate(p)),
                _ => false,
            });
            assert!(any_plate, "a licence plate on the dashboard");
            let next: Option<(String, i64)> = sqlx::query(
                "SELECT due_date, amount_cents FROM invoices WHERE contract_id = $1 \
                 AND status = 'open' ORDER BY due_date LIMIT 1",
            )
            .bind(contract_id)
            .fetch_optional(t.app.db().reader())
            .await
            .unwrap()
            .map(|r| (r.get(0), r.get(1)));
            if let Some((due, cents)) = next {
                let date = chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap();
                let text = format!(
                    "{} op {}",
                    Money::from_cents(cents).format(Language::Nl),
                    carfin_app::messages::local_date(Language::Nl, date)
                );
                assert!(page.text.contains(&text), "next instalment {text}");
            }
        }
    }
    t.cleanup().await;
}

// CON-01, CON-06: the contract page shows every agreed term and the
// versions with what changed (the demo amends one lease per account).
#[tokio::test]
async fn contract_page_shows_terms_and_versions_with_changes() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let amended: Vec<(i64, i64)> = sqlx::query(
        "SELECT v.contract_id, p.customer_id FROM contract_versions v \
         JOIN contract_parties p ON p.contract_id = v.contract_id WHERE v.version = 2",
    )
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert!(!amended.is_empty(), "the demo amends a contract");
    let (contract_id, customer_id) = amended[0];
    let mut email = None;
    for e in demo_emails(&t).await {
        let c = sign_in(&t, &e, "en").await;
        if c.customer_id == customer_id {
            email = Some(c);
            break;
        }
    }
    let c = email.expect("the amended contract belongs to a demo account");
    let page = c.client.get(&format!("/my/contracts/{contract_id}")).await;
    assert_ok_html(&page, "contract page");
    for label in [
        "Financed amount",
        "Nominal interest rate",
        "Annual percentage rate (APR)",
        "Monthly instalment",
        "Kilometres per year",
        "Price per extra kilometre",
        "Version 2, valid from",
        "Version 1, valid from",
        "Change of yearly kilometres",
        "Contract concluded",
    ] {
        assert!(page.text.contains(label), "{label}");
    }
    let (before, after): (i64, i64) = {
        let rows = sqlx::query(
            "SELECT km_per_year FROM contract_versions WHERE contract_id = $1 ORDER BY version",
        )
        .bind(contract_id)
        .fetch_all(t.app.db().reader())
        .await
        .unwrap();
        (rows[0].get(0), rows[1].get(0))
    };
    let km = |v: i64| {
        let s = v.to_string();
        format!("{},{} km", &s[..s.len() - 3], &s[s.len() - 3..])
    };
    assert!(
        page.text.contains(&km(before)),
        "old allowance {}",
        km(before)
    );
    assert!(
        page.text.contains(&km(after)),
        "new allowance {}",
        km(after)
    );
    t.cleanup().await;
}

// CON-02: the vehicle page shows make, model, plate, VIN, first
// registration and every odometer reading.
#[tokio::test]
async fn vehicle_page_shows_identifiers_and_odometer_history() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_emails(&t).await.remove(0);
    let c = sign_in(&t, &email, "nl").await;
    let (contract_id, _, _) = contracts_of(&t, c.customer_id).await.remove(0);
    let page = c
        .client
        .get(&format!("/my/contracts/{contract_id}/vehicle"))
        .await;
    assert_ok_html(&page, "vehicle page");
    let vehicle_id = scalar(
        &t,
        "SELECT vehicle_id FROM contracts WHERE id = $1",
        contract_id,
    )
    .await;
    let readings: Vec<i64> =
        sqlx::query("SELECT kilometres FROM odometer_readings WHERE vehicle_id = $1")
            .bind(vehicle_id)
            .fetch_all(t.app.db().reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert!(readings.len() >= 2);
    for km in readings {
        let s = km.to_string();
        let shown = if s.len() > 3 {
            format!("{}.{} km", &s[..s.len() - 3], &s[s.len() - 3..])
        } else {
            format!("{s} km")
        };
        assert!(page.text.contains(&shown), "reading {shown}");
    }
    assert!(page.text.contains("Chassisnummer (VIN)"));
    let vin = {
        let row = sqlx::query("SELECT vin FROM vehicles WHERE id = $1")
            .bind(vehicle_id)
            .fetch_one(t.app.db().reader())
            .await
            .unwrap();
        let sealed: Vec<u8> = row.get(0);
        let carfin_store::keystore::KeyState::Live(key) =
            t.app.keys().get(c.customer_id).await.unwrap()
        else {
            panic!("key")
        };
        key.open(
            carfin_store::crypto::FieldRef {
                table: "vehicles",
                column: "vin",
                row: vehicle_id,
            },
            &sealed,
        )
        .unwrap()
    };
    assert!(page.text.contains(&vin), "VIN on the page");
    t.cleanup().await;
}

/// The customer's invoices as the database holds them, newest due first.
async fn invoice_rows(t: &TestApp, c: &Customer, statuses: &[&str]) -> Vec<(i64, String)> {
    let rows = sqlx::query(
        "SELECT i.id, i.invoice_number, i.status FROM invoices i \
         JOIN contract_parties p ON p.contract_id = i.contract_id \
         JOIN contract_activations a ON a.contract_id = i.contract_id AND a.account_id = $2 \
         WHERE p.customer_id = $1 ORDER BY i.due_date DESC, i.id DESC",
    )
    .bind(c.customer_id)
    .bind(c.account_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap();
    rows.iter()
        .filter(|r| statuses.is_empty() || statuses.contains(&r.get::<String, _>(2).as_str()))
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

// CON-03: the invoice list pages through every invoice (20 per page, newest
// first) and its status filter shows exactly the matching ones.
#[tokio::test]
async fn invoice_list_filters_and_pages() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_emails(&t).await.remove(0);
    let c = sign_in(&t, &email, "en").await;
    let all = invoice_rows(&t, &c, &[]).await;
    assert!(all.len() > 20, "the demo customer has more than a page");
    let pages = all.len().div_ceil(20);
    let mut seen = Vec::new();
    for page in 1..=pages {
        let r = c
            .client
            .get(&format!("/my/invoices?status=all&page={page}"))
            .await;
        assert_ok_html(&r, "invoice list");
        assert!(r
            .text
            .contains(&format!("{} invoices · page {page} of {pages}", all.len())));
        for (id, number) in &all {
            if r.text.contains(&format!("/my/invoices/{id}\"")) {
                assert!(r.text.contains(number.as_str()));
                seen.push(*id);
            }
        }
    }
    assert_eq!(
        seen,
        all.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "every invoice once, newest first"
    );

    // A page past the end shows the last page.
    let r = c.client.get("/my/invoices?status=all&page=999").await;
    assert!(r
        .text
        .contains(&format!("{} invoices · page {pages} of {pages}", all.len())));
    assert!(r
        .text
        .contains(&format!("/my/invoices/{}\"", all.last().unwrap().0)));

    let paid = invoice_rows(&t, &c, &["paid"]).await;
    let r = c.client.get("/my/invoices?status=paid").await;
    assert!(r.text.contains(&format!("{} invoices", paid.len())));
    let unpaid = invoice_rows(&t, &c, &["open", "overdue", "in_collection"]).await;
    let r = c.client.get("/my/invoices?status=unpaid").await;
    assert!(r.text.contains(&format!("{} invoices", unpaid.len())));
    for (id, _) in &unpaid {
        assert!(r.text.contains(&format!("/my/invoices/{id}\"")));
    }
    for (id, _) in paid.iter().take(5) {
        assert!(
            !r.text.contains(&format!("/my/invoices/{id}\"")),
            "a paid invoice under 'to pay'"
        );
    }
    t.cleanup().await;
}

// CON-03: an invoice page and its PDF carry the brand, the entity, the
// payment reference in the country's format and the payment instructions;
// the PDF's text extracts, in each language.
#[tokio::test]
async fn invoice_page_and_pdf_carry_reference_and_instructions() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_emails(&t).await.remove(0);
    for lang in ["nl", "fr", "en"] {
        let c = sign_in(&t, &email, lang).await;
        let open = invoice_rows(&t, &c, &["open"]).await;
        let (id, number) = open.first().cloned().expect("an open invoice");
        let row = sqlx::query(
            "SELECT i.payment_reference, i.amount_cents, e.bank_iban, e.name, b.name, e.country \
             FROM invoices i JOIN contracts c ON c.id = i.contract_id \
             JOIN legal_entities e ON e.id = i.entity_id JOIN brands b ON b.id = c.brand_id \
             WHERE i.id = $1",
        )
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
        let reference: String = row.get(0);
        let amount: i64 = row.get(1);
        let iban: String = row.get(2);
        let entity: String = row.get(3);
        let brand: String = row.get(4);
        let country: String = row.get(5);
        if country == "BE" {
            assert!(
                reference.starts_with("+++") && reference.ends_with("+++"),
                "{reference}"
            );
        } else {
            assert_eq!(reference.len(), 16, "{reference}");
        }
        let page = c.client.get(&format!("/my/invoices/{id}")).await;
        assert_ok_html(&page, "invoice page");
        assert!(page.text.contains(&number));
        assert!(page.text.contains(&reference), "payment reference");
        assert!(page.text.contains(&brand) && page.text.contains(&entity));
        let amount_text = Money::from_cents(amount).format(language(lang));
        assert!(page.text.contains(&amount_text), "{amount_text}");
        let grouped: String = iban
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(page.text.contains(&grouped), "IBAN {grouped}");

        let pdf = c
            .client
            .get(&format!("/my/invoices/{id}/invoice.pdf"))
            .await;
        assert_eq!(pdf.status, 200);
        assert_eq!(pdf.header("content-type"), Some("application/pdf"));
        assert_eq!(pdf.header("cache-control"), Some("no-store"));
        let text = squash(&pdftotext(&pdf.bytes));
        for needle in [&number, &reference, &brand, &entity, &grouped, &amount_text] {
            assert!(
                text.contains(&squash(needle)),
                "{lang}: {needle} in the PDF:\n{text}"
            );
        }
        let heading = match lang {
            "nl" => "Zobetaaltu",
            "fr" => "Commentpayer",
            _ => "Howtopay",
        };
        assert!(text.contains(heading), "{lang}: payment instructions");
        let recorded = scalar(
            &t,
            "SELECT COUNT(*) FROM issued_documents WHERE invoice_id = $1 AND kind = 'invoice'",
            id,
        )
        .await;
        assert!(recorded >= 1, "the issue is recorded");
    }
    t.cleanup().await;
}

// CON-04: the statement of account lists every ledger entry with the
// running balance, as page, CSV (balance column adds up) and PDF.
#[tokio::test]
async fn statement_as_page_csv_and_pdf() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_emails(&t).await.remove(0);
    let c = sign_in(&t, &email, "fr").await;
    let (contract_id, number, _) = contracts_of(&t, c.customer_id).await.remove(0);
    let amounts: Vec<i64> = sqlx::query(
        "SELECT amount_cents FROM ledger_entries WHERE contract_id = $1 ORDER BY entry_date, id",
    )
    .bind(contract_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    let balance: i64 = amounts.iter().sum();
    let page = c
        .client
        .get(&format!("/my/contracts/{contract_id}/statement"))
        .await;
    assert_ok_html(&page, "statement");
    assert!(page.text.contains("Extrait de compte"));
    assert!(page
        .text
        .contains(&Money::from_cents(balance).format(Language::Fr)));

    let csv = c
        .client
        .get(&format!("/my/contracts/{contract_id}/statement.csv"))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let body = csv.text.trim_start_matches('\u{feff}');
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("Date;Libellé;Débit;Crédit;Solde"));
    let mut running = 0i64;
    let mut count = 0;
    for (line, amount) in lines.zip(&amounts) {
        let cells: Vec<&str> = line.split(';').collect();
        assert_eq!(cells.len(), 5, "{line}");
        let cents = |s: &str| -> i64 {
            if s.is_empty() {
                0
            } else {
                s.trim_matches('"')
                    .replace(',', "")
                    .parse::<i64>()
                    .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            }
        };
        assert_eq!(cents(cells[2]) - cents(cells[3]), *amount, "{line}");
        running += amount;
        assert_eq!(cents(cells[4]), running, "running balance in {line}");
        count += 1;
    }
    assert_eq!(count, amounts.len());

    let pdf = c
        .client
        .get(&format!("/my/contracts/{contract_id}/statement.pdf"))
        .await;
    assert_eq!(pdf.status, 200);
    let text = squash(&pdftotext(&pdf.bytes));
    assert!(text.contains(&squash(&format!("Extrait de compte {number}"))));
    assert!(text.contains(&squash(&Money::from_cents(balance).format(Language::Fr))));
    t.cleanup().await;
}

// CON-05: a financing contract's repayment schedule: one row per month, the
// debt ending at zero, a chart as SVG with a title and description; an
// operational lease has none (404).
#[tokio::test]
async fn repayment_schedule_with_chart_for_financing_only() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let mut checked_financing = false;
    let mut checked_operational = false;
    for email in demo_emails(&t).await {
        let c = sign_in(&t, &email, "nl").await;
        for (contract_id, _, kind) in contracts_of(&t, c.customer_id).await {
            let r = c
                .client
                .get(&format!("/my/contracts/{contract_id}/schedule"))
                .await;
            if kind == "operational_lease" {
                assert_eq!(r.status, 404);
                checked_operational = true;
                continue;
            }
            assert_ok_html(&r, "schedule");
            let months = scalar(
                &t,
                "SELECT v.term_months FROM contracts c JOIN contract_versions v \
                 ON v.contract_id = c.id AND v.version = c.current_version WHERE c.id = $1",
                contract_id,
            )
            .await;
            let rows = r.text.matches("<tr><td class=\"num\">").count() as i64;
            assert_eq!(rows, months, "one row per month");
            assert!(r.text.contains("<svg class=\"chart\""));
            assert!(r
                .text
                .contains("<title id=\"chart-title\">Resterende schuld in de tijd</title>"));
            assert!(r.text.contains("<desc id=\"chart-desc\">Gefinancierd"));
            assert!(r.text.contains("<polyline"));
            let zero = Money::zero().format(Language::Nl);
            assert!(
                r.text
                    .contains(&format!("<td class=\"num\">{zero}</td><td>")),
                "ends at zero"
            );
            checked_financing = true;
        }
    }
    assert!(checked_financing || checked_operational);
    t.cleanup().await;
}

// OPS-06, OPS-07: every portal page renders in Dutch, French and English
// with the language attribute set, headings and labelled tables.
#[tokio::test]
async fn portal_pages_render_in_three_languages() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_emails(&t).await.remove(0);
    for (lang, heading) in [("nl", "Facturen"), ("fr", "Factures"), ("en", "Invoices")] {
        let c = sign_in(&t, &email, lang).await;
        let (contract_id, _, kind) = contracts_of(&t, c.customer_id).await.remove(0);
        let invoice = invoice_rows(&t, &c, &[]).await.remove(0).0;
        let mut paths = vec![
            "/my".to_string(),
            format!("/my/contracts/{contract_id}"),
            format!("/my/contracts/{contract_id}/vehicle"),
            format!("/my/contracts/{contract_id}/statement"),
            "/my/invoices".to_string(),
            format!("/my/invoices/{invoice}"),
        ];
        if kind != "operational_lease" {
            paths.push(format!("/my/contracts/{contract_id}/schedule"));
        }
        for path in paths {
            let r = c.client.get(&path).await;
            assert_ok_html(&r, &path);
            assert!(
                r.text.contains(&format!("<html lang=\"{lang}\">")),
                "{path}"
            );
            assert!(r.text.contains("<h1>"), "{path}: a heading");
            assert!(r.text.contains(heading), "{path}: menu in {lang}");
        }
    }
    t.cleanup().await;
}

/// Every customer-scoped GET route for a contract and an invoice.
fn routes_for(contract: i64, invoice: i64) -> Vec<String> {
    vec![
        format!("/my/contracts/{contract}"),
        format!("/my/contracts/{contract}/vehicle"),
        format!("/my/contracts/{contract}/statement"),
        format!("/my/contracts/{contract}/statement.csv"),
        format!("/my/contracts/{contract}/statement.pdf"),
        format!("/my/contracts/{contract}/schedule"),
        format!("/my/contracts/{contract}/activate"),
        format!("/my/invoices?contract={contract}"),
        format!("/my/invoices/{invoice}"),
        format!("/my/invoices/{invoice}/invoice.pdf"),
        format!("/my/contracts/{contract}/documents/contract-copy.pdf"),
        format!("/my/contracts/{contract}/documents/annual-statement"),
        format!("/my/contracts/{contract}/documents/annual-statement/2025.pdf"),
        format!("/my/contracts/{contract}/documents/tax-certificate"),
        format!("/my/contracts/{contract}/documents/tax-certificate/2025.pdf"),
        format!("/my/contracts/{contract}/documents/settlement-quote.pdf"),
        format!("/my/contracts/{contract}/settlement-quote"),
    ]
}

// Authorisation (ACC-03, CON-01 … CON-06, SRV-05): signed in as one demo
// customer, every customer-scoped route with another customer's contract,
// invoice and session ids answers 404 and shows none of that customer's
// data; a contract of one's own that is not activated reveals nothing
// beyond the masked list either.
#[tokio::test]
async fn cross_customer_walk_finds_no_leak() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let emails = demo_emails(&t).await;
    assert!(emails.len() >= 2);
    let me = sign_in(&t, &emails[0], "nl").await;
    let other = sign_in(&t, &emails[1], "nl").await;
    // Secrets of the other customer that must never appear.
    let mut secrets: Vec<String> = Vec::new();
    let mut targets: Vec<(i64, i64)> = Vec::new();
    for (contract_id, number, _) in contracts_of(&t, other.customer_id).await {
        secrets.push(number);
        let rows = sqlx::query(
            "SELECT id, invoice_number, payment_reference FROM invoices WHERE contract_id = $1",
        )
        .bind(contract_id)
        .fetch_all(t.app.db().reader())
        .await
        .unwrap();
        for r in &rows {
            secrets.push(r.get(1));
            secrets.push(r.get(2));
        }
        targets.push((contract_id, rows[0].get(0)));
    }
    // A contract and invoice of a customer without an account at all.
    let stranger: (i64, i64) = {
        let r = sqlx::query(
            "SELECT c.id, i.id FROM contracts c JOIN invoices i ON i.contract_id = c.id \
             JOIN contract_parties p ON p.contract_id = c.id \
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = p.customer_id) \
             ORDER BY c.id LIMIT 1",
        )
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
        (r.get(0), r.get(1))
    };
    targets.push(stranger);
    let mut walked = 0;
    for (contract, invoice) in &targets {
        for path in routes_for(*contract, *invoice) {
            let r = me.client.get(&path).await;
            assert_eq!(r.status, 404, "{path} answered {}", r.status);
            for secret in &secrets {
                assert!(!r.text.contains(secret.as_str()), "{path} shows {secret}");
            }
            walked += 1;
        }
    }
    assert!(walked >= 30);
    // Ending another customer's session: 404 and the session lives on.
    let other_session = scalar(
        &t,
        "SELECT MAX(id) FROM sessions WHERE account_id = $1",
        other.account_id,
    )
    .await;
    me.client.get("/my/security").await;
    let r = me
        .client
        .post_form(&format!("/my/security/sessions/{other_session}/end"), &[])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        other.client.get("/my").await.status,
        200,
        "the other session still works"
    );
    // The other customer's data export and privacy page only ever show
    // one's own data: there is no id to pass.

    // A contract of one's own that is not activated: 404 on every route
    // except the contract page itself, which leads to activation.
    let own = contracts_of(&t, me.customer_id).await.remove(0).0;
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("DELETE FROM contract_activations WHERE account_id = $1 AND contract_id = $2")
        .bind(me.account_id)
        .bind(own)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let own_invoice = scalar(
        &t,
        "SELECT MIN(id) FROM invoices WHERE contract_id = $1",
        own,
    )
    .await;
    for path in routes_for(own, own_invoice) {
        let r = me.client.get(&path).await;
        if path == format!("/my/contracts/{own}") {
            assert_eq!(r.status, 303, "{path}");
            assert_eq!(
                r.location(),
                Some(format!("/my/contracts/{own}/activate").as_str())
            );
        } else if path == format!("/my/contracts/{own}/activate") {
            assert_eq!(r.status, 200, "{path}");
        } else {
            assert_eq!(r.status, 404, "{path}");
        }
    }
    let dashboard = me.client.get("/my").await;
    assert!(dashboard
        .text
        .contains(&format!("/my/contracts/{own}/activate")));
    t.cleanup().await;
}
