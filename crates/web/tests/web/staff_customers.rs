//! The purpose-bound customer view over HTTP (BOF-03, PRV-14): exact
//! search through blind indexes that shows customer numbers only, a file
//! that opens only for a stated purpose and for a limited time, every read
//! audited with the purpose and the fields shown, and visible to the
//! customer under "who accessed my data".

use carfin_app::audit::{self, VerifyReport};
use carfin_app::demo::DEMO_PASSWORD;
use carfin_app::identity::totp::{code_at, TotpSecret};
use carfin_app::staff::auth::create_with_password;
use carfin_app::staff::Role;
use carfin_app::Clock;
use carfin_store::repo::customers::{self, CustomerPersonal, Personal};
use carfin_store::repo::finance;
use carfin_testkit::{Client, TestApp, TestResponse};
use chrono::Duration;
use sqlx::Row;

const PASSWORD: &str = "a long staff pass phrase";

/// Creates a staff member and signs them in; returns the client, the TOTP
/// secret and the staff id.
async fn staff_client(t: &TestApp, email: &str, roles: &[Role]) -> (Client, String, i64) {
    let (id, secret) = create_with_password(&t.app, email, "Test Staff", PASSWORD, roles)
        .await
        .unwrap();
    (sign_in_again(t, email, &secret).await, secret, id)
}

/// Signs an existing staff member in on a fresh client.
async fn sign_in_again(t: &TestApp, email: &str, secret: &str) -> Client {
    let c = t.client().with_header("accept-language", "en");
    c.get("/staff/login").await;
    let r = c
        .post_form("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    c.get("/staff/login/verify").await;
    let code = code_at(
        &TotpSecret::from_base32(secret).unwrap(),
        t.clock.now().timestamp(),
    );
    let r = c.post_form("/staff/login/verify", &[("code", &code)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    c
}

/// A demo customer with a portal account: (e-mail to sign in, customer id).
async fn demo_customer(t: &TestApp) -> (String, i64) {
    let line = carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .into_iter()
        .find_map(|l| l.strip_prefix("demo customer: ").map(str::to_string))
        .unwrap();
    let email = line.split(' ').next().unwrap().to_string();
    let ids = customers::ids_by_email(t.app.db(), t.app.blind_index(), &email)
        .await
        .unwrap();
    (email, ids[0])
}

async fn personal(t: &TestApp, id: i64) -> CustomerPersonal {
    let record = customers::get(t.app.db(), t.app.keys(), id)
        .await
        .unwrap()
        .unwrap();
    match record.personal {
        Personal::Known(p) => p,
        Personal::Erased => panic!("erased"),
    }
}

async fn customer_number(t: &TestApp, id: i64) -> String {
    sqlx::query("SELECT customer_number FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

async fn contract_number(t: &TestApp, id: i64) -> String {
    sqlx::query(
        "SELECT c.contract_number FROM contracts c JOIN contract_parties p \
         ON p.contract_id = c.id WHERE p.customer_id = $1 ORDER BY c.id",
    )
    .bind(id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()[0]
        .get(0)
}

async fn count(t: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

async fn search(c: &Client, by: &str, q: &str) -> TestResponse {
    c.get("/staff/customers").await;
    c.post_form("/staff/customers", &[("by", by), ("q", q)])
        .await
}

/// The staff audit records of a staff member: (action, role, purpose,
/// subject, fields).
async fn audit_of(
    t: &TestApp,
    staff_id: i64,
) -> Vec<(String, String, String, Option<i64>, String)> {
    sqlx::query(
        "SELECT action, role, purpose, subject_id, fields FROM audit_log \
         WHERE actor_kind = 'staff' AND actor_id = $1 ORDER BY seq",
    )
    .bind(staff_id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

/// The values a page or log must not show before a purpose is chosen.
fn secrets_of(p: &CustomerPersonal, plate: &str) -> Vec<String> {
    let mut out = vec![
        p.email.clone().unwrap(),
        p.phone.clone().unwrap(),
        p.iban.clone().unwrap(),
        p.surname.clone().unwrap(),
        p.street.clone(),
        plate.to_string(),
    ];
    out.retain(|s| s.len() > 3);
    out
}

// BOF-03, PRV-14: a customer-service agent finds the demo customer by
// each exact key — contract number, plate, e-mail, phone, name — with case
// and spacing normalized, nothing on a near miss, and sees customer
// numbers only; each search is audited with the kind of key, never the
// value.
#[tokio::test]
async fn bof03_prv14_search_by_exact_keys_shows_customer_numbers_only() {
    let t = TestApp::spawn().await;
    let (_, id) = demo_customer(&t).await;
    let p = personal(&t, id).await;
    let number = customer_number(&t, id).await;
    let contract = contract_number(&t, id).await;
    let plate = match &finance::plates_of(t.app.db(), t.app.keys(), id)
        .await
        .unwrap()[0]
        .1
    {
        Personal::Known(plate) => plate.clone(),
        Personal::Erased => panic!("erased"),
    };
    let email = p.email.clone().unwrap();
    let phone = p.phone.clone().unwrap();
    let name = [&p.given_names, &p.name_prefix, &p.surname]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let secrets = secrets_of(&p, &plate);
    let (c, _, agent) = staff_client(&t, "desk@staff.example", &[Role::CustomerService]).await;

    let form = c.get("/staff/customers").await;
    assert_eq!(form.status, 200);
    assert!(form.text.contains("<h1>Find a customer</h1>"));
    assert!(form.text.contains("<label for=\"q\">"));

    // A national phone number: as a customer would say it.
    let national = match phone.strip_prefix("+31") {
        Some(rest) => format!("0{} {}", &rest[..1], &rest[1..]),
        None => phone.replacen("+32", "0", 1),
    };
    let plate_typed = format!(" {}-{} ", plate[..3].to_lowercase(), &plate[3..]);
    let cases = [
        ("contract", contract.clone()),
        ("contract", format!(" {} ", contract.to_lowercase())),
        ("plate", plate.clone()),
        ("plate", plate_typed),
        ("email", email.clone()),
        ("email", format!("  {}  ", email.to_uppercase())),
        ("phone", phone.clone()),
        ("phone", national),
        ("name", name.clone()),
        (
            "name",
            format!("  {}  ", name.to_uppercase().replace(' ', "   ")),
        ),
    ];
    for (by, q) in &cases {
        let r = search(&c, by, q).await;
        assert_eq!(r.status, 200, "{by} {q}: {}", r.text);
        assert!(r.text.contains(&number), "{by} {q:?} finds the customer");
        assert!(
            r.text.contains(&format!("/staff/customers/{id}/open")),
            "{by}: the way to choose a purpose"
        );
        // Nothing but what was typed (kept in the search field).
        let squash = |s: &str| s.to_lowercase().replace([' ', '-'], "");
        for secret in secrets.iter().filter(|s| !squash(q).contains(&squash(s))) {
            assert!(
                !r.text.contains(secret.as_str()),
                "{by}: no personal data on the result page"
            );
        }
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }

    // Near misses find nothing: another name, part of an address or number.
    let misses = [
        ("name", format!("{name} Jr")),
        ("name", p.surname.clone().unwrap()),
        ("email", format!("x{email}")),
        ("contract", contract[..contract.len() - 1].to_string()),
        ("phone", "+31 6 00000001".to_string()),
    ];
    for (by, q) in &misses {
        let r = search(&c, by, q).await;
        assert_eq!(r.status, 200, "{by} {q}");
        assert!(!r.text.contains(&number), "{by} {q:?} must find nothing");
        assert!(r
            .text
            .contains("No customer found with exactly this value."));
    }
    // Not a plate or an address at all: said so, typed value kept.
    let r = search(&c, "email", "not-an-address").await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("That is not an e-mail address."));
    assert!(r.text.contains("value=\"not-an-address\""));

    // Audited: one record per search, the kind of key, no value.
    let log = audit_of(&t, agent).await;
    let searches: Vec<_> = log
        .iter()
        .filter(|(action, ..)| action == "staff.customer_search")
        .collect();
    assert_eq!(searches.len(), cases.len() + misses.len());
    let mut kinds: Vec<&str> = searches.iter().map(|s| s.4.as_str()).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "contracts.contract_number",
            "vehicles.plate_bidx",
            "customers.email_bidx",
            "customers.phone_bidx",
            "customers.name_bidx",
            "customers.email_bidx",
            "contracts.contract_number",
            "customers.phone_bidx",
        ]
    );
    for (_, role, purpose, subject, _) in &searches {
        assert_eq!(role, "customer_service");
        assert_eq!(purpose, "answer_requests");
        assert_eq!(*subject, None);
    }
    let all = format!("{log:?}");
    for secret in secrets.iter().chain([&contract, &name]) {
        assert!(!all.contains(secret.as_str()), "no value in the audit log");
    }
    // Nothing was opened by searching.
    let opened = count(
        &t,
        "SELECT COUNT(*) FROM staff_file_accesses WHERE staff_id = $1",
        agent,
    )
    .await;
    assert_eq!(opened, 0);
}

// BOF-03, PRV-14: the file does not open without a purpose, by any URL;
// with an inbound call and a note it opens for 30 minutes, shows the
// e-mail and the IBAN's last four characters, audits the opening and each
// read with the purpose and field names (no values), the audit chain
// verifies, and the customer sees the read under "who accessed my data".
#[tokio::test]
async fn bof03_prv14_file_opens_only_for_a_purpose_and_is_audited() {
    let t = TestApp::spawn().await;
    let (customer_email, id) = demo_customer(&t).await;
    let p = personal(&t, id).await;
    let iban = p.iban.clone().unwrap();
    let email = p.email.clone().unwrap();
    let grouped = carfin_domain::Iban::parse(&iban).unwrap().to_string();
    let (c, secret, agent) =
        staff_client(&t, "calls@staff.example", &[Role::CustomerService]).await;
    let accesses = "SELECT COUNT(*) FROM staff_file_accesses WHERE staff_id = $1";

    // No purpose: every URL of the file leads to the purpose form.
    // (The file is the only page with personal data; the purpose form is
    // its one sub-URL.)
    let r = c.get(&format!("/staff/customers/{id}")).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        Some(format!("/staff/customers/{id}/open").as_str())
    );
    let form = c.get(&format!("/staff/customers/{id}/open")).await;
    assert_eq!(form.status, 200);
    assert!(form.text.contains("An inbound call"));
    assert!(form.text.contains("<legend>Purpose</legend>"));
    assert!(!form.text.contains(&email) && !form.text.contains(&iban));

    // Refused: no purpose, a made-up one, one the role does not have.
    let open = format!("/staff/customers/{id}/open");
    for (purpose, message) in [
        ("", "Choose a purpose: a file does not open without one."),
        (
            "curiosity",
            "Your role may not open files for that purpose.",
        ),
        (
            "collection_case",
            "Your role may not open files for that purpose.",
        ),
    ] {
        c.get(&open).await;
        let r = c
            .post_form(&open, &[("purpose", purpose), ("note", "x")])
            .await;
        assert_eq!(r.status, 422, "{purpose}");
        assert!(r.text.contains(message), "{purpose}: {}", r.text);
    }
    // An inbound call without a note: the form again, typed values kept.
    c.get(&open).await;
    let r = c
        .post_form(
            &open,
            &[
                ("purpose", "inbound_call"),
                ("reference", "CALL-4711"),
                ("note", "  "),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Write a note on the call."));
    assert!(r.text.contains("value=\"CALL-4711\""));
    assert!(r
        .text
        .contains("value=\"inbound_call\" aria-describedby=\"purpose-inbound_call-hint\" checked"));
    // A request that does not exist.
    c.get(&open).await;
    let r = c
        .post_form(&open, &[("purpose", "request"), ("reference", "987654321")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r
        .text
        .contains("This customer has no open request with that number."));
    assert_eq!(count(&t, accesses, agent).await, 0, "nothing opened");
    assert_eq!(c.get(&format!("/staff/customers/{id}")).await.status, 303);

    // With a purpose: the file.
    let note = "Caller asks about the last instalment";
    c.get(&open).await;
    let r = c
        .post_form(
            &open,
            &[
                ("purpose", "inbound_call"),
                ("reference", "CALL-4711"),
                ("note", note),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.location(),
        Some(format!("/staff/customers/{id}").as_str())
    );
    assert_eq!(count(&t, accesses, agent).await, 1);
    let sealed: Vec<u8> = sqlx::query("SELECT note FROM staff_file_accesses WHERE staff_id = $1")
        .bind(agent)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert!(
        !String::from_utf8_lossy(&sealed).contains("instalment"),
        "note sealed"
    );

    let file = c.follow(&r).await;
    assert_eq!(file.status, 200, "{}", file.text);
    assert_eq!(file.text.matches("<h1").count(), 1);
    assert!(file.text.contains(&email), "the e-mail address");
    let last4 = &iban[iban.len() - 4..];
    assert!(file.text.contains(&format!("•••• {last4}")), "IBAN masked");
    assert!(!file.text.contains(&iban), "never the whole IBAN");
    assert!(!file.text.contains(&grouped));
    assert!(!file.text.contains(&iban[..8]));
    assert!(
        file.text.contains("An inbound call"),
        "the purpose is shown"
    );
    assert!(file.text.contains("open until"), "and until when");
    assert!(file.text.contains("contracts and vehicles</caption>"));
    assert!(file.text.contains("<th scope=\"col\">"));
    assert_eq!(file.header("cache-control"), Some("no-store"));
    // Viewed twice: two reads.
    assert_eq!(c.get(&format!("/staff/customers/{id}")).await.status, 200);

    let log = audit_of(&t, agent).await;
    let opened: Vec<_> = log
        .iter()
        .filter(|e| e.0 == "staff.customer_file_opened")
        .collect();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].1, "customer_service");
    assert_eq!(opened[0].2, "answer_requests");
    assert_eq!(opened[0].3, Some(id));
    let reads: Vec<_> = log
        .iter()
        .filter(|e| e.0 == "staff.customer_read")
        .collect();
    assert_eq!(reads.len(), 2);
    for read in &reads {
        assert_eq!(read.1, "customer_service");
        assert_eq!(read.2, "answer_requests");
        assert_eq!(read.3, Some(id));
        let fields: Vec<&str> = read.4.split(',').collect();
        for f in [
            "customers.email",
            "customers.iban",
            "customers.surname",
            "vehicles.licence_plate",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }
    let all = format!("{log:?}");
    for value in [
        &email,
        &iban,
        &p.surname.clone().unwrap(),
        &note.to_string(),
        &"CALL-4711".to_string(),
    ] {
        assert!(
            !all.contains(value.as_str()),
            "no personal value in the audit log"
        );
    }
    assert!(matches!(
        audit::verify(&t.app).await.unwrap(),
        VerifyReport::Intact { .. }
    ));

    // The customer sees who read their data, as which role, for what.
    let customer = t.client().with_header("accept-language", "en");
    customer.get("/login").await;
    let r = customer
        .post_form(
            "/login",
            &[("email", &customer_email), ("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let privacy = customer.get("/my/privacy").await;
    assert_eq!(privacy.status, 200);
    let rows: Vec<&str> = privacy
        .text
        .split("<tr>")
        .filter(|row| {
            row.contains("Customer service")
                && row.contains("Answer questions, complaints and requests")
                && row.contains("Bank account")
        })
        .collect();
    assert!(rows.len() >= 2, "the reads are listed: {}", privacy.text);

    // After 30 minutes the file closes (and after 10 idle minutes the
    // staff session: sign in again).
    t.clock.advance(Duration::minutes(31));
    let c = sign_in_again(&t, "calls@staff.example", &secret).await;
    let r = c.get(&format!("/staff/customers/{id}")).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some(open.as_str()));
}

// BOF-03, PRV-14: a request opens the file only if it is this customer's
// and still open; a collection case only for this customer's invoice in
// collection, under the collections role, which sees the IBAN but only the
// year of birth; the purpose recorded is the register's.
#[tokio::test]
async fn bof03_prv14_references_are_checked_per_purpose() {
    let t = TestApp::spawn().await;
    let (_, id) = demo_customer(&t).await;
    let p = personal(&t, id).await;
    let now = t.clock.now().timestamp();
    let other: i64 = sqlx::query("SELECT id FROM customers WHERE id <> $1 ORDER BY id")
        .bind(id)
        .fetch_all(t.app.db().reader())
        .await
        .unwrap()[0]
        .get(0);
    let mut tx = t.app.db().begin_write().await.unwrap();
    for (request, customer, closed) in [
        (910_001_i64, id, None),
        (910_002, other, None),
        (910_003, id, Some(now)),
    ] {
        sqlx::query(
            "INSERT INTO requests (id, kind, customer_id, contract_id, status, priority, \
             sla_minutes, due_at, assignee_staff_id, subject_ref, created_at, updated_at, closed_at) \
             VALUES ($1, 'change_request', $2, NULL, $3, 'normal', 480, $4, NULL, NULL, $4, $4, $5)",
        )
        .bind(request)
        .bind(customer)
        .bind(if closed.is_some() { "resolved" } else { "open" })
        .bind(now)
        .bind(closed)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let (c, _, _) = staff_client(
        &t,
        "admin.contracts@staff.example",
        &[Role::ContractAdministration],
    )
    .await;
    let grouped = carfin_domain::Iban::parse(&p.iban.clone().unwrap())
        .unwrap()
        .to_string();
    let open = format!("/staff/customers/{id}/open");
    for refused in ["910002", "910003", "abc", ""] {
        c.get(&open).await;
        let r = c
            .post_form(&open, &[("purpose", "request"), ("reference", refused)])
            .await;
        assert_eq!(r.status, 422, "request {refused}");
    }
    // The work queues link here with the request preset.
    let form = c
        .get(&format!(
            "/staff/customers/{id}/open?purpose=request&reference=910001"
        ))
        .await;
    assert!(form.text.contains("value=\"910001\""));
    let r = c
        .post_form(&open, &[("purpose", "request"), ("reference", "910001")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let file = c.follow(&r).await;
    assert!(
        file.text.contains(&grouped),
        "contract administration: the whole IBAN"
    );

    // Collections: an invoice of this customer in collection.
    let invoice: String = sqlx::query(
        "SELECT i.invoice_number FROM invoices i JOIN contract_parties p ON p.contract_id = i.contract_id \
         WHERE p.customer_id = $1 ORDER BY i.due_date",
    )
    .bind(id)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()[0]
        .get(0);
    let (k, _, debts) = staff_client(&t, "debts@staff.example", &[Role::Collections]).await;
    assert_eq!(
        search(&k, "contract", &contract_number(&t, id).await)
            .await
            .status,
        200
    );
    k.get(&open).await;
    let r = k
        .post_form(
            &open,
            &[("purpose", "collection_case"), ("reference", &invoice)],
        )
        .await;
    assert_eq!(r.status, 422, "not in collection yet");
    assert!(r
        .text
        .contains("This customer has no invoice in collection with that number."));
    let r = k
        .post_form(
            &open,
            &[("purpose", "inbound_call"), ("note", "debtor calls")],
        )
        .await;
    assert_eq!(r.status, 422, "collections opens for collection cases only");
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("UPDATE invoices SET status = 'in_collection' WHERE invoice_number = $1")
        .bind(&invoice)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    k.get(&open).await;
    let r = k
        .post_form(
            &open,
            &[("purpose", "collection_case"), ("reference", &invoice)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let file = k.follow(&r).await;
    assert_eq!(file.status, 200);
    assert!(file.text.contains(&grouped), "collections: the whole IBAN");
    let birth = p.date_of_birth.clone().unwrap();
    assert!(
        file.text.contains(&format!("<dd>{}</dd>", &birth[..4])),
        "year of birth only"
    );
    let log = audit_of(&t, debts).await;
    let read = log.iter().find(|e| e.0 == "staff.customer_read").unwrap();
    assert_eq!(read.1, "collections");
    assert_eq!(read.2, "recover_debts");
    assert!(read.4.contains("customers.date_of_birth"));
}

// PRV-14, BOF-03: administration and audit are no reasons to read
// customers' files — no search, no file, no purpose form.
#[tokio::test]
async fn prv14_roles_without_file_rights_get_not_found() {
    let t = TestApp::spawn().await;
    let (_, id) = demo_customer(&t).await;
    for (email, role) in [
        ("root@staff.example", Role::Administrator),
        ("books@staff.example", Role::Auditor),
    ] {
        let (c, _, _) = staff_client(&t, email, &[role]).await;
        c.get("/staff").await;
        assert_eq!(c.get("/staff/customers").await.status, 404, "{role}");
        let r = c
            .post_form("/staff/customers", &[("by", "name"), ("q", "Jan Jansen")])
            .await;
        assert_eq!(r.status, 404, "{role}");
        assert_eq!(c.get(&format!("/staff/customers/{id}")).await.status, 404);
        assert_eq!(
            c.get(&format!("/staff/customers/{id}/open")).await.status,
            404
        );
        c.get("/staff").await;
        let r = c
            .post_form(
                &format!("/staff/customers/{id}/open"),
                &[("purpose", "request"), ("reference", "1")],
            )
            .await;
        assert_eq!(r.status, 404, "{role}");
    }
    let opened: i64 = sqlx::query("SELECT COUNT(*) FROM staff_file_accesses")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(opened, 0);
}
