//! Paying invoices online over HTTP (PAY-01 … PAY-05, COL-05): checkout
//! through the built-in Adyen simulator, signed notifications at the
//! webhook, booking after working days, partial payments, refunds and
//! chargebacks, the provider failing, a crash between storing and
//! processing a notification, and notifications signed by Adyen's own
//! Node library.

use carfin_app::demo::DEMO_PASSWORD;
use carfin_app::payments::adyen::{
    self, Amount, NotificationItem, NotificationItemWrapper, NotificationRequest,
};
use carfin_app::payments::{booking, notifications};
use carfin_app::Clock;
use carfin_testkit::{Client, TestApp, TestResponse};
use chrono::Duration;
use sqlx::Row;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const HMAC_KEY: &str = "5A1C9E7B3D2F4A6C8E0B1D3F5A7C9E1B3D5F7A9C1E3B5D7F9A1C3E5B7D9F1A3C";
const API_KEY: &str = "test-api-key";
const MERCHANT: &str = "CarfinTest";

fn key() -> Vec<u8> {
    hex::decode(HMAC_KEY).unwrap()
}

/// The demo data with payments through the simulator.
async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(configure: impl FnOnce(&mut carfin_app::Config) + Send + 'static) -> TestApp {
    TestApp::spawn_with(|c| {
        c.payments.provider = "simulator".into();
        c.payments.api_key = carfin_app::config::Secret::new(API_KEY);
        c.payments.merchant_account = MERCHANT.into();
        c.payments.hmac_key = carfin_app::config::Secret::new(HMAC_KEY);
        configure(c);
    })
    .await
}

struct Customer {
    client: Client,
    customer_id: i64,
}

/// Signs in the `n`-th demo customer, in English. Moving the clock ends
/// sessions (idle timeout): sign in again after.
async fn sign_in(t: &TestApp, n: usize) -> Customer {
    let email: String = carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("demo customer: "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .nth(n)
        .unwrap();
    let client = t.client().with_header("accept-language", "en");
    client.get("/login").await;
    let r = client
        .post_form("/login", &[("email", &email), ("password", DEMO_PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "login: {}", r.text);
    client.get("/my").await;
    let r = client
        .post_form("/language", &[("lang", "en"), ("next", "/my")])
        .await;
    assert_eq!(r.status, 303);
    let bidx = t
        .app
        .blind_index()
        .index(carfin_store::repo::identity::ACCOUNT_EMAIL_INDEX, &email);
    let account = carfin_store::repo::identity::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap();
    Customer {
        client,
        customer_id: account.customer_id,
    }
}

/// An invoice of the customer, as the tests need it.
#[derive(Debug, Clone)]
struct Invoice {
    id: i64,
    contract_id: i64,
    number: String,
    due: String,
    amount: i64,
}

/// The customer's open invoices, oldest due date first.
async fn open_invoices(t: &TestApp, customer_id: i64) -> Vec<Invoice> {
    sqlx::query(
        "SELECT i.id, i.contract_id, i.invoice_number, i.due_date, i.amount_cents - i.paid_cents \
         FROM invoices i JOIN contract_parties p ON p.contract_id = i.contract_id \
         WHERE p.customer_id = $1 AND p.role = 'holder' AND i.status = 'open' \
         ORDER BY i.due_date, i.id",
    )
    .bind(customer_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| Invoice {
        id: r.get(0),
        contract_id: r.get(1),
        number: r.get(2),
        due: r.get(3),
        amount: r.get(4),
    })
    .collect()
}

/// Makes the customer's oldest open invoice overdue the way production
/// does: the clock passes its due date and the job marks it.
async fn an_overdue_invoice(t: &TestApp, customer_id: i64) -> Invoice {
    let invoice = open_invoices(t, customer_id).await.remove(0);
    let due = chrono::NaiveDate::parse_from_str(&invoice.due, "%Y-%m-%d").unwrap();
    let days = (due - t.clock.today()).num_days() + 1;
    if days > 0 {
        t.clock.advance(Duration::days(days));
    }
    carfin_app::invoices::mark_overdue(&t.app).await.unwrap();
    assert_eq!(invoice_status(t, invoice.id).await.0, "overdue");
    invoice
}

async fn invoice_status(t: &TestApp, id: i64) -> (String, i64) {
    let r = sqlx::query("SELECT status, paid_cents FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

async fn payment_status(t: &TestApp, id: i64) -> String {
    sqlx::query("SELECT status FROM payments WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

/// Waits (real time) until the payment reaches `status`: the simulator
/// delivers its notification asynchronously, as Adyen does.
async fn wait_for(t: &TestApp, payment_id: i64, status: &str) {
    for _ in 0..200 {
        if payment_status(t, payment_id).await == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "payment {payment_id} is {} and not {status}",
        payment_status(t, payment_id).await
    );
}

async fn scalar(t: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

async fn balance(t: &TestApp, contract_id: i64) -> i64 {
    scalar(
        t,
        "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entries WHERE contract_id = $1",
        contract_id,
    )
    .await
}

fn payment_id_of(location: &str) -> i64 {
    location
        .split("/my/payments/")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no payment id in {location}"))
}

/// Pays `invoices` through the simulator's hosted page with `action`
/// (pay, refuse, cancel); returns the payment id and the return page.
async fn checkout(
    t: &TestApp,
    c: &Customer,
    invoices: &[i64],
    action: &str,
) -> (i64, TestResponse) {
    c.client.get("/my/invoices?status=unpaid").await;
    let ids: Vec<String> = invoices.iter().map(|i| i.to_string()).collect();
    let fields: Vec<(&str, &str)> = ids.iter().map(|i| ("invoice", i.as_str())).collect();
    let started = c.client.post_form("/my/payments", &fields).await;
    assert_eq!(started.status, 303, "{}", started.text);
    let hosted = started.location().unwrap().to_string();
    assert!(
        hosted.starts_with(&t.url("/simulator/adyen/pay/")),
        "to the hosted page: {hosted}"
    );
    let page = c.client.follow(&started).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let path = hosted.strip_prefix(&t.url("")).unwrap().to_string();
    let back = c
        .client
        .post_form(&path, &[("action", action), ("method", "ideal")])
        .await;
    assert_eq!(back.status, 303, "{}", back.text);
    let location = back.location().unwrap().to_string();
    assert!(location.contains("sessionId="), "{location}");
    let payment_id = payment_id_of(&location);
    let returned = c.client.follow(&back).await;
    (payment_id, returned)
}

fn notification(item: NotificationItem) -> String {
    serde_json::to_string(&NotificationRequest {
        live: "false".into(),
        items: vec![NotificationItemWrapper { item }],
    })
    .unwrap()
}

fn item(psp: &str, reference: &str, event: &str, success: bool, cents: i64) -> NotificationItem {
    NotificationItem {
        psp_reference: psp.into(),
        merchant_account_code: MERCHANT.into(),
        merchant_reference: reference.into(),
        amount: Some(Amount {
            currency: "EUR".into(),
            value: Some(cents),
        }),
        event_code: event.into(),
        success: if success { "true" } else { "false" }.into(),
        payment_method: "ideal".into(),
        ..Default::default()
    }
}

fn signed(mut i: NotificationItem) -> NotificationItem {
    i.sign(&key());
    i
}

async fn post_webhook(t: &TestApp, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(t.url("/webhooks/adyen"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// An overdue fee invoice a month older than `next` on its contract, with
/// its ledger entry.
async fn fee_invoice(t: &TestApp, next: &Invoice) -> Invoice {
    let due =
        chrono::NaiveDate::parse_from_str(&next.due, "%Y-%m-%d").unwrap() - Duration::days(30);
    let id = t.app.ids().next();
    let number = format!("FEE-{id}");
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query(
        "INSERT INTO invoices (id, entity_id, contract_id, invoice_number, kind, period, issue_date,          due_date, amount_cents, paid_cents, status, payment_reference, created_at, updated_at)          SELECT $1, entity_id, contract_id, $2, 'fee', NULL, $3, $3, 12500, 0, 'overdue',          payment_reference, created_at, updated_at FROM invoices WHERE id = $4",
    )
    .bind(id)
    .bind(&number)
    .bind(due.to_string())
    .bind(next.id)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ledger_entries (id, contract_id, invoice_id, entry_date, kind, amount_cents, created_at)          VALUES ($1, $2, $3, $4, 'invoice', 12500, 0)",
    )
    .bind(t.app.ids().next())
    .bind(next.contract_id)
    .bind(id)
    .bind(due.to_string())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    Invoice {
        id,
        contract_id: next.contract_id,
        number,
        due: due.to_string(),
        amount: 12_500,
    }
}

/// Waits until every stored notification is processed (the webhook
/// processes them right after answering).
async fn wait_processed(t: &TestApp) {
    for _ in 0..200 {
        notifications::process_pending(&t.app, 100).await.unwrap();
        let left: i64 =
            sqlx::query("SELECT COUNT(*) FROM payment_notifications WHERE processed_at IS NULL")
                .fetch_one(t.app.db().reader())
                .await
                .unwrap()
                .get(0);
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("notifications left unprocessed");
}

/// Moves the clock past the booking day and runs the booking job.
async fn book(t: &TestApp) {
    t.clock.advance(Duration::days(7));
    booking::book_due(&t.app).await.unwrap();
}

// PAY-01, PAY-03, PAY-05: overdue invoice → pay on the simulator's hosted
// page → signed notification → "payment received, being processed" → the
// clock passes the settlement days → invoice paid, balance down by the
// amount, the statement shows the payment.
#[tokio::test]
async fn pay01_pay03_overdue_invoice_paid_end_to_end_through_the_simulator() {
    let t = spawn().await;
    let customer_id = sign_in(&t, 0).await.customer_id;
    let invoice = an_overdue_invoice(&t, customer_id).await;
    let c = sign_in(&t, 0).await;
    let before = balance(&t, invoice.contract_id).await;

    let list = c.client.get("/my/invoices?status=overdue").await;
    assert!(
        list.text
            .contains(&format!("name=\"invoice\" value=\"{}\"", invoice.id)),
        "a checkbox for the overdue invoice"
    );
    let (payment_id, returned) = checkout(&t, &c, &[invoice.id], "pay").await;
    assert_eq!(returned.status, 200);
    // Never the redirect's word alone: the page says what carfin knows.
    assert!(
        returned.text.contains("payment received, being processed"),
        "{}",
        returned.text
    );
    wait_for(&t, payment_id, "authorised").await;
    let page = c.client.get(&format!("/my/invoices/{}", invoice.id)).await;
    assert!(
        page.text.contains("Payment received, being processed"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("name=\"invoice\""),
        "no second pay button"
    );
    assert_eq!(invoice_status(&t, invoice.id).await, ("overdue".into(), 0));
    let payment = c.client.get(&format!("/my/payments/{payment_id}")).await;
    assert!(payment.text.contains("Payment received, being processed"));
    assert!(payment
        .text
        .contains("It will be booked on your contract on"));

    // Nothing is booked before the settlement days have passed.
    booking::book_due(&t.app).await.unwrap();
    assert_eq!(payment_status(&t, payment_id).await, "authorised");
    book(&t).await;
    let c = sign_in(&t, 0).await;
    assert_eq!(payment_status(&t, payment_id).await, "booked");
    assert_eq!(
        invoice_status(&t, invoice.id).await,
        ("paid".into(), invoice.amount)
    );
    assert_eq!(
        balance(&t, invoice.contract_id).await,
        before - invoice.amount
    );
    let statement = c
        .client
        .get(&format!(
            "/my/contracts/{}/statement.csv",
            invoice.contract_id
        ))
        .await;
    let today = t.clock.today().to_string();
    let amount = format!(",{}.{:02},", invoice.amount / 100, invoice.amount % 100);
    assert!(
        statement.text.lines().any(|l| l.starts_with(&today)
            && l.contains(&format!("Payment {}", invoice.number))
            && l.contains(&amount)),
        "statement line {today} Payment {amount}: {}",
        statement.text
    );
    let page = c.client.get(&format!("/my/invoices/{}", invoice.id)).await;
    assert!(page.text.contains(">Paid<") || page.text.contains("Paid"));
    let payments = c.client.get("/my/payments").await;
    assert!(payments.text.contains("Booked"), "{}", payments.text);
}

// PAY-02: a replayed notification changes nothing; a tampered one or one
// without a signature gets 401 and is not stored; an unknown merchant
// reference is stored, acknowledged and flagged for staff; HTTP Basic
// when configured.
#[tokio::test]
async fn pay02_replays_tampering_unknown_references_and_basic_auth() {
    let t = spawn_with(|c| {
        c.payments.webhook_username = "adyen".into();
        c.payments.webhook_password = carfin_app::config::Secret::new("hook-secret");
    })
    .await;
    let c = sign_in(&t, 0).await;
    let invoice = open_invoices(&t, c.customer_id).await.remove(0);
    c.client.get("/my/invoices").await;
    let started = c
        .client
        .post_form("/my/payments", &[("invoice", &invoice.id.to_string())])
        .await;
    let payment_id = payment_id_from_session(&t, started.location().unwrap()).await;

    let body = notification(signed(item(
        "PSP0000000000001",
        &payment_id.to_string(),
        "AUTHORISATION",
        true,
        invoice.amount,
    )));
    let post = |body: String, auth: Option<&'static str>| {
        let url = t.url("/webhooks/adyen");
        async move {
            let mut r = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // "adyen:hook-secret"
    let good = Some("Basic YWR5ZW46aG9vay1zZWNyZXQ=");
    assert_eq!(post(body.clone(), None).await.0, 401, "Basic auth required");
    assert_eq!(
        post(body.clone(), Some("Basic YWR5ZW46d3Jvbmc=")).await.0,
        401
    );
    assert_eq!(
        post(body.clone(), good).await,
        (200, "[accepted]".to_string())
    );
    wait_for(&t, payment_id, "authorised").await;
    let updated: i64 = scalar(
        &t,
        "SELECT updated_at FROM payments WHERE id = $1",
        payment_id,
    )
    .await;
    let count = |t: &TestApp| {
        let db = t.app.db().reader().clone();
        async move {
            sqlx::query("SELECT COUNT(*) FROM payment_notifications")
                .fetch_one(&db)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    let stored = count(&t).await;
    // The same notification again (Adyen retries): accepted, nothing changes.
    t.clock.advance(Duration::minutes(5));
    assert_eq!(post(body.clone(), good).await, (200, "[accepted]".into()));
    notifications::process_pending(&t.app, 100).await.unwrap();
    assert_eq!(count(&t).await, stored);
    assert_eq!(
        scalar(
            &t,
            "SELECT updated_at FROM payments WHERE id = $1",
            payment_id
        )
        .await,
        updated
    );

    // Tampered: the amount changed after signing.
    let mut tampered = signed(item(
        "PSP0000000000002",
        &payment_id.to_string(),
        "REFUND",
        true,
        invoice.amount,
    ));
    tampered.amount = Some(Amount {
        currency: "EUR".into(),
        value: Some(1),
    });
    let logs = carfin_testkit::LogCapture::start();
    assert_eq!(post(notification(tampered), good).await.0, 401);
    let unsigned = item("PSP0000000000003", "1", "AUTHORISATION", true, 100);
    assert_eq!(post(notification(unsigned), good).await.0, 401);
    let empty = NotificationItem {
        additional_data: Some(serde_json::from_str(r#"{"hmacSignature":""}"#).unwrap()),
        ..item("PSP0000000000004", "1", "AUTHORISATION", true, 100)
    };
    assert_eq!(post(notification(empty), good).await.0, 401);
    assert_eq!(count(&t).await, stored, "nothing refused is stored");
    assert_eq!(payment_status(&t, payment_id).await, "authorised");
    let lines = logs.lines();
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("payment_webhook_refused"))
            .count()
            >= 3,
        "a security log line per refusal: {lines:?}"
    );

    // Unknown merchant reference: stored, acknowledged, flagged for staff.
    let unknown = signed(item(
        "PSP0000000000005",
        "not-a-carfin-payment",
        "AUTHORISATION",
        true,
        4_200,
    ));
    assert_eq!(
        post(notification(unknown), good).await,
        (200, "[accepted]".into())
    );
    wait_processed(&t).await;
    let flagged = notifications::needing_review(&t.app, 10).await.unwrap();
    assert!(
        flagged.iter().any(|n| n.psp_reference == "PSP0000000000005"
            && n.outcome.as_deref() == Some("unknown_reference")),
        "{flagged:?}"
    );
}

/// The payment id of a freshly started checkout (its hosted page URL).
async fn payment_id_from_session(t: &TestApp, hosted: &str) -> i64 {
    let session = hosted.rsplit('/').next().unwrap();
    sqlx::query("SELECT id FROM payments WHERE session_id = $1")
        .bind(session)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

// PAY-02: notifications signed by Adyen's official Node library
// (@adyen/api-library, installed by .ci/run in tools/adyen-sign) are
// accepted — including a merchant reference with `:` and `\`.
#[tokio::test]
async fn pay02_notifications_signed_by_adyens_official_library_are_accepted() {
    let t = spawn().await;
    let c = sign_in(&t, 1).await;
    let invoice = open_invoices(&t, c.customer_id).await.remove(0);
    c.client.get("/my/invoices").await;
    let started = c
        .client
        .post_form("/my/payments", &[("invoice", &invoice.id.to_string())])
        .await;
    let payment_id = payment_id_from_session(&t, started.location().unwrap()).await;
    let unsigned = serde_json::json!({
        "live": "false",
        "notificationItems": [
            {"NotificationRequestItem": {
                "pspReference": "NODE000000000001", "merchantAccountCode": MERCHANT,
                "merchantReference": payment_id.to_string(),
                "amount": {"currency": "EUR", "value": invoice.amount},
                "eventCode": "AUTHORISATION", "success": "true", "paymentMethod": "bcmc",
                "eventDate": "2026-03-02T10:00:00+01:00", "reason": "052095:1111:03/2030"}},
            {"NotificationRequestItem": {
                "pspReference": "NODE000000000002", "merchantAccountCode": MERCHANT,
                "merchantReference": "\\:/\\/slashes are fun",
                "amount": {"currency": "EUR", "value": 1000},
                "eventCode": "AUTHORISATION", "success": "true"}}
        ]
    });
    let signed = node_sign(&unsigned.to_string());
    let parsed: NotificationRequest = serde_json::from_str(&signed).unwrap();
    assert_eq!(
        parsed.items[1].item.merchant_reference,
        r"\:/\/slashes are fun"
    );
    for w in &parsed.items {
        assert_eq!(
            adyen::verify(&key(), &w.item),
            Ok(()),
            "we agree with the library"
        );
    }
    assert_eq!(post_webhook(&t, &signed).await, (200, "[accepted]".into()));
    wait_for(&t, payment_id, "authorised").await;
    wait_processed(&t).await;
    let flagged = notifications::needing_review(&t.app, 10).await.unwrap();
    assert!(flagged
        .iter()
        .any(|n| n.merchant_reference == r"\:/\/slashes are fun"));
    // A successful authorisation's reason (card details) is not kept.
    let reason: String = sqlx::query(
        "SELECT reason FROM payment_notifications WHERE psp_reference = 'NODE000000000001'",
    )
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .get(0);
    assert_eq!(reason, "");
}

fn node_sign(request: &str) -> String {
    use std::io::Write;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/adyen-sign");
    assert!(
        dir.join("node_modules/@adyen/api-library").is_dir(),
        "Adyen's Node library is missing: run `npm ci --prefix tools/adyen-sign` (.ci/run does)"
    );
    let mut child = std::process::Command::new("node")
        .arg(dir.join("sign.js"))
        .arg(HMAC_KEY)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (the machine's Node.js)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// PAY-03: a partial payment is allocated oldest first; refused, cancelled,
// refunded and charged back are each handled and visible.
#[tokio::test]
async fn pay03_partial_payment_oldest_first_refused_cancelled_refunded_charged_back() {
    let t = spawn().await;
    let n = 2;
    let c = sign_in(&t, n).await;
    let younger = open_invoices(&t, c.customer_id).await.remove(0);
    // An older unpaid charge on the same contract (the monthly run makes
    // one open instalment per contract; a fee invoice makes the second).
    let older = fee_invoice(&t, &younger).await;
    assert!(older.due <= younger.due);

    // Refused on the hosted page: visible, nothing charged, invoices free.
    let (refused, page) = checkout(&t, &c, &[older.id], "refuse").await;
    assert!(
        page.text.contains("The payment was refused"),
        "{}",
        page.text
    );
    wait_for(&t, refused, "refused").await;
    let list = c.client.get("/my/payments").await;
    assert!(list.text.contains("Refused"));

    // Cancelled on the hosted page: the return asks the provider and frees
    // the invoices at once.
    let (cancelled, page) = checkout(&t, &c, &[older.id], "cancel").await;
    assert!(
        page.text.contains("You cancelled the payment"),
        "{}",
        page.text
    );
    assert_eq!(payment_status(&t, cancelled).await, "cancelled");

    // Both invoices, but the provider authorises less than asked: booking
    // pays the older invoice in full and the younger in part.
    c.client.get("/my/invoices").await;
    let started = c
        .client
        .post_form(
            "/my/payments",
            &[
                ("invoice", &younger.id.to_string()),
                ("invoice", &older.id.to_string()),
            ],
        )
        .await;
    let partial = payment_id_from_session(&t, started.location().unwrap()).await;
    let paid = older.amount + younger.amount / 2;
    let body = notification(signed(item(
        "PARTIAL000000001",
        &partial.to_string(),
        "AUTHORISATION",
        true,
        paid,
    )));
    assert_eq!(post_webhook(&t, &body).await.0, 200);
    wait_for(&t, partial, "authorised").await;
    book(&t).await;
    let c = sign_in(&t, n).await;
    assert_eq!(payment_status(&t, partial).await, "booked");
    assert_eq!(
        invoice_status(&t, older.id).await,
        ("paid".into(), older.amount)
    );
    let (status, cents) = invoice_status(&t, younger.id).await;
    assert_eq!(cents, younger.amount / 2);
    assert_ne!(status, "paid");

    // Refund of the booked payment: the invoices open again, the ledger
    // takes the money back.
    let before = balance(&t, older.contract_id).await;
    let refund = item(
        "REFUND0000000001",
        &partial.to_string(),
        "REFUND",
        true,
        paid,
    );
    let refund = signed(NotificationItem {
        original_reference: "PARTIAL000000001".into(),
        ..refund
    });
    assert_eq!(post_webhook(&t, &notification(refund)).await.0, 200);
    wait_for(&t, partial, "refunded").await;
    assert_eq!(invoice_status(&t, older.id).await.1, 0);
    assert_eq!(invoice_status(&t, younger.id).await.1, 0);
    assert_eq!(balance(&t, older.contract_id).await, before + paid);
    let page = c.client.get(&format!("/my/payments/{partial}")).await;
    assert!(page.text.contains("Refunded"), "{}", page.text);

    // A chargeback on a payment paid on the simulator.
    let (charged, _) = checkout(&t, &c, &[older.id], "pay").await;
    wait_for(&t, charged, "authorised").await;
    book(&t).await;
    let c = sign_in(&t, n).await;
    let psp: String = sqlx::query("SELECT psp_reference FROM payments WHERE id = $1")
        .bind(charged)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    let chargeback = signed(NotificationItem {
        original_reference: psp,
        ..item(
            "CHARGEBACK000001",
            &charged.to_string(),
            "CHARGEBACK",
            true,
            older.amount,
        )
    });
    assert_eq!(post_webhook(&t, &notification(chargeback)).await.0, 200);
    wait_for(&t, charged, "charged_back").await;
    assert_eq!(invoice_status(&t, older.id).await.1, 0);
    let list = c.client.get("/my/payments").await;
    assert!(list.text.contains("Reversed by your bank"), "{}", list.text);
}

/// A provider that fails as told and records the idempotency keys it saw.
#[derive(Clone, Default)]
struct FlakyProvider {
    mode: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<String>>>,
}

const FAIL_500: usize = 0;
const SLOW: usize = 1;
const MALFORMED: usize = 2;
const WORKING: usize = 3;

async fn flaky_provider() -> (FlakyProvider, String) {
    use axum::routing::post;
    let provider = FlakyProvider::default();
    let state = provider.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hosted = format!("{base}/hosted/CS1");
    let app = axum::Router::new().route(
        "/sessions",
        post(move |headers: axum::http::HeaderMap| {
            let state = state.clone();
            let hosted = hosted.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                state.keys.lock().unwrap().push(key);
                match state.mode.load(Ordering::SeqCst) {
                    FAIL_500 => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                    SLOW => {
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        (axum::http::StatusCode::CREATED, String::new())
                    }
                    MALFORMED => (axum::http::StatusCode::CREATED, "{\"id\":".to_string()),
                    _ => (
                        axum::http::StatusCode::CREATED,
                        serde_json::json!({"id": "CS1", "url": hosted, "expiresAt": "x"})
                            .to_string(),
                    ),
                }
            }
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (provider, base)
}

// PAY-04: the provider failing (5xx, timeout, malformed answer) gives a
// clear localized message and keeps the portal working; trying again uses
// the same idempotency key, so the customer is never charged twice, and
// paying the same selection again goes back to the one open session.
#[tokio::test]
async fn pay04_provider_down_slow_or_garbled_never_charges_twice() {
    let (provider, base) = flaky_provider().await;
    let t = spawn_with(move |c| {
        c.payments.checkout_url = base;
        c.payments.timeout_secs = 1;
    })
    .await;
    let c = sign_in(&t, 0).await;
    let invoice = open_invoices(&t, c.customer_id).await.remove(0);
    let id = invoice.id.to_string();
    let messages = [
        (
            FAIL_500,
            "The payment provider is not available at the moment",
        ),
        (SLOW, "The payment provider did not answer in time"),
        (MALFORMED, "We could not understand the payment provider"),
    ];
    let mut payment = None;
    for (mode, message) in messages {
        provider.mode.store(mode, Ordering::SeqCst);
        c.client.get("/my/invoices").await;
        let r = c
            .client
            .post_form("/my/payments", &[("invoice", &id)])
            .await;
        assert_eq!(r.status, 303);
        let location = r.location().unwrap().to_string();
        assert!(location.contains("?provider=down"), "{location}");
        let id = payment_id_of(&location);
        // The same selection again is the same payment, not a new one.
        assert_eq!(*payment.get_or_insert(id), id);
        let page = c.client.follow(&r).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains(message), "{mode}: {}", page.text);
        assert!(page.text.contains("Nothing was charged"));
        assert!(page.text.contains("Try again"));
        // The rest of the portal keeps working.
        assert_eq!(c.client.get("/my").await.status, 200);
    }
    let payment = payment.unwrap();
    // In French too.
    let path = format!("/my/payments/{payment}?provider=down");
    let fr = c
        .client
        .post_form("/language", &[("lang", "fr"), ("next", &path)])
        .await;
    let fr = c.client.follow(&fr).await;
    assert!(fr.text.contains("Rien n&#39;a été débité"), "{}", fr.text);
    let en = c
        .client
        .post_form("/language", &[("lang", "en"), ("next", &path)])
        .await;
    c.client.follow(&en).await;

    provider.mode.store(WORKING, Ordering::SeqCst);
    c.client.get(&format!("/my/payments/{payment}")).await;
    let retry = c
        .client
        .post_form(&format!("/my/payments/{payment}/retry"), &[])
        .await;
    assert_eq!(retry.status, 303);
    assert!(retry.location().unwrap().ends_with("/hosted/CS1"));
    // Paying the same invoice again: back to the same open session, no
    // new session request.
    let asked = provider.keys.lock().unwrap().len();
    c.client.get("/my/invoices").await;
    let again = c
        .client
        .post_form("/my/payments", &[("invoice", &id)])
        .await;
    assert!(again.location().unwrap().ends_with("/hosted/CS1"));
    assert_eq!(provider.keys.lock().unwrap().len(), asked);
    let keys = provider.keys.lock().unwrap().clone();
    assert!(keys.len() >= 4);
    assert!(
        keys.iter()
            .all(|k| k == &format!("carfin-payment-{payment}")),
        "one idempotency key for every attempt: {keys:?}"
    );
    assert_eq!(
        scalar(
            &t,
            "SELECT COUNT(*) FROM payments WHERE customer_id = $1",
            c.customer_id
        )
        .await,
        1
    );
}

// PAY-04: a crash between storing a notification and processing it loses
// nothing: the webhook's store step runs, the worker that claimed the
// notification dies before processing it, and after its lease the
// restarted worker processes it — once.
#[tokio::test]
async fn pay04_crash_between_storing_and_processing_loses_nothing() {
    let t = spawn().await;
    let c = sign_in(&t, 0).await;
    let invoice = open_invoices(&t, c.customer_id).await.remove(0);
    c.client.get("/my/invoices").await;
    let started = c
        .client
        .post_form("/my/payments", &[("invoice", &invoice.id.to_string())])
        .await;
    let payment_id = payment_id_from_session(&t, started.location().unwrap()).await;
    let request: NotificationRequest = serde_json::from_str(&notification(signed(item(
        "CRASH00000000001",
        &payment_id.to_string(),
        "AUTHORISATION",
        true,
        invoice.amount,
    ))))
    .unwrap();
    // The webhook's first half: stored (and acknowledged) …
    let received = notifications::receive(&t.app, &request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received.stored.len(), 1);
    // … then the worker claims it and the process dies before it is applied.
    let now = t.clock.now().timestamp();
    let claimed = carfin_store::repo::payments::claim_pending(
        t.app.db(),
        now,
        now + notifications::LEASE_SECS,
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed, received.stored);
    drop(claimed);
    assert_eq!(payment_status(&t, payment_id).await, "initiated");
    // While the dead worker's lease runs, nobody else takes it.
    assert_eq!(
        notifications::process_pending(&t.app, 10)
            .await
            .unwrap()
            .applied,
        0
    );
    // The restarted worker after the lease: processed once.
    t.clock
        .advance(Duration::seconds(notifications::LEASE_SECS + 1));
    assert_eq!(
        notifications::process_pending(&t.app, 10)
            .await
            .unwrap()
            .applied,
        1
    );
    assert_eq!(payment_status(&t, payment_id).await, "authorised");
    assert_eq!(
        notifications::process_pending(&t.app, 10)
            .await
            .unwrap()
            .applied,
        0
    );
    assert_eq!(
        scalar(
            &t,
            "SELECT attempts FROM payment_notifications WHERE payment_id = $1",
            payment_id
        )
        .await,
        2
    );
}

// COL-05: a claim in collection is visible among the invoices and can be
// paid in the portal like any other.
#[tokio::test]
async fn col05_claim_in_collection_is_visible_and_payable() {
    let t = spawn().await;
    let customer_id = sign_in(&t, 1).await.customer_id;
    let invoice = an_overdue_invoice(&t, customer_id).await;
    let c = sign_in(&t, 1).await;
    // Collections (a later issue) hands the claim over; here by SQL.
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("UPDATE invoices SET status = 'in_collection' WHERE id = $1")
        .bind(invoice.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let list = c.client.get("/my/invoices?status=in_collection").await;
    assert!(list.text.contains(&invoice.number), "{}", list.text);
    assert!(list.text.contains("In collection") || list.text.contains("in collection"));
    assert!(list
        .text
        .contains(&format!("name=\"invoice\" value=\"{}\"", invoice.id)));
    let (payment_id, _) = checkout(&t, &c, &[invoice.id], "pay").await;
    wait_for(&t, payment_id, "authorised").await;
    book(&t).await;
    assert_eq!(
        invoice_status(&t, invoice.id).await,
        ("paid".into(), invoice.amount)
    );
}

// PAY-01: another customer's invoice cannot be paid (404), nor can a paid
// one (a clear message, the selection kept); the webhook is exempt from
// CSRF but the pay form is not.
#[tokio::test]
async fn pay01_only_own_unpaid_invoices_can_be_paid() {
    let t = spawn().await;
    let c = sign_in(&t, 0).await;
    let other = sign_in(&t, 1).await;
    let theirs = open_invoices(&t, other.customer_id).await.remove(0);
    c.client.get("/my/invoices").await;
    let r = c
        .client
        .post_form("/my/payments", &[("invoice", &theirs.id.to_string())])
        .await;
    assert_eq!(r.status, 404);
    assert!(!r.text.contains(&theirs.number));
    let paid: i64 = sqlx::query(
        "SELECT i.id FROM invoices i JOIN contract_parties p ON p.contract_id = i.contract_id \
         WHERE p.customer_id = $1 AND i.status = 'paid' LIMIT 1",
    )
    .bind(c.customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .get(0);
    c.client.get("/my/invoices").await;
    let r = c
        .client
        .post_form("/my/payments", &[("invoice", &paid.to_string())])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("cannot be paid online"), "{}", r.text);
    let none = c.client.post_form("/my/payments", &[]).await;
    assert_eq!(none.status, 422);
    assert!(none.text.contains("Select at least one invoice"));
    let forged = c
        .client
        .post_form_raw("/my/payments", &[("invoice", &theirs.id.to_string())])
        .await;
    assert_eq!(forged.status, 403, "CSRF on the pay form");
    assert_eq!(
        scalar(
            &t,
            "SELECT COUNT(*) FROM payments WHERE customer_id = $1",
            c.customer_id
        )
        .await,
        0
    );
}
